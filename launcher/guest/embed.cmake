# embed.cmake - turns the guest scripts (launcher/guest/*.sh) into C strings
# compiled into mkcore, so the mkube binary carries them. Included from the
# top-level CMakeLists.txt; regenerated whenever a script changes.
file(GLOB MKUBE_GUEST_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/launcher/guest/*.sh)
set(MKUBE_GUEST_C ${CMAKE_BINARY_DIR}/guest-scripts.c)
string(REPLACE ";" "|" MKUBE_GUEST_LIST "${MKUBE_GUEST_SCRIPTS}")
add_custom_command(
  OUTPUT ${MKUBE_GUEST_C}
  COMMAND ${CMAKE_COMMAND} -DOUT=${MKUBE_GUEST_C} "-DSCRIPTS=${MKUBE_GUEST_LIST}"
          -P ${CMAKE_SOURCE_DIR}/launcher/guest/embed-run.cmake
  DEPENDS ${MKUBE_GUEST_SCRIPTS} ${CMAKE_SOURCE_DIR}/launcher/guest/embed-run.cmake
  COMMENT "Embedding guest scripts" VERBATIM)
target_sources(mkcore PRIVATE ${MKUBE_GUEST_C})
