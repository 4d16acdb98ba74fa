# embed-run.cmake - script mode: writes OUT with one `const char mk_guest_<name>[]`
# per file in SCRIPTS, a |-separated list (provision.sh -> mk_guest_provision_sh).
set(body "/* generated from the scripts in launcher/guest by embed-run.cmake - do not edit */\n")
string(REPLACE "|" ";" SCRIPTS "${SCRIPTS}")
foreach(script ${SCRIPTS})
  get_filename_component(name ${script} NAME)
  string(REGEX REPLACE "[^A-Za-z0-9]" "_" sym "${name}")
  file(READ ${script} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "const char mk_guest_${sym}[] = {${hex}0x00};\n")
endforeach()
file(WRITE ${OUT}.tmp "${body}")
file(RENAME ${OUT}.tmp ${OUT})
