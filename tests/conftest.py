"""Fixtures shared by the test files; each area appends its own section."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

# --- image reader: a Debian image built with debootstrap ---------------------
#
# Built once and cached under tests/.cache/ (git-ignored), keyed by a name
# without a date so reruns reuse it. benchmarks/bench_reader.py imports
# build_debian_image from here, which is why it is a plain function.

CACHE_DIR = Path(__file__).parent / ".cache"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageBuildUnavailable(Exception):
    """debootstrap cannot run here; the message says why."""


@dataclass(frozen=True)
class BuiltImage:
    """A root filesystem and the same image packed as two archives."""

    name: str
    rootfs: Path
    docker_archive: Path
    oci_archive: Path
    tag: str


def build_debian_image(
    include: Sequence[str] = (), cache: Path = CACHE_DIR, timeout: float = 900
) -> BuiltImage:
    """A Debian bookworm minbase image, built on first use and then cached.

    ``include`` adds packages (``debootstrap --include``) for a bigger image.
    The archives are written with tarfile, so only debootstrap is needed;
    their config leaves ``User`` unset.
    """
    name = "debian-bookworm-minbase" + "".join(f"-{p}" for p in include)
    built = BuiltImage(
        name=name,
        rootfs=cache / name / "rootfs",
        docker_archive=cache / f"{name}.docker.tar",
        oci_archive=cache / f"{name}.oci.tar",
        tag=f"sentry-test/{name}:latest",
    )
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / f"{name}.lock")):
        if not (cache / name / "complete").is_file():
            _debootstrap(built, include, timeout)
        if not built.docker_archive.is_file() or not built.oci_archive.is_file():
            _pack(built)
    return built


def _debootstrap(built: BuiltImage, include: Sequence[str], timeout: float) -> None:
    if os.geteuid() != 0:
        raise ImageBuildUnavailable("debootstrap needs root (mknod, chroot)")
    program = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").is_file() else None
    )
    if program is None:
        raise ImageBuildUnavailable("debootstrap is not installed")

    work = built.rootfs.parent
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    argv = [program, "--variant=minbase"]
    if include:
        argv.append("--include=" + ",".join(include))
    argv += ["bookworm", str(built.rootfs), DEBIAN_MIRROR]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise ImageBuildUnavailable(f"debootstrap took over {timeout}s") from error
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise ImageBuildUnavailable(
            f"debootstrap failed (exit {done.returncode}), is {DEBIAN_MIRROR} "
            f"reachable? {' | '.join(tail)}"
        )

    # What `apt-get clean` does in every Debian base image: no .deb files.
    for deb in (built.rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    (work / "complete").write_text("ok\n")


def _layer_tar(rootfs: Path, target: Path) -> None:
    """The root filesystem as one layer tar, in sorted order, hard links kept."""
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for folder, dirs, files in os.walk(rootfs):
            dirs.sort()
            for item in sorted([*dirs, *files]):
                host = Path(folder) / item
                tar.add(host, arcname=str(host.relative_to(rootfs)), recursive=False)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _config(diff_id: str) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [DEBIAN_PATH], "Cmd": ["bash"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created_by": "debootstrap --variant=minbase bookworm"}],
    }
    return json.dumps(config, sort_keys=True).encode()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _pack(built: BuiltImage) -> None:
    with tempfile.TemporaryDirectory(dir=built.rootfs.parent) as scratch:
        layer = Path(scratch) / "layer.tar"
        _layer_tar(built.rootfs, layer)
        diff_id = _sha256_file(layer)
        config = _config(diff_id)
        config_id = hashlib.sha256(config).hexdigest()

        partial = built.docker_archive.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(layer, arcname=f"{diff_id}.tar")
            _add_bytes(tar, f"{config_id}.json", config)
            manifest = [
                {
                    "Config": f"{config_id}.json",
                    "RepoTags": [built.tag],
                    "Layers": [f"{diff_id}.tar"],
                }
            ]
            _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        partial.replace(built.docker_archive)

        compressed = Path(scratch) / "layer.tar.gz"
        with layer.open("rb") as source, gzip.open(compressed, "wb") as sink:
            shutil.copyfileobj(source, sink, 1024 * 1024)
        _write_oci_archive(built, compressed, config)


def _write_oci_archive(built: BuiltImage, layer_gz: Path, config: bytes) -> None:
    layer_digest = _sha256_file(layer_gz)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": f"sha256:{layer_digest}",
                    "size": layer_gz.stat().st_size,
                }
            ],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
                    "size": len(manifest),
                    "annotations": {"org.opencontainers.image.ref.name": "bookworm"},
                }
            ],
        }
    ).encode()

    partial = built.oci_archive.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _add_bytes(tar, "index.json", index)
        for blob in (manifest, config):
            _add_bytes(tar, f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}", blob)
        tar.add(layer_gz, arcname=f"blobs/sha256/{layer_digest}")
    partial.replace(built.oci_archive)


@pytest.fixture(scope="session")
def debian_image() -> BuiltImage:
    """Debian bookworm minbase as rootfs, docker-archive and gzip OCI archive."""
    try:
        return build_debian_image()
    except ImageBuildUnavailable as error:
        pytest.skip(f"cannot build the Debian test image: {error}")
