#!/usr/bin/env python3
"""Writes a FROM-scratch image holding only /pidone as a tar on stdout.

Usage: image-tar.py BINARY REPO:TAG
       image-tar.py --platform OS/ARCH[/VARIANT] BINARY [--platform ...] REPO:TAG
(SOURCE_DATE_EPOCH must be set)

The first form is a linux/amd64 image of BINARY. The second gives one image per platform, each
with that platform's pidone, in the order given (scripts/release: linux/amd64, linux/arm64/v8,
linux/386). Each image's config names its platform and runs `/pidone -P` by default
(Entrypoint ["/pidone"], Cmd ["-P"]): a pause process as it is, pidone with any other arguments.

The tar is an OCI image layout (oci-layout, index.json, blobs/sha256/...): index.json names one
image index, REPO:TAG, which lists the per-platform manifests. Registries (through
`skopeo copy --all oci-archive:...`), containerd's `ctr images import` and skopeo read that and
pick the platform. The tar also carries the docker-save manifest.json, which is all that
`docker load` reads on Docker's classic image store: it lists one image, tagged REPO:TAG,
linux/amd64 when the tar has it, else the first platform given; the other platforms' blobs are
in the tar but not loaded by it.

It is built byte by byte: no registry, no daemon, and the same input gives the same bytes (fixed
owners, modes, times and order; JSON with sorted keys and no spaces).
"""
import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import time

# The image's architecture names (Go's GOARCH, as Docker, containerd and the OCI spec use them).
ARCHITECTURES = {"amd64", "arm64", "386", "arm", "ppc64le", "riscv64", "s390x"}
# The platform `docker load` (manifest.json) gets when the tar holds it.
DOCKER_LOAD = ("linux", "amd64", None)

parser = argparse.ArgumentParser(
    description="Writes a FROM-scratch image of pidone as a tar on stdout."
)
parser.add_argument(
    "--platform",
    nargs=2,
    action="append",
    metavar=("OS/ARCH[/VARIANT]", "BINARY"),
    help="an image for this platform holding BINARY as /pidone (repeatable)",
)
parser.add_argument("args", nargs="+", metavar="[BINARY] REPO:TAG")
options = parser.parse_args()
if options.platform:
    if len(options.args) != 1:
        parser.error("with --platform, give only REPO:TAG")
    platforms = options.platform
else:
    if len(options.args) != 2:
        parser.error("give BINARY REPO:TAG, or --platform OS/ARCH BINARY... REPO:TAG")
    platforms = [["linux/amd64", options.args[0]]]
ref = options.args[-1]
repo, tag = ref.rsplit(":", 1)
epoch = int(os.environ["SOURCE_DATE_EPOCH"])
created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_platform(text):
    """"linux/arm64/v8" -> ("linux", "arm64", "v8")."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or parts[0] != "linux" or parts[1] not in ARCHITECTURES:
        parser.error(f"unknown platform {text!r}: want linux/ARCH[/VARIANT], ARCH one of "
                     + ", ".join(sorted(ARCHITECTURES)))
    return (parts[0], parts[1], parts[2] if len(parts) == 3 else None)


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


def descriptor(media_type, data, **extra):
    return {"mediaType": media_type, "digest": "sha256:" + digest(data), "size": len(data), **extra}


def full_name(repo, tag):
    """The fully qualified name containerd gives REPO:TAG (docker.io/library/ for a bare name)."""
    first = repo.split("/", 1)[0]
    if "/" in repo and ("." in first or ":" in first or first == "localhost"):
        return f"{repo}:{tag}"
    return f"docker.io/{repo if '/' in repo else 'library/' + repo}:{tag}"


def platform_json(os_name, arch, variant):
    fields = {"os": os_name, "architecture": arch}
    if variant:
        fields["variant"] = variant
    return fields


blobs = {}
images = []  # (platform, config, layer, manifest)
for text, binary in platforms:
    platform = parse_platform(text)
    if any(image[0] == platform for image in images):
        parser.error(f"platform {text} given twice")
    with open(binary, "rb") as f:
        layer = tar_bytes([("pidone", f.read(), 0o755)])
    config = as_json(
        {
            **platform_json(*platform),
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
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
        }
    )
    images.append((platform, config, layer, manifest))
    for blob in (layer, config, manifest):
        blobs[digest(blob)] = blob

image_index = as_json(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            descriptor(
                "application/vnd.oci.image.manifest.v1+json",
                manifest,
                platform=platform_json(*platform),
            )
            for platform, _, _, manifest in images
        ],
    }
)
blobs[digest(image_index)] = image_index
layout_index = as_json(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            descriptor(
                "application/vnd.oci.image.index.v1+json",
                image_index,
                annotations={
                    "io.containerd.image.name": full_name(repo, tag),
                    "org.opencontainers.image.ref.name": tag,
                },
            )
        ],
    }
)
loaded = next((image for image in images if image[0] == DOCKER_LOAD), images[0])
docker_manifest = as_json(
    [
        {
            "Config": "blobs/sha256/" + digest(loaded[1]),
            "RepoTags": [ref],
            "Layers": ["blobs/sha256/" + digest(loaded[2])],
        }
    ]
)
sys.stdout.buffer.write(
    tar_bytes(
        [("blobs", None, 0o755), ("blobs/sha256", None, 0o755)]
        + [("blobs/sha256/" + d, b, 0o644) for d, b in sorted(blobs.items())]
        + [
            ("index.json", layout_index, 0o644),
            ("manifest.json", docker_manifest, 0o644),
            ("oci-layout", as_json({"imageLayoutVersion": "1.0.0"}), 0o644),
        ]
    )
)
