#!/bin/sh
# provision.sh - runs as root in the guest on every `mkube start` (embedded in
# the mkube binary, sent over SSH). Installs the Kubernetes bundle onto the data
# disk once, and re-creates on each boot what lives on the tmpfs root: binary
# links, systemd units, CNI config, /etc/hosts, dockerd TLS.
#
# Environment: MK_K8S_VERSION, MK_BUNDLE (guest path of the uploaded bundle, or
# empty when already installed), MK_BUNDLE_SHA256 (its checksum, verified by the
# host against the bundle manifest), MK_GUEST_IP, MK_NODE_NAME, MK_PAUSE_IMAGE,
# MK_POD_SUBNET.
#
# The host saves this script and its settings in /var/lib/mkube/boot/ after a
# successful run; the image's mkube-node.service runs them at the next boot
# (docs/image.md), so it must stay idempotent and cheap when nothing changed.
set -eu

: "${MK_K8S_VERSION:?}" "${MK_GUEST_IP:?}" "${MK_NODE_NAME:?}" "${MK_POD_SUBNET:?}"
BASE=/var/lib/mkube/binaries
BIN=$BASE/$MK_K8S_VERSION
step() { echo "mkube-provision: [uptime $(cut -d" " -f1 /proc/uptime)s] $*"; }

# one provisioning at a time: the boot-time run and the host's may overlap
exec 8>/run/mkube-provision.lock
flock -w 900 8 || { echo "mkube-provision: another provisioning holds the lock" >&2; exit 5; }

# put FILE: install stdin as FILE when it differs from what is there, and
# leave a mark for cluster.sh (a running kubelet must restart on new units)
put() {
    cat >"$1.new"
    if cmp -s "$1.new" "$1"; then
        rm -f "$1.new"
    else
        mv "$1.new" "$1"
        mkdir -p /run/mkube
        touch /run/mkube/units-changed
    fi
}

# 1. the bundle, unpacked once onto the data disk and verified
if [ ! -f "$BIN/.complete" ]; then
    [ -n "${MK_BUNDLE:-}" ] && [ -f "$MK_BUNDLE" ] || {
        echo "mkube-provision: bundle $MK_K8S_VERSION is not installed and none was uploaded" >&2
        exit 3
    }
    step "verifying the uploaded bundle"
    echo "${MK_BUNDLE_SHA256:?}  $MK_BUNDLE" | sha256sum -c --quiet -
    step "unpacking the Kubernetes bundle"
    rm -rf "$BIN.tmp"
    mkdir -p "$BIN.tmp"
    zstd -dc "$MK_BUNDLE" | tar -x -C "$BIN.tmp"
    touch "$BIN.tmp/.complete"
    rm -rf "$BIN"
    mv "$BIN.tmp" "$BIN"
    rm -f "$MK_BUNDLE"
fi

# 2. container images, loaded once into dockerd (its store is on the data disk)
if [ ! -f "$BIN/.images-loaded" ]; then
    step "loading container images"
    for f in "$BIN"/images/*.tar; do
        docker load -q -i "$f" >/dev/null
    done
    touch "$BIN/.images-loaded"
fi

# 3. binaries on PATH
for b in kubeadm kubelet kubectl cri-dockerd crictl; do
    [ -e "$BIN/bin/$b" ] && ln -sf "$BIN/bin/$b" "/usr/local/bin/$b"
done

# 4. node name resolution and the control-plane endpoint
hostname "$MK_NODE_NAME" 2>/dev/null || true
sed -i '/control-plane\.mkube\.internal/d' /etc/hosts
echo "$MK_GUEST_IP control-plane.mkube.internal" >> /etc/hosts
grep -q "[[:space:]]$MK_NODE_NAME\$" /etc/hosts || echo "$MK_GUEST_IP $MK_NODE_NAME" >> /etc/hosts

# 5. dockerd TLS: certs were copied to /var/lib/mkube/docker-tls by mkube
# (the data disk). The image's dockerd serves 2376 with whatever certs are
# there when it starts, so after a reboot it already serves the ones of the
# last start: restart it (~20 s under TCG) only when it runs without TLS or
# the certs changed since it was last (re)started by this script.
TLS=/var/lib/mkube/docker-tls
if [ -f "$TLS/server.pem" ]; then
    sum=$(cat "$TLS/ca.pem" "$TLS/server.pem" "$TLS/server-key.pem" | sha256sum | cut -d' ' -f1)
    pid=$(systemctl show -p MainPID --value docker.service 2>/dev/null || echo 0)
    serving=no
    if [ "${pid:-0}" != 0 ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- --tlsverify &&
        [ "$(cat "$TLS/.dockerd.sum" 2>/dev/null)" = "$sum" ]; then
        serving=yes
    fi
    if [ "$serving" = no ]; then
        step "restarting dockerd with TLS on 2376"
        systemctl restart docker
        echo "$sum" >"$TLS/.dockerd.sum"
    fi
fi

# 6. CNI: a bridge network for pods (Debian's containernetworking-plugins)
mkdir -p /etc/cni/net.d /opt/cni/bin
for d in /usr/lib/cni /usr/libexec/cni; do
    [ -d "$d" ] && for p in "$d"/*; do [ -e "/opt/cni/bin/${p##*/}" ] || ln -s "$p" /opt/cni/bin/; done
done
cat > /etc/cni/net.d/10-mkube-bridge.conflist <<CNI
{
  "cniVersion": "1.0.0",
  "name": "mkube-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "mkube0",
      "isDefaultGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$MK_POD_SUBNET"}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"}
  ]
}
CNI

# 7. systemd units: cri-dockerd and kubelet (kubeadm's drop-in layout)
put /etc/systemd/system/cri-docker.service <<UNIT
[Unit]
Description=CRI interface for Docker (cri-dockerd)
After=network-online.target docker.service
Requires=docker.service

[Service]
ExecStart=/usr/local/bin/cri-dockerd --container-runtime-endpoint unix:///var/run/cri-dockerd.sock --network-plugin=cni --cni-bin-dir=/opt/cni/bin --cni-conf-dir=/etc/cni/net.d --pod-infra-container-image=$MK_PAUSE_IMAGE --hairpin-mode=hairpin-veth
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
put /etc/systemd/system/kubelet.service <<'UNIT'
[Unit]
Description=kubelet: The Kubernetes Node Agent
Wants=network-online.target cri-docker.service
After=network-online.target cri-docker.service

[Service]
ExecStart=/usr/local/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p /etc/systemd/system/kubelet.service.d
put /etc/systemd/system/kubelet.service.d/10-kubeadm.conf <<'UNIT'
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart=
ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS
UNIT
cat > /etc/crictl.yaml <<'CRI'
runtime-endpoint: unix:///var/run/cri-dockerd.sock
image-endpoint: unix:///var/run/cri-dockerd.sock
CRI
[ -f /run/mkube/units-changed ] && systemctl daemon-reload
systemctl start cri-docker.service

# cri-dockerd answers only once it has reached dockerd (just restarted for
# TLS): kubeadm's preflight fails on a socket that is not there yet
step "waiting for cri-dockerd"
i=0
until /usr/local/bin/crictl --timeout 10s info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 150 ]; then
        echo "mkube-provision: cri-dockerd did not answer on /var/run/cri-dockerd.sock" >&2
        systemctl --no-pager status cri-docker.service >&2 || true
        exit 4
    fi
    sleep 2
done
step "provisioned"
