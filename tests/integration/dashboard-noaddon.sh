#!/bin/bash
# dashboard-noaddon.sh - while no upstream web UI can be built (docs/dashboard.md)
# mkube ships no dashboard addon, and `mkube dashboard` says so: exit 69, one
# error line plus its hint on stderr, nothing on stdout, $MKUBE_HOME untouched;
# bad flags are usage errors (64). No cluster needed.
source "$(dirname "$0")/../cli/cli-lib.sh"

if [ -f "$SRC/addons/dashboard/addon.json" ]; then
    echo "dashboard-noaddon: addons/dashboard ships now; dashboard-proxy.sh covers the command"
    exit 0
fi
"$BIN" addons list >"$OUT" 2>"$ERR"
if grep -q '| dashboard ' "$OUT"; then fail "addons list shows a dashboard addon"; else ok; fi

for args in "" "--url" "--url --port 0" "--port 18080 --wait 5"; do
    before=$(snapshot "$MKUBE_HOME")
    # shellcheck disable=SC2086
    mk dashboard $args
    expect_rc 69 "dashboard $args"
    expect_err_eq "mkube: no dashboard addon is available: no upstream Kubernetes web UI could be built for this release
hint: see docs/dashboard.md; the API itself is served by 'mkube kubectl -- proxy'" "dashboard $args"
    if [ ! -s "$OUT" ]; then ok; else fail "dashboard $args printed on stdout"; fi
    if [ "$before" = "$(snapshot "$MKUBE_HOME")" ]; then ok; else fail "dashboard $args changed \$MKUBE_HOME"; fi
done

for bad in "--port 65536" "--port -1" "--port x" "--wait 1.5" "--bogus" "extra"; do
    # shellcheck disable=SC2086
    mk dashboard $bad
    expect_rc 64 "dashboard $bad"
    if grep -q "^hint: run 'mkube dashboard --help'" "$ERR"; then ok; else fail "dashboard $bad: no help hint"; fi
done

mk dashboard --help
expect_rc 0 "dashboard --help"
for flag in --url --port --wait; do
    if grep -q -- "$flag" "$OUT"; then ok; else fail "dashboard --help lacks $flag"; fi
done
finish
