"""The merged index equals what a real unpacker writes to disk.

Each archive is converted with ``skopeo copy docker-archive:X oci:DIR:tag``
and unpacked with ``umoci unpack`` (as root, so owners and device nodes are
real); the unpacked root filesystem is then compared with the reader's index:
same paths, types, symlink targets, owners, and sizes and modes of regular
files and directories.

Legitimate differences, left out of the comparison on purpose:

- symbolic link modes: Linux has no lchmod, every link on disk is 0777,
  while the index keeps the mode written in the tar header;
- the root directory itself: umoci creates the bundle's rootfs directory
  with its own mode unless a layer carries a ``./`` entry;
- umoci's own files (config.json, umoci.json, the mtree manifest) sit
  beside rootfs/, not in it, so they never enter the comparison.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import BuiltImage
from imagebuilder import build_docker_archive
from pytest_sentry._image._resolve import resolve
from pytest_sentry._image.interface import FileSystem, FileType
from test_image_layers import SCENARIOS

DATA = Path(__file__).parent / "data" / "images"

Facts = tuple[FileType, str, int, int, int, int]

_KINDS = (
    (stat.S_ISREG, FileType.FILE),
    (stat.S_ISDIR, FileType.DIRECTORY),
    (stat.S_ISLNK, FileType.SYMLINK),
    (stat.S_ISCHR, FileType.CHARDEV),
    (stat.S_ISBLK, FileType.BLOCKDEV),
    (stat.S_ISFIFO, FileType.FIFO),
)


def _tools_or_skip() -> None:
    missing = [tool for tool in ("skopeo", "umoci") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} installed to compare with")
    if os.geteuid() != 0:
        pytest.skip("umoci unpack needs root to restore owners and device nodes")


def unpack_with_umoci(archive: Path, work: Path) -> Path:
    """The rootfs umoci unpacks from a docker-archive, via skopeo."""
    work.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".gz":
        # skopeo reads only plain docker-archive tars.
        plain = work / archive.with_suffix("").name
        plain.write_bytes(gzip.decompress(archive.read_bytes()))
        archive = plain
    layout = work / "layout"
    bundle = work / "bundle"

    _run(
        "skopeo",
        "--insecure-policy",
        "copy",
        "--quiet",
        f"docker-archive:{archive}",
        f"oci:{layout}:img",
    )
    _run("umoci", "unpack", "--image", f"{layout}:img", str(bundle))
    return bundle / "rootfs"


def _run(*argv: str) -> None:
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{argv[0]} failed: {done.stderr.strip()}"


def disk_facts(rootfs: Path) -> dict[str, Facts]:
    facts: dict[str, Facts] = {}
    for folder, dirs, files in os.walk(rootfs):
        for name in dirs + files:
            host = os.path.join(folder, name)
            info = os.lstat(host)
            kind = next(k for test, k in _KINDS if test(info.st_mode))
            path = "/" + os.path.relpath(host, rootfs)
            facts[path] = _facts(
                kind,
                os.readlink(host) if kind is FileType.SYMLINK else "",
                info.st_size,
                stat.S_IMODE(info.st_mode),
                info.st_uid,
                info.st_gid,
            )
    return facts


def index_facts(fs: FileSystem) -> dict[str, Facts]:
    return {
        path: _facts(e.type, e.link_target, e.size, e.mode, e.uid, e.gid)
        for path, e in fs.items()
        if path != "/"
    }


def _facts(
    kind: FileType, target: str, size: int, mode: int, uid: int, gid: int
) -> Facts:
    if kind is FileType.SYMLINK:
        return (kind, target, 0, 0, uid, gid)
    if kind is FileType.FILE:
        return (kind, "", size, mode, uid, gid)
    return (kind, "", 0, mode, uid, gid)


def assert_same(archive: Path, tmp_path: Path) -> int:
    """Compare reader and umoci on one archive; the number of paths compared."""
    rootfs = unpack_with_umoci(archive, tmp_path)
    expected = disk_facts(rootfs)

    actual = index_facts(resolve(f"docker-archive:{archive}").load().filesystem)

    assert sorted(actual) == sorted(expected)
    differing = {
        path: (actual[path], expected[path])
        for path in expected
        if actual[path] != expected[path]
    }
    assert differing == {}
    return len(expected)


@pytest.mark.parametrize(
    ("name", "at_least"),
    [
        ("dive-test-docker-image.tar", 400),
        ("dive-test-kaniko-image.tar", 400),
        ("grype-anchore-fixture-image-simple.tar", 5),
        ("ggcr-overwritten_file.tar", 2),
        ("nexb-she-image_from_scratch-1.0.tar", 7),
        ("trivy-alpine-310.tar.gz", 480),
    ],
)
def test_corpus_archive_matches_umoci(tmp_path: Path, name: str, at_least: int) -> None:
    _tools_or_skip()

    assert assert_same(DATA / name, tmp_path) >= at_least


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_built_layers_match_umoci(tmp_path: Path, name: str) -> None:
    _tools_or_skip()
    layers, _ = SCENARIOS[name]
    archive = build_docker_archive(tmp_path / f"{name}.tar", layers)

    assert_same(archive, tmp_path / "unpacked")


@pytest.mark.slow
def test_debian_minbase_matches_umoci(tmp_path: Path, debian_image: BuiltImage) -> None:
    _tools_or_skip()

    assert assert_same(debian_image.docker_archive, tmp_path) > 5000
