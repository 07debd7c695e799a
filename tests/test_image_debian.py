"""A real Debian bookworm minbase image, built with debootstrap.

The same root filesystem is read three ways, as a docker-archive, as a gzip
OCI archive and as a directory, and all three must agree; the facts checked
are ones debootstrap is known to produce (merged /usr, dash as /bin/sh,
perl's hard link, device nodes).
"""

from __future__ import annotations

import pytest

from conftest import DEBIAN_PATH, BuiltImage
from pytest_sentry._image._resolve import resolve
from pytest_sentry._image.interface import (
    DEFAULT_CONTENT_PATHS,
    FileSystem,
    FileType,
    Image,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def docker_image(debian_image: BuiltImage) -> Image:
    return resolve(f"docker-archive:{debian_image.docker_archive}").load()


@pytest.fixture(scope="module")
def oci_image(debian_image: BuiltImage) -> Image:
    return resolve(f"oci-archive:{debian_image.oci_archive}").load()


def test_config_and_identity(docker_image: Image, debian_image: BuiltImage) -> None:
    assert docker_image.config is not None
    assert docker_image.config.user == ""
    assert docker_image.config.env == (DEBIAN_PATH,)
    assert docker_image.config.cmd == ("bash",)
    assert docker_image.tags == (debian_image.tag,)
    assert docker_image.layer_count == 1


def test_os_release_is_read_through_its_symlink(docker_image: Image) -> None:
    fs = docker_image.filesystem

    assert fs.lstat("/etc/os-release").type is FileType.SYMLINK  # type: ignore[union-attr]
    os_release = fs.read_text("/etc/os-release") or ""
    assert "VERSION_CODENAME=bookworm" in os_release
    assert "ID=debian" in os_release
    assert (fs.read_text("/etc/debian_version") or "").startswith("12.")


def test_accounts_are_captured(docker_image: Image) -> None:
    fs = docker_image.filesystem

    assert (fs.read_text("/etc/passwd") or "").startswith(
        "root:x:0:0:root:/root:/bin/bash\n"
    )
    assert (fs.read_text("/etc/group") or "").startswith("root:x:0:\n")
    shadow = fs.lstat("/etc/shadow")
    assert shadow is not None
    assert shadow.mode == 0o640
    assert shadow.gid == 42  # the shadow group


def test_merged_usr_links(docker_image: Image) -> None:
    fs = docker_image.filesystem

    for top in ("bin", "sbin", "lib"):
        assert fs.lstat(f"/{top}").link_target == f"usr/{top}"  # type: ignore[union-attr]
    assert fs.resolve("/bin/bash") == "/usr/bin/bash"
    assert fs.resolve("/bin/sh") == "/usr/bin/dash"
    assert fs.stat("/bin/sh").is_executable  # type: ignore[union-attr]


def test_hard_links_and_devices(docker_image: Image) -> None:
    fs = docker_image.filesystem

    perl = fs.lstat("/usr/bin/perl")
    versioned = fs.lstat("/usr/bin/perl5.36.0")
    assert perl is not None
    assert versioned is not None
    assert perl.size == versioned.size > 1_000_000
    assert fs.lstat("/dev/null").type is FileType.CHARDEV  # type: ignore[union-attr]
    assert fs.lstat("/dev/fd").link_target == "/proc/self/fd"  # type: ignore[union-attr]


def _facts(fs: FileSystem) -> dict[str, tuple[FileType, int, int, int, int, str]]:
    return {
        path: (e.type, e.mode, e.uid, e.gid, e.size, e.link_target)
        for path, e in fs.items()
        if path != "/"
    }


def test_oci_archive_reads_the_same(docker_image: Image, oci_image: Image) -> None:
    assert oci_image.tags == ("bookworm",)
    assert _facts(oci_image.filesystem) == _facts(docker_image.filesystem)
    for path in DEFAULT_CONTENT_PATHS:
        assert oci_image.filesystem.read(path) == docker_image.filesystem.read(path)


def test_root_filesystem_directory_reads_the_same(
    docker_image: Image, debian_image: BuiltImage
) -> None:
    rootfs = resolve(f"dir:{debian_image.rootfs}").load()

    assert rootfs.config is None
    assert _facts(rootfs.filesystem) == _facts(docker_image.filesystem)
    assert rootfs.filesystem.read("/etc/passwd") == docker_image.filesystem.read(
        "/etc/passwd"
    )


def test_archives_are_detected_without_a_scheme(debian_image: BuiltImage) -> None:
    docker = resolve(str(debian_image.docker_archive))
    oci = resolve(str(debian_image.oci_archive))

    assert (docker.scheme, oci.scheme) == ("docker-archive", "oci-archive")
