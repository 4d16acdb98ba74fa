#!/usr/bin/env bash
# bench-lifecycle.sh - the lifecycle benchmarks of docs/benchmarks.md:
#   cold   `mkube start --wait=all` on a new profile (image and bundle cached)
#   warm   `mkube start` after `mkube stop`
#   floor  the same image booted by plain QEMU and Kubernetes brought up by
#          hand over ssh (copy the bundle, unpack, docker load, units,
#          `kubeadm init` with flags) until the node is Ready
#   memory guest memory used with the control plane idle (free -m, "used")
# and prints the ratios the lifecycle issue asks for (cold/floor, warm/cold).
# Usage: scripts/bench-lifecycle.sh [--skip-floor]   (needs out/ image + bundle, build/mkube)
# MKUBE_BENCH_DRIVER picks mkube's driver (default qemu: the floor is plain
# QEMU with the same CPUs, memory and acceleration, so the ratio compares
# like with like; libvirt adds its define/start overhead on top).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
MKUBE="${MKUBE_BIN:-$repo/build/mkube}"
OUT="${MKUBE_IMAGE_DIR:-$repo/out}"
tmp="$(mktemp -d /tmp/mkube-bench.XXXXXX)"
export MKUBE_HOME="$tmp/home" KUBECONFIG="$tmp/kubeconfig" MKUBE_DATADIR="$OUT" NO_COLOR=1
profile=bench$$
driver="${MKUBE_BENCH_DRIVER:-qemu}"
qpid=""
cleanup() {
    "$MKUBE" -p "$profile" delete >/dev/null 2>&1 || true
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
bundle=$(ls "$OUT"/mkube-bundle-*.tar.zst | head -n1)
version=$(basename "$bundle" | sed 's/mkube-bundle-\(v[0-9.]*\)-.*/\1/')

t=$(now); "$MKUBE" -p "$profile" start --driver="$driver" --wait=all >"$tmp/cold.log" 2>&1 || true; cold=$(secs "$t" "$(now)")
grep -q "Done!" "$tmp/cold.log" || { cat "$tmp/cold.log"; echo "cold start failed"; exit 1; }
echo "cold start ($driver driver, --wait=all): ${cold}s"
sleep 60 # let the control plane settle before measuring idle memory
mem=$("$MKUBE" -p "$profile" ssh -- free -m | awk '/^Mem:/{print $3}')
echo "guest memory used, control plane idle: ${mem} MiB"
# status and docker-env latency: median of 31 runs on the idle cluster
. "$repo/tests/integration/lib/timing.sh"
echo "status: median $(median_ms "$MKUBE" -p "$profile" status) ms," \
    "docker-env: median $(median_ms "$MKUBE" -p "$profile" docker-env) ms (31 runs each)"
t=$(now); "$MKUBE" -p "$profile" stop >"$tmp/stop.log" 2>&1; stop=$(secs "$t" "$(now)")
t=$(now); "$MKUBE" -p "$profile" start --wait=all >"$tmp/warm.log" 2>&1 || true; warm=$(secs "$t" "$(now)")
grep -q "Done!" "$tmp/warm.log" || { cat "$tmp/warm.log"; echo "warm restart failed"; exit 1; }
echo "stop: ${stop}s  warm restart: ${warm}s  warm/cold: $(awk -v a="$warm" -v b="$cold" 'BEGIN{printf "%.2f", a/b}')"
"$MKUBE" -p "$profile" delete >/dev/null 2>&1

[ "${1:-}" = "--skip-floor" ] && exit 0

# ---- floor: plain QEMU with the same settings, Kubernetes by hand ----
ssh-keygen -q -t ed25519 -N "" -f "$tmp/key"
mkdir -p "$tmp/tar/.ssh" "$tmp/tar/mkube"
echo "mkube data disk" >"$tmp/tar/mkube, please format-me"
cp "$tmp/key.pub" "$tmp/tar/.ssh/authorized_keys"
echo floor >"$tmp/tar/mkube/hostname"
(cd "$tmp/tar" && tar --format=ustar -cf "$tmp/disk.raw" "mkube, please format-me" .ssh mkube)
truncate -s 20000M "$tmp/disk.raw"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
accel=tcg
t=$(now)
qemu-system-x86_64 -machine pc -accel $accel -cpu max -smp 2 -m 3072 -display none -nodefaults \
    -kernel "$OUT/mkube-vmlinuz" -initrd "$OUT/mkube-initrd.img" -append "console=ttyS0,115200" \
    -drive file="$OUT/mkube.iso",media=cdrom,readonly=on -drive file="$tmp/disk.raw",if=virtio,format=raw \
    -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22 -device virtio-net-pci,netdev=n0 \
    -serial file:"$tmp/floor-console.log" &
qpid=$!
S=(ssh -q -i "$tmp/key" -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 docker@127.0.0.1)
until "${S[@]}" true 2>/dev/null; do sleep 2; done
boot=$(secs "$t" "$(now)")
scp -q -i "$tmp/key" -P "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "$bundle" docker@127.0.0.1:/home/docker/b.tar.zst
"${S[@]}" "sudo sh -c '
set -e
d=/var/lib/mkube/binaries/$version; mkdir -p \$d; zstd -dc /home/docker/b.tar.zst | tar -x -C \$d
for f in \$d/images/*.tar; do docker load -q -i \$f >/dev/null; done
for b in kubeadm kubelet kubectl cri-dockerd crictl; do ln -sf \$d/bin/\$b /usr/local/bin/\$b; done
echo 10.0.2.15 floor >> /etc/hosts
mkdir -p /etc/cni/net.d /opt/cni/bin; ln -sf /usr/lib/cni/* /opt/cni/bin/ 2>/dev/null || true
printf %s \"{\\\"cniVersion\\\":\\\"1.0.0\\\",\\\"name\\\":\\\"b\\\",\\\"plugins\\\":[{\\\"type\\\":\\\"bridge\\\",\\\"bridge\\\":\\\"cni0\\\",\\\"isDefaultGateway\\\":true,\\\"ipMasq\\\":true,\\\"ipam\\\":{\\\"type\\\":\\\"host-local\\\",\\\"subnet\\\":\\\"10.244.0.0/16\\\"}}]}\" > /etc/cni/net.d/10-b.conflist
pause=\$(ls \$d/images | grep -m1 pause >/dev/null && docker images --format {{.Repository}}:{{.Tag}} | grep -m1 /pause:)
systemd-run --unit=cri-docker /usr/local/bin/cri-dockerd --container-runtime-endpoint unix:///var/run/cri-dockerd.sock --network-plugin=cni --pod-infra-container-image=\$pause
printf \"[Service]\\nExecStart=/usr/local/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml \\\$KUBELET_KUBEADM_ARGS\\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\\nRestart=always\\n\" > /etc/systemd/system/kubelet.service
systemctl daemon-reload
kubeadm init --kubernetes-version $version --cri-socket unix:///var/run/cri-dockerd.sock --pod-network-cidr 10.244.0.0/16 --ignore-preflight-errors=all >/tmp/init.log 2>&1
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl taint nodes --all node-role.kubernetes.io/control-plane- >/dev/null
until kubectl get nodes --no-headers | grep -q \" Ready\"; do sleep 2; done
'" || { echo "floor: bring-up by hand failed"; exit 1; }
floor=$(secs "$t" "$(now)")
echo "floor (plain QEMU boot ${boot}s + by-hand kubeadm, node Ready): ${floor}s"
echo "start/floor ratio: $(awk -v a="$cold" -v b="$floor" 'BEGIN{printf "%.2f", a/b}')"
