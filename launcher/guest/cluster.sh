#!/bin/sh
# cluster.sh - runs as root in the guest after provision.sh: the first start
# runs `kubeadm init` with mkube's config; later starts bring the same cluster
# back from the data disk (kubelet restarts the static pods; nothing is re-init).
#
# Environment: MK_K8S_VERSION, MK_KUBEADM_CONFIG (guest path of the rendered
# kubeadm config), MK_IGNORE_PREFLIGHT (comma list).
set -eu
export PATH=/usr/local/bin:$PATH
ADMIN=/etc/kubernetes/admin.conf
say() { echo "mkube-cluster: [uptime $(cut -d" " -f1 /proc/uptime)s] $*"; }

# One bootstrap at a time. A start interrupted on the host (Ctrl-C, a killed
# mkube) leaves its kubeadm running here: end it before starting over.
exec 9>/run/mkube-cluster.lock
if ! flock -n 9; then
    say "ending an earlier bootstrap that is still running"
    pkill -f '^kubeadm init' || true
    flock -w 120 9
fi
KUBECTL="kubectl --kubeconfig $ADMIN"

if [ -f "$ADMIN" ] && [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ] \
   && [ -f /var/lib/mkube/.cluster-initialised ]; then
    # the image's mkube-node.service may have started kubelet at boot with
    # the units provision.sh has just checked: restart it only when they
    # changed since, or when it is not running. The host's provisioning may
    # overtake the unit's last step: let the unit finish first.
    i=0
    while [ "$(systemctl is-active mkube-node.service 2>/dev/null)" = activating ] && [ "$i" -lt 120 ]; do
        sleep 1
        i=$((i + 1))
    done
    if [ -f /run/mkube/units-changed ] || ! systemctl is-active -q kubelet; then
        say "restarting the existing cluster"
        rm -f /run/mkube/units-changed
        systemctl restart kubelet
    else
        say "the existing cluster is coming back (kubelet started at boot)"
    fi
    exit 0
fi

if [ -f "$ADMIN" ] || [ -d /etc/kubernetes/manifests ] && [ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ]; then
    # a bootstrap that was interrupted: start over cleanly, keeping images
    say "a previous bootstrap did not finish; resetting it"
    kubeadm reset -f --cri-socket unix:///var/run/cri-dockerd.sock >/dev/null 2>&1 || true
    rm -rf /var/lib/mkube/etcd
fi

say "kubeadm init"
rm -f /run/mkube/units-changed # kubeadm starts kubelet on the new units
kubeadm init --config "$MK_KUBEADM_CONFIG" \
    --ignore-preflight-errors="$MK_IGNORE_PREFLIGHT" --v=1
systemctl enable kubelet >/dev/null 2>&1 || true

say "one CoreDNS replica"
$KUBECTL -n kube-system scale deployment coredns --replicas=1
touch /var/lib/mkube/.cluster-initialised
say "initialised"
