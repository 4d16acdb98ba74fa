#!/usr/bin/env bash
# Verify an mkube Kubernetes bundle against its manifest.
#
#   iso/kubernetes/verify-bundle.sh BUNDLE.tar.zst   (checks BUNDLE.sha256 too)
#   iso/kubernetes/verify-bundle.sh DIR              (an unpacked bundle)
#
# Checks: the .sha256 beside the bundle (if present); manifest.json parses and
# has kubernetesVersion, components, images, files; every file listed exists
# with its sha256; every member is listed (nothing extra, nothing missing);
# every image entry points at a listed images/*.tar whose own manifest.json
# carries that name. Exit 0 when all hold, 1 with a message otherwise.
set -euo pipefail

die() { printf 'verify-bundle: FAIL: %s\n' "$*" >&2; exit 1; }
[ $# = 1 ] || die "usage: verify-bundle.sh BUNDLE.tar.zst|DIR"
target=$1
command -v python3 >/dev/null || die "python3 is needed"

tmp=
trap '[ -n "$tmp" ] && rm -rf "$tmp"' EXIT
if [ -d "$target" ]; then
	dir=$target
elif [ -f "$target" ]; then
	if [ -f "$target.sha256" ]; then
		(cd "$(dirname "$target")" && sha256sum --quiet -c "$(basename "$target").sha256") ||
			die "$target does not match $target.sha256"
	fi
	tmp=$(mktemp -d)
	zstd -dc --long=27 "$target" | tar -C "$tmp" -xf - || die "cannot unpack $target"
	dir=$tmp
else
	die "no such bundle: $target"
fi

python3 - "$dir" <<'EOF'
import hashlib, io, json, os, sys, tarfile

d = sys.argv[1]
def fail(msg):
    print("verify-bundle: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

try:
    with open(os.path.join(d, "manifest.json")) as fh:
        m = json.load(fh)
except Exception as e:
    fail(f"manifest.json: {e}")
for k in ("kubernetesVersion", "components", "images", "files"):
    if k not in m:
        fail(f"manifest.json has no {k}")

members = set()
for dp, dn, fn in os.walk(d):
    for f in fn:
        rel = os.path.relpath(os.path.join(dp, f), d)
        if rel != "manifest.json":
            members.add(rel)
listed = set(m["files"])
if members - listed:
    fail("members not in the manifest: " + ", ".join(sorted(members - listed)))
if listed - members:
    fail("manifest lists missing members: " + ", ".join(sorted(listed - members)))

bad = []
for rel, want in sorted(m["files"].items()):
    h = hashlib.sha256()
    with open(os.path.join(d, rel), "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != want:
        bad.append(f"{rel} (sha256 {h.hexdigest()}, manifest {want})")
if bad:
    fail("checksum mismatch: " + "; ".join(bad))

for img in m["images"]:
    name, f = img.get("name"), img.get("file")
    if f not in listed:
        fail(f"image {name}: file {f} is not a listed member")
    try:
        with tarfile.open(os.path.join(d, f)) as tf:
            im = json.load(tf.extractfile("manifest.json"))
    except Exception as e:
        fail(f"image {name}: {f} is not a docker-archive: {e}")
    tags = [t for e in im for t in e.get("RepoTags") or []]
    if name not in tags:
        fail(f"image {name}: {f} is tagged {tags}")

print(f"verify-bundle: OK: {len(listed)} files, {len(m['images'])} images, "
      f"kubernetes {m['kubernetesVersion']}")
EOF
