#!/bin/bash
# stubs.sh: every command still registered in launcher/cmd-stubs.c says it is
# not implemented (one line on stderr, exit 69) and touches nothing; `start`
# validates its flags first. Commands that have their own cmd-<verb>.c by now
# are left to their own tests.
source "$(dirname "$0")/cli-lib.sh"

STUBS_C="$SRC/launcher/cmd-stubs.c"
if [ ! -f "$STUBS_C" ]; then
    echo "stubs: no launcher/cmd-stubs.c any more, every command is real"
    exit 0
fi
stubs=$(sed -n 's/^ *\.name = "\([a-z-]*\)",$/\1/p' "$STUBS_C")
if [ -n "$stubs" ]; then ok; else fail "found no stubs in $STUBS_C"; fi

for c in $stubs; do
    before=$(snapshot "$MKUBE_HOME")
    mk "$c"
    expect_rc 69 "$c"
    expect_err_eq "mkube: '$c' is not implemented yet" "$c"
    if [ ! -s "$OUT" ]; then ok; else fail "$c printed on stdout"; fi
    if [ "$before" = "$(snapshot "$MKUBE_HOME")" ]; then ok; else fail "$c changed \$MKUBE_HOME"; fi
done

if grep -qx start <<<"$stubs"; then
    mk start --memory 4g --cpus 1 --disk-size 10g --kubernetes-version 1.36.0 --driver qemu \
        --wait all --wait-timeout 10m --keep-context --embed-certs=false --accel tcg \
        --ssh-port 0 --container-runtime containerd --iso-url file:///nonexistent.iso
    expect_rc 69 "start with valid flags"
    expect_err_eq "mkube: 'start' is not implemented yet" "start with valid flags"
fi

# after "--", kubectl and ssh get everything untouched: no help, no global flags
for c in kubectl ssh; do
    grep -qx "$c" <<<"$stubs" || continue
    mk "$c" -- --help -p UPPER -v nope
    expect_rc 69 "$c -- --help -p UPPER"
done
finish
