#!/usr/bin/env bash
# Bundle contents test: checksums, tamper detection, pinned versions of every
# binary (host bins and the binaries inside the images), and the image names
# against what the bundle's kubeadm expects.
#
#   MKUBE_BUNDLE_DIR=<dir with the bundle> tests/integration/bundle-versions.sh
set -euo pipefail
. "$(dirname "$0")/bundle-lib.sh"

require_bundle
VERIFY=$REPO/iso/kubernetes/verify-bundle.sh
T=$(mktemp -d /tmp/mkube-bundle-versions.XXXXXX)
trap 'rm -rf "$T"' EXIT

(cd "$BUNDLE_DIR" && sha256sum --quiet -c "$BUNDLE_NAME.sha256") || fail "$BUNDLE_NAME does not match its .sha256"
pass "bundle matches $BUNDLE_NAME.sha256"

"$VERIFY" "$BUNDLE" >/dev/null || fail "verify-bundle.sh rejects the bundle"
pass "verify-bundle.sh accepts the bundle"

B=$T/b
unpack_bundle "$B"
for m in manifest.json bin/kubeadm bin/kubelet bin/kubectl bin/cri-dockerd bin/crictl; do
	[ -f "$B/$m" ] || fail "bundle has no $m"
done
pass "layout: manifest.json and bin/{kubeadm,kubelet,kubectl,cri-dockerd,crictl}"

# --- tamper detection: flip one byte in a copy of a member
cp -a "$B" "$T/tampered"
python3 - "$T/tampered/bin/crictl" <<'EOF'
import sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(4096)
    b = f.read(1)
    f.seek(4096)
    f.write(bytes([b[0] ^ 0x01]))
EOF
if "$VERIFY" "$T/tampered" 2>"$T/tamper.err"; then
	fail "verify-bundle.sh did not notice a flipped byte in bin/crictl"
fi
grep -q 'bin/crictl' "$T/tamper.err" || fail "verify-bundle.sh failed but did not name bin/crictl: $(cat "$T/tamper.err")"
pass "a flipped byte in bin/crictl is detected"
rm -rf "$T/tampered"
cp -a "$B" "$T/extra" && echo x >"$T/extra/bin/extra"
"$VERIFY" "$T/extra" 2>/dev/null && fail "verify-bundle.sh accepted an unlisted member"
pass "an unlisted member is detected"
rm -rf "$T/extra"

# --- manifest versions
comp() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"][sys.argv[2]])' "$B/manifest.json" "$1"; }
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kubernetesVersion"])' "$B/manifest.json")" = "$K8S_VERSION" ] ||
	fail "manifest kubernetesVersion is not $K8S_VERSION"
ETCD_V=$(comp etcd)
COREDNS_V=$(comp coredns)
CRID_V=$(comp cri-dockerd)
CRICTL_V=$(comp crictl)
LPP_V=$(comp local-path-provisioner)
PAUSE_V=$(comp pause)

# expect DESCRIPTION WANT-SUBSTRING COMMAND...
expect() {
	local what=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1) || fail "$what: '$*' exited non-zero: $out"
	case "$out" in
	*"$want"*) pass "$what: $(printf '%s' "$out" | head -n1)" ;;
	*) fail "$what: '$*' printed '$out', expected '$want'" ;;
	esac
}

expect kubeadm "$K8S_VERSION" "$B/bin/kubeadm" version -o short
[ "$("$B/bin/kubeadm" version -o short)" = "$K8S_VERSION" ] || fail "kubeadm version -o short is not exactly $K8S_VERSION"
expect kubectl "Client Version: $K8S_VERSION" "$B/bin/kubectl" version --client
expect kubelet "Kubernetes $K8S_VERSION" "$B/bin/kubelet" --version
expect cri-dockerd "cri-dockerd $CRID_V" "$B/bin/cri-dockerd" --version
expect crictl "crictl version $CRICTL_V" "$B/bin/crictl" --version
for f in kubeadm kubelet kubectl cri-dockerd crictl; do
	file "$B/bin/$f" 2>/dev/null | grep -q 'statically linked' ||
		ldd "$B/bin/$f" 2>&1 | grep -q 'not a dynamic executable' ||
		fail "bin/$f is not a static executable"
done
pass "bin/* are static executables"

R=$T/roots
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
	image_rootfs "$B" "images/$c.tar" "$R/$c"
	expect "$c (image)" "Kubernetes $K8S_VERSION" "$R/$c/usr/local/bin/$c" --version
done
image_rootfs "$B" images/etcd.tar "$R/etcd"
expect "etcd (image)" "etcd Version: $ETCD_V" "$R/etcd/usr/local/bin/etcd" --version
expect "etcdctl (image)" "etcdctl version: $ETCD_V" "$R/etcd/usr/local/bin/etcdctl" version
image_rootfs "$B" images/coredns.tar "$R/coredns"
expect "coredns (image)" "CoreDNS-${COREDNS_V#v}" "$R/coredns/coredns" -version
image_rootfs "$B" images/pause.tar "$R/pause"
expect "pause (image)" "pause.c" "$R/pause/pause" --version
image_rootfs "$B" images/local-path-provisioner.tar "$R/lpp"
expect "local-path-provisioner (image)" "$LPP_V" "$R/lpp/usr/bin/local-path-provisioner" --version
image_rootfs "$B" images/kube-proxy.tar "$R/proxy"
for f in usr/sbin/iptables usr/sbin/ip6tables usr/sbin/iptables-save usr/sbin/iptables-restore \
	usr/sbin/xtables-legacy-multi usr/sbin/xtables-nft-multi usr/sbin/ipset usr/sbin/conntrack \
	usr/sbin/nft bin/sh; do
	[ -e "$R/proxy/$f" ] || fail "kube-proxy image has no /$f"
done
pass "kube-proxy image carries iptables (legacy+nft wrapper), ipset, conntrack, nft"

# --- the images are exactly what kubeadm expects (plus the provisioner's)
"$B/bin/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null | sort >"$T/kubeadm-images"
[ "$(wc -l <"$T/kubeadm-images")" = 7 ] || fail "kubeadm lists $(wc -l <"$T/kubeadm-images") images, expected 7"
python3 -c 'import json,sys; [print(i["name"]) for i in json.load(open(sys.argv[1]))["images"]]' "$B/manifest.json" | sort >"$T/bundle-images"
grep -E '^registry.k8s.io/(kube-|etcd:|coredns/|pause:)' "$T/bundle-images" >"$T/bundle-k8s-images" || true
diff -u "$T/kubeadm-images" "$T/bundle-k8s-images" >"$T/images.diff" ||
	fail "bundle images differ from kubeadm's list: $(cat "$T/images.diff")"
grep -qx "registry.k8s.io/etcd:${ETCD_V}-0" "$T/kubeadm-images" || fail "kubeadm wants another etcd than $ETCD_V"
grep -qx "registry.k8s.io/coredns/coredns:$COREDNS_V" "$T/kubeadm-images" || fail "kubeadm wants another CoreDNS than $COREDNS_V"
grep -qx "registry.k8s.io/pause:$PAUSE_V" "$T/kubeadm-images" || fail "kubeadm wants another pause than $PAUSE_V"
grep -vE '^registry.k8s.io/(kube-|etcd:|coredns/|pause:)' "$T/bundle-images" >"$T/extra-images" || true
grep -qx "docker.io/rancher/local-path-provisioner:$LPP_V" "$T/extra-images" || fail "no local-path-provisioner image"
while read -r i; do
	case "$i" in
	docker.io/rancher/local-path-provisioner:* | docker.io/mkube/busybox:* | registry.k8s.io/metrics-server/metrics-server:*) ;;
	*) fail "unexpected image $i in the bundle" ;;
	esac
done <"$T/extra-images"
pass "images: kubeadm's 7 ($(tr '\n' ' ' <"$T/kubeadm-images")) + $(tr '\n' ' ' <"$T/extra-images")"

echo "PASS bundle-versions"
