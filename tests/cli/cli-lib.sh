#!/bin/bash
# cli-lib.sh: helpers shared by the black-box tests in tests/cli/*.sh: a
# private $MKUBE_HOME, running $MKUBE_BIN with its output captured, a
# byte-for-byte snapshot of a directory tree, and assertions.
# Sourced, not run (CMakeLists.txt does not register *-lib.sh as a test).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "cli-lib.sh: helper sourced by tests/cli/*.sh; nothing to run"
    exit 0
fi

set -uo pipefail

BIN=${MKUBE_BIN:?MKUBE_BIN must name the built mkube binary}
SRC=${MKUBE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/mkube-cli-$TEST_NAME-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export MKUBE_HOME="$TMP/home"
export NO_COLOR=1
# the settings mkube reads from the environment must not leak in from outside
for v in $(env | sed -n 's/^\(MKUBE_[A-Z_]*\)=.*/\1/p'); do
    case $v in MKUBE_BIN | MKUBE_SOURCE_DIR | MKUBE_IMAGE_DIR | MKUBE_BUNDLE_DIR | MKUBE_HOME | MKUBE_INSTALLED_DATADIR) ;;
    *) unset "$v" ;; esac
done

FAILS=0
CHECKS=0
OUT="$TMP/stdout"
ERR="$TMP/stderr"
RC=0

# mk ARGS... : run mkube, leaving stdout in $OUT, stderr in $ERR, status in $RC
mk() {
    "$BIN" "$@" >"$OUT" 2>"$ERR"
    RC=$?
}

fail() {
    FAILS=$((FAILS + 1))
    echo "FAIL: $*" >&2
    if [ -s "$ERR" ]; then sed 's/^/    stderr: /' "$ERR" | head -5 >&2; fi
}

ok() {
    CHECKS=$((CHECKS + 1))
}

# expect_rc WANT WHAT
expect_rc() {
    if [ "$RC" -eq "$1" ]; then ok; else fail "$2: exit $RC, want $1"; fi
}

# expect_out_eq TEXT WHAT / expect_err_eq TEXT WHAT
expect_out_eq() {
    if [ "$(cat "$OUT")" = "$1" ]; then ok; else fail "$2: stdout '$(head -c 300 "$OUT")', want '$1'"; fi
}
expect_err_eq() {
    if [ "$(cat "$ERR")" = "$1" ]; then ok; else fail "$2: stderr '$(head -c 300 "$ERR")', want '$1'"; fi
}

# expect_out_has PATTERN WHAT (grep -E on stdout)
expect_out_has() {
    if grep -Eq -- "$1" "$OUT"; then ok; else fail "$2: stdout lacks /$1/"; fi
}
expect_err_has() {
    if grep -Eq -- "$1" "$ERR"; then ok; else fail "$2: stderr lacks /$1/"; fi
}

# snapshot DIR: every path with type, mode, size and mtime, then a sha256 of
# every file - so any created, removed, rewritten or touched file shows up.
snapshot() {
    if [ ! -e "$1" ]; then
        echo "absent"
        return
    fi
    (
        cd "$1" || exit 1
        find . -printf '%p %y %m %s %T@\n' | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    )
}

finish() {
    if [ "$FAILS" -gt 0 ]; then
        echo "$TEST_NAME: $FAILS of $((CHECKS + FAILS)) checks failed" >&2
        exit 1
    fi
    echo "$TEST_NAME: all $CHECKS checks passed"
    exit 0
}
