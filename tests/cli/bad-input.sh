#!/bin/bash
# bad-input.sh: every rejected input exits 64 with exactly one error line on
# stderr (plus at most one "hint:" line), prints nothing on stdout, and leaves
# $MKUBE_HOME byte-for-byte as it was - whether the home is populated or absent.
source "$(dirname "$0")/cli-lib.sh"

# One case per line: the arguments as a shell word list, optionally prefixed by
# environment assignments (VAR=value ...).
CASES=$(cat <<'LIST'
start --memory lots
start --memory -1
start --memory 0
start --memory 100mb
start --memory 99999g
start --memory 99999999999999999999999g
start --memory
start --disk-size 1g
start --disk-size lots
start --cpus 0
start --cpus 999
start --cpus two
-p ../x start
-p a/b start
-p UPPER start
start -p ../x
--profile= start
start --driver nope
start --kubernetes-version banana
start --kubernetes-version 1.x
start --container-runtime crio
start --wait bogus
start --wait-timeout soon
start --accel hvf
start --ssh-port 70000
start --iso-url ftp://example.invalid/mkube.iso
start unexpected-argument
nope
stat
--nope
start --nope
start -x
status --nope-not-parsed-by-main -p UPPER
version --bogus
version -o yaml
config
config bogus
config set memory lots
config set nope 1
config set cpus 0
config set kubernetes-version banana
config set driver nope
config set memory
config get nope
config unset nope
profile UPPER
profile ../x
profile a b
profile list -o yaml
help nope
-v x start
MKUBE_MEMORY=lots start
MKUBE_CPUS=999 start
MKUBE_PROFILE=../x start
MKUBE_KUBERNETES_VERSION=banana start
LIST
)

populate() {
    rm -rf "$MKUBE_HOME"
    "$BIN" config set memory 4g >/dev/null 2>&1 || fail "populate: config set"
    "$BIN" config set driver qemu >/dev/null 2>&1 || fail "populate: config set driver"
    "$BIN" profile dev >/dev/null 2>&1 || fail "populate: profile dev"
    mkdir -p "$MKUBE_HOME/profiles/dev" "$MKUBE_HOME/machines/dev" "$MKUBE_HOME/cache" \
        "$MKUBE_HOME/certs"
    printf '{"name": "dev", "driver": "qemu", "cpus": 2, "future": [1]}\n' \
        >"$MKUBE_HOME/profiles/dev/config.json"
    head -c 4096 /dev/urandom >"$MKUBE_HOME/machines/dev/disk.raw"
    echo "cached" >"$MKUBE_HOME/cache/blob"
    touch -d '2001-02-03 04:05:06' "$MKUBE_HOME/cache/blob"
}

run_cases() {
    local label=$1
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        local before after
        before=$(snapshot "$MKUBE_HOME")
        eval "set -- $line"
        local envs=()
        while [ $# -gt 0 ] && [[ $1 == *=* && $1 != -* ]]; do
            envs+=("$1")
            shift
        done
        env ${envs[@]+"${envs[@]}"} "$BIN" "$@" >"$OUT" 2>"$ERR"
        RC=$?
        local what="$label: mkube $line"
        expect_rc 64 "$what"
        local nlines
        nlines=$(wc -l <"$ERR")
        if head -n1 "$ERR" | grep -q '^mkube: ' &&
            { [ "$nlines" -eq 1 ] || { [ "$nlines" -eq 2 ] && sed -n 2p "$ERR" | grep -q '^hint: '; }; }; then
            ok
        else
            fail "$what: want one 'mkube: ' line (+ one 'hint: '), got $nlines lines"
        fi
        if [ ! -s "$OUT" ]; then ok; else fail "$what: printed on stdout"; fi
        after=$(snapshot "$MKUBE_HOME")
        if [ "$before" = "$after" ]; then
            ok
        else
            fail "$what: changed \$MKUBE_HOME"
            diff <(echo "$before") <(echo "$after") | head -10 >&2
        fi
    done <<<"$CASES"
}

populate
run_cases "populated home"
rm -rf "$MKUBE_HOME"
run_cases "absent home"
if [ ! -e "$MKUBE_HOME" ]; then ok; else fail "absent home: bad input created $MKUBE_HOME"; fi

# and the message itself, for the example the docs give
mk start --memory lots
expect_err_eq 'mkube: invalid memory size "lots": expected a number with an optional unit (2048, 2048mb, 2g)' \
    "memory message"
mk start --nope
expect_err_eq "mkube: unknown flag '--nope' for 'start'
hint: run 'mkube start --help'" "unknown flag message"
finish
