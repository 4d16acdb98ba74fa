#!/usr/bin/env bash
# kubeadm-config-validate.sh - the kubeadm config mkube renders (its golden file,
# checked against the renderer by tests/unit/test-kubeadm.c) is accepted by the
# bundle's real kubeadm (`kubeadm config validate`), and the images it implies
# are exactly the bundle's.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${MKUBE_BUNDLE_DIR:-$repo/out}"
bundle=$(ls "$dir"/mkube-bundle-*-linux-amd64.tar.zst 2>/dev/null | head -n1)
[ -n "$bundle" ] || { echo "FAIL: no bundle in $dir (iso/kubernetes/build-bundle.sh)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
zstd -dc "$bundle" | tar -x -C "$tmp" bin/kubeadm manifest.json
cfg="$repo/tests/fixtures/kubeadm/default.yaml"
out=$("$tmp/bin/kubeadm" config validate --config "$cfg" 2>&1) || { echo "FAIL: kubeadm rejects $cfg: $out"; exit 1; }
echo "kubeadm config validate: $out"
want=$("$tmp/bin/kubeadm" config images list --config "$cfg" 2>/dev/null | sort)
have=$(python3 -c 'import json,sys; print("\n".join(sorted(i["name"] for i in json.load(open(sys.argv[1]))["images"])))' "$tmp/manifest.json")
missing=$(comm -23 <(echo "$want") <(echo "$have"))
[ -z "$missing" ] || { echo "FAIL: images kubeadm needs but the bundle lacks: $missing"; exit 1; }
echo "PASS: the bundle carries every image of: $(echo $want)"
