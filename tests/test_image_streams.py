"""Layer compression: gzip members, eStargz, bzip2, xz, zstd, and the stream."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import struct
import tarfile
import zlib
from pathlib import Path

import pytest

from pytest_sentry._image._decompress import Compression, sniff
from pytest_sentry._image._resolve import resolve
from pytest_sentry._image._streams import open_layer
from pytest_sentry._image.interface import DEFAULT_LIMITS, FileSystem, ImageError

FILES = {
    f"data/file{n:02}.txt": (f"content of file {n}\n" * (n + 1)).encode()
    for n in range(30)
}


def plain_layer(files: dict[str, bytes] = FILES, end: bool = True) -> bytes:
    out = io.BytesIO()
    tar = tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT)
    for name, data in files.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    if end:
        tar.close()
        return out.getvalue()
    return out.getvalue()  # no end-of-archive blocks


def entries_of(files: dict[str, bytes]) -> list[bytes]:
    """Each file's header and padded data, as separate tar fragments."""
    fragments = []
    for name, data in files.items():
        fragments.append(plain_layer({name: data}, end=False))
    return fragments


def estargz_layer(files: dict[str, bytes], toc_after_end: bool) -> bytes:
    """An eStargz-shaped blob: one gzip member per entry, TOC, footer."""
    members = [gzip.compress(fragment) for fragment in entries_of(files)]
    toc = json.dumps({"version": 1, "entries": [{"name": n} for n in files]}).encode()
    toc_entry = plain_layer({"stargz.index.json": toc}, end=False)
    end_marker = bytes(1024)
    if toc_after_end:
        members.append(gzip.compress(end_marker + toc_entry + end_marker))
    else:
        members.append(gzip.compress(toc_entry + end_marker))
    members.append(_footer())
    return b"".join(members)


def _footer() -> bytes:
    """An empty gzip member with an extra field, as eStargz ends."""
    extra = b"SG" + struct.pack("<H", 22) + b"%016xSTARGZ" % 12345
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(b"") + deflate.flush()
    header = (
        b"\x1f\x8b\x08\x04" + bytes(4) + b"\x00\xff" + struct.pack("<H", len(extra))
    )
    return header + extra + body + struct.pack("<II", zlib.crc32(b""), 0)


def docker_archive(path: Path, blob: bytes) -> Path:
    config = b'{"os": "linux", "config": {}}'
    manifest = json.dumps(
        [{"Config": "c.json", "RepoTags": ["s:1"], "Layers": ["l/layer.tar"]}]
    ).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in (
            ("c.json", config),
            ("l/layer.tar", blob),
            ("manifest.json", manifest),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def load_fs(path: Path) -> FileSystem:
    wanted = frozenset("/" + name for name in FILES)
    return resolve(f"docker-archive:{path}").load(wanted).filesystem


def assert_all_files(fs: FileSystem) -> None:
    assert sorted(p for p in fs.paths() if p.startswith("/data/")) == sorted(
        "/" + name for name in FILES
    )
    for name, data in FILES.items():
        assert fs.read("/" + name) == data


@pytest.mark.parametrize(
    "toc_after_end", [False, True], ids=["toc-entry", "toc-after-end"]
)
def test_estargz_layer_with_one_gzip_member_per_file(
    tmp_path: Path, toc_after_end: bool
) -> None:
    blob = estargz_layer(FILES, toc_after_end)
    assert blob.count(b"\x1f\x8b\x08") >= len(FILES) + 2

    fs = load_fs(docker_archive(tmp_path / "estargz.tar", blob))

    assert_all_files(fs)
    assert "/stargz.index.json" not in fs


def test_many_tiny_gzip_members_in_one_read(tmp_path: Path) -> None:
    # 30 KiB of tar in 200-byte gzip members: dozens of members per read.
    raw = plain_layer()
    blob = b"".join(gzip.compress(raw[i : i + 200]) for i in range(0, len(raw), 200))

    stream = open_layer(io.BytesIO(blob), "layer", DEFAULT_LIMITS)

    assert stream.compression is Compression.GZIP
    assert stream.read() == raw


def test_zero_padding_after_gzip_is_tolerated() -> None:
    raw = plain_layer()
    stream = open_layer(
        io.BytesIO(gzip.compress(raw) + bytes(4096)), "layer", DEFAULT_LIMITS
    )

    assert stream.read() == raw


@pytest.mark.parametrize(
    ("compress", "kind"),
    [
        (bz2.compress, Compression.BZIP2),
        (lzma.compress, Compression.XZ),
        (gzip.compress, Compression.GZIP),
        (lambda data: data, Compression.NONE),
    ],
    ids=["bzip2", "xz", "gzip", "none"],
)
def test_compressions_detected_from_the_bytes(
    tmp_path: Path, compress: object, kind: Compression
) -> None:
    blob = compress(plain_layer())  # type: ignore[operator]

    assert sniff(blob[:8]) is kind
    assert_all_files(load_fs(docker_archive(tmp_path / "packed.tar", blob)))


def test_zstd_layer_in_several_frames(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    raw = plain_layer()
    squeeze = zstandard.ZstdCompressor()
    blob = squeeze.compress(raw[:10240]) + squeeze.compress(raw[10240:])

    assert_all_files(load_fs(docker_archive(tmp_path / "zstd.tar", blob)))


@pytest.mark.parametrize(
    ("name", "make", "problem"),
    [
        (
            "bz2",
            lambda raw: bz2.compress(raw)[:-200],
            "compressed data is corrupt or truncated",
        ),
        (
            "xz",
            lambda raw: lzma.compress(raw)[:300],
            "compressed data is corrupt or truncated",
        ),
        (
            "bz2garbage",
            lambda raw: b"BZh9" + bytes(range(256)) * 4,
            "compressed data is corrupt",
        ),
    ],
)
def test_damaged_compressed_layers(
    tmp_path: Path, name: str, make: object, problem: str
) -> None:
    archive = docker_archive(tmp_path / f"{name}.tar", make(plain_layer()))  # type: ignore[operator]

    with pytest.raises(ImageError) as caught:
        load_fs(archive)

    assert type(caught.value) is ImageError
    assert str(caught.value).startswith(f"{name}.tar: layer 0 (l/layer.tar): {problem}")


@pytest.mark.parametrize(
    ("frame", "keep", "problem"),
    [
        (1 << 20, 0.5, "layer is truncated (zstd data decompresses to nothing)"),
        (4096, 0.5, "layer is truncated (no end-of-archive marker) after 16 entries"),
        (4096, 0.97, "data/file27.txt is truncated"),
    ],
    ids=["nothing-left", "at-a-header", "inside-a-file"],
)
def test_truncated_zstd_layer(
    tmp_path: Path, frame: int, keep: float, problem: str
) -> None:
    # zstandard's reader ends quietly where the data stops; the tar layer
    # must still be found short.
    zstandard = pytest.importorskip("zstandard")
    squeeze = zstandard.ZstdCompressor()
    raw = plain_layer()
    blob = b"".join(
        squeeze.compress(raw[i : i + frame]) for i in range(0, len(raw), frame)
    )
    archive = docker_archive(tmp_path / "zcut.tar", blob[: int(len(blob) * keep)])

    with pytest.raises(ImageError) as caught:
        load_fs(archive)

    message = str(caught.value)
    assert message.startswith(f"zcut.tar: layer 0 (l/layer.tar): {problem}")


def test_zstd_layer_cut_at_an_entry_boundary(tmp_path: Path) -> None:
    # The end-of-archive blocks are what tells an end from a cut here.
    zstandard = pytest.importorskip("zstandard")
    blob = zstandard.ZstdCompressor().compress(plain_layer(end=False))

    with pytest.raises(ImageError, match="no end-of-archive marker"):
        load_fs(docker_archive(tmp_path / "zend.tar", blob))


def test_layer_stream_seeks_forward_only() -> None:
    raw = bytes(range(256)) * 4096
    stream = open_layer(io.BytesIO(gzip.compress(raw)), "layer", DEFAULT_LIMITS)

    assert stream.read(10) == raw[:10]
    assert stream.seek(300_000) == 300_000
    assert stream.tell() == 300_000
    assert stream.read(4) == raw[300_000:300_004]
    assert stream.seek(5, io.SEEK_CUR) == 300_009
    with pytest.raises(io.UnsupportedOperation):
        stream.seek(0)
    # Seeking past the end stops at the end, so tarfile sees the data is short.
    assert stream.seek(len(raw) + 100) == len(raw)
    assert stream.read(1) == b""
