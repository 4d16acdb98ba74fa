#!/usr/bin/env bash
# Image load test, no VM: every image of the bundle loads into Debian's
# docker 20.10 (`docker load`) and into containerd (`ctr -n k8s.io images
# import`), under the names the manifest gives, and the four control-plane
# images share their first layer (the multi-call kube binary).
#
# It uses Debian's docker.io/containerd/runc packages *extracted* into a
# throwaway directory (apt-get download, no install, no system service) and
# runs containerd and dockerd with their own roots and unix sockets under
# /tmp, so nothing on the host changes.
#
#   MKUBE_BUNDLE_DIR=<dir with the bundle> tests/integration/bundle-load.sh
set -euo pipefail
. "$(dirname "$0")/bundle-lib.sh"

require_bundle
[ "$(id -u)" = 0 ] || fail "needs root (dockerd, containerd)"

T=$(mktemp -d /tmp/mkube-bundle-load.XXXXXX)
PIDS=()
cleanup() {
	local p
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	# containerd's snapshots may be mounts
	grep -o " $T[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done || true
	rm -rf "$T"
}
trap cleanup EXIT
logs() {
	echo "--- containerd log (tail)" >&2; tail -n 20 "$T/containerd.log" >&2 || true
	echo "--- dockerd log (tail)" >&2; tail -n 20 "$T/dockerd.log" >&2 || true
}

# --- Debian's docker.io + containerd + runc, extracted
DEBS=${MKUBE_CACHE:-/var/cache/mkube}/test-debs
mkdir -p "$DEBS"
for p in docker.io containerd runc; do
	ls "$DEBS/${p}_"*.deb >/dev/null 2>&1 ||
		(cd "$DEBS" && apt-get download -qq "$p" 2>/dev/null) || fail "apt-get download $p failed"
done
X=$T/docker-pkg
for d in "$DEBS"/docker.io_*.deb "$DEBS"/containerd_*.deb "$DEBS"/runc_*.deb; do
	dpkg-deb -x "$d" "$X"
done
export PATH=$X/usr/bin:$X/usr/sbin:$PATH
DOCKER_V=$("$X/usr/bin/docker" --version)
pass "extracted $DOCKER_V, $("$X/usr/bin/containerd" --version | cut -d' ' -f1-3)"

B=$T/b
unpack_bundle "$B"
python3 -c 'import json,sys; [print(i["name"], i["file"]) for i in json.load(open(sys.argv[1]))["images"]]' \
	"$B/manifest.json" >"$T/images"

# --- containerd on its own socket
cat >"$T/containerd.toml" <<EOF
version = 2
root = "$T/containerd-root"
state = "$T/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/containerd.sock"
[ttrpc]
  address = "$T/containerd.sock.ttrpc"
EOF
"$X/usr/bin/containerd" --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
PIDS+=($!)
CTR=("$X/usr/bin/ctr" --address "$T/containerd.sock" -n k8s.io)
for i in $(seq 100); do
	"${CTR[@]}" version >/dev/null 2>&1 && break
	[ "$i" = 100 ] && { logs; fail "containerd did not come up"; }
	sleep 0.2
done
while read -r name file; do
	"${CTR[@]}" images import "$B/$file" >"$T/ctr-import.log" 2>&1 ||
		{ cat "$T/ctr-import.log" >&2; logs; fail "ctr -n k8s.io images import $file failed"; }
done <"$T/images"
"${CTR[@]}" images ls -q | grep -v '^sha256:' | sort >"$T/ctr-names"
cut -d' ' -f1 "$T/images" | sort >"$T/want-names"
# ctr names docker.io images in full (docker.io/library/x, docker.io/rancher/x)
diff -u "$T/want-names" "$T/ctr-names" >"$T/ctr.diff" || fail "containerd image names differ: $(cat "$T/ctr.diff")"
pass "ctr -n k8s.io images import: all $(wc -l <"$T/want-names") images, names match"

# --- dockerd on its own socket, data root and exec root; no networking setup
echo '{}' >"$T/daemon.json"
"$X/usr/sbin/dockerd" --config-file "$T/daemon.json" --data-root "$T/docker-root" \
	--exec-root "$T/docker-exec" --pidfile "$T/docker.pid" -H "unix://$T/docker.sock" \
	--containerd "$T/containerd.sock" --bridge none --iptables=false --ip-masq=false \
	>"$T/dockerd.log" 2>&1 &
PIDS+=($!)
D=("$X/usr/bin/docker" -H "unix://$T/docker.sock")
for i in $(seq 150); do
	"${D[@]}" version >/dev/null 2>&1 && break
	kill -0 "${PIDS[1]}" 2>/dev/null || { logs; fail "dockerd exited"; }
	[ "$i" = 150 ] && { logs; fail "dockerd did not come up"; }
	sleep 0.2
done
pass "dockerd $("${D[@]}" version -f '{{.Server.Version}}') up (storage driver $("${D[@]}" info -f '{{.Driver}}'))"
while read -r name file; do
	"${D[@]}" load -i "$B/$file" >"$T/load.log" 2>&1 || { cat "$T/load.log" >&2; logs; fail "docker load $file failed"; }
	short=${name#docker.io/}
	short=${short#library/}
	grep -qx "Loaded image: $short" "$T/load.log" || fail "docker load $file did not load $name: $(cat "$T/load.log")"
done <"$T/images"
"${D[@]}" images --format '{{.Repository}}:{{.Tag}}' | sed 's|^docker.io/||; s|^library/||' | sort >"$T/docker-names"
sed 's|^docker.io/||; s|^library/||' "$T/want-names" | sort >"$T/want-docker"
diff -u "$T/want-docker" "$T/docker-names" >"$T/docker.diff" || fail "docker image names differ: $(cat "$T/docker.diff")"
pass "docker load: all images, names match (docker images shows them)"

# --- layer sharing: the control-plane images start with the same layer
first=()
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
	first+=("$("${D[@]}" image inspect -f '{{index .RootFS.Layers 0}}' "registry.k8s.io/$c:$K8S_VERSION")")
done
nlayers=$("${D[@]}" image inspect -f '{{len .RootFS.Layers}}' "registry.k8s.io/kube-apiserver:$K8S_VERSION")
if [ "$nlayers" = 3 ]; then # multi-call build: kube, base, symlink
	[ "$(printf '%s\n' "${first[@]}" | sort -u | wc -l)" = 1 ] || fail "control-plane images do not share their first layer: ${first[*]}"
	share="share layer ${first[0]:7:12}"
else
	share="have standalone binaries ($nlayers layers)"
fi
sum_images=$("${D[@]}" images --format '{{.Size}}' | python3 -c '
import sys
u={"B":1,"kB":1e3,"KB":1e3,"MB":1e6,"GB":1e9}
t=0
for l in sys.stdin:
    l=l.strip()
    for k in sorted(u,key=len,reverse=True):
        if l.endswith(k): t+=float(l[:-len(k)])*u[k]; break
print(int(t/1e6))')
on_disk=$(du -sm "$T/docker-root" | cut -f1)
pass "control-plane images $share; sum of image sizes ${sum_images} MB, data-root ${on_disk} MB on disk"

# --- run something: pause from the image (needs runc; skipped where it cannot run)
if "${D[@]}" run -d --name mkube-pause --network none "registry.k8s.io/pause:$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"]["pause"])' "$B/manifest.json")" >/dev/null 2>"$T/run.err"; then
	sleep 1
	[ "$("${D[@]}" inspect -f '{{.State.Running}}' mkube-pause)" = true ] || fail "pause container is not running"
	"${D[@]}" stop -t 5 mkube-pause >/dev/null
	code=$("${D[@]}" inspect -f '{{.State.ExitCode}}' mkube-pause)
	[ "$code" = 0 ] || fail "pause exited $code on docker stop (SIGTERM), expected 0"
	pass "pause container runs and exits 0 on SIGTERM"
else
	echo "skip pause container run: $(head -n1 "$T/run.err")"
fi

echo "PASS bundle-load"
