#!/usr/bin/env bash
# lint-cleanup-jumps.sh - fails when a goto jumps over the declaration of a
# variable with a cleanup attribute (mk_autofree, mk_autobuf, ...): at the end
# of the scope the cleanup would free an uninitialised pointer. GCC's
# -Wjump-misses-init finds every skipped initialisation; this keeps the ones
# that matter. Usage: scripts/lint-cleanup-jumps.sh [BUILD_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$(mktemp -d /tmp/mkube-lint.XXXXXX)}"
cmake -S "$repo" -B "$dir" -G Ninja -DMKUBE_TESTS=OFF \
    -DCMAKE_C_FLAGS="-Wjump-misses-init -Wno-error" >/dev/null
ninja -C "$dir" -k 0 mkcore >"$dir/lint.log" 2>&1 || true
bad=0
while IFS=: read -r file line _; do
    text=$(sed -n "${line}p" "$file")
    case "$text" in
    *mk_auto* | *"cleanup("*)
        echo "$file:$line: a goto skips this cleanup variable: $text"
        bad=1
        ;;
    esac
done < <(grep -E "note: .* declared here" "$dir/lint.log" | cut -d: -f1,2 | sort -u)
[ "$bad" = 0 ] && echo "lint-cleanup-jumps: ok"
exit "$bad"
