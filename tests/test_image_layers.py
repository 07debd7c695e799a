"""How layers merge: whiteouts, opaque directories, overwrites, links.

Each image is built here with tarfile (tests/imagebuilder.py); the expected
results follow the OCI image spec as umoci applies it, and
test_image_unpack_equivalence.py checks the same images against umoci itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from imagebuilder import Layer, build_docker_archive, build_oci_archive
from pytest_sentry._image._resolve import resolve
from pytest_sentry._image.interface import FileSystem, FileType, ImageError

# name -> (layers, expected paths); shared with the umoci equivalence test.
SCENARIOS: dict[str, tuple[list[Layer], list[str]]] = {
    "whiteout-file": (
        [
            [("etc", "dir"), ("etc/motd", "file", "hi"), ("etc/issue", "file", "x")],
            [("etc/.wh.motd", "file")],
        ],
        ["/", "/etc", "/etc/issue"],
    ),
    "whiteout-subtree": (
        [
            [
                ("opt", "dir"),
                ("opt/app", "dir"),
                ("opt/app/lib", "dir"),
                ("opt/app/lib/a.so", "file", "a"),
                ("opt/app/run", "file", "r"),
            ],
            [("opt/.wh.app", "file")],
        ],
        ["/", "/opt"],
    ),
    "whiteout-same-layer-kept": (
        [
            [("a", "file", "lower"), ("b", "file", "lower")],
            # Spec: a whiteout only hides lower layers, whatever the tar order.
            [
                ("a", "file", "upper"),
                (".wh.a", "file"),
                (".wh.b", "file"),
                ("b", "file", "upper"),
            ],
        ],
        ["/", "/a", "/b"],
    ),
    "opaque-marker-first": (
        [
            [
                ("d", "dir"),
                ("d/old", "file", "o"),
                ("d/sub", "dir"),
                ("d/sub/old", "file", "o"),
            ],
            [("d", "dir"), ("d/.wh..wh..opq", "file"), ("d/new", "file", "n")],
        ],
        ["/", "/d", "/d/new"],
    ),
    "opaque-marker-last": (
        [
            [
                ("d", "dir"),
                ("d/old", "file", "o"),
                ("d/sub", "dir"),
                ("d/sub/old", "file", "o"),
                ("d/keep", "dir"),
            ],
            # d/sub/new is this layer's, so d/sub stays, without its old file.
            [
                ("d", "dir"),
                ("d/new", "file", "n"),
                ("d/sub/new", "file", "n"),
                ("d/.wh..wh..opq", "file"),
            ],
        ],
        ["/", "/d", "/d/new", "/d/sub", "/d/sub/new"],
    ),
    "file-to-directory-and-back": (
        [
            [("x", "file", "was a file"), ("y", "dir"), ("y/inner", "file", "i")],
            [("x", "dir"), ("x/child", "file", "c"), ("y", "file", "now a file")],
        ],
        ["/", "/x", "/x/child", "/y"],
    ),
    "hard-links-across-layers": (
        [
            [("etc", "dir"), ("etc/passwd-", "file", "root:x:0:0::/root:/bin/sh\n")],
            [
                ("etc/passwd", "hardlink", "etc/passwd-"),
                ("bin", "dir"),
                ("bin/tool", "file", "#!", 0o4755),
                ("bin/alias", "hardlink", "bin/tool"),
            ],
        ],
        ["/", "/bin", "/bin/alias", "/bin/tool", "/etc", "/etc/passwd", "/etc/passwd-"],
    ),
    "symlinked-parent": (
        [
            [("usr", "dir"), ("usr/bin", "dir"), ("bin", "symlink", "usr/bin")],
            [
                ("bin/foo", "file", "f", 0o755),
                ("lib", "symlink", "/usr/lib"),
                ("lib/os-release", "file", "ID=test\n"),
            ],
        ],
        [
            "/",
            "/bin",
            "/lib",
            "/usr",
            "/usr/bin",
            "/usr/bin/foo",
            "/usr/lib",
            "/usr/lib/os-release",
        ],
    ),
    "implicit-parents": (
        [[("a/b/c/file", "file", "deep")], [("a/b/other", "file", "o")]],
        ["/", "/a", "/a/b", "/a/b/c", "/a/b/c/file", "/a/b/other"],
    ),
    "symlink-replaced-by-directory": (
        [
            [
                ("target", "dir"),
                ("target/t", "file", "t"),
                ("link", "symlink", "target"),
            ],
            [("link", "dir"), ("link/inside", "file", "i")],
        ],
        ["/", "/link", "/link/inside", "/target", "/target/t"],
    ),
    "whiteout-through-symlinked-parent": (
        [
            [
                ("real", "dir"),
                ("real/gone", "file", "g"),
                ("real/stays", "file", "s"),
                ("alias", "symlink", "real"),
            ],
            [("alias/.wh.gone", "file")],
        ],
        ["/", "/alias", "/real", "/real/stays"],
    ),
}


def build(tmp_path: Path, name: str, layers: Sequence[Layer]) -> Path:
    return build_docker_archive(tmp_path / f"{name}.tar", layers)


def load_fs(path: Path, *content: str) -> FileSystem:
    return resolve(f"docker-archive:{path}").load(frozenset(content)).filesystem


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_merged_paths(tmp_path: Path, name: str) -> None:
    layers, expected = SCENARIOS[name]

    fs = load_fs(build(tmp_path, name, layers))

    assert list(fs.paths()) == expected


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_oci_archive_merges_the_same(tmp_path: Path, name: str) -> None:
    layers, expected = SCENARIOS[name]
    archive = build_oci_archive(tmp_path / f"{name}.oci.tar", layers)

    fs = resolve(f"oci-archive:{archive}").load().filesystem

    assert list(fs.paths()) == expected


def test_same_layer_whiteout_keeps_the_new_contents(tmp_path: Path) -> None:
    layers, _ = SCENARIOS["whiteout-same-layer-kept"]

    fs = load_fs(build(tmp_path, "same", layers), "/a", "/b")

    assert fs.read("/a") == b"upper"
    assert fs.read("/b") == b"upper"


def test_file_replaced_by_directory_and_directory_by_file(tmp_path: Path) -> None:
    layers, _ = SCENARIOS["file-to-directory-and-back"]

    fs = load_fs(build(tmp_path, "swap", layers), "/y")

    assert fs.lstat("/x").type is FileType.DIRECTORY  # type: ignore[union-attr]
    y = fs.lstat("/y")
    assert y is not None
    assert y.type is FileType.FILE
    assert fs.read("/y") == b"now a file"
    assert "/y/inner" not in fs


def test_hard_links_copy_metadata_and_content(tmp_path: Path) -> None:
    layers, _ = SCENARIOS["hard-links-across-layers"]

    fs = load_fs(build(tmp_path, "links", layers), "/etc/passwd-")

    # The content was captured for passwd- and travels with the link.
    assert fs.read("/etc/passwd") == b"root:x:0:0::/root:/bin/sh\n"
    alias = fs.lstat("/bin/alias")
    assert alias is not None
    assert (alias.type, alias.mode, alias.size) == (FileType.FILE, 0o4755, 2)


def test_hard_link_to_a_symlink_is_a_symlink(tmp_path: Path) -> None:
    archive = build(
        tmp_path,
        "symhard",
        [
            [("target", "file", "t"), ("soft", "symlink", "target")],
            [("hard", "hardlink", "soft")],
        ],
    )

    fs = load_fs(archive)

    hard = fs.lstat("/hard")
    assert hard is not None
    assert hard.type is FileType.SYMLINK
    assert hard.link_target == "target"


def test_symlinked_parent_puts_entries_in_the_real_directory(tmp_path: Path) -> None:
    layers, _ = SCENARIOS["symlinked-parent"]

    fs = load_fs(build(tmp_path, "usrmerge", layers), "/lib/os-release")

    foo = fs.lstat("/usr/bin/foo")
    assert foo is not None
    assert foo.is_executable
    assert fs.stat("/bin/foo") is foo
    # A dangling link as parent makes its target, as umoci does.
    assert fs.lstat("/usr/lib").type is FileType.DIRECTORY  # type: ignore[union-attr]
    # A content path asked for through the link is captured at the real path.
    assert fs.read("/lib/os-release") == b"ID=test\n"
    assert fs.read("/usr/lib/os-release") == b"ID=test\n"


def test_implicit_parents_are_plain_root_owned_directories(tmp_path: Path) -> None:
    layers, _ = SCENARIOS["implicit-parents"]

    fs = load_fs(build(tmp_path, "implicit", layers))

    for folder in ("/a", "/a/b", "/a/b/c"):
        entry = fs.lstat(folder)
        assert entry is not None
        assert (entry.type, entry.mode, entry.uid) == (FileType.DIRECTORY, 0o755, 0)


def test_explicit_directory_metadata_wins_over_implicit(tmp_path: Path) -> None:
    archive = build(
        tmp_path,
        "meta",
        [[("srv/data/file", "file", "x")], [("srv", "dir", None, 0o700, 1000)]],
    )

    fs = load_fs(archive)

    srv = fs.lstat("/srv")
    assert srv is not None
    assert (srv.mode, srv.uid, srv.gid) == (0o700, 1000, 1000)
    assert "/srv/data/file" in fs  # a directory over a directory keeps children


def test_symlink_replaced_by_directory_does_not_write_through(tmp_path: Path) -> None:
    layers, _ = SCENARIOS["symlink-replaced-by-directory"]

    fs = load_fs(build(tmp_path, "nowrite", layers))

    assert fs.lstat("/link").type is FileType.DIRECTORY  # type: ignore[union-attr]
    assert "/target/inside" not in fs


def test_root_entry_sets_root_metadata(tmp_path: Path) -> None:
    archive = build(tmp_path, "root", [[("/", "dir", None, 0o750), ("f", "file", "")]])

    fs = load_fs(archive)

    assert fs.lstat("/").mode == 0o750  # type: ignore[union-attr]
    assert list(fs.paths()) == ["/", "/f"]


def test_aufs_metadata_and_estargz_markers_are_not_files(tmp_path: Path) -> None:
    archive = build(
        tmp_path,
        "aufs",
        [
            [("keep", "file", "k")],
            [
                (".wh..wh.plnk", "dir"),
                (".wh..wh.plnk/123.456", "file", ""),
                (".wh..wh.aufs", "file", ""),
                ("stargz.index.json", "file", "{}"),
                (".prefetch.landmark", "file", "x"),
                ("sub", "dir"),
                ("sub/.wh..wh.aufs", "file", ""),
            ],
        ],
    )

    assert list(load_fs(archive).paths()) == ["/", "/keep", "/sub"]


def test_hard_link_into_the_aufs_link_directory(tmp_path: Path) -> None:
    # AUFS-era Docker stored hard-link targets under /.wh..wh.plnk; Docker's
    # applier resolves links to them and leaves the directory out.
    archive = build(
        tmp_path,
        "plnk",
        [
            [
                (".wh..wh.plnk", "dir"),
                (".wh..wh.plnk/42.7", "file", "payload", 0o750),
                ("bin", "dir"),
                ("bin/tool", "hardlink", ".wh..wh.plnk/42.7"),
            ]
        ],
    )

    fs = load_fs(archive)

    assert list(fs.paths()) == ["/", "/bin", "/bin/tool"]
    tool = fs.lstat("/bin/tool")
    assert tool is not None
    assert (tool.type, tool.mode, tool.size) == (FileType.FILE, 0o750, 7)


def test_whiteout_of_something_missing_is_harmless(tmp_path: Path) -> None:
    archive = build(
        tmp_path,
        "missing",
        [[("a", "file", "a")], [(".wh.nothing", "file"), ("none/.wh.x", "file")]],
    )

    assert list(load_fs(archive).paths()) == ["/", "/a"]


def test_device_nodes_and_fifos_are_indexed(tmp_path: Path) -> None:
    import io
    import tarfile

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, kind in (
            ("dev/null", tarfile.CHRTYPE),
            ("dev/loop0", tarfile.BLKTYPE),
            ("run/pipe", tarfile.FIFOTYPE),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = 0o666
            tar.addfile(info)
    archive = tmp_path / "dev.tar"
    archive.write_bytes(_docker_archive_bytes([layer.getvalue()]))

    fs = load_fs(archive)

    assert fs.lstat("/dev/null").type is FileType.CHARDEV  # type: ignore[union-attr]
    assert fs.lstat("/dev/loop0").type is FileType.BLOCKDEV  # type: ignore[union-attr]
    assert fs.lstat("/run/pipe").type is FileType.FIFO  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("layers", "problem"),
    [
        (
            [[("f", "file", "x")], [("f/child", "file", "y")]],
            "parent /f is not a directory",
        ),
        ([[("x", "hardlink", "nowhere")]], "hard link to missing nowhere"),
        ([[("d", "dir")], [("x", "hardlink", "d")]], "hard link to directory d"),
        (
            [[("loop", "symlink", "loop/next")], [("loop/file", "file", "z")]],
            "too many levels of symbolic links",
        ),
    ],
    ids=["parent-is-a-file", "hardlink-missing", "hardlink-directory", "parent-loop"],
)
def test_entries_a_runtime_would_refuse(
    tmp_path: Path, layers: list[Layer], problem: str
) -> None:
    archive = build(tmp_path, "refused", layers)

    with pytest.raises(ImageError) as caught:
        load_fs(archive)

    message = str(caught.value)
    assert message.startswith("refused.tar: layer ")
    assert problem in message


def _docker_archive_bytes(layers: list[bytes]) -> bytes:
    """A docker-archive around already-made layer tars."""
    import hashlib
    import io
    import json
    import tarfile

    config = json.dumps({"os": "linux", "config": {}}).encode()
    files = {"config.json": config}
    for number, blob in enumerate(layers):
        files[f"{number}/layer.tar"] = blob
    files["manifest.json"] = json.dumps(
        [
            {
                "Config": "config.json",
                "RepoTags": ["built:" + hashlib.sha256(config).hexdigest()[:8]],
                "Layers": [f"{n}/layer.tar" for n in range(len(layers))],
            }
        ]
    ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
