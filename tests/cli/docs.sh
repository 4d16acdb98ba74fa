#!/bin/bash
# docs.sh: docs/commands.md keeps up with the binary: every command in
# `mkube --help` has a section, and every flag a command's help names appears
# in that command's section.
source "$(dirname "$0")/cli-lib.sh"

DOC="$SRC/docs/commands.md"
[ -f "$DOC" ] && ok || fail "no $DOC"

mk --help
commands=$(sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p' "$OUT")
[ -n "$commands" ] && ok || fail "no commands in mkube --help"
for c in $commands; do
    section=$(awk -v h="## mkube $c" '$0 == h { on = 1; next } /^## / { on = 0 } on' "$DOC")
    if [ -z "$section" ]; then
        fail "docs/commands.md has no section '## mkube $c'"
        continue
    fi
    ok
    mk help "$c"
    for flag in $(sed -n '/^Global flags:/q; p' "$OUT" | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        if grep -qF -- "$flag" <<<"$section"; then ok; else fail "docs/commands.md: mkube $c lacks $flag"; fi
    done
done
finish
