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
        diagnose >&2 || true
    fi
    exit 1
}

# what the host and the guest were doing when a test failed: load, memory,
# restarts of the control plane, the guest kernel's and kubelet's last words
diagnose() {
    local k
    echo "--- host: $(uptime)"
    k=$(ls "$MKUBE_HOME"/cache/bundle/*/kubectl 2>/dev/null | head -n1)
    if [ -x "$k" ]; then
        echo "--- kubectl get pods -A -o wide"
        timeout 60 "$k" --context "$PROFILE" --request-timeout=20s get pods -A -o wide 2>&1 || true
    fi
    echo "--- guest"
    timeout 90 "$MKUBE" -p "$PROFILE" ssh -- 'uptime; free -m; sudo dmesg | tail -n 25;
        sudo docker ps -a --format "{{.Status}}  {{.Names}}" | grep -v POD_ | head -n 20;
        sudo journalctl -u kubelet --no-pager -n 25 | cut -c1-300' 2>&1 || true
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

# kc ARGS...: the bundle's kubectl on the profile's context. Under TCG the
# guest can stall long enough for a call to lose the API server; a call that
# fails at the connection level (and only such a call) is retried, at most 3
# times, and says so. A create that got through before the connection broke
# reports AlreadyExists on the retry, which counts as done.
KC_TRANSIENT='Unable to connect to the server|connection lost|connection refused|connection reset|TLS handshake timeout|i/o timeout|unexpected EOF|the server is currently unable|etcdserver: (request timed out|leader changed)'
kc() {
    local k out rc try in=""
    k=$(kubectl_bin)
    # a manifest on stdin is read once, so that a retry can send it again
    [[ " $* " == *" -f - "* ]] && in=$(cat)
    for try in 1 2 3 4; do
        rc=0
        out=$("$k" --context "$PROFILE" "$@" 2>"$TMP/kc.err" <<<"$in") || rc=$?
        [ -n "$out" ] && printf '%s\n' "$out"
        cat "$TMP/kc.err" >&2
        [ "$rc" = 0 ] && return 0
        if [ "$try" -gt 1 ] && grep -q 'AlreadyExists\|already exists' "$TMP/kc.err"; then
            note "kubectl $1: created by the attempt whose connection broke"
            return 0
        fi
        grep -Eq "$KC_TRANSIENT" "$TMP/kc.err" || return "$rc"
        [ "$try" = 4 ] && break
        note "kubectl $1 lost the API server (attempt $try), retrying in 10 s"
        sleep 10
    done
    return "$rc"
}

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
