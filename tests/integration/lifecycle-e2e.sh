#!/usr/bin/env bash
# lifecycle-e2e.sh - the spine, for real (VM under TCG, the bundle's kubectl):
# mkube start -> node Ready at the pinned version, control plane Running ->
# a Deployment runs -> stop -> status bits say stopped -> start -> the same
# Deployment is back -> delete -> no VM, no files, no context left.
# needs a whole cluster: stage 3 of scripts/test.sh (skip with --no-e2e)
# ctest-labels: e2e
. "$(dirname "$0")/lifecycle-lib.sh"
require_artifacts

note "mkube start ($(start_args))"
t=$(date +%s)
# shellcheck disable=SC2046
mk $(start_args) || fail "mkube start failed"
note "started in $(($(date +%s) - t)) s"

version=$(sed -n 's/.*mkube-bundle-\(v[0-9.]*\)-linux.*/\1/p' <<<"$(ls "$MKUBE_DATADIR"/mkube-bundle-*.tar.zst | head -n1)")
kc get nodes -o wide || fail "kubectl get nodes failed"
[ "$(kc get node "$PROFILE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] ||
    fail "node $PROFILE is not Ready"
[ "$(kc get node "$PROFILE" -o jsonpath='{.status.nodeInfo.kubeletVersion}')" = "$version" ] ||
    fail "node does not run $version"
[ "$(kc version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n1)" = "$version" ] ||
    fail "the API server does not report $version"
require_control_plane
[ "$("$MKUBE" profile list -o json | grep -c "\"$PROFILE\"")" -ge 1 ] || fail "profile list lacks $PROFILE"

st=0
mk status || st=$?
[ "$st" = 0 ] || fail "status exit code $st on a running cluster"
out=$(mk status -o json) || fail "status -o json exited $?: $out"
grep -q '"Host": *"Running"' <<<"$out" || fail "status -o json: $out"

# the pause image of the bundle, as dockerd in the VM has it
pause=$(mk ssh -- "sudo docker images --format '{{.Repository}}:{{.Tag}}'" | grep -m1 '/pause:' || true)
[ -n "$pause" ] || fail "dockerd in the VM has no pause image"
note "a Deployment on the bundle's image $pause (never pulled)"
kc create deployment keeper --image="$pause" || fail "create deployment"
kc patch deployment keeper -p '{"spec":{"template":{"spec":{"containers":[{"name":"pause","imagePullPolicy":"Never"}]}}}}' || fail "patch deployment"
wait_for 600 "the keeper pod to run" sh -c "'$(kubectl_bin)' --context '$PROFILE' get pods -l app=keeper --no-headers | grep -q Running"
kc get pods -l app=keeper

note "mkube stop"
t=$(date +%s)
mk stop || fail "mkube stop failed"
note "stopped in $(($(date +%s) - t)) s"
st=0
mk status || st=$?
[ $((st & 1)) = 1 ] || fail "status exit code $st after stop: host bit not set"
out=$(mk status || true) # exit bits are checked above
grep -q "^host: Stopped" <<<"$out" || fail "status does not say host: Stopped: $out"

note "mkube start (restart)"
t=$(date +%s)
# shellcheck disable=SC2046
mk $(start_args) || fail "restart failed"
note "restarted in $(($(date +%s) - t)) s"
# the image brought the node back at boot (mkube-node.service), before the
# host's provisioning: kubelet was not restarted by the host
boot=$(mk ssh -- 'sudo journalctl -b -u mkube-node --no-pager -o cat') || fail "cannot read mkube-node's journal"
echo "$boot"
grep -q "mkube-node: .* starting kubelet" <<<"$boot" || fail "mkube-node.service did not start kubelet at boot"
grep -q "kubelet started at boot" "$MKUBE_HOME/machines/$PROFILE/bootstrap.log" ||
    fail "the restart did not use the kubelet started at boot: $(cat "$MKUBE_HOME/machines/$PROFILE/bootstrap.log")"
wait_for 600 "the keeper pod to come back" sh -c "'$(kubectl_bin)' --context '$PROFILE' get pods -l app=keeper --no-headers | grep -q Running"
kc get deployment keeper || fail "the Deployment did not survive the restart"

note "mkube delete"
k=$(kubectl_bin)
mk delete || fail "mkube delete failed"
[ ! -e "$MKUBE_HOME/machines/$PROFILE" ] || fail "machine folder left behind"
[ ! -e "$MKUBE_HOME/profiles/$PROFILE" ] || fail "profile left behind"
if command -v virsh >/dev/null; then
    ! virsh -c qemu:///system list --all --name 2>/dev/null | grep -qx "mkube-$PROFILE" || fail "libvirt domain left behind"
fi
! pgrep -f "qemu-system.*$PROFILE" >/dev/null || fail "a qemu process is left behind"
! "$k" config get-contexts -o name 2>/dev/null | grep -qx "$PROFILE" || fail "kubeconfig context left behind"
st=0
mk status >/dev/null 2>&1 || st=$?
[ "$st" = 85 ] || fail "status after delete exited $st, want 85"
note "PASS"
