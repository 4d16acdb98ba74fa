#!/usr/bin/env bash
# lifecycle-lib.sh - helpers sourced by the lifecycle-*.sh tests: a private
# $MKUBE_HOME and $KUBECONFIG, the built image and bundle as the "installed"
# copies, the bundle's kubectl, timing, and cleanup that deletes the profile.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "lifecycle-lib.sh is sourced by tests/integration/lifecycle-*.sh" >&2
    exit 2
fi
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MKUBE="${MKUBE_BIN:-$REPO/build/mkube}"
TEST_NAME="$(basename "$0" .sh)"
T0=$(date +%s)
TMP="$(mktemp -d /tmp/mkube-e2e.XXXXXX)"
export MKUBE_HOME="$TMP/home"
export KUBECONFIG="$TMP/kubeconfig"
export MKUBE_DATADIR="${MKUBE_IMAGE_DIR:-$REPO/out}"
export NO_COLOR=1
PROFILE="${PROFILE:-e2e$$}"
DRIVER="${MKUBE_E2E_DRIVER:-}"

note() { echo "$TEST_NAME: [+$(($(date +%s) - T0))s] $*"; }
fail() {
    echo "$TEST_NAME: FAIL: $*" >&2
    if [ -d "$MKUBE_HOME/machines/$PROFILE" ]; then
        echo "--- mkube logs (tail) ---" >&2
        "$MKUBE" -p "$PROFILE" logs -n 40 2>&1 | tail -n 150 >&2 || true
    fi
    exit 1
}

require_artifacts() {
    [ -f "$MKUBE_DATADIR/mkube.iso" ] ||
        fail "no image at $MKUBE_DATADIR/mkube.iso: build it with iso/build-image.sh"
    ls "$MKUBE_DATADIR"/mkube-bundle-*.tar.zst >/dev/null 2>&1 ||
        fail "no bundle in $MKUBE_DATADIR: build it with iso/kubernetes/build-bundle.sh"
}

mk() { "$MKUBE" -p "$PROFILE" "$@"; }

# the bundle's kubectl, unpacked by mkube start
kubectl_bin() {
    local k
    k=$(ls "$MKUBE_HOME"/cache/bundle/*/kubectl 2>/dev/null | head -n1)
    [ -x "$k" ] || fail "the bundle's kubectl was not unpacked under $MKUBE_HOME/cache/bundle"
    echo "$k"
}
kc() { "$(kubectl_bin)" --context "$PROFILE" "$@"; }

# the control plane's pods are Running (kubectl's listing is printed too)
require_control_plane() {
    local pods c
    kc -n kube-system get pods
    pods=$(kc -n kube-system get pods --no-headers) || fail "kubectl -n kube-system get pods failed"
    for c in etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy coredns; do
        grep "^$c" <<<"$pods" | grep -q Running || fail "kube-system pod $c is not Running${1:-}"
    done
}

# wait_for SECONDS DESCRIPTION COMMAND...: retry until the command succeeds
wait_for() {
    local limit=$1 what=$2
    shift 2
    local end=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${limit}s waiting for $what"
        sleep 3
    done
}

# E2E_WAIT_TIMEOUT: --wait-timeout of every start (a test may raise it)
start_args() {
    local a=(start --wait=all "--wait-timeout=${E2E_WAIT_TIMEOUT:-1200}")
    [ -n "$DRIVER" ] && a+=(--driver="$DRIVER")
    echo "${a[@]}"
}

cleanup() {
    local rc=$?
    "$MKUBE" -p "$PROFILE" delete >/dev/null 2>&1 || true
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
