# Shared helpers for tests/integration/bundle-*.sh (sourced, not run).
# Finds the bundle in MKUBE_BUNDLE_DIR (default <repo>/out), unpacks it into a
# throwaway directory and extracts image root filesystems.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUNDLE_DIR=${MKUBE_BUNDLE_DIR:-$REPO/out}
K8S_VERSION=v1.37.2
BUNDLE_NAME=mkube-bundle-$K8S_VERSION-linux-amd64.tar.zst
BUNDLE=$BUNDLE_DIR/$BUNDLE_NAME

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf 'ok   %s\n' "$*"; }

require_bundle() {
	[ -f "$BUNDLE" ] || fail "no bundle at $BUNDLE (build it: iso/kubernetes/build-bundle.sh [OUTDIR], or set MKUBE_BUNDLE_DIR)"
	[ -f "$BUNDLE.sha256" ] || fail "no $BUNDLE.sha256 beside the bundle"
	for c in zstd tar python3 sha256sum; do
		command -v $c >/dev/null || fail "test needs $c"
	done
}

# unpack_bundle DIR: unpack the bundle into DIR.
unpack_bundle() {
	mkdir -p "$1"
	zstd -dc --long=27 "$BUNDLE" | tar -C "$1" -xf - || fail "cannot unpack $BUNDLE"
}

# image_rootfs BUNDLE-DIR IMAGE-FILE DEST: apply an image's layers in order.
image_rootfs() {
	local b=$1 img=$2 dest=$3 x
	x=$(mktemp -d)
	mkdir -p "$dest"
	tar -C "$x" -xf "$b/$img" || fail "cannot read $img"
	python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' \
		"$x/manifest.json" | while read -r l; do
		tar -C "$dest" -xf "$x/$l" || fail "cannot apply layer $l of $img"
	done
	rm -rf "$x"
}
