#!/usr/bin/env python3
"""Writes a one-layer image of a root filesystem as a tar that every engine
loads: an OCI image layout (oci-layout, index.json, blobs/sha256/...) and,
beside it, a docker-archive manifest.json pointing at the same blobs. That
one file works for `docker load`, `podman load` and `ctr images import`,
so no registry is needed.

    image.py ROOTFS OUT.tar NAME [ENTRYPOINT...]

NAME is the full reference, e.g. docker.io/library/busybox:latest. An
ENTRYPOINT (the CRI suite's pause image) replaces the default `sh` command.
"""
import hashlib
import io
import json
import os
import sys
import tarfile


def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    return digest, "blobs/sha256/" + digest


def layer_tar(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for top, dirs, files in os.walk(rootfs):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = os.path.join(top, name)
                info = tar.gettarinfo(path, os.path.relpath(path, rootfs))
                info.mtime = 0
                info.uname = info.gname = ""
                if info.isfile():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: image.py ROOTFS OUT.tar NAME [ENTRYPOINT...]")
    rootfs, out, name = sys.argv[1:4]
    entrypoint = sys.argv[4:]
    run = {"Entrypoint": entrypoint} if entrypoint else {"Cmd": ["sh"]}
    repo, _, tag = name.rpartition(":")
    layer = layer_tar(rootfs)
    layer_digest, layer_path = blob(layer)
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "WorkingDir": "/",
            **run,
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_digest]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "image.py"}],
    }, sort_keys=True).encode()
    config_digest, config_path = blob(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": "sha256:" + layer_digest, "size": len(layer)}],
    }, sort_keys=True).encode()
    manifest_digest, manifest_path = blob(manifest)
    index = json.dumps({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + manifest_digest,
            "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": tag},
        }],
    }, sort_keys=True).encode()
    docker_manifest = json.dumps([{
        "Config": config_path,
        "RepoTags": [name],
        "Layers": [layer_path],
    }]).encode()
    files = [
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
        ("index.json", index),
        ("manifest.json", docker_manifest),
        (layer_path, layer),
        (config_path, config),
        (manifest_path, manifest),
    ]
    with tarfile.open(out, "w") as tar:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, data in files:
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
