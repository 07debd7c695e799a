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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from dagger_fake import FakeSession

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
    finally:
        _unmount_below(built.rootfs)
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


def _unmount_below(rootfs: Path) -> None:
    """Unmount what debootstrap left mounted (/proc, /sys) after a failure."""
    prefix = str(rootfs.resolve()) + "/"
    with open("/proc/mounts", encoding="utf-8") as mounts:
        points = [
            line.split()[1] for line in mounts if line.split()[1].startswith(prefix)
        ]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _layer_tar(rootfs: Path, target: Path) -> None:
    """The root filesystem as one layer tar, in sorted order, hard links kept.

    Mount points (a /proc a failed debootstrap left behind) are packed as
    empty directories: their contents are the host's, not the image's.
    """
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for folder, dirs, files in os.walk(rootfs):
            mounted = folder != str(rootfs) and os.path.ismount(folder)
            if mounted:
                dirs.clear()
            dirs.sort()
            for item in sorted([*dirs, *([] if mounted else files)]):
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


# --- plugin: small images and scanner reports for pytester runs --------------
#
# The plugin tests run pytest inside pytest (pytester) against these archives,
# referenced by absolute path, so the inner runs read them in place.

PLUGIN_DATA = Path(__file__).parent / "data" / "plugin"
#: A GitHub token shape the secrets check must flag and no output may show.
PLUGIN_SECRET = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"


@dataclass(frozen=True)
class PluginImages:
    """Archives with known audit outcomes, and Trivy reports for the gates."""

    #: USER 1000, a HEALTHCHECK, no secrets: every check passes.
    passing: Path
    #: No USER (root), a GitHub token in Env, no HEALTHCHECK: two checks
    #: fail and the health check warns.
    failing: Path
    #: USER 1000 without a HEALTHCHECK: the health check warns.
    warning: Path
    #: Not an archive at all: the audit is an ERROR.
    broken: Path
    #: Trivy report with 2 CRITICAL and 4 MEDIUM findings (alpine 3.9).
    critical_report: Path
    #: Trivy report with 4 MEDIUM findings (alpine 3.10).
    medium_report: Path


@pytest.fixture(scope="session")
def plugin_images(tmp_path_factory: pytest.TempPathFactory) -> PluginImages:
    from imagebuilder import build_docker_archive

    folder = tmp_path_factory.mktemp("plugin-images")
    passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    layer = [("/etc", "dir"), ("/etc/passwd", "file", passwd), ("/bin", "dir")]
    env = ["PATH=/bin"]
    health = {"Test": ["CMD", "/bin/app", "--ping"], "Interval": 30_000_000_000}

    broken = folder / "broken.tar"
    broken.write_bytes(b"this is not a tar archive\n")
    return PluginImages(
        passing=build_docker_archive(
            folder / "passing.tar",
            [layer],
            config={"User": "1000", "Env": env, "Healthcheck": health},
        ),
        failing=build_docker_archive(
            folder / "failing.tar",
            [layer],
            config={"Env": [*env, f"GITHUB_TOKEN={PLUGIN_SECRET}"]},
        ),
        warning=build_docker_archive(
            folder / "warning.tar", [layer], config={"User": "1000", "Env": env}
        ),
        broken=broken,
        critical_report=PLUGIN_DATA / "trivy-alpine-39.json",
        medium_report=PLUGIN_DATA / "trivy-alpine-310.json",
    )


# --- Dagger: a stand-in engine session, and a machine with no engine ---------
#
# The Dagger engine is one per process; each test starts from a closed one
# and re-plugs the engine's hooks, which other tests may have replaced.

DAGGER_DATA = Path(__file__).parent / "data" / "dagger"
_DAGGER_ENV = (
    "DAGGER_SESSION_PORT",
    "DAGGER_SESSION_TOKEN",
    "_EXPERIMENTAL_DAGGER_CLI_BIN",
    "_EXPERIMENTAL_DAGGER_RUNNER_HOST",
    "SENTRY_DAGGER",
    "SENTRY_DAGGER_PROVISION_TIMEOUT",
    "SENTRY_REGISTRY",
    "SENTRY_REGISTRY_USER",
    "SENTRY_REGISTRY_PASSWORD",
)


@pytest.fixture
def dagger_clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No engine settings from the outside; a private cache for the SDK."""
    from pytest_sentry import _dagger

    for name in _DAGGER_ENV:
        monkeypatch.delenv(name, raising=False)
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    _dagger.close_engine()
    _dagger.register()
    yield cache
    _dagger.close_engine()


@pytest.fixture
def dagger_endpoint(
    dagger_clean: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeSession]:
    """A GraphQL engine session on 127.0.0.1 that the SDK joins via the env."""
    with FakeSession(DAGGER_DATA / "hello-world.tar") as fake:
        monkeypatch.setenv("DAGGER_SESSION_PORT", str(fake.port))
        monkeypatch.setenv("DAGGER_SESSION_TOKEN", fake.token)
        yield fake


@pytest.fixture
def lean_inner_runs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs without the hypothesis and anyio plugins, and
    without a Dagger engine (a scanner not on PATH must not make an inner
    run download the Dagger CLI).

    With bytecode writing off, each inner run would re-import (and
    assertion-rewrite) about 180 of their modules: 1.4 s instead of 0.2 s.
    Set after pytester, which clears PYTEST_ADDOPTS when it starts.
    """
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest -p no:anyio")
    monkeypatch.setenv("SENTRY_DAGGER", "off")


# --- fuzz tests: a watched working directory ----------------------------------
#
# One sandbox per test, shared by its hypothesis examples (each example is
# checked on its own by Sandbox.run); see tests/fuzzing.py.


@pytest.fixture
def fuzz_sandbox(tmp_path: Path) -> Iterator[object]:
    from fuzzing import Sandbox

    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.close()


# --- every test: no Dagger engine unless the test asks for one ----------------
#
# A scanner not on PATH falls back to the Dagger engine, and the SDK would
# download its CLI and start an engine wherever Docker and a network exist.
# Tests that want the engine path use dagger_clean, which clears this.


@pytest.fixture(autouse=True)
def _no_engine_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DAGGER", "off")
