#!/bin/bash
# test.sh: the one command that tests mkube, on a fresh machine or a used one.
#
#   stage 1: dependencies (install-deps.sh); build/ with -Werror, unit and CLI
#            tests; build-asan/ with AddressSanitizer+UBSan, the same tests;
#            the goto-over-cleanup lint
#   stage 2: the VM image (iso/build-image.sh) and the Kubernetes bundle
#            (iso/kubernetes/build-bundle.sh) into out/, then the integration
#            tests (real libvirtd/QEMU, kubectl) in build/
#
#   stage 3: the tests labelled e2e, which start a whole cluster (the
#            lifecycle E2E, its fault tests, the developer walkthrough) -
#            10-20 minutes under TCG each; --no-e2e (or MKUBE_E2E=0) skips
#            them; --e2e-all also runs the dashboard proxy test (label
#            e2e-dashboard: it needs a FAKE UI while issue 8 is blocked)
#
# usage: scripts/test.sh [--stage1] [--no-e2e] [--e2e-all]
#        (--stage1: skip stages 2 and 3)
# env:   MKUBE_TEST_JOBS=N  parallel unit/CLI tests (default 1)
#        MKUBE_TEST_BUDGET=S  stage 3 skips (and names) a test that would end
#            more than S seconds after test.sh began (default 5100 = 85 min:
#            CI stops a run at 90; 0 = no budget)
#        MKUBE_BUILD_DIR, MKUBE_ASAN_BUILD_DIR  build directories (default build, build-asan)
# Prints each stage's time and a summary line; exits non-zero if any stage failed.
# The whole output of stages 2 and 3 (timing lines of passing tests too) stays
# in build/Testing/Temporary/LastTest-{integration,<e2e test>}.log.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$REPO/scripts/test.sh"
cd "$REPO" || exit 1
STAGE2=1
E2E="${MKUBE_E2E:-1}"
E2E_LABEL='^e2e$'
for arg in "$@"; do
    case $arg in
    --stage1) STAGE2=0 ;;
    --e2e) E2E=1 ;; # the default; kept for older instructions
    --no-e2e) E2E=0 ;;
    --e2e-all)
        E2E=1
        E2E_LABEL='^e2e'
        ;;
    -h | --help)
        sed -n '/^set -uo pipefail/q; 2,$p' "$SELF" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "test.sh: unknown argument '$arg' (try --help)" >&2
        exit 64
        ;;
    esac
done
JOBS="${MKUBE_TEST_JOBS:-1}"
BUDGET="${MKUBE_TEST_BUDGET:-5100}" # seconds from the start of test.sh; CI allows 5400
BUILD="${MKUBE_BUILD_DIR:-build}"          # relative to the repo
ASAN_BUILD="${MKUBE_ASAN_BUILD_DIR:-build-asan}"

T0=$(date +%s)
SUMMARY=()
FAILED=0

fmt_time() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# stage NAME CMD...: run CMD, print and record how long it took and how it ended
stage() {
    local name=$1
    shift
    local t
    t=$(date +%s)
    echo
    echo "=== test.sh: $name"
    "$@"
    local rc=$?
    local took=$(($(date +%s) - t))
    local verdict=ok
    if [ $rc -ne 0 ]; then
        verdict="FAILED (exit $rc)"
        FAILED=$((FAILED + 1))
    fi
    echo "=== test.sh: $name: $verdict in $(fmt_time $took)"
    SUMMARY+=("$name: $verdict, $(fmt_time $took)")
    return $rc
}

skip() {
    echo "=== test.sh: $1: skipped ($2)"
    SUMMARY+=("$1: skipped ($2)")
}

configure_build() { # DIR EXTRA-CMAKE-ARGS...
    local dir=$1
    shift
    cmake -S "$REPO" -B "$REPO/$dir" -G Ninja -DMKUBE_WERROR=ON "$@" >/dev/null &&
        cmake --build "$REPO/$dir"
}

unit_cli() { # DIR
    (cd "$REPO/$1" && ctest -L 'unit|cli' --output-on-failure -j "$JOBS")
}

integration() {
    local n
    n=$(cd "$REPO/$BUILD" && ctest -N -L integration -LE e2e | sed -n 's/^Total Tests: //p')
    if [ "${n:-0}" -eq 0 ]; then
        echo "no integration tests registered"
        return 0
    fi
    (cd "$REPO/$BUILD" && ctest -L integration -LE e2e --output-on-failure)
    local rc=$?
    keep_log integration
    return $rc
}

# keep_log NAME: ctest rewrites Testing/Temporary/LastTest.log at each run;
# keep a copy, whose output of passing tests holds their timing lines
keep_log() {
    cp "$REPO/$BUILD/Testing/Temporary/LastTest.log" \
        "$REPO/$BUILD/Testing/Temporary/LastTest-$1.log" 2>/dev/null || true
}

# Stage 3 runs its tests one at a time, the spine first, and skips a test
# that would not end inside the time budget: CI gives a run 90 minutes, and
# on a fresh machine (cold caches) the bundle's first build takes 17 min on a
# quiet machine and up to an hour on a busy one. E2E_COST is a test's measured time here plus a fifth.
E2E_ORDER=(integration/lifecycle-e2e integration/lifecycle-faults
    integration/walkthrough-e2e integration/dashboard-proxy)
declare -A E2E_COST=([integration/lifecycle-e2e]=680 [integration/lifecycle-faults]=680
    [integration/walkthrough-e2e]=1160 [integration/dashboard-proxy]=900)
E2E_SKIPPED=()

e2e() {
    local listed=() ordered=() t left cost rc=0
    mapfile -t listed < <(cd "$REPO/$BUILD" && ctest -N -L "$E2E_LABEL" |
        sed -n 's/^ *Test *#[0-9]*: //p')
    for t in "${E2E_ORDER[@]}"; do
        [[ " ${listed[*]} " == *" $t "* ]] && ordered+=("$t")
    done
    for t in "${listed[@]}"; do # tests not in E2E_ORDER run last
        [[ " ${ordered[*]} " == *" $t "* ]] || ordered+=("$t")
    done
    for t in "${ordered[@]}"; do
        cost=${E2E_COST[$t]:-1200}
        left=$((BUDGET - ($(date +%s) - T0)))
        if [ "$BUDGET" -gt 0 ] && [ "$cost" -gt "$left" ]; then
            echo "=== test.sh: $t: SKIPPED - it takes about ${cost}s and ${left}s are left" \
                "of the ${BUDGET}s budget (MKUBE_TEST_BUDGET; 0 = none)"
            E2E_SKIPPED+=("$t")
            continue
        fi
        (cd "$REPO/$BUILD" && ctest -R "^${t}\$" --output-on-failure) || rc=1
        keep_log "${t##*/}"
    done
    return $rc
}

# --- stage 1 ---
stage "dependencies" bash "$REPO/scripts/install-deps.sh"
build_ok=0
stage "build ($BUILD/, -Werror)" configure_build "$BUILD" && build_ok=1
if [ $build_ok = 1 ]; then
    stage "unit+cli tests ($BUILD/)" unit_cli "$BUILD"
else
    skip "unit+cli tests ($BUILD/)" "build failed"
fi
if stage "build ($ASAN_BUILD/, ASan+UBSan)" configure_build "$ASAN_BUILD" -DMKUBE_SANITIZE=ON; then
    stage "unit+cli tests ($ASAN_BUILD/)" unit_cli "$ASAN_BUILD"
else
    skip "unit+cli tests ($ASAN_BUILD/)" "build failed"
fi
if [ -f "$REPO/scripts/lint-cleanup-jumps.sh" ]; then
    stage "lint: gotos over cleanup variables" bash "$REPO/scripts/lint-cleanup-jumps.sh" \
        "$REPO/$BUILD-lint"
fi

# --- stage 2 ---
if [ $STAGE2 = 1 ]; then
    artifacts_ok=1
    if [ -f "$REPO/iso/build-image.sh" ]; then
        stage "VM image (iso/build-image.sh -> out/)" bash "$REPO/iso/build-image.sh" "$REPO/out" ||
            artifacts_ok=0
    else
        skip "VM image" "no iso/build-image.sh"
    fi
    if [ -f "$REPO/iso/kubernetes/build-bundle.sh" ]; then
        stage "Kubernetes bundle (iso/kubernetes/build-bundle.sh -> out/)" \
            bash "$REPO/iso/kubernetes/build-bundle.sh" "$REPO/out" || artifacts_ok=0
    else
        skip "Kubernetes bundle" "no iso/kubernetes/build-bundle.sh"
    fi
    if [ $build_ok = 1 ] && [ $artifacts_ok = 1 ]; then
        stage "integration tests ($BUILD/)" integration
        if [ "$E2E" = 1 ]; then
            stage "end-to-end cluster tests ($BUILD/)" e2e
            if [ ${#E2E_SKIPPED[@]} -gt 0 ]; then
                SUMMARY+=("  skipped for the time budget: ${E2E_SKIPPED[*]}")
            fi
        else
            skip "end-to-end cluster tests" "--no-e2e"
        fi
    else
        skip "integration tests" "the build, image or bundle failed"
    fi
else
    skip "stage 2" "--stage1"
fi

echo
echo "=== test.sh summary"
for line in "${SUMMARY[@]}"; do
    echo "  $line"
done
TOTAL=$(fmt_time $(($(date +%s) - T0)))
if [ $FAILED -eq 0 ]; then
    skipped=""
    [ ${#E2E_SKIPPED[@]} -eq 0 ] || skipped=" (${#E2E_SKIPPED[@]} e2e test(s) skipped for the time budget)"
    echo "test.sh: PASS - ${#SUMMARY[@]} stages in $TOTAL$skipped"
    exit 0
fi
echo "test.sh: FAIL - $FAILED of ${#SUMMARY[@]} stages failed in $TOTAL"
exit 1
