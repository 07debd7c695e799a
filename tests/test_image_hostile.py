"""Hostile and broken archives, built byte by byte with tarfile.

The reader must keep every name inside the image root, write nothing to
disk, finish quickly, and turn every defect into an ImageError (or
ImageLimitError) that names the archive, the layer and the problem, never a
tarfile or zlib exception.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from imagebuilder import PLAIN_CONFIG, docker_files, write_tar
from pytest_sentry._image._resolve import resolve
from pytest_sentry._image.interface import (
    FileType,
    Image,
    ImageError,
    ImageLimitError,
    Limits,
)

WATCHDOG_SECONDS = 60


# --- building blocks ----------------------------------------------------------


def member(
    name: str,
    data: bytes = b"",
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
    mode: int = 0o644,
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = mode
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def layer(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """A layer tar with exactly these headers; tarfile does not sanitise names."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out.getvalue()


def docker_archive(
    path: Path,
    layers: Iterable[bytes],
    config: bytes = PLAIN_CONFIG,
    manifest: Any = None,
) -> Path:
    return write_tar(path, docker_files(layers, config, manifest))


def guarded(action: Callable[[], Image]) -> Image:
    """Run ``action`` under a watchdog: a hang fails the test, it does not stall it."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["image"] = action()
        except BaseException as error:  # handed over to the test's thread
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(WATCHDOG_SECONDS)
    assert not worker.is_alive(), f"the reader hung for over {WATCHDOG_SECONDS}s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["image"]


def load(
    path: Path, content: Iterable[str] = (), limits: Limits | None = None
) -> Image:
    source = resolve(f"docker-archive:{path}")
    paths = frozenset(content)
    if limits is None:
        return guarded(lambda: source.load(paths))
    return guarded(lambda: source.load(paths, limits))


def refused(
    path: Path, limits: Limits | None = None, error: type[ImageError] = ImageError
) -> str:
    """Load must fail with exactly ``error``; return its message."""
    with pytest.raises(ImageError) as caught:
        load(path, limits=limits)
    assert type(caught.value) is error
    message = str(caught.value)
    assert message.startswith(f"{path.name}: ")
    return _without_bound_hint(caught.value, message)


def _without_bound_hint(error: ImageError, message: str) -> str:
    """A limit error names its bound and how to raise it; check, then drop."""
    if not isinstance(error, ImageLimitError):
        return message
    hint = f" (bound {error.bound}; raise it with --limit {error.bound}=VALUE"
    assert hint in message, message
    return message.partition(" (bound ")[0]


def snapshot(root: Path) -> dict[str, tuple[int, float]]:
    result = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(folder, name)
            info = os.lstat(full)
            result[full] = (info.st_size, info.st_mtime)
    return result


# --- names and links that try to leave the root -----------------------------


def test_dotdot_and_absolute_names_stay_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    climb = "../" * 20
    archive = docker_archive(
        tmp_path / "escape.tar",
        [
            layer(
                member(f"{climb}{str(canary).lstrip('/')}", b"owned"),
                member(str(tmp_path / "absolute.txt"), b"owned"),
                member("../outside.txt", b"owned"),
                member("./a/../../b/./c", b"owned"),
                member("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
            )
        ],
    )
    before = snapshot(tmp_path)

    image = load(archive, ["/etc/passwd", str(canary)])

    assert snapshot(tmp_path) == before
    assert canary.read_text() == "untouched"
    assert list(work.iterdir()) == []
    paths = set(image.filesystem.paths())
    assert str(canary) in paths  # the same path, but inside the image
    assert str(tmp_path / "absolute.txt") in paths
    assert {"/outside.txt", "/b/c", "/etc/passwd"} <= paths
    assert image.filesystem.read(str(canary)) == b"owned"
    assert all(p == os.path.normpath(p) and p.startswith("/") for p in paths)


def test_symlinks_pointing_out_resolve_inside_the_image(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "links.tar",
        [
            layer(
                member("etc/shadow", b"image-shadow\n"),
                member("abs", kind=tarfile.SYMTYPE, link="/etc/shadow"),
                member("rel", kind=tarfile.SYMTYPE, link="../../../../../etc/shadow"),
                member("deep/er", kind=tarfile.SYMTYPE, link="../../../../.."),
            )
        ],
    )

    fs = load(archive, ["/etc/shadow"]).filesystem

    assert fs.resolve("/abs") == "/etc/shadow"
    assert fs.resolve("/rel") == "/etc/shadow"
    assert fs.read("/abs") == fs.read("/rel") == b"image-shadow\n"
    assert fs.resolve("/deep/er") == "/"
    assert fs.resolve("/deep/er/etc/shadow") == "/etc/shadow"


def test_symlink_parent_pointing_outside_lands_inside(tmp_path: Path) -> None:
    target = tmp_path / "host-dir"
    archive = docker_archive(
        tmp_path / "parent.tar",
        [
            layer(member("out", kind=tarfile.SYMTYPE, link=f"../../../../../{target}")),
            layer(
                member("out/pwned", b"owned"),
                member("abs", kind=tarfile.SYMTYPE, link="/"),
            ),
            layer(member("abs/root-file", b"r")),
        ],
    )
    before = snapshot(tmp_path)

    fs = load(archive).filesystem

    assert snapshot(tmp_path) == before
    assert not target.exists()
    inside = f"{target}/pwned"
    assert fs.lstat(inside) is not None
    assert fs.stat("/out/pwned") is fs.lstat(inside)
    assert fs.lstat("/root-file") is not None


def test_looping_symlinks_resolve_to_none_quickly(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "loops.tar",
        [
            layer(
                member("a", kind=tarfile.SYMTYPE, link="b"),
                member("b", kind=tarfile.SYMTYPE, link="a"),
                member("self", kind=tarfile.SYMTYPE, link="self"),
                member("grow", kind=tarfile.SYMTYPE, link="grow/grow/grow"),
            )
        ],
    )
    fs = load(archive).filesystem

    started = time.perf_counter()
    results = [fs.resolve(p) for p in ("/a", "/b", "/self", "/grow", "/a/x")]
    elapsed = time.perf_counter() - started

    assert results == [None] * 5
    assert fs.stat("/a") is None
    assert fs.read("/self") is None
    # Not a speed target: a loop must end at the hop bound, not run on.
    assert elapsed < 5


def test_hard_link_to_a_missing_target(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "hardlink.tar",
        [
            layer(
                member("etc/passwd", kind=tarfile.LNKTYPE, link="../../host/etc/passwd")
            )
        ],
    )

    message = refused(archive)

    assert "layer 0 (0/layer.tar): etc/passwd: hard link to missing" in message


def test_entry_under_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "looped.tar",
        [
            layer(
                member("x", kind=tarfile.SYMTYPE, link="y"),
                member("y", kind=tarfile.SYMTYPE, link="x"),
                member("x/file", b"z"),
            )
        ],
    )

    assert "x/file: too many levels of symbolic links" in refused(archive)


# --- damaged data ---------------------------------------------------------------


def test_layer_that_is_not_a_tar(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "notar.tar", [b"just some text, no tar here\n" * 40]
    )

    assert "layer 0 (0/layer.tar): not a tar archive" in refused(archive)


def test_empty_layer_blob_is_an_empty_layer(tmp_path: Path) -> None:
    # Go's archive/tar, and so every runtime, reads zero bytes as no entries.
    archive = docker_archive(tmp_path / "empty.tar", [b"", layer(member("f", b"x"))])

    assert list(load(archive).filesystem.paths()) == ["/", "/f"]


def _big_layer() -> bytes:
    return layer(*(member(f"file{n:03}", bytes(range(256)) * 8) for n in range(20)))


@pytest.mark.parametrize(
    ("cut", "problem"),
    [
        (512 + 1000, "layer is truncated (data ends inside entry 1)"),
        (5 * 2560 + 100, "layer is truncated (a header is cut short) after 5 entries"),
    ],
    ids=["inside-data", "inside-header"],
)
def test_truncated_plain_layer(tmp_path: Path, cut: int, problem: str) -> None:
    blob = _big_layer()
    assert blob[5 * 2560 : 5 * 2560 + 512].strip(b"\0")  # a header sits there
    archive = docker_archive(tmp_path / "cut.tar", [blob[:cut]])

    assert problem in refused(archive)


def test_truncated_gzip_layer(tmp_path: Path) -> None:
    packed = gzip.compress(_big_layer())
    archive = docker_archive(tmp_path / "cutgz.tar", [packed[: len(packed) // 2]])

    assert "layer 0 (0/layer.tar): gzip data is truncated" in refused(archive)


def test_gzip_layer_with_corrupt_data(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(_big_layer()))
    packed[40:60] = b"\xff" * 20
    archive = docker_archive(tmp_path / "corrupt.tar", [bytes(packed)])

    assert "layer 0 (0/layer.tar): gzip data is corrupt" in refused(archive)


def test_garbage_after_the_last_gzip_member(tmp_path: Path) -> None:
    packed = gzip.compress(_big_layer()) + b"NOT GZIP"
    archive = docker_archive(tmp_path / "trailing.tar", [packed])

    # The tar inside ends before the garbage, so nothing reads that far.
    assert len(load(archive).filesystem) == 21


def test_corrupt_tar_header_after_the_first_entry(tmp_path: Path) -> None:
    blob = bytearray(_big_layer())
    blob[3 * 2560 + 148 : 3 * 2560 + 156] = b"1234567\0"  # a wrong checksum
    archive = docker_archive(tmp_path / "header.tar", [bytes(blob)])

    message = refused(archive)

    assert "layer 0 (0/layer.tar): layer is corrupt (bad tar header" in message
    assert "after 3 entries" in message


def test_truncated_outer_archive(tmp_path: Path) -> None:
    whole = docker_archive(tmp_path / "whole.tar", [_big_layer()])
    with tarfile.open(whole) as tar:
        offsets = {m.name: (m.offset, m.offset_data) for m in tar.getmembers()}
    data = whole.read_bytes()
    cuts = {
        "inside the manifest header": offsets["manifest.json"][0] + 100,
        "inside the manifest data": offsets["manifest.json"][1] + 10,
        "inside the layer data": offsets["0/layer.tar"][1] + 5000,
    }
    for where, cut in cuts.items():
        archive = tmp_path / f"cut-{cut}.tar"
        archive.write_bytes(data[:cut])

        message = refused(archive)

        assert message.startswith(f"{archive.name}: archive is truncated"), where

    # Cut inside the first header, it is not recognisable as a tar at all.
    archive = tmp_path / "cut-300.tar"
    archive.write_bytes(data[:300])
    assert refused(archive) == "cut-300.tar: not a tar archive (truncated header)"


def test_truncated_outer_archive_inside_a_layer(tmp_path: Path) -> None:
    # Layers first, then a manifest that survives: the layer data is cut.
    files = {
        "config.json": b'{"os": "linux"}',
        "manifest.json": json.dumps(
            [{"Config": "config.json", "Layers": ["layer.tar"]}]
        ).encode(),
        "layer.tar": _big_layer(),
    }
    whole = tmp_path / "whole.tar"
    write_tar(whole, files)
    archive = tmp_path / "cutlayer.tar"
    archive.write_bytes(whole.read_bytes()[: 4 * 512 + 3000])

    assert "truncated" in refused(archive)


def test_manifest_pointing_at_a_missing_layer(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "missing.tar",
        [layer(member("f", b"x"))],
        manifest=[
            {"Config": "config.json", "Layers": ["0/layer.tar", "gone/layer.tar"]}
        ],
    )

    assert refused(archive) == "missing.tar: no gone/layer.tar in the archive"


def test_manifest_layer_names_cannot_leave_the_archive(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "traversal.tar",
        [],
        manifest=[{"Config": "config.json", "Layers": ["../../../../etc/passwd"]}],
    )

    assert "no ../../../../etc/passwd in the archive" in refused(archive)


def test_config_that_is_not_json(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "badconfig.tar", [], config=b"{not json")

    assert refused(archive).startswith("badconfig.tar: config.json: not valid JSON")


def test_manifest_of_the_wrong_shape(tmp_path: Path) -> None:
    for manifest, problem in [
        ({"Config": "config.json"}, "manifest.json is not a list of images"),
        ([], "manifest.json lists no images"),
        (["x"], "manifest.json has an entry that is not an object"),
        ([{"Layers": []}], "manifest entry has no Config"),
        (
            [{"Config": "config.json", "Layers": "0/layer.tar"}],
            "'Layers' is not a list",
        ),
    ]:
        archive = docker_archive(tmp_path / "shape.tar", [], manifest=manifest)

        assert problem in refused(archive)


def test_outer_archive_link_loop(tmp_path: Path) -> None:
    archive = tmp_path / "outerloop.tar"
    with tarfile.open(archive, "w") as tar:
        for name, target in (("manifest.json", "a.json"), ("a.json", "manifest.json")):
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)

    assert "manifest.json is a link loop inside the archive" in refused(archive)


# --- OCI layouts ------------------------------------------------------------------


def _oci_archive(
    path: Path, manifest_layers: list[dict[str, Any]], blobs: dict[str, bytes]
) -> Path:
    config = b'{"os": "linux", "config": {}}'
    config_digest = hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{config_digest}",
                "size": len(config),
            },
            "layers": manifest_layers,
        }
    ).encode()
    manifest_digest = hashlib.sha256(manifest).hexdigest()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": f"sha256:{manifest_digest}",
                    "size": len(manifest),
                }
            ],
        }
    ).encode()
    files = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": index,
        f"blobs/sha256/{config_digest}": config,
        f"blobs/sha256/{manifest_digest}": manifest,
        **blobs,
    }
    write_tar(path, files)
    return path


def test_oci_blob_digest_that_is_a_path(tmp_path: Path) -> None:
    archive = _oci_archive(
        tmp_path / "digest.tar",
        [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": "sha256:../../etc/passwd",
            }
        ],
        {"etc/passwd": b"root:x:0:0::/root:/bin/sh\n"},
    )

    with pytest.raises(ImageError) as caught:
        guarded(lambda: resolve(f"oci-archive:{archive}").load())

    assert type(caught.value) is ImageError
    assert str(caught.value) == (
        "digest.tar: invalid blob digest 'sha256:../../etc/passwd'"
    )


def test_oci_layer_that_is_not_a_descriptor(tmp_path: Path) -> None:
    archive = _oci_archive(tmp_path / "shape.tar", ["sha256:abc"], {})  # type: ignore[list-item]

    with pytest.raises(
        ImageError, match=r"^shape\.tar: manifest sha256:\w+ has malformed 'layers'"
    ):
        guarded(lambda: resolve(f"oci-archive:{archive}").load())


def test_oci_blob_that_does_not_match_its_digest(tmp_path: Path) -> None:
    archive = tmp_path / "tampered.tar"
    good = _oci_archive(tmp_path / "good.tar", [], {})
    with tarfile.open(good) as source:
        files = {
            m.name: source.extractfile(m).read()  # type: ignore[union-attr]
            for m in source.getmembers()
        }
    for name, data in files.items():
        if data.startswith(b'{"os"'):
            files[name] = data.replace(b"linux", b"LINUX")
    write_tar(archive, files)

    with pytest.raises(ImageError, match=r"does not match its digest"):
        guarded(lambda: resolve(f"oci-archive:{archive}").load())


def test_oci_index_that_nests_without_end(tmp_path: Path) -> None:
    # Ten levels of indexes, each listing the next one four times: walked
    # naively that is 4**10 reads; the depth bound stops it early.
    blobs: dict[str, bytes] = {}
    digest = ""
    for _level in range(10):
        entries = (
            [
                {
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": digest,
                    "size": 1,
                }
            ]
            * 4
            if digest
            else []
        )
        body = json.dumps({"schemaVersion": 2, "manifests": entries}).encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        blobs[f"blobs/sha256/{digest[7:]}"] = body
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": digest,
                }
            ],
        }
    ).encode()
    archive = tmp_path / "nested.tar"
    write_tar(archive, {"oci-layout": b"{}", "index.json": index, **blobs})

    with pytest.raises(ImageError, match=r"^nested\.tar: indexes nested deeper than"):
        guarded(lambda: resolve(f"oci-archive:{archive}").load())


# --- bounds -----------------------------------------------------------------------


def _zeros_layer(size: int) -> bytes:
    """A gzip layer with one member of ``size`` zero bytes, built in pieces."""
    info = tarfile.TarInfo("zeros")
    info.size = size
    header = info.tobuf(format=tarfile.PAX_FORMAT)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [squeeze.compress(header)]
    chunk = bytes(1024 * 1024)
    for _ in range(size // len(chunk)):
        parts.append(squeeze.compress(chunk))
    parts.append(squeeze.compress(bytes(size % len(chunk) + 1024)))
    parts.append(squeeze.flush())
    return b"".join(parts)


def test_member_claiming_more_than_the_bound(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "bomb.tar", [_zeros_layer(4 * 1024 * 1024)])

    message = refused(archive, Limits(max_member_bytes=1024 * 1024), ImageLimitError)

    assert "entry 'zeros' is 4194304 bytes, over the 1048576-byte bound" in message


def test_layer_bound_is_checked_before_inflating(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "layerbomb.tar", [_zeros_layer(4 * 1024 * 1024)]
    )

    message = refused(archive, Limits(max_layer_bytes=1024 * 1024), ImageLimitError)

    assert "layer 0 (0/layer.tar): layer exceeds 1048576 bytes" in message


def test_decompression_ratio_bound(tmp_path: Path) -> None:
    # 80 MiB of zeros gzip to about 80 KiB: a ratio near 1000.
    archive = docker_archive(tmp_path / "ratio.tar", [_zeros_layer(80 * 1024 * 1024)])

    message = refused(
        archive,
        Limits(max_ratio=100, max_member_bytes=0, max_layer_bytes=0),
        ImageLimitError,
    )

    assert "decompresses to more than 100 times its size" in message
    assert "decompression bomb" in message


def test_ratio_bound_allows_ordinary_layers(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "fine.tar", [_zeros_layer(8 * 1024 * 1024)])

    image = load(archive, limits=Limits(max_ratio=100))

    assert image.filesystem.lstat("/zeros").size == 8 * 1024 * 1024  # type: ignore[union-attr]


def test_too_many_members(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "many.tar",
        [layer(*(member(f"f{n}") for n in range(60))), layer(member("last"))],
    )

    message = refused(archive, Limits(max_members=50), ImageLimitError)

    assert message == (
        "many.tar: layer 0 (0/layer.tar): more than 50 entries in the image"
    )
    assert len(load(archive, limits=Limits(max_members=61)).filesystem) == 62


def test_metadata_file_over_its_bound(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "hugeconfig.tar",
        [],
        config=json.dumps({"os": "linux", "pad": "x" * 5000}).encode(),
    )

    message = refused(archive, Limits(max_metadata_bytes=1000), ImageLimitError)

    assert message == "hugeconfig.tar: config.json is larger than 1000 bytes"


def test_content_over_its_bound_is_indexed_but_not_kept(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "bigpasswd.tar", [layer(member("etc/passwd", b"x" * 5000))]
    )

    image = load(archive, ["/etc/passwd"], Limits(max_content_bytes=1000))

    entry = image.filesystem.lstat("/etc/passwd")
    assert entry is not None
    assert (entry.type, entry.size, entry.content) == (FileType.FILE, 5000, None)


# --- directories: OCI layouts and root filesystems --------------------------------


def _layout_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of trivy's OCI layout directory and the path of its layer blob."""
    source = (
        Path(__file__).parent / "data" / "images" / "oci-layouts" / "trivy-test.oci"
    )
    layout = tmp_path / "layout"
    for path in source.rglob("*"):
        target = layout / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    layer_digest = manifest["layers"][0]["digest"].split(":")[1]
    return layout, layout / "blobs" / "sha256" / layer_digest


def test_layout_blob_that_is_a_symlink_out_of_the_layout(tmp_path: Path) -> None:
    layout, blob = _layout_copy(tmp_path)
    secret = tmp_path / "host-secret"
    secret.write_bytes(blob.read_bytes())
    blob.unlink()
    blob.symlink_to(secret)

    with pytest.raises(
        ImageError, match=r"^layout: blobs/sha256/\w+ leads outside the layout$"
    ):
        guarded(lambda: resolve(f"oci:{layout}").load())


def test_layout_blob_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    layout, blob = _layout_copy(tmp_path)
    blob.unlink()
    os.mkfifo(blob)

    with pytest.raises(
        ImageError, match=r"^layout: blobs/sha256/\w+ is not a regular file$"
    ):
        guarded(lambda: resolve(f"oci:{layout}").load())


def test_rootfs_links_are_never_followed_on_the_host(tmp_path: Path) -> None:
    host_secret = tmp_path / "host-secret"
    host_secret.write_text("host data")
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").symlink_to(host_secret)
    (rootfs / "etc" / "group").symlink_to("../../../../../../" + str(host_secret))
    (rootfs / "escape").symlink_to("/")

    image = guarded(lambda: resolve(f"dir:{rootfs}").load())
    fs = image.filesystem

    assert fs.lstat("/etc/passwd").type is FileType.SYMLINK  # type: ignore[union-attr]
    assert fs.read("/etc/passwd") is None
    assert fs.read("/etc/group") is None
    assert fs.resolve("/escape") == "/"
    assert list(fs.paths()) == ["/", "/escape", "/etc", "/etc/group", "/etc/passwd"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"config": {"Labels": [1, 2]}}, {"labels": {}}),
        ({"config": {"Healthcheck": {"Test": 5}}}, {"healthcheck": None}),
        ({"config": {"Healthcheck": {"Test": "CMD"}}}, {"healthcheck": ("CMD",)}),
        (
            {"config": {"Env": [None, "A=1"], "User": 1000}},
            {"env": ("A=1",), "user": "1000"},
        ),
        ({"config": {}, "container_config": {"User": "builder"}}, {"user": ""}),
        ({"container_config": {"User": "legacy"}}, {"user": "legacy"}),
    ],
)
def test_config_fields_of_odd_shapes(
    tmp_path: Path, config: dict[str, Any], expected: dict[str, Any]
) -> None:
    archive = docker_archive(
        tmp_path / "odd.tar", [], config=json.dumps(config).encode()
    )

    loaded = load(archive).config

    assert loaded is not None
    for field, value in expected.items():
        assert getattr(loaded, field) == value


@pytest.mark.parametrize("config", [b"[]", b"null", b'{"config": []}', b"\xff\xfe"])
def test_config_that_is_not_an_object(tmp_path: Path, config: bytes) -> None:
    archive = docker_archive(tmp_path / "shape.tar", [], config=config)

    assert refused(archive).startswith("shape.tar: config.json: ")


def test_plain_layer_held_to_the_layer_bound(tmp_path: Path) -> None:
    # Uncompressed layers are read in place; their size is still bounded,
    # headers included.
    blob = layer(*(member(f"d{n:04}", kind=tarfile.DIRTYPE) for n in range(3000)))
    archive = docker_archive(tmp_path / "plain.tar", [blob])

    message = refused(archive, Limits(max_layer_bytes=1024 * 1024), ImageLimitError)

    assert message == (
        "plain.tar: layer 0 (0/layer.tar): layer is larger than 1048576 bytes"
    )


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_extended_header_claiming_a_huge_size(
    tmp_path: Path, kind: bytes, packed: bool
) -> None:
    # tarfile reads an extended header's data in one read of the size it
    # claims: the claim must be refused before anything is allocated.
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = kind
    block = bytearray(info.tobuf(tarfile.USTAR_FORMAT))
    block[124:136] = b"\x80" + (2**62).to_bytes(11, "big")
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    blob = bytes(block) + bytes(1024)
    archive = docker_archive(
        tmp_path / "claim.tar", [gzip.compress(blob) if packed else blob]
    )

    message = refused(archive, error=ImageLimitError)

    assert "an extended tar header claims" in message
    assert "over the 16777216-byte metadata bound" in message


def test_compressed_outer_archive_bomb(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar"
    docker_archive(plain, [layer(member("f", b"x"))])
    with tarfile.open(plain) as source:
        files = {
            m.name: source.extractfile(m).read()  # type: ignore[union-attr]
            for m in source.getmembers()
        }
    files["padding"] = bytes(80 * 1024 * 1024)
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    message = refused(archive, Limits(max_ratio=50), ImageLimitError)

    assert "archive decompresses to more than 50 times its size" in message


def test_outer_archive_member_bound(tmp_path: Path) -> None:
    files = {f"pad/{n:04}": b"" for n in range(500)}
    archive = tmp_path / "wide.tar"
    write_tar(archive, files)

    message = refused(archive, Limits(max_members=100), ImageLimitError)

    assert message == "wide.tar: more than 100 entries in the archive"


def test_zero_content_bound_means_no_bound(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "free.tar", [layer(member("etc/passwd", b"x" * 5000))]
    )

    image = load(archive, ["/etc/passwd"], Limits(max_content_bytes=0))

    assert image.filesystem.read("/etc/passwd") == b"x" * 5000


def test_metadata_json_nested_beyond_the_recursion_limit(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "deep.tar", [], config=b"[" * 100_000 + b"]" * 100_000
    )

    assert refused(archive).startswith("deep.tar: config.json: not valid JSON")
