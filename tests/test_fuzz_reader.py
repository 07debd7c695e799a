"""Property-based fuzzing of the image reader with hypothesis.

Whatever the archive holds - hostile member names and links, random tar
types, mangled headers, random bytes as layers, cut or flipped bytes of the
real archives in tests/data/images/, JSON of any shape for manifest.json,
index.json, manifests and configs - loading it gives an :class:`Image` whose
paths all sit inside the image root, or an :class:`ImageError` whose message
starts with the archive's name. Never another exception type, never a hang,
never a file written or a process started (``fuzzing.Sandbox``), and only
what tight :class:`Limits` allow.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import Sandbox, fuzz_settings, json_values, shaped
from imagebuilder import docker_files, write_tar
from pytest_sentry._image._resolve import resolve
from pytest_sentry._image.interface import (
    DEFAULT_CONTENT_PATHS,
    FileType,
    Image,
    ImageError,
    Limits,
    normalize,
)

IMAGES = Path(__file__).parent / "data" / "images"

#: Tight bounds: every example stays small and fast, and the bounds are hit.
TIGHT = Limits(
    max_layer_bytes=1024 * 1024,
    max_member_bytes=256 * 1024,
    max_members=400,
    max_ratio=50,
    max_content_bytes=4096,
    max_metadata_bytes=64 * 1024,
)
CONTENT = DEFAULT_CONTENT_PATHS | {"/app/config", "/root/.ssh/id_rsa"}


# --- running one example ------------------------------------------------------


def load_or_refuse(
    sandbox: Sandbox, reference: str, subject: str, limits: Limits = TIGHT
) -> Image | None:
    """Load under the sandbox; an ImageError must name ``subject`` first."""
    try:
        image = sandbox.run(lambda: resolve(reference).load(CONTENT, limits))
    except ImageError as error:
        message = str(error)
        assert message.startswith(f"{subject}: "), message
        assert len(message) < 2000, "an error message should not carry data"
        return None
    assert_well_formed(image, limits)
    return image


def assert_well_formed(image: Image, limits: Limits) -> None:
    """Every path is clean and inside the root; links resolve inside it."""
    fs = image.filesystem
    paths = set(fs.paths())
    assert "/" in paths
    assert len(paths) <= (limits.max_members or len(paths)) + 1 + _implied(paths)
    for path, entry in fs.items():
        assert path == normalize(path), path
        assert isinstance(entry.type, FileType)
        if entry.content is not None:
            assert entry.type is FileType.FILE
            assert len(entry.content) <= limits.max_content_bytes
        resolved = fs.resolve(path)
        assert resolved is None or resolved in paths


def _implied(paths: set[str]) -> int:
    # Parents a member implies (``a/b/c`` creates ``/a`` and ``/a/b``) are
    # entries the member count does not include.
    return sum(p.count("/") for p in paths)


FUZZ_CONFIG = b'{"os": "linux", "config": {"User": "1000"}}'


def docker_archive(
    path: Path, layers: list[bytes], config: bytes = FUZZ_CONFIG, manifest: Any = None
) -> Path:
    return write_tar(path, docker_files(layers, config, manifest))


# --- strategies: tar members -----------------------------------------------------

CANARY = "<canary>"  # replaced by the sandbox's canary directory

ATTACK_NAMES = [
    "../" * 12 + "tmp/escaped",
    f"../../../../../..{CANARY}/owned",
    f"{CANARY}/owned",
    "/etc/passwd",
    "etc/passwd",
    "./etc/../etc/./passwd",
    "etc/passwd/",
    "..",
    ".",
    "/",
    "",
    "a\x00b",
    "etc/passwd\x00.txt",
    ".wh..wh..opq",
    "etc/.wh..wh..opq",
    "etc/.wh.passwd",
    ".wh.etc",
    ".wh..wh.plnk/123.456",
    "usr/bin/curl",
    "bin",
    "app/config",
    "root/.ssh/id_rsa",
    "x" * 300,
    "/".join(["d"] * 120),
    "stargz.index.json",
]
LINK_TARGETS = [
    *ATTACK_NAMES,
    "/",
    "../../../../../../",
    "/proc/self/root/etc/passwd",
    "/dev/null",
    "link",
    "etc",
    "../etc/passwd",
]
TAR_TYPES = [
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.LNKTYPE,
    tarfile.SYMTYPE,
    tarfile.CHRTYPE,
    tarfile.BLKTYPE,
    tarfile.DIRTYPE,
    tarfile.FIFOTYPE,
    tarfile.CONTTYPE,
    b"Z",
    b"\x80",
    b"g",
]

names = st.one_of(
    st.sampled_from(ATTACK_NAMES),
    st.text(alphabet="ab./\x00-_\u00e9\u2603", max_size=40),
    st.lists(st.sampled_from(["a", "b", "..", ".", "", "etc", ".wh.a", "link"])).map(
        "/".join
    ),
)
links = st.one_of(st.sampled_from(LINK_TARGETS), names)


@st.composite
def members(draw: st.DrawFn) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(draw(names))
    info.type = draw(st.sampled_from(TAR_TYPES))
    info.linkname = (
        draw(links) if info.type in (tarfile.LNKTYPE, tarfile.SYMTYPE) else ""
    )
    info.mode = draw(st.one_of(st.integers(0, 0o7777), st.integers(0, 0o7777777)))
    info.uid = draw(st.integers(0, 2**21 - 1))
    info.gid = draw(st.integers(0, 2**21 - 1))
    info.mtime = draw(st.integers(0, 2**33 - 1))
    data = b""
    if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE, b"Z"):
        data = draw(
            st.one_of(
                st.binary(max_size=600),
                st.just(b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:\n"),
            )
        )
    info.size = len(data)
    return info, data


def layer_bytes(entries: list[tuple[tarfile.TarInfo, bytes]], canary: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            info.name = info.name.replace(CANARY, canary)
            info.linkname = info.linkname.replace(CANARY, canary)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


#: The first bytes of each compression the reader sniffs, and none.
MAGICS = [
    b"",
    b"\x1f\x8b",
    b"\x1f\x8b\x08\x00",
    b"(\xb5/\xfd",
    b"BZh9",
    b"\xfd7zXZ\x00",
]

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "none": lambda data: data,
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


# --- random members ---------------------------------------------------------------


@fuzz_settings(250)
@given(
    layers=st.lists(st.lists(members(), max_size=12), min_size=1, max_size=3),
    compression=st.sampled_from(sorted(COMPRESSORS)),
)
def test_random_members(
    fuzz_sandbox: Sandbox,
    tmp_path: Path,
    layers: list[list[tuple[tarfile.TarInfo, bytes]]],
    compression: str,
) -> None:
    canary = str(fuzz_sandbox.canary)
    blobs = [COMPRESSORS[compression](layer_bytes(e, canary)) for e in layers]
    archive = docker_archive(tmp_path / "members.tar", blobs)

    image = load_or_refuse(fuzz_sandbox, f"docker-archive:{archive}", archive.name)

    if image is not None:
        # Hostile names land inside the image, under their own path.
        for path in image.filesystem.paths():
            assert ".." not in path.split("/")


def _header_blocks(draw: st.DrawFn) -> bytes:
    """One valid header, then some of its bytes replaced, checksum redone."""
    entry = draw(members())[0]
    tar_format = draw(
        st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
    )
    try:
        raw = bytearray(entry.tobuf(tar_format, "utf-8", "surrogateescape"))
    except ValueError:
        raw = bytearray(tarfile.TarInfo("fallback").tobuf())
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, len(raw) - 1))
        patch = draw(st.binary(min_size=1, max_size=16))
        raw[start : start + len(patch)] = patch
    raw = raw[: len(raw) - len(raw) % 512 or 512].ljust(512, b"\0")
    if draw(st.booleans()):
        for offset in range(0, len(raw), 512):
            block = raw[offset : offset + 512]
            block[148:156] = b" " * 8
            block[148:156] = b"%06o\0 " % (sum(block) & 0o777777)
            raw[offset : offset + 512] = block
    data = draw(st.binary(max_size=1500))
    return bytes(raw) + data + bytes(-len(data) % 512)


@fuzz_settings(250)
@given(
    blocks=st.lists(st.composite(_header_blocks)(), min_size=1, max_size=5),
    end=st.sampled_from([b"", bytes(512), bytes(1024), b"\x01" * 700]),
    gzipped=st.booleans(),
)
def test_mangled_headers(
    fuzz_sandbox: Sandbox,
    tmp_path: Path,
    blocks: list[bytes],
    end: bytes,
    gzipped: bool,
) -> None:
    blob = b"".join(blocks) + end
    archive = docker_archive(
        tmp_path / "headers.tar", [gzip.compress(blob) if gzipped else blob]
    )

    load_or_refuse(fuzz_sandbox, f"docker-archive:{archive}", archive.name)


@fuzz_settings(250)
@given(
    prefix=st.sampled_from(
        [
            b"",
            b"\x1f\x8b",
            b"\x1f\x8b\x08\x00",
            b"\x28\xb5\x2f\xfd",
            b"BZh9",
            b"\xfd7zXZ\x00",
        ]
    ),
    body=st.binary(max_size=3000),
    wrap=st.sampled_from(["raw", *sorted(COMPRESSORS)]),
)
def test_random_bytes_as_a_layer(
    fuzz_sandbox: Sandbox, tmp_path: Path, prefix: bytes, body: bytes, wrap: str
) -> None:
    # "raw" puts the bytes in as they are; the others compress them, so that
    # garbage reaches the tar reader through every decompressor.
    blob = prefix + body if wrap == "raw" else COMPRESSORS[wrap](prefix + body)
    archive = docker_archive(tmp_path / "bytes.tar", [blob])

    load_or_refuse(fuzz_sandbox, f"docker-archive:{archive}", archive.name)


# --- damaged real archives ---------------------------------------------------------

SMALL_ARCHIVES = sorted(
    p.name for p in IMAGES.iterdir() if p.is_file() and p.stat().st_size <= 64 * 1024
)


@fuzz_settings(250)
@given(
    name=st.sampled_from(SMALL_ARCHIVES),
    cut=st.floats(0, 1, exclude_max=True),
    flips=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), max_size=3
    ),
)
def test_cut_and_flipped_real_archives(
    fuzz_sandbox: Sandbox,
    tmp_path: Path,
    name: str,
    cut: float,
    flips: list[tuple[float, int]],
) -> None:
    data = bytearray((IMAGES / name).read_bytes())
    if flips:
        for where, xor in flips:
            data[int(where * len(data))] ^= xor
    else:
        data = data[: int(cut * len(data))]
    # The real name, so that the reader's own guess of the format applies.
    archive = tmp_path / name
    archive.write_bytes(bytes(data))

    load_or_refuse(fuzz_sandbox, str(archive), name, Limits())


# --- JSON of any shape ---------------------------------------------------------------

strings = st.lists(st.text(max_size=12), max_size=3)
image_config = shaped(
    {
        "os": st.sampled_from(["linux", "Linux", "windows", ""]),
        "architecture": st.text(max_size=6),
        "config": shaped(
            {
                "User": st.sampled_from(["", "root", "0", "1000", "app:0", "nobody"]),
                "Env": st.lists(st.sampled_from(["PATH=/bin", "A=", "=x", "GH=ghp_1"])),
                "Healthcheck": shaped({"Test": strings}),
                "Entrypoint": strings,
                "Cmd": strings,
                "Labels": st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
            }
        ),
        "container_config": shaped({"User": st.text(max_size=5)}),
    }
)
docker_manifest = st.one_of(
    st.lists(
        shaped(
            {
                "Config": st.sampled_from(["config.json", "0/layer.tar", "", "nope"]),
                "RepoTags": st.lists(st.sampled_from(["x:1", "x", "y:latest"])),
                "Layers": st.lists(st.sampled_from(["0/layer.tar", "../0/layer.tar"])),
            }
        ),
        max_size=3,
    ),
    json_values,
)


def _small_layer() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return out.getvalue()


GOOD_CONFIG = {"os": "linux", "config": {"User": "app", "Env": ["PATH=/bin"]}}


@fuzz_settings(250)
@given(
    random_part=st.sampled_from(["config", "manifest", "both"]),
    config=image_config,
    manifest=docker_manifest,
    selector=st.sampled_from(["", ":x:1", ":@0", ":@7", ":y"]),
)
def test_random_docker_archive_json(
    fuzz_sandbox: Sandbox,
    tmp_path: Path,
    random_part: str,
    config: Any,
    manifest: Any,
    selector: str,
) -> None:
    # One part random and the rest valid, so the random part is really read.
    if random_part == "config":
        manifest = None
    elif random_part == "manifest":
        config = GOOD_CONFIG
    archive = docker_archive(
        tmp_path / "json.tar",
        [_small_layer()],
        config=json.dumps(config).encode(),
        manifest=manifest,
    )

    load_or_refuse(fuzz_sandbox, f"docker-archive:{archive}{selector}", archive.name)


# OCI: descriptors point at real blobs through these markers, replaced when
# the layout is written, so that the walk gets past the digest checks.
CONFIG, LAYER, MANIFEST = "<config>", "<layer>", "<manifest>"
MEDIA_TYPES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.in-toto+json",
    "",
]


def descriptor(target: str) -> st.SearchStrategy[Any]:
    return shaped(
        {
            "mediaType": st.sampled_from(MEDIA_TYPES),
            "digest": st.sampled_from([target, target, "sha256:" + "0" * 64, "md5:x"]),
            "size": st.integers(0, 10**6),
            "platform": shaped(
                {
                    "os": st.sampled_from(["linux", "windows", "unknown"]),
                    "architecture": st.sampled_from(["amd64", "arm64", ""]),
                    "variant": st.sampled_from(["v8", ""]),
                }
            ),
            "annotations": st.dictionaries(
                st.sampled_from(
                    ["org.opencontainers.image.ref.name", "io.containerd.image.name"]
                ),
                st.sampled_from(["latest", "x:1", ""]),
            ),
        }
    )


oci_manifest = shaped(
    {
        "schemaVersion": st.just(2),
        "mediaType": st.sampled_from(MEDIA_TYPES),
        "config": descriptor(CONFIG),
        "layers": st.lists(descriptor(LAYER), max_size=2),
        "manifests": st.lists(descriptor(MANIFEST), max_size=1),
    }
)
oci_index = shaped(
    {
        "schemaVersion": st.just(2),
        "manifests": st.lists(descriptor(MANIFEST), max_size=3),
    }
)


def fill(value: Any, digests: dict[str, str]) -> Any:
    if isinstance(value, str):
        return digests.get(value, value)
    if isinstance(value, list):
        return [fill(item, digests) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, digests) for key, item in value.items()}
    return value


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


GOOD_MANIFEST = {
    "schemaVersion": 2,
    "config": {"mediaType": MEDIA_TYPES[2], "digest": CONFIG},
    "layers": [{"mediaType": MEDIA_TYPES[4], "digest": LAYER}],
}
GOOD_INDEX = {"schemaVersion": 2, "manifests": [{"digest": MANIFEST}]}


@fuzz_settings(250)
@given(
    random_part=st.sampled_from(["config", "manifest", "index", "all"]),
    config=image_config,
    manifest=oci_manifest,
    index=oci_index,
)
def test_random_oci_layout_json(
    fuzz_sandbox: Sandbox,
    tmp_path: Path,
    random_part: str,
    config: Any,
    manifest: Any,
    index: Any,
) -> None:
    if random_part != "all":
        config = config if random_part == "config" else GOOD_CONFIG
        manifest = manifest if random_part == "manifest" else GOOD_MANIFEST
        index = index if random_part == "index" else GOOD_INDEX
    config_bytes = json.dumps(config).encode()
    layer = gzip.compress(_small_layer(), mtime=0)
    digests = {CONFIG: _digest(config_bytes), LAYER: _digest(layer)}
    # A manifest that names itself as a nested index cannot hash to its own
    # digest; it points at a missing blob instead.
    manifest_bytes = json.dumps(
        fill(manifest, {**digests, MANIFEST: "sha256:" + "1" * 64})
    ).encode()
    digests[MANIFEST] = _digest(manifest_bytes)
    files = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": json.dumps(fill(index, digests)).encode(),
    }
    for blob in (config_bytes, layer, manifest_bytes):
        files["blobs/sha256/" + _digest(blob)[7:]] = blob
    archive = write_tar(tmp_path / "layout.tar", files)

    load_or_refuse(fuzz_sandbox, f"oci-archive:{archive}", archive.name)


@pytest.mark.parametrize("layout", ["docker", "oci"])
def test_valid_json_parts_load(tmp_path: Path, layout: str) -> None:
    # The "rest valid" halves of the JSON tests must load, or those tests
    # only ever fuzz the first file the reader opens.
    layer = _small_layer()
    if layout == "docker":
        archive = docker_archive(
            tmp_path / "d.tar", [layer], config=json.dumps(GOOD_CONFIG).encode()
        )
    else:
        config = json.dumps(GOOD_CONFIG).encode()
        packed = gzip.compress(layer, mtime=0)
        digests = {CONFIG: _digest(config), LAYER: _digest(packed)}
        manifest = json.dumps(fill(GOOD_MANIFEST, digests)).encode()
        digests[MANIFEST] = _digest(manifest)
        files = {"index.json": json.dumps(fill(GOOD_INDEX, digests)).encode()}
        for blob in (config, packed, manifest):
            files["blobs/sha256/" + _digest(blob)[7:]] = blob
        archive = write_tar(tmp_path / "o.tar", files)

    image = resolve(f"{layout}-archive:{archive}").load(CONTENT, TIGHT)

    assert image.config is not None
    assert image.config.user == "app"
    assert (image.filesystem.read_text("/etc/passwd") or "").startswith("root:")


# --- bomb-like layers under tight bounds ----------------------------------------

MiB = 1024 * 1024
BOMB_LIMITS = Limits(
    max_layer_bytes=MiB,
    max_member_bytes=MiB // 2,
    max_members=400,
    max_ratio=50,
    max_content_bytes=4096,
    max_metadata_bytes=64 * 1024,
)
#: Far above what the bounds let through, far below what the inputs hold.
BOMB_PEAK = 24 * MiB


def bomb_layer(shape: str, size: int) -> bytes:
    """A layer that decompresses to about ``size`` bytes in one of four ways."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if shape == "one big member":
            info = tarfile.TarInfo("zeros")
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
        elif shape == "one big PAX record":
            info = tarfile.TarInfo("f")
            info.pax_headers = {"comment": "x" * size}
            tar.addfile(info)
        elif shape == "many directories":
            for number in range(size // 512):
                info = tarfile.TarInfo(f"d{number}")
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
        else:
            for number in range(size // 1024):
                info = tarfile.TarInfo(f"f{number}")
                info.size = 512
                tar.addfile(info, io.BytesIO(bytes(512)))
    return out.getvalue()


@fuzz_settings(30)
@given(
    shape=st.sampled_from(
        ["one big member", "one big PAX record", "many directories", "many files"]
    ),
    size=st.integers(64 * 1024, 6 * MiB),
    compression=st.sampled_from(sorted(COMPRESSORS)),
)
def test_bomb_like_layers_stay_in_memory_bounds(
    fuzz_sandbox: Sandbox, tmp_path: Path, shape: str, size: int, compression: str
) -> None:
    blob = COMPRESSORS[compression](bomb_layer(shape, size))
    archive = docker_archive(tmp_path / "bomb.tar", [blob])
    reference = f"docker-archive:{archive}"

    tracemalloc.start()
    try:
        load_or_refuse(fuzz_sandbox, reference, archive.name, BOMB_LIMITS)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    assert peak < BOMB_PEAK, f"{peak} bytes for a {size}-byte {shape} layer"


def test_reader_fuzz_runs_against_the_real_corpus() -> None:
    # The damaged-archive test is only as good as its inputs: the small
    # archives must be real images the reader loads whole.
    assert len(SMALL_ARCHIVES) >= 10
    loaded = 0
    for name in SMALL_ARCHIVES:
        try:
            resolve(str(IMAGES / name)).load()
        except ImageError:
            continue
        loaded += 1
    assert loaded >= 8


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_member_strategy_builds_loadable_layers(
    tmp_path: Path, compression: str
) -> None:
    # The strategies are only useful if well-formed draws load: a plain
    # passwd file through each compression must come out as it went in.
    info = tarfile.TarInfo("etc/passwd")
    data = b"root:x:0:0::/root:/bin/sh\n"
    info.size = len(data)
    blob = COMPRESSORS[compression](layer_bytes([(info, data)], "/nowhere"))
    archive = docker_archive(tmp_path / "ok.tar", [blob])

    image = resolve(f"docker-archive:{archive}").load(CONTENT, TIGHT)

    assert image.filesystem.read("/etc/passwd") == data
