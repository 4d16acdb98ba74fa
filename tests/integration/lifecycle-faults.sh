#!/usr/bin/env bash
# lifecycle-faults.sh - the spine's faults, for real (VM under TCG, the
# bundle's kubectl):
#   1. the VM is killed (kill -9 of its QEMU) while kubeadm init runs in it ->
#      that start fails with a clear error -> the next `mkube start` recovers
#      to a Ready node;
#   2. the cluster is stopped and something else takes the API server's host
#      port -> `mkube start` moves the forward to another port, the kubeconfig
#      follows it, status says Configured and kubectl works.
# needs a whole cluster: stage 3 of scripts/test.sh (skip with --no-e2e)
# ctest-labels: e2e
. "$(dirname "$0")/lifecycle-lib.sh"
require_artifacts
# the qemu driver unless told otherwise (lifecycle-e2e.sh takes the automatic
# choice, libvirt where libvirtd runs): the two drivers are both covered
DRIVER="${MKUBE_E2E_DRIVER:-qemu}"
command -v socat >/dev/null || fail "socat is not on PATH"
BLOCKER=""
# shellcheck disable=SC2317
faults_cleanup() {
    local rc=$?
    [ -z "$BLOCKER" ] || kill "$BLOCKER" 2>/dev/null || true
    [ -z "${START_PID:-}" ] || kill "$START_PID" 2>/dev/null || true
    (exit $rc)
    cleanup
}
trap faults_cleanup EXIT

# the QEMU process of the profile's VM (qemu driver: its pid file; libvirt:
# the domain's process, found by name)
vm_pid() {
    local f="$MKUBE_HOME/machines/$PROFILE/qemu.pid"
    if [ -s "$f" ]; then
        cat "$f"
    else
        pgrep -f "qemu-system.*mkube-$PROFILE" | head -n1
    fi
}
node_ready() {
    [ "$(kc get node "$PROFILE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
api_port() {
    kc config view --minify -o jsonpath='{.clusters[0].cluster.server}' | sed 's/.*://'
}

note "fault 1: mkube start ($(start_args)), VM killed while kubeadm init runs"
log="$TMP/start1.log"
# shellcheck disable=SC2046
"$MKUBE" -p "$PROFILE" $(start_args) >"$log" 2>&1 &
START_PID=$!
end=$(($(date +%s) + 1800))
until grep -q "Booting up control plane" "$log"; do
    kill -0 "$START_PID" 2>/dev/null || { cat "$log" >&2; fail "start ended before the bootstrap step"; }
    [ "$(date +%s)" -lt "$end" ] || { cat "$log" >&2; fail "start never reached the bootstrap step"; }
    sleep 2
done
# let kubeadm get going: certificates, manifests, etcd writing its data
sleep "${FAULT_KILL_DELAY:-45}"
pid=$(vm_pid)
[ -n "$pid" ] || fail "no QEMU process for $PROFILE"
note "kill -9 QEMU (pid $pid) during bootstrap"
kill -9 "$pid"
rc=0
wait "$START_PID" || rc=$?
START_PID=""
cat "$log"
[ "$rc" != 0 ] || fail "the start under a killed VM exited 0"
grep -q "Done!" "$log" && fail "the start under a killed VM said Done!"
note "the interrupted start exited $rc"

note "recovery: mkube start again"
t=$(date +%s)
# shellcheck disable=SC2046
mk $(start_args) || fail "the start after the killed bootstrap failed"
note "recovered in $(($(date +%s) - t)) s"
node_ready || fail "node $PROFILE is not Ready after the recovery"
require_control_plane " after the recovery"

note "fault 2: the API server's host port taken while the cluster is stopped"
old=$(api_port)
[ -n "$old" ] || fail "no API server port in the kubeconfig"
mk stop || fail "mkube stop failed"
socat "TCP-LISTEN:$old,bind=127.0.0.1,reuseaddr,fork" SYSTEM:"echo blocker" &
BLOCKER=$!
for _ in $(seq 50); do ss -ltnH "sport = :$old" | grep -q . && break; sleep 0.1; done
ss -ltnH "sport = :$old" | grep -q . || fail "the blocker does not listen on $old"
t=$(date +%s)
# shellcheck disable=SC2046
mk $(start_args) || fail "the start with a taken API port failed"
note "restarted in $(($(date +%s) - t)) s"
new=$(api_port)
note "API server port: $old (taken) -> $new"
[ -n "$new" ] && [ "$new" != "$old" ] || fail "the API server port did not move off $old"
node_ready || fail "kubectl through the new port $new does not see a Ready node"
out=$(mk status) || fail "status exited $? after the restart: $out"
grep -q "^kubeconfig: Configured" <<<"$out" || fail "status: $out"
kill "$BLOCKER"
BLOCKER=""

note "mkube delete"
mk delete || fail "mkube delete failed"
[ ! -e "$MKUBE_HOME/machines/$PROFILE" ] || fail "machine folder left behind"
note "PASS"
