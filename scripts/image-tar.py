#!/usr/bin/env python3
"""Writes a FROM-scratch image holding only /pidone as a tar on stdout, for `docker load`.

Usage: image-tar.py PIDONE_BINARY REPO:TAG   (SOURCE_DATE_EPOCH must be set)

The tar is an OCI image layout (oci-layout, index.json, blobs/sha256/...) that also carries the
docker-save manifest.json, so both older Docker engines and containerd-based ones load it. It is
built byte by byte: no registry, no daemon, and the same input gives the same bytes (fixed
owners, modes, times and order).
"""
import hashlib
import io
import json
import os
import sys
import tarfile
import time

binary, ref = sys.argv[1], sys.argv[2]
repo, tag = ref.rsplit(":", 1)
epoch = int(os.environ["SOURCE_DATE_EPOCH"])
created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def tar_bytes(entries):
    """entries: [(name, bytes or None for a directory, mode)] -> deterministic ustar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.uid, info.gid = epoch, mode, 0, 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def as_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def digest(data):
    return hashlib.sha256(data).hexdigest()


with open(binary, "rb") as f:
    layer = tar_bytes([("pidone", f.read(), 0o755)])
config = as_json(
    {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {"Entrypoint": ["/pidone"], "Cmd": ["-P"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + digest(layer)]},
        "history": [{"created": created, "created_by": "scripts/release: /pidone"}],
    }
)
manifest = as_json(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": "sha256:" + digest(layer),
                "size": len(layer),
            }
        ],
    }
)
index = as_json(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + digest(manifest),
                "size": len(manifest),
                "annotations": {
                    "io.containerd.image.name": f"docker.io/library/{repo}:{tag}",
                    "org.opencontainers.image.ref.name": tag,
                },
            }
        ],
    }
)
docker_manifest = as_json(
    [
        {
            "Config": "blobs/sha256/" + digest(config),
            "RepoTags": [ref],
            "Layers": ["blobs/sha256/" + digest(layer)],
        }
    ]
)
blobs = sorted({digest(b): b for b in (layer, config, manifest)}.items())
sys.stdout.buffer.write(
    tar_bytes(
        [("blobs", None, 0o755), ("blobs/sha256", None, 0o755)]
        + [("blobs/sha256/" + d, b, 0o644) for d, b in blobs]
        + [
            ("index.json", index, 0o644),
            ("manifest.json", docker_manifest, 0o644),
            ("oci-layout", as_json({"imageLayoutVersion": "1.0.0"}), 0o644),
        ]
    )
)
