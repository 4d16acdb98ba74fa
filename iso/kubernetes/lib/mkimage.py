#!/usr/bin/env python3
"""Write a docker-archive image (the `docker save` layout) without a daemon.

    mkimage.py --out IMG.tar --tag NAME:TAG [--layer DIR]... [--entrypoint JSON]
               [--cmd JSON] [--env K=V]... [--user U] [--workdir D]
               [--label K=V]...

Every --layer DIR becomes one layer, in order (first = bottom). A layer is an
uncompressed tar made with GNU tar in a reproducible way (sorted names, mtime
0, owner root), so identical input directories give byte-identical layers:
images that list the same layer first share it in dockerd's and containerd's
layer stores (same diff_id and chain id), and the archive itself is
reproducible.

The archive holds manifest.json, repositories, <config-sha256>.json and
<diff_id>/layer.tar; `docker load` (20.10+) and
`ctr -n k8s.io images import` both read it.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

EPOCH = "1970-01-01T00:00:00Z"


def layer_tar(src, dst):
    """Reproducible tar of the contents of directory src (no ./ prefix)."""
    names = sorted(os.listdir(src))
    if not names:
        raise SystemExit(f"mkimage: empty layer directory {src}")
    subprocess.run(
        ["tar", "-C", src, "--sort=name", "--mtime=@0", "--owner=0",
         "--group=0", "--numeric-owner", "--format=gnu", "--hard-dereference",
         "-cf", dst, "--"] + names, check=True)
    h = hashlib.sha256()
    with open(dst, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def add_bytes(tf, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = 0
    ti.mode = 0o644
    import io
    tf.addfile(ti, io.BytesIO(data))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--layer", action="append", default=[])
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--user")
    ap.add_argument("--workdir")
    ap.add_argument("--label", action="append", default=[])
    a = ap.parse_args()
    if not a.layer:
        raise SystemExit("mkimage: at least one --layer")

    tmp = tempfile.mkdtemp(prefix="mkimage.", dir=os.path.dirname(os.path.abspath(a.out)))
    try:
        diff_ids = []
        for i, d in enumerate(a.layer):
            p = os.path.join(tmp, f"layer{i}.tar")
            diff_ids.append((layer_tar(d, p), p))

        cfg = {}
        if a.env:
            cfg["Env"] = a.env
        else:
            cfg["Env"] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        if a.entrypoint:
            cfg["Entrypoint"] = json.loads(a.entrypoint)
        if a.cmd:
            cfg["Cmd"] = json.loads(a.cmd)
        if a.user:
            cfg["User"] = a.user
        cfg["WorkingDir"] = a.workdir or "/"
        if a.label:
            cfg["Labels"] = dict(l.split("=", 1) for l in a.label)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": EPOCH,
            "config": cfg,
            "rootfs": {"type": "layers",
                       "diff_ids": ["sha256:" + d for d, _ in diff_ids]},
            "history": [{"created": EPOCH, "created_by": "mkube mkimage.py layer %d" % i}
                        for i in range(len(diff_ids))],
        }
        cfg_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        cfg_sha = hashlib.sha256(cfg_bytes).hexdigest()

        repo, tag = a.tag.rsplit(":", 1)
        manifest = [{
            "Config": cfg_sha + ".json",
            "RepoTags": [a.tag],
            "Layers": [d + "/layer.tar" for d, _ in diff_ids],
        }]
        repositories = {repo: {tag: diff_ids[-1][0]}}

        out_tmp = a.out + ".tmp"
        with tarfile.open(out_tmp, "w", format=tarfile.GNU_FORMAT) as tf:
            seen = set()
            for d, p in diff_ids:
                if d in seen:
                    continue
                seen.add(d)
                ti = tarfile.TarInfo(d)
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                ti.mtime = 0
                tf.addfile(ti)
                add_bytes(tf, d + "/VERSION", b"1.0")
                ti = tf.gettarinfo(p, arcname=d + "/layer.tar")
                ti.mtime = 0
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                ti.mode = 0o644
                with open(p, "rb") as f:
                    tf.addfile(ti, f)
            add_bytes(tf, cfg_sha + ".json", cfg_bytes)
            add_bytes(tf, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
            add_bytes(tf, "repositories", json.dumps(repositories, separators=(",", ":")).encode())
        os.replace(out_tmp, a.out)
        print(json.dumps({"image": a.tag, "config": "sha256:" + cfg_sha,
                          "layers": ["sha256:" + d for d, _ in diff_ids]}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
