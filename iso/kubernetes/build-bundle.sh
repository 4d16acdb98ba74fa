#!/usr/bin/env bash
# Build mkube's Kubernetes bundle from the upstream Go modules.
#
#   iso/kubernetes/build-bundle.sh [OUTDIR]     (default OUTDIR: <repo>/out)
#
# Produces OUTDIR/mkube-bundle-v1.37.2-linux-amd64.tar.zst and its .sha256.
# Layout and choices: docs/bundle.md.
#
# Environment:
#   MKUBE_CACHE          cache root (default /var/cache/mkube); the finished
#                        bundle is kept under $MKUBE_CACHE/bundle/<key>/, where
#                        <key> is the sha256 of every file under iso/kubernetes/
#                        (plus the Go version), so an unchanged rerun is a copy.
#   MKUBE_ZSTD_LEVEL     zstd level for the bundle (default 12)
#   MKUBE_METRICS_SERVER 1 (default) adds metrics-server v0.8.0, 0 leaves it out
#   MKUBE_MULTICALL      1 (default): the four control-plane images share one
#                        multi-call binary layer; 0: one standalone binary each
#   MKUBE_BUNDLE_FORCE   1 rebuilds even when the cache has the key
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/out}
CACHE=${MKUBE_CACHE:-/var/cache/mkube}
ZSTD_LEVEL=${MKUBE_ZSTD_LEVEL:-12}
WITH_METRICS=${MKUBE_METRICS_SERVER:-1}
MULTICALL=${MKUBE_MULTICALL:-1}

# Pinned versions. kubeadm v1.37.2 expects etcd 3.7.0-0, CoreDNS v1.14.6 and
# pause 3.10.2 (cmd/kubeadm/app/constants); the build checks this against the
# built kubeadm's `config images list`.
K8S_VERSION=v1.37.2
K8S_BUILD_DATE=2026-10-27T12:01:04Z # release time of the v1.37.2 module
ETCD_VERSION=3.7.0
ETCD_IMAGE_TAG=3.7.0-0
COREDNS_VERSION=v1.14.6
PAUSE_VERSION=3.10.2
CRI_DOCKERD_VERSION=0.3.17
CRICTL_VERSION=v1.37.0
LPP_VERSION=v0.0.30
METRICS_SERVER_VERSION=v0.8.0
BUSYBOX_TAG=1.35.0
BUNDLE=mkube-bundle-$K8S_VERSION-linux-amd64.tar.zst

T0=$(date +%s)
TIMINGS=()
log() { printf '[bundle %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[bundle] ERROR: %s\n' "$*" >&2; exit 1; }
step_begin() { STEP=$1; STEP_T0=$(date +%s); log "$STEP ..."; }
step_end() {
	local dt=$(($(date +%s) - STEP_T0))
	TIMINGS+=("$(printf '%-28s %5ss' "$STEP" "$dt")")
	log "$STEP done in ${dt}s${1:+ ($1)}"
}
hsize() { du -h --apparent-size "$1" | cut -f1; }

# ---------------------------------------------------------------- dependencies
need_apt=()
for pair in zstd:zstd python3:python3 gcc:gcc tar:tar sha256sum:coreutils \
	dpkg-deb:dpkg apt-get:apt; do
	command -v "${pair%%:*}" >/dev/null || need_apt+=("${pair#*:}")
done
[ -e /usr/include/stdio.h ] || need_apt+=(libc6-dev)
[ -s /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
if [ ${#need_apt[@]} -gt 0 ]; then
	log "installing build dependencies: ${need_apt[*]}"
	[ "$(id -u)" = 0 ] || die "need root to apt-get install ${need_apt[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
command -v go >/dev/null || die "Go >= 1.26 is needed (Debian's golang is too old); install it from go.dev"
GOVERSION=$(go env GOVERSION)
case "$GOVERSION" in
go1.2[6-9]* | go1.[3-9]*) ;;
*) die "Go >= 1.26 is needed, found $GOVERSION" ;;
esac

# ----------------------------------------------------------------------- cache
KEY=$({
	cd "$HERE"
	find . -type f ! -name '*.swp' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
	echo "$GOVERSION ${WITH_METRICS} ${ZSTD_LEVEL} ${MULTICALL}"
} | sha256sum | cut -c1-64)
ENTRY=$CACHE/bundle/$KEY
mkdir -p "$OUT"

publish() { # copy (hardlink when possible) the cache entry to OUT
	local f
	for f in "$BUNDLE" "$BUNDLE.sha256"; do
		rm -f "$OUT/$f"
		ln "$ENTRY/$f" "$OUT/$f" 2>/dev/null || cp "$ENTRY/$f" "$OUT/$f"
	done
}

if [ "${MKUBE_BUNDLE_FORCE:-0}" != 1 ] && [ -f "$ENTRY/$BUNDLE.sha256" ] && [ -f "$ENTRY/$BUNDLE" ]; then
	publish
	log "cache hit $KEY"
	log "bundle: $OUT/$BUNDLE ($(hsize "$OUT/$BUNDLE")), total $(($(date +%s) - T0))s"
	exit 0
fi
log "cache miss $KEY: building $BUNDLE with $GOVERSION on $(nproc) cores"

mkdir -p "$CACHE/bundle" "$CACHE/work" "$CACHE/debs"
W=$(mktemp -d "$CACHE/work/build.XXXXXX")
cleanup() { rm -rf "$W" "$ENTRY.tmp.$$"; }
trap cleanup EXIT
BIN=$W/gobin
mkdir -p "$BIN"

export CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOFLAGS=-buildvcs=false

# ------------------------------------------------------------------ Go builds
K8S_LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	K8S_LDFLAGS+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=37"
	K8S_LDFLAGS+=" -X $p.gitCommit= -X $p.gitTreeState=clean -X $p.buildDate=$K8S_BUILD_DATE"
done
# Upstream's default tags (hack/lib/golang.sh): no SELinux-less or test code paths.
K8S_TAGS=selinux,notest,grpcnotrace

gobuild() { # NAME MODULE-DIR PACKAGE [extra go build args...]
	local name=$1 dir=$2 pkg=$3
	shift 3
	step_begin "go build $name"
	(cd "$HERE/$dir" && go build -trimpath "$@" -o "$BIN/$name" "$pkg")
	step_end "$(hsize "$BIN/$name")"
}

CONTROL_PLANE=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
if [ "$MULTICALL" = 1 ]; then
	# The multi-call binary first: it compiles every package the seven
	# components need, so the standalone kubeadm/kubelet/kubectl only link.
	gobuild kube k8s ./cmd/kube -tags "$K8S_TAGS" -ldflags "$K8S_LDFLAGS"
else
	for c in "${CONTROL_PLANE[@]}"; do
		gobuild "$c" k8s "k8s.io/kubernetes/cmd/$c" -tags "$K8S_TAGS" -ldflags "$K8S_LDFLAGS"
	done
fi
gobuild kubeadm k8s k8s.io/kubernetes/cmd/kubeadm -tags "$K8S_TAGS" -ldflags "$K8S_LDFLAGS"
gobuild kubelet k8s k8s.io/kubernetes/cmd/kubelet -tags "$K8S_TAGS" -ldflags "$K8S_LDFLAGS"
gobuild kubectl k8s k8s.io/kubernetes/cmd/kubectl -tags "$K8S_TAGS" -ldflags "$K8S_LDFLAGS"

gobuild etcd etcd go.etcd.io/etcd/server/v3 \
	-ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$ETCD_VERSION"
gobuild etcdctl etcd go.etcd.io/etcd/etcdctl/v3 \
	-ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$ETCD_VERSION"
gobuild coredns coredns github.com/coredns/coredns \
	-ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION"
gobuild cri-dockerd cri-dockerd github.com/Mirantis/cri-dockerd \
	-ldflags "-s -w -X github.com/Mirantis/cri-dockerd/cmd/version.Version=$CRI_DOCKERD_VERSION -X github.com/Mirantis/cri-dockerd/cmd/version.GitCommit=v$CRI_DOCKERD_VERSION -X github.com/Mirantis/cri-dockerd/cmd/version.BuildTime=$K8S_BUILD_DATE"
gobuild crictl crictl sigs.k8s.io/cri-tools/cmd/crictl \
	-ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
gobuild local-path-provisioner local-path-provisioner github.com/rancher/local-path-provisioner \
	-ldflags "-s -w -X main.VERSION=$LPP_VERSION"
if [ "$WITH_METRICS" = 1 ]; then
	MS_LD="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		MS_LD+=" -X $p.gitVersion=$METRICS_SERVER_VERSION -X $p.gitTreeState=clean -X $p.buildDate=$K8S_BUILD_DATE"
	done
	gobuild metrics-server metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server -ldflags "$MS_LD"
fi

step_begin "gcc pause"
gcc -static -Os -Wall -Wextra -s -o "$BIN/pause" "$HERE/pause/pause.c"
step_end "$(hsize "$BIN/pause")"

# ------------------------------------------------ versions kubeadm expects
step_begin "kubeadm image list"
mapfile -t KUBEADM_IMAGES < <("$BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
printf '  %s\n' "${KUBEADM_IMAGES[@]}"
expect_image() {
	local want=$1 i
	for i in "${KUBEADM_IMAGES[@]}"; do [ "$i" = "$want" ] && return 0; done
	die "kubeadm $K8S_VERSION does not list $want (pins in build-bundle.sh are stale)"
}
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
	expect_image "registry.k8s.io/$c:$K8S_VERSION"
done
expect_image "registry.k8s.io/etcd:$ETCD_IMAGE_TAG"
expect_image "registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
expect_image "registry.k8s.io/pause:$PAUSE_VERSION"
[ ${#KUBEADM_IMAGES[@]} = 7 ] || die "kubeadm lists ${#KUBEADM_IMAGES[@]} images, expected 7"
step_end

# ------------------------------------------------------------ image roots
step_begin "debian packages"
DEBS=(iptables ipset conntrack nftables busybox-static)
mapfile -t CLOSURE < <(apt-cache depends --recurse --no-recommends --no-suggests \
	--no-conflicts --no-breaks --no-replaces --no-enhances "${DEBS[@]}" |
	grep -v '^[ <]' | sort -u)
[ ${#CLOSURE[@]} -gt 5 ] || {
	[ "$(id -u)" = 0 ] && apt-get update -qq
	mapfile -t CLOSURE < <(apt-cache depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances "${DEBS[@]}" |
		grep -v '^[ <]' | sort -u)
}
(cd "$CACHE/debs" && apt-get download -qq "${CLOSURE[@]}" >/dev/null) ||
	die "apt-get download failed for: ${CLOSURE[*]}"
deb_of() { # newest downloaded .deb of package $1
	ls -1 "$CACHE/debs/$1"_*.deb 2>/dev/null | sort -V | tail -n1
}
step_end "${#CLOSURE[@]} packages"

step_begin "image roots"
R=$W/roots
mkdir -p "$R"

# A distroless-like base: users, name service, CA bundle, /tmp.
mkroot_base() {
	local d=$1
	mkdir -p "$d/etc/ssl/certs" "$d/tmp" "$d/root" "$d/home/nonroot" "$d/var/run"
	chmod 1777 "$d/tmp"
	chmod 700 "$d/root"
	cat >"$d/etc/passwd" <<-'EOT'
		root:x:0:0:root:/root:/sbin/nologin
		nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
		nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
	EOT
	cat >"$d/etc/group" <<-'EOT'
		root:x:0:
		nobody:x:65534:
		nonroot:x:65532:
	EOT
	echo 'hosts: files dns' >"$d/etc/nsswitch.conf"
	cp /etc/ssl/certs/ca-certificates.crt "$d/etc/ssl/certs/ca-certificates.crt"
}
mkroot_base "$R/base"

# Multi-call: the binary alone is the first layer of the four control-plane
# images, byte-identical in each, so dockerd/containerd store it once; a
# one-symlink layer on top names the component. Otherwise each image gets
# its own binary as the top layer.
for c in "${CONTROL_PLANE[@]}"; do
	mkdir -p "$R/top-$c/usr/local/bin"
	if [ "$MULTICALL" = 1 ]; then
		ln -s kube "$R/top-$c/usr/local/bin/$c"
	else
		cp "$BIN/$c" "$R/top-$c/usr/local/bin/$c"
	fi
done
FIRST=()
if [ "$MULTICALL" = 1 ]; then
	mkdir -p "$R/kube/usr/local/bin"
	cp "$BIN/kube" "$R/kube/usr/local/bin/kube"
	FIRST=(--layer "$R/kube")
fi

# kube-proxy's base: the base plus iptables (legacy and nft, behind
# iptables-wrapper as in upstream's distroless-iptables), ipset, conntrack,
# nft, and busybox for the wrapper's /bin/sh.
P=$R/proxybase
mkroot_base "$P"
for pkg in "${CLOSURE[@]}"; do
	[ "$pkg" = busybox-static ] && continue
	dpkg-deb -x "$(deb_of "$pkg")" "$P"
done
rm -rf "$P/usr/share/doc" "$P/usr/share/man" "$P/usr/share/info" "$P/usr/share/lintian" \
	"$P/usr/share/locale" "$P/usr/lib/x86_64-linux-gnu/gconv" "$P/etc/init.d" \
	"$P/etc/default" "$P/usr/share/bug"
mkdir -p "$P/bin"
dpkg-deb --fsys-tarfile "$(deb_of busybox-static)" | tar -xO ./bin/busybox >"$P/bin/busybox"
chmod 755 "$P/bin/busybox"
ln -sf busybox "$P/bin/sh"
install -m 755 "$HERE/lib/iptables-wrapper" "$P/usr/sbin/iptables-wrapper"
for cmd in iptables ip6tables; do
	for suffix in "" -save -restore; do
		ln -sf iptables-wrapper "$P/usr/sbin/$cmd$suffix"
	done
done
[ -x "$P/usr/sbin/xtables-legacy-multi" ] && [ -x "$P/usr/sbin/xtables-nft-multi" ] &&
	[ -x "$P/usr/sbin/ipset" ] && [ -x "$P/usr/sbin/conntrack" ] ||
	die "kube-proxy root is missing iptables/ipset/conntrack"

mkdir -p "$R/etcd/usr/local/bin" "$R/coredns" "$R/pause" "$R/lpp/usr/bin" "$R/ms"
cp "$BIN/etcd" "$BIN/etcdctl" "$R/etcd/usr/local/bin/"
cp "$BIN/coredns" "$R/coredns/coredns"
cp "$BIN/pause" "$R/pause/pause"
cp "$BIN/local-path-provisioner" "$R/lpp/usr/bin/"
[ "$WITH_METRICS" = 1 ] && cp "$BIN/metrics-server" "$R/ms/metrics-server"

# Busybox helper image for local-path-provisioner's helper pods.
mkdir -p "$R/busybox/bin" "$R/busybox/tmp" "$R/busybox/etc"
chmod 1777 "$R/busybox/tmp"
cp "$P/bin/busybox" "$R/busybox/bin/busybox"
for a in $("$R/busybox/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/busybox/bin/$a"
done
cp "$R/base/etc/passwd" "$R/base/etc/group" "$R/busybox/etc/"
step_end

# ------------------------------------------------------------------ images
S=$W/stage
mkdir -p "$S/bin" "$S/images"
IMAGES_JSON=()
mkimage() { # FILE NAME:TAG mkimage-args...
	local file=$1 tag=$2
	shift 2
	python3 "$HERE/lib/mkimage.py" --out "$S/images/$file.tar" --tag "$tag" "$@" >/dev/null
	IMAGES_JSON+=("{\"name\":\"$tag\",\"file\":\"images/$file.tar\"}")
	log "  image $tag -> images/$file.tar ($(hsize "$S/images/$file.tar"))"
}
step_begin "images"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
	mkimage "$c" "registry.k8s.io/$c:$K8S_VERSION" \
		"${FIRST[@]}" --layer "$R/base" --layer "$R/top-$c" \
		--entrypoint "[\"/usr/local/bin/$c\"]"
done
mkimage kube-proxy "registry.k8s.io/kube-proxy:$K8S_VERSION" \
	"${FIRST[@]}" --layer "$P" --layer "$R/top-kube-proxy" \
	--entrypoint '["/usr/local/bin/kube-proxy"]'
mkimage etcd "registry.k8s.io/etcd:$ETCD_IMAGE_TAG" \
	--layer "$R/base" --layer "$R/etcd" --cmd '["/usr/local/bin/etcd"]'
mkimage coredns "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" \
	--layer "$R/base" --layer "$R/coredns" --entrypoint '["/coredns"]'
mkimage pause "registry.k8s.io/pause:$PAUSE_VERSION" \
	--layer "$R/pause" --entrypoint '["/pause"]' --user 65535:65535
mkimage local-path-provisioner "docker.io/rancher/local-path-provisioner:$LPP_VERSION" \
	--layer "$R/base" --layer "$R/lpp" --cmd '["local-path-provisioner"]'
mkimage busybox "docker.io/mkube/busybox:$BUSYBOX_TAG" \
	--layer "$R/busybox" --cmd '["sh"]' --env PATH=/bin
if [ "$WITH_METRICS" = 1 ]; then
	mkimage metrics-server "registry.k8s.io/metrics-server/metrics-server:$METRICS_SERVER_VERSION" \
		--layer "$R/base" --layer "$R/ms" --entrypoint '["/metrics-server"]' --user 65534
fi
step_end

# ------------------------------------------------------------------ bundle
step_begin "bundle"
for b in kubeadm kubelet kubectl cri-dockerd crictl; do
	cp "$BIN/$b" "$S/bin/$b"
	chmod 755 "$S/bin/$b"
done
COMPONENTS="\"kubernetes\":\"$K8S_VERSION\",\"etcd\":\"$ETCD_VERSION\",\"coredns\":\"$COREDNS_VERSION\""
COMPONENTS+=",\"cri-dockerd\":\"$CRI_DOCKERD_VERSION\",\"crictl\":\"$CRICTL_VERSION\""
COMPONENTS+=",\"local-path-provisioner\":\"$LPP_VERSION\",\"pause\":\"$PAUSE_VERSION\",\"busybox\":\"$BUSYBOX_TAG\""
[ "$WITH_METRICS" = 1 ] && COMPONENTS+=",\"metrics-server\":\"$METRICS_SERVER_VERSION\""
python3 - "$S" "$K8S_VERSION" "{$COMPONENTS}" "[$(
	IFS=,
	echo "${IMAGES_JSON[*]}"
)]" <<'EOF'
import hashlib, json, os, sys
stage, version, components, images = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
files = {}
for top in ("bin", "images"):
    for dp, dn, fn in os.walk(os.path.join(stage, top)):
        dn.sort()
        for f in sorted(fn):
            p = os.path.join(dp, f)
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            files[os.path.relpath(p, stage)] = h.hexdigest()
m = {"kubernetesVersion": version, "components": components, "images": images,
     "files": dict(sorted(files.items()))}
with open(os.path.join(stage, "manifest.json"), "w") as fh:
    json.dump(m, fh, indent=2)
    fh.write("\n")
EOF
mkdir -p "$ENTRY.tmp.$$"
(cd "$S" && find bin images -type f | LC_ALL=C sort >"$W/members" &&
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
		-cf - manifest.json bin images) |
	zstd -q -T0 "-$ZSTD_LEVEL" --long=27 -o "$ENTRY.tmp.$$/$BUNDLE"
(cd "$ENTRY.tmp.$$" && sha256sum "$BUNDLE" >"$BUNDLE.sha256")
step_end "$(hsize "$ENTRY.tmp.$$/$BUNDLE")"

{
	echo "bundle $BUNDLE key $KEY built $(date -u +%FT%TZ) with $GOVERSION on $(nproc) cores"
	printf '%s\n' "${TIMINGS[@]}"
	echo "total $(($(date +%s) - T0))s"
	(cd "$S" && du -b --apparent-size bin/* images/*)
	(cd "$BIN" && du -b --apparent-size *)
} >"$ENTRY.tmp.$$/build-info.txt"

# Atomic publish into the cache: a killed build leaves only *.tmp.* behind.
rm -rf "$ENTRY"
mv -T "$ENTRY.tmp.$$" "$ENTRY"
publish

log "timings:"
printf '  %s\n' "${TIMINGS[@]}"
log "bundle: $OUT/$BUNDLE ($(hsize "$OUT/$BUNDLE")) total $(($(date +%s) - T0))s"
