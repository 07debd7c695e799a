"""FileSystem.resolve: symbolic links followed inside the image root only."""

from __future__ import annotations

import pytest

from pytest_sentry._image.interface import (
    MAX_SYMLINK_HOPS,
    FileEntry,
    FileSystem,
    FileType,
    normalize,
)


def tree(**links: str) -> FileSystem:
    """Directories and files by name, plus symlinks given as keyword arguments.

    Keyword names use ``__`` for ``/`` (``usr__bin`` is ``/usr/bin``).
    """
    entries = {
        "/usr": FileEntry(FileType.DIRECTORY),
        "/usr/bin": FileEntry(FileType.DIRECTORY),
        "/usr/bin/busybox": FileEntry(FileType.FILE, mode=0o755, content=b"elf"),
        "/usr/lib": FileEntry(FileType.DIRECTORY),
        "/etc": FileEntry(FileType.DIRECTORY),
        "/etc/passwd": FileEntry(FileType.FILE, content=b"root:x:0:0::/root:/bin/sh\n"),
    }
    for name, target in links.items():
        entries["/" + name.replace("__", "/")] = FileEntry(
            FileType.SYMLINK, mode=0o777, link_target=target
        )
    return FileSystem(entries)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/etc/passwd", "/etc/passwd"),
        ("etc/passwd", "/etc/passwd"),
        ("//etc///passwd", "/etc/passwd"),
        ("/./etc/./passwd", "/etc/passwd"),
        ("/", "/"),
        ("", "/"),
        ("/missing", None),
        ("/etc/missing", None),
    ],
)
def test_plain_paths(path: str, expected: str | None) -> None:
    assert tree().resolve(path) == expected


@pytest.mark.parametrize(
    ("links", "path", "expected"),
    [
        ({"bin": "usr/bin"}, "/bin/busybox", "/usr/bin/busybox"),
        ({"bin": "/usr/bin"}, "/bin/busybox", "/usr/bin/busybox"),
        ({"usr__bin__sh": "busybox"}, "/usr/bin/sh", "/usr/bin/busybox"),
        ({"usr__bin__sh": "./busybox"}, "/usr/bin/sh", "/usr/bin/busybox"),
        ({"usr__bin__sh": "../bin/busybox"}, "/usr/bin/sh", "/usr/bin/busybox"),
        ({"usr__bin__sh": "/usr/bin/busybox"}, "/usr/bin/sh", "/usr/bin/busybox"),
    ],
)
def test_absolute_and_relative_links(
    links: dict[str, str], path: str, expected: str
) -> None:
    assert tree(**links).resolve(path) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("../../../../../../etc/passwd", "/etc/passwd"),
        ("/../../../etc/passwd", "/etc/passwd"),
        ("..", "/usr"),
        ("../../../..", "/"),
        ("/..", "/"),
    ],
)
def test_dotdot_is_clamped_at_the_root(target: str, expected: str) -> None:
    fs = tree(usr__lib__escape=target)

    assert fs.resolve("/usr/lib/escape") == expected


def test_dotdot_in_the_query_is_clamped_too() -> None:
    assert tree().resolve("/../../../etc/passwd") == "/etc/passwd"


def test_dotdot_climbs_from_where_a_link_leads() -> None:
    # /bin -> usr/bin, so /bin/.. is /usr, not / as the letters suggest.
    fs = tree(bin="usr/bin")

    assert fs.resolve("/bin/../lib") == "/usr/lib"
    assert fs.resolve("/bin/..") == "/usr"
    assert normalize("/bin/../lib") == "/lib"  # what a lexical clean would say


def test_chains_of_links() -> None:
    fs = tree(bin="usr/bin", sh="bin/ash", usr__bin__ash="/bin/busybox")

    assert fs.resolve("/sh") == "/usr/bin/busybox"
    assert fs.stat("/sh") is fs.lstat("/usr/bin/busybox")
    assert fs.read("/sh") == b"elf"
    assert fs.lstat("/sh").type is FileType.SYMLINK  # type: ignore[union-attr]


def test_a_chain_as_long_as_the_bound_resolves() -> None:
    links = {f"l{n}": f"l{n + 1}" for n in range(MAX_SYMLINK_HOPS - 1)}
    links[f"l{MAX_SYMLINK_HOPS - 1}"] = "/etc/passwd"

    fs = tree(**links)

    assert fs.resolve("/l0") == "/etc/passwd"


def test_a_chain_longer_than_the_bound_gives_none() -> None:
    links = {f"l{n}": f"l{n + 1}" for n in range(MAX_SYMLINK_HOPS)}
    links[f"l{MAX_SYMLINK_HOPS}"] = "/etc/passwd"

    assert tree(**links).resolve("/l0") is None


@pytest.mark.parametrize(
    "links",
    [
        {"a": "a"},
        {"a": "b", "b": "a"},
        {"a": "/a"},
        {"a": "a/b/c"},
        {"a": "./a/"},
        {"a": "../../a"},
    ],
)
def test_loops_give_none(links: dict[str, str]) -> None:
    fs = tree(**links)

    assert fs.resolve("/a") is None
    assert fs.resolve("/a/etc/passwd") is None
    assert fs.stat("/a") is None
    assert fs.read("/a") is None


def test_dangling_links_give_none() -> None:
    fs = tree(gone="/nowhere/at/all", half="usr/nothing")

    assert fs.resolve("/gone") is None
    assert fs.resolve("/half") is None
    assert fs.lstat("/gone") is not None


def test_a_file_is_not_a_directory() -> None:
    fs = tree(through="etc/passwd/..")

    assert fs.resolve("/etc/passwd/x") is None
    assert fs.resolve("/etc/passwd/..") is None
    assert fs.resolve("/through") is None


def test_read_and_read_text_follow_links_to_files_only() -> None:
    fs = tree(pw="/etc/passwd", folder="/etc")

    assert fs.read_text("/pw") == "root:x:0:0::/root:/bin/sh\n"
    assert fs.read("/folder") is None
    assert "/pw" in fs
    assert "pw" in fs
    assert 42 not in fs
