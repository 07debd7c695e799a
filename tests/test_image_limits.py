"""Every bound of :class:`Limits`, on every path data takes into the reader.

tests/test_image_hostile.py covers each bound once (claimed member and layer
sizes in a gzip layer, the gzip ratio, layer members, the config's size,
kept content). This file adds the paths it leaves out - the decompressed
size of a layer, the ratio through every decompressor, members of the outer
archive, every metadata file, 0 as "no bound", the audit's verdict on a
refused image, and peak memory under a bomb - and the bounds that once did
not hold (extended headers, plain layers, compressed outer archives).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import tarfile
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

import pytest_sentry
from imagebuilder import docker_files as raw_docker_files
from imagebuilder import write_tar
from pytest_sentry._image._resolve import resolve
from pytest_sentry._image.interface import (
    DEFAULT_CONTENT_PATHS,
    Image,
    ImageError,
    ImageLimitError,
    Limits,
)
from pytest_sentry._models import Verdict

PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
CONFIG = b'{"os": "linux", "config": {"User": "app"}}'
MiB = 1024 * 1024


# --- building blocks ----------------------------------------------------------


def tar_bytes(entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info in entries:
            payload = data.get(info.name)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return out.getvalue()


def passwd_layer() -> bytes:
    info = tarfile.TarInfo("etc/passwd")
    info.size = len(PASSWD)
    return tar_bytes([info], {"etc/passwd": PASSWD})


def directories_layer(count: int) -> bytes:
    """``count`` directory entries: bytes in the layer, none claimed as data."""
    entries = []
    for number in range(count):
        info = tarfile.TarInfo(f"d{number:05}")
        info.type = tarfile.DIRTYPE
        entries.append(info)
    return tar_bytes(entries, {})


def docker_files(
    layers: list[bytes], config: bytes = CONFIG, extra: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    return raw_docker_files(layers, config, extra=extra)


def docker_archive(path: Path, layers: list[bytes], **kwargs: Any) -> Path:
    return write_tar(path, docker_files(layers, **kwargs))


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_files(
    layer: bytes, manifest_pad: int = 0, index_pad: int = 0
) -> dict[str, bytes]:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(CONFIG),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest(layer),
                }
            ],
            "annotations": {"pad": "x" * manifest_pad},
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [{"digest": digest(manifest)}],
            "annotations": {"pad": "x" * index_pad},
        }
    ).encode()
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": index}
    for blob in (CONFIG, layer, manifest):
        files["blobs/sha256/" + digest(blob)[7:]] = blob
    return files


def load(reference: str, limits: Limits) -> Image:
    return resolve(reference).load(DEFAULT_CONTENT_PATHS, limits)


def refused(reference: str, subject: str, limits: Limits) -> str:
    """Loading must raise ImageLimitError naming ``subject``; its message."""
    with pytest.raises(ImageLimitError) as caught:
        load(reference, limits)
    message = str(caught.value)
    assert message.startswith(f"{subject}: "), message
    # Every limit error names its bound and how to raise it.
    hint = f" (bound {caught.value.bound}; raise it with --limit "
    assert hint in message, message
    return message.partition(" (bound ")[0]


def peak_bytes(action: Callable[[], object]) -> tuple[int, BaseException | None]:
    """tracemalloc's peak while ``action`` runs, and what it raised."""
    tracemalloc.start()
    try:
        action()
        raised = None
    except Exception as error:
        raised = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised


COMPRESSORS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.compressobj(9, zlib.DEFLATED, 31),
    "zstd": lambda: zstandard.ZstdCompressor().compressobj(),
    "bzip2": lambda: bz2.BZ2Compressor(9),
    "xz": lambda: lzma.LZMACompressor(preset=0),
}


def compress(kind: str, data: bytes) -> bytes:
    squeeze = COMPRESSORS[kind]()
    return bytes(squeeze.compress(data) + squeeze.flush())


def zeros_layer(kind: str, size: int) -> bytes:
    """One member of ``size`` zero bytes, compressed in pieces."""
    info = tarfile.TarInfo("zeros")
    info.size = size
    squeeze = COMPRESSORS[kind]()
    parts = [squeeze.compress(info.tobuf(format=tarfile.PAX_FORMAT))]
    chunk = bytes(MiB)
    for _ in range(size // MiB):
        parts.append(squeeze.compress(chunk))
    parts.append(squeeze.compress(bytes(size % MiB + 1024)))
    parts.append(squeeze.flush())
    return b"".join(parts)


# --- bounds that hold ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_decompressed_layer_size_is_bounded(tmp_path: Path, kind: str) -> None:
    # 3000 directories: 1.5 MiB of headers, no member claims a byte, so only
    # the count of decompressed bytes can catch it.
    layer = compress(kind, directories_layer(3000))
    archive = docker_archive(tmp_path / "dirs.tar", [layer])

    message = refused(
        f"docker-archive:{archive}", archive.name, Limits(max_layer_bytes=MiB)
    )

    assert message == (
        f"dirs.tar: layer 0 (0/layer.tar): layer decompresses to more than {MiB} bytes"
    )


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_ratio_bound_through_every_decompressor(tmp_path: Path, kind: str) -> None:
    # 70 MiB of zeros: past the 64 MiB below which the ratio is not judged.
    archive = docker_archive(tmp_path / "ratio.tar", [zeros_layer(kind, 70 * MiB)])
    limits = Limits(max_ratio=100, max_member_bytes=0, max_layer_bytes=0)

    peak, raised = peak_bytes(lambda: load(f"docker-archive:{archive}", limits))

    assert isinstance(raised, ImageLimitError)
    assert str(raised).startswith("ratio.tar: layer 0 (0/layer.tar): decompresses to")
    assert "refusing a likely decompression bomb" in str(raised)
    # Streamed, never held: the 64 MiB read before the verdict are not kept.
    assert peak < 16 * MiB


def test_claimed_bomb_is_refused_before_inflating(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "bomb.tar", [zeros_layer("gzip", 200 * MiB)])

    peak, raised = peak_bytes(
        lambda: load(f"docker-archive:{archive}", Limits(max_member_bytes=MiB))
    )

    assert isinstance(raised, ImageLimitError)
    assert "entry 'zeros' is 209715200 bytes, over the 1048576-byte bound" in str(
        raised
    )
    assert peak < 8 * MiB


def test_members_of_the_outer_archive_are_bounded(tmp_path: Path) -> None:
    padding = {f"pad/{n:04}": b"" for n in range(300)}
    archive = write_tar(
        tmp_path / "outer.tar", docker_files([passwd_layer()], extra=padding)
    )

    message = refused(
        f"docker-archive:{archive}", archive.name, Limits(max_members=100)
    )

    assert message == "outer.tar: more than 100 entries in the archive"


@pytest.mark.parametrize("layout", ["docker-archive", "oci-archive"])
def test_members_are_counted_across_layers(tmp_path: Path, layout: str) -> None:
    # 80 entries either way: two layers of 40 (docker), one of 80 (OCI).
    if layout == "docker-archive":
        files = docker_files([directories_layer(40), directories_layer(40)])
    else:
        files = oci_files(directories_layer(80))
    archive = write_tar(tmp_path / "layers.tar", files)

    message = refused(f"{layout}:{archive}", archive.name, Limits(max_members=70))

    assert message.endswith("more than 70 entries in the image")


@pytest.mark.parametrize(
    ("layout", "name", "pad"),
    [
        ("docker-archive", "manifest.json", "manifest"),
        ("oci-archive", "index.json", "index"),
        ("oci-archive", "blobs/sha256/", "oci-manifest"),
    ],
)
def test_every_metadata_file_is_bounded(
    tmp_path: Path, layout: str, name: str, pad: str
) -> None:
    if pad == "manifest":
        files = docker_files([passwd_layer()])
        files["manifest.json"] = files["manifest.json"][:-1] + b" " * 5000 + b"]"
    elif pad == "index":
        files = oci_files(passwd_layer(), index_pad=5000)
    else:
        files = oci_files(passwd_layer(), manifest_pad=5000)
    archive = write_tar(tmp_path / "meta.tar", files)

    message = refused(
        f"{layout}:{archive}", archive.name, Limits(max_metadata_bytes=2000)
    )

    assert message.startswith(f"meta.tar: {name}")
    assert message.endswith("is larger than 2000 bytes")


@pytest.mark.parametrize(
    ("field", "layer"),
    [
        ("max_members", lambda: directories_layer(60)),
        ("max_member_bytes", lambda: zeros_layer("gzip", 3 * MiB)),
        ("max_layer_bytes", lambda: compress("gzip", directories_layer(3000))),
        ("max_metadata_bytes", passwd_layer),
    ],
)
def test_zero_turns_a_bound_off(
    tmp_path: Path, field: str, layer: Callable[[], bytes]
) -> None:
    tight = {
        "max_members": 50,
        "max_member_bytes": MiB,
        "max_layer_bytes": MiB,
        "max_metadata_bytes": 10,
    }
    archive = docker_archive(tmp_path / "zero.tar", [layer()])
    reference = f"docker-archive:{archive}"
    with pytest.raises(ImageLimitError):
        load(reference, Limits(**{field: tight[field]}))

    image = load(reference, Limits(**{field: 0}))

    assert len(image.filesystem) > 1


def test_a_refused_image_makes_the_audit_an_error(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "many.tar", [directories_layer(60)])
    builder = pytest_sentry.scan(f"docker-archive:{archive}").without_scanner()

    result = pytest_sentry.Scan(
        builder.image, scanner=None, limits=Limits(max_members=50)
    ).audit()

    assert result.verdict is Verdict.ERROR
    assert not result.passed
    assert result.exit_code == 2
    assert result.score == 0
    assert result.errors == (
        "many.tar: layer 0 (0/layer.tar): more than 50 entries in the image "
        "(bound max_members; raise it with --limit max_members=VALUE, "
        "--sentry-limit max_members=VALUE or Scan.with_limit)",
    )
    assert result.checks == ()
    assert builder.audit().verdict is not Verdict.ERROR


# --- bounds that the reader once missed ---------------------------------------------


def _pax_claim(size: int, kind: bytes = tarfile.XHDTYPE) -> bytes:
    """A one-block layer: an extended header that claims ``size`` bytes of
    data (base-256 size field), followed by a little real data."""
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = kind
    block = bytearray(info.tobuf(tarfile.USTAR_FORMAT))
    block[124:136] = b"\x80" + size.to_bytes(11, "big")
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    record = b"18 comment=abcdef\n"
    return bytes(block) + record + bytes(512 - len(record))


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_extended_header_claiming_exabytes(tmp_path: Path, kind: bytes) -> None:
    archive = docker_archive(
        tmp_path / "claim.tar", [gzip.compress(_pax_claim(2**62, kind))]
    )

    with pytest.raises(ImageError, match=r"^claim\.tar: layer 0"):
        load(f"docker-archive:{archive}", Limits(max_member_bytes=MiB))


def test_extended_header_claim_is_bounded_in_memory(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "claim.tar", [gzip.compress(_pax_claim(2**30))])

    peak, raised = peak_bytes(
        lambda: load(f"docker-archive:{archive}", Limits(max_member_bytes=MiB))
    )

    assert isinstance(raised, ImageError)
    assert peak < 64 * MiB


def _big_pax_layer(size: int) -> bytes:
    info = tarfile.TarInfo("f")
    info.pax_headers = {"comment": "x" * size}
    return tar_bytes([info], {"f": b""})


def test_plain_layer_with_a_large_pax_record(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "pax.tar", [_big_pax_layer(4 * MiB)])

    refused(
        f"docker-archive:{archive}",
        archive.name,
        Limits(max_layer_bytes=MiB, max_member_bytes=MiB),
    )


def test_gzip_layer_with_a_large_pax_record(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "pax.tar", [gzip.compress(_big_pax_layer(4 * MiB))]
    )

    refused(
        f"docker-archive:{archive}",
        archive.name,
        Limits(max_layer_bytes=MiB, max_member_bytes=MiB),
    )


def test_plain_layer_size_is_bounded(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "dirs.tar", [directories_layer(3000)])

    refused(f"docker-archive:{archive}", archive.name, Limits(max_layer_bytes=MiB))


def test_compressed_outer_archive_is_bounded(tmp_path: Path) -> None:
    files = docker_files([passwd_layer()], extra={"pad": bytes(70 * MiB)})
    archive = write_tar(tmp_path / "outer.tar.gz", files, "w:gz")
    assert archive.stat().st_size < MiB

    refused(
        f"docker-archive:{archive}",
        archive.name,
        Limits(max_ratio=50, max_layer_bytes=MiB, max_member_bytes=MiB),
    )


def test_outer_member_bound_stops_early(tmp_path: Path) -> None:
    padding = {f"pad/{n:05}": b"" for n in range(20_000)}
    archive = write_tar(
        tmp_path / "outer.tar", docker_files([passwd_layer()], extra=padding)
    )

    peak, raised = peak_bytes(
        lambda: load(f"docker-archive:{archive}", Limits(max_members=100))
    )

    assert isinstance(raised, ImageLimitError)
    assert peak < 4 * MiB


def test_zero_content_bound_keeps_content(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "content.tar", [passwd_layer()])

    image = load(f"docker-archive:{archive}", Limits(max_content_bytes=0))

    assert image.filesystem.read("/etc/passwd") == PASSWD


@pytest.mark.parametrize("where", ["manifest.json", "config.json", "index.json"])
def test_deeply_nested_metadata_json(tmp_path: Path, where: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    if where == "index.json":
        files = oci_files(passwd_layer())
        files["index.json"] = deep
        layout = "oci-archive"
    else:
        files = docker_files([passwd_layer()])
        files[where] = deep
        layout = "docker-archive"
    archive = write_tar(tmp_path / "deep.tar", files)

    with pytest.raises(ImageError, match=rf"^deep\.tar: {where}: not valid JSON"):
        load(f"{layout}:{archive}", Limits())


@pytest.mark.parametrize("media_type", [["x"], {"a": 1}])
def test_oci_media_type_of_another_type(tmp_path: Path, media_type: Any) -> None:
    files = oci_files(passwd_layer())
    index = json.loads(files["index.json"])
    index["manifests"][0]["mediaType"] = media_type
    files["index.json"] = json.dumps(index).encode()
    archive = write_tar(tmp_path / "media.tar", files)

    # Found by tests/test_fuzz_reader.py: this raised TypeError (unhashable).
    # The media type is only a hint, so the image may load; if the reader
    # refuses it, it must say so as an ImageError.
    try:
        image = load(f"oci-archive:{archive}", Limits())
    except ImageError as error:
        message = str(error)
        assert message.startswith("media.tar: ")
    else:
        assert image.filesystem.read("/etc/passwd") == PASSWD
