#!/bin/bash
# help.sh: `mkube --help` lists every command, help for one command reads the
# same however it is asked for, global flags work before and after the
# command, and `mkube version` prints what it promises.
source "$(dirname "$0")/cli-lib.sh"

COMMANDS="start stop delete status ip ssh docker-env service dashboard addons profile config
update-context logs kubectl version help"

mk --help
expect_rc 0 "--help"
for c in $COMMANDS; do
    expect_out_has "^  $c +[A-Z]" "--help lists $c"
done
expect_out_has "--profile" "--help shows global flags"
cp "$OUT" "$TMP/help-long"
for form in "-h" "help" ""; do
    # shellcheck disable=SC2086
    mk $form
    expect_rc 0 "mkube $form"
    if cmp -s "$OUT" "$TMP/help-long"; then ok; else fail "mkube $form differs from --help"; fi
done

for c in $COMMANDS; do
    mk help "$c"
    expect_rc 0 "help $c"
    expect_out_has "^  mkube $c" "help $c: usage line"
    cp "$OUT" "$TMP/help-$c"
    for form in "$c --help" "$c -h" "-h $c" "--help $c" "$c --help --whatever"; do
        # shellcheck disable=SC2086
        mk $form
        expect_rc 0 "mkube $form"
        if cmp -s "$OUT" "$TMP/help-$c"; then ok; else fail "mkube $form differs from help $c"; fi
    done
done
mk help start
expect_out_has "--memory SIZE" "start help lists --memory"
mk help svc
expect_out_has "Aliases:" "help by alias"

mk help nope
expect_rc 64 "help nope"
expect_err_has '^mkube: unknown command "nope" for "mkube"$' "help nope message"

# global flags before or after the command, in every spelling
for form in "-p other profile" "profile -p other" "--profile other profile" \
    "profile --profile=other" "-pother profile" "profile -v 3 -p other" "--v=2 profile -p other" \
    "profile --alsologtostderr --profile other"; do
    # shellcheck disable=SC2086
    mk $form
    expect_rc 0 "mkube $form"
    expect_out_eq "other" "mkube $form"
done
mk profile
expect_out_eq "mkube" "default profile"
MKUBE_PROFILE=fromenv "$BIN" profile >"$OUT" 2>"$ERR"
expect_out_eq "fromenv" "MKUBE_PROFILE"
MKUBE_PROFILE=fromenv "$BIN" -p fromflag profile >"$OUT" 2>"$ERR"
expect_out_eq "fromflag" "-p beats MKUBE_PROFILE"
mk -p
expect_rc 64 "-p without a value"
expect_err_has "flag '-p' needs a value" "-p without a value"

# after "--" nothing is mkube's: no help, no -p, no -v (kubectl and ssh get it all)
for c in kubectl ssh; do
    mk -p nosuch "$c" -- -p UPPER --help -v nope
    if [ "$RC" -ne 0 ] && [ "$RC" -ne 64 ]; then ok; else fail "$c -- ...: exit $RC"; fi
    if grep -q "invalid profile name\|invalid verbosity" "$ERR"; then fail "$c parsed flags after --"; else ok; fi
    if grep -q "^Usage:" "$OUT"; then fail "$c printed mkube's help for a flag after --"; else ok; fi
done
if [ ! -e "$MKUBE_HOME/profiles/nosuch" ]; then ok; else fail "kubectl/ssh created a profile"; fi

mk version
expect_rc 0 "version"
if head -n1 "$OUT" | grep -Eq '^mkube version: v[0-9]+\.[0-9]+\.[0-9]+$'; then ok; else fail "version line: $(head -n1 "$OUT")"; fi
if [ -d "$SRC/.git" ]; then
    expect_out_has '^commit: [0-9a-f]{40}$' "version commit"
fi
version=$(sed -n 's/^mkube version: //p' "$OUT")
mk version --short
expect_out_eq "$version" "version --short"
mk version -o json
expect_rc 0 "version -o json"
if jq -e --arg v "$version" '.mkubeVersion == $v and (.commit | type == "string")' "$OUT" >/dev/null; then
    ok
else
    fail "version -o json: $(cat "$OUT")"
fi
mk version --output=json
expect_rc 0 "version --output=json"
finish
