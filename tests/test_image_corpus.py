"""The image reader on real archives from other projects' test suites.

Every archive in tests/data/images/ either loads, with facts checked against
what its layers hold, or fails with an ImageError that names the file and
the problem.
"""

from __future__ import annotations

import builtins
import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from pytest_sentry._image._resolve import resolve
from pytest_sentry._image.interface import FileSystem, FileType, Image, ImageError

DATA = Path(__file__).parent / "data" / "images"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def load(reference: str, *content: str) -> Image:
    scheme, _, rest = reference.partition(":")
    if rest and scheme in ("docker-archive", "oci-archive", "oci"):
        reference = f"{scheme}:{DATA / rest}"
    else:
        reference = str(DATA / reference)
    return resolve(reference).load(content_paths=frozenset(content))


def paths(image: Image) -> list[str]:
    return list(image.filesystem.paths())


# --- archives that load -------------------------------------------------------

SMALL_IMAGES: list[
    tuple[str, tuple[str, ...], int, str, tuple[str, ...], list[str]]
] = [
    (
        "cimage-almostempty.tar",
        ("emptyimage:latest",),
        1,
        "",
        (PATH_ENV,),
        ["/", "/emptyfile"],
    ),
    (
        "dockle-scratch.tar",
        ("scratchtest2:latest",),
        1,
        "scratch",
        (PATH_ENV,),
        ["/", "/credentials.json"],
    ),
    (
        "ggcr-source_image_with_empty_layer_history.tar",
        ("bazel/pkg/v1/mutate:source_image",),
        1,
        "",
        (),
        ["/", "/bar", "/foo"],
    ),
    (
        "ggcr-test_image_1.tar",
        ("bazel/v1/tarball:test_image_1",),
        1,
        "",
        (),
        ["/", "/bar", "/foo"],
    ),
    (
        "ggcr-test_image_2.tar",
        ("bazel/v1/tarball:test_image_2",),
        1,
        "",
        (),
        ["/", "/bat", "/baz"],
    ),
    (
        "nexb-hello-world.tar",
        ("hello-world:latest",),
        1,
        "",
        (PATH_ENV,),
        ["/", "/hello"],
    ),
    (
        "oci-layouts/ggcr-test_index_one_image",
        (),
        1,
        "",
        (PATH_ENV,),
        ["/", "/test"],
    ),
    ("oci-layouts/trivy-test.oci", (), 1, "", (PATH_ENV,), ["/", "/hello"]),
    (
        "oci-layouts/trivy-test_image_tag.oci",
        ("0.0.1",),
        1,
        "",
        (PATH_ENV,),
        ["/", "/hello"],
    ),
]


@pytest.mark.parametrize(
    ("name", "tags", "layers", "user", "env", "expected"),
    SMALL_IMAGES,
    ids=[row[0] for row in SMALL_IMAGES],
)
def test_small_images_load_with_their_facts(
    name: str,
    tags: tuple[str, ...],
    layers: int,
    user: str,
    env: tuple[str, ...],
    expected: list[str],
) -> None:
    image = load(name)

    assert image.config is not None
    assert image.tags == tags
    assert image.layer_count == layers
    assert image.config.user == user
    assert image.config.env == env
    assert paths(image) == expected
    assert image.digest.startswith("sha256:")


def test_file_metadata_keeps_only_permission_bits() -> None:
    # nexB's archive stores st_mode with the file type bits (0o100775).
    image = load("nexb-hello-world.tar")

    hello = image.filesystem.lstat("/hello")
    assert hello is not None
    assert hello.type is FileType.FILE
    assert hello.mode == 0o775
    assert hello.size == 1840
    assert hello.is_executable
    assert image.config is not None
    assert image.config.cmd == ("/hello",)


def test_overwritten_file_becomes_the_later_layers_symlink() -> None:
    # Layer 1 writes foo.txt ("foo\n"); layer 2 adds bar.txt and replaces
    # foo.txt with a link to it; layer 3 is empty.
    image = load("ggcr-overwritten_file.tar", "/foo.txt", "/bar.txt")
    fs = image.filesystem

    foo = fs.lstat("/foo.txt")
    assert foo is not None
    assert foo.type is FileType.SYMLINK
    assert foo.link_target == "bar.txt"
    assert fs.read("/foo.txt") == b"bar\n"
    assert fs.read("/bar.txt") == b"bar\n"
    assert image.layer_count == 3
    assert paths(image) == ["/", "/bar.txt", "/foo.txt"]


def test_captured_contents_match_the_layer_bytes() -> None:
    image = load("ggcr-test_image_1.tar", "/foo", "/bar")

    assert image.filesystem.read("/foo") == b"foo\n"
    assert image.filesystem.read("/bar") == b"bar\n"
    # Only what was asked for is kept.
    assert load("ggcr-test_image_1.tar").filesystem.read("/foo") is None


def test_dive_image_applies_whiteouts_and_overwrites() -> None:
    image = load("dive-test-docker-image.tar", "/root/saved.txt")
    fs = image.filesystem

    assert image.tags == ("dive-test:latest",)
    assert image.layer_count == 14
    # Layer 10 whites out the whole /root/example tree, layer 8 one file in it.
    assert not any(p.startswith("/root/example") for p in fs.paths())
    assert [p for p in fs.paths() if p.startswith("/root")] == [
        "/root",
        "/root/.data",
        "/root/.data/saved.again2.txt",
        "/root/.data/tag.sh",
        "/root/.data/test.sh",
        "/root/.saved.txt",
        "/root/saved.txt",
    ]
    # The last layer rewrites saved.txt as executable.
    saved = fs.lstat("/root/saved.txt")
    assert saved is not None
    assert saved.mode == 0o755
    assert saved.content is not None
    assert len(saved.content) == saved.size == 6405
    assert fs.lstat("/root") is not None
    assert fs.lstat("/root").mode == 0o700  # type: ignore[union-attr]
    assert fs.lstat("/tmp").mode == 0o1777  # type: ignore[union-attr]


def test_dive_busybox_hard_links_copy_their_target() -> None:
    fs = load("dive-test-docker-image.tar").filesystem

    busybox = fs.lstat("/bin/[")
    assert busybox is not None
    assert busybox.size == 1075464
    applets = [p for p in fs.paths() if p.startswith("/bin/")]
    assert len(applets) == 394
    for applet in ("/bin/[[", "/bin/sh", "/bin/wget", "/bin/busybox"):
        entry = fs.lstat(applet)
        assert entry is not None
        assert entry.type is FileType.FILE
        assert (entry.size, entry.mode) == (busybox.size, busybox.mode)


def test_dive_kaniko_build_has_the_same_whiteout_results() -> None:
    # The same Dockerfile built by kaniko on a newer busybox: the applets
    # differ, the whiteouts and overwrites under /root must not.
    fs = load("dive-test-kaniko-image.tar").filesystem

    assert image_root(fs) == [
        "/root",
        "/root/.data",
        "/root/.data/saved.again2.txt",
        "/root/.data/tag.sh",
        "/root/.data/test-coverage.sh",
        "/root/.saved.txt",
        "/root/saved.txt",
    ]
    assert fs.lstat("/root/saved.txt").mode == 0o755  # type: ignore[union-attr]


def image_root(fs: FileSystem) -> list[str]:
    return [p for p in fs.paths() if p.startswith("/root")]


def test_opaque_directory_keeps_the_same_layers_entries() -> None:
    # nexB's second layer puts additions/.wh..wh..opq *before* its own files.
    image = load("nexb-she-image_from_scratch-1.0.tar", "/additions/hello")

    assert paths(image) == [
        "/",
        "/additions",
        "/additions/bar",
        "/additions/baz",
        "/additions/baz/this",
        "/additions/foo",
        "/additions/hello",
        "/hello",
    ]
    assert image.filesystem.read("/additions/hello") is not None
    assert paths(load("nexb-mini-image_from_scratch-2.0.tar")) == paths(image)


def test_grype_fixture_with_opaque_marker() -> None:
    image = load("grype-anchore-fixture-image-simple.tar", "/really/nested/file-3.txt")

    assert paths(image) == [
        "/",
        "/really",
        "/really/nested",
        "/really/nested/file-3.txt",
        "/somefile-1.txt",
        "/somefile-2.txt",
    ]
    content = image.filesystem.read("/really/nested/file-3.txt")
    assert content is not None
    assert len(content) == 27


def test_alpine_from_a_gzip_compressed_docker_archive() -> None:
    image = load(
        "trivy-alpine-310.tar.gz",
        "/etc/os-release",
        "/etc/alpine-release",
        "/etc/passwd",
        "/lib/apk/db/installed",
    )
    fs = image.filesystem

    assert image.tags == ("alpine:3.10",)
    assert image.config is not None
    assert image.config.cmd == ("/bin/sh",)
    assert image.config.architecture == "amd64"
    assert len(fs) == 483
    assert 'PRETTY_NAME="Alpine Linux v3.10"' in (fs.read_text("/etc/os-release") or "")
    assert fs.read_text("/etc/alpine-release") == "3.10.4\n"
    assert (fs.read_text("/etc/passwd") or "").startswith(
        "root:x:0:0:root:/root:/bin/ash"
    )
    assert "P:musl\n" in (fs.read_text("/lib/apk/db/installed") or "")
    assert fs.lstat("/bin/sh") is not None
    assert fs.lstat("/bin/sh").link_target == "/bin/busybox"  # type: ignore[union-attr]
    assert fs.resolve("/bin/sh") == "/bin/busybox"


def test_oci_layouts_with_gzip_estargz_and_plain_layers_agree() -> None:
    images = [
        load(f"dive-test-oci-{kind}-image.tar", "/README.md")
        for kind in ("gzip", "estargz", "uncompressed")
    ]

    for image in images:
        assert paths(image) == ["/", "/README.md"]
        assert image.config is not None
        assert image.config.architecture == "arm64"
        readme = image.filesystem.read("/README.md")
        assert readme is not None
        assert len(readme) == 11189
    assert len({image.filesystem.read("/README.md") for image in images}) == 1


def test_layer_entries_that_link_to_other_layers() -> None:
    # ggcr's test_link.tar stores image 3's first layer as a symlink to
    # image 1's layer tar.
    image = load("docker-archive:ggcr-test_link.tar:bazel/v1/tarball:test_image_3")

    assert image.layer_count == 2
    assert paths(image) == ["/", "/bar", "/foo", "/test"]
    assert image.config is not None
    assert image.config.env == (PATH_ENV,)


# --- selecting one image of several -------------------------------------------


def test_bundle_without_a_selector_lists_what_it_holds() -> None:
    with pytest.raises(ImageError) as caught:
        load("ggcr-test_bundle.tar")

    message = str(caught.value)
    assert message.startswith("ggcr-test_bundle.tar: holds 2 images")
    assert "@0 (test_image_2); @1 (test_image_1)" in message
    assert ":TAG or :@INDEX" in message


@pytest.mark.parametrize(
    ("selector", "tag", "files"),
    [
        ("test_image_1", "test_image_1", ["/", "/bar", "/foo"]),
        ("@1", "test_image_1", ["/", "/bar", "/foo"]),
        ("@0", "test_image_2", ["/", "/bat", "/baz"]),
        ("test_image_2", "test_image_2", ["/", "/bat", "/baz"]),
    ],
)
def test_bundle_selector_picks_the_right_image(
    selector: str, tag: str, files: list[str]
) -> None:
    image = load(f"docker-archive:ggcr-test_bundle.tar:{selector}")

    assert image.tags == (tag,)
    assert paths(image) == files


@pytest.mark.parametrize("selector", ["@2", "@-1", "@x", "no_such_tag"])
def test_bundle_with_a_wrong_selector(selector: str) -> None:
    with pytest.raises(ImageError, match=r"^ggcr-test_bundle\.tar: no image") as caught:
        load(f"docker-archive:ggcr-test_bundle.tar:{selector}")

    assert "@0 (test_image_2); @1 (test_image_1)" in str(caught.value)


def test_oci_index_with_several_images_needs_a_selector() -> None:
    with pytest.raises(ImageError) as caught:
        load("oci:oci-layouts/ggcr-test_index")

    message = str(caught.value)
    assert message.startswith("ggcr-test_index: holds 4 images")
    for ref in ("ref=1", "ref=2", "ref=3", "ref=4"):
        assert ref in message


@pytest.mark.parametrize(
    ("selector", "files"),
    [
        ("1", ["/", "/bar", "/foo"]),  # image manifest
        ("2", ["/", "/bat", "/baz"]),  # generic descriptor media type
        ("3", ["/", "/bar", "/foo"]),  # nested OCI index
        ("4", ["/", "/bar", "/foo"]),  # Docker manifest list
        ("@1", ["/", "/bat", "/baz"]),
    ],
)
def test_oci_index_entries_of_every_media_type(selector: str, files: list[str]) -> None:
    image = load(f"oci:oci-layouts/ggcr-test_index:{selector}")

    assert paths(image) == files


def test_multi_platform_tag_picks_the_host_platform(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    amd64 = load("oci:oci-layouts/regclient-testrepo:v1")
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    arm64 = load("oci:oci-layouts/regclient-testrepo:v1")

    assert amd64.config is not None
    assert arm64.config is not None
    assert (amd64.config.architecture, arm64.config.architecture) == ("amd64", "arm64")
    assert amd64.tags == arm64.tags == ("v1",)
    assert paths(amd64) == ["/", "/base.txt", "/layer1"]


def test_regclient_layout_leaves_artifacts_out() -> None:
    with pytest.raises(ImageError) as caught:
        load("oci:oci-layouts/regclient-testrepo")

    message = str(caught.value)
    assert message.startswith("regclient-testrepo: holds 25 images")
    # Signature, SBOM and build-info artifacts are not images to audit.
    for artifact in ("ref=a1 ", "ref=a-docker ", "ref=mirror ", "ref=child "):
        assert artifact not in message
    with pytest.raises(ImageError, match="no image named 'a-docker'"):
        load("oci:oci-layouts/regclient-testrepo:a-docker")


# --- archives that must fail, naming file and problem ---------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (
            "ggcr-null_manifest.tar",
            r"^ggcr-null_manifest\.tar: manifest\.json is null$",
        ),
        (
            "ggcr-no_manifest.tar",
            r"^ggcr-no_manifest\.tar: no manifest\.json; this is the legacy Docker "
            r"v1 save format",
        ),
        (
            "nexb-windows-mini-image.tar.gz",
            r"^nexb-windows-mini-image\.tar\.gz: [0-9a-f]{64}\.json: Windows images "
            r"are not supported",
        ),
        (
            "docker-archive:nexb-images-stub-layers.tar.gz:@0",
            r"^nexb-images-stub-layers\.tar\.gz: layer 0 \([0-9a-f]{64}/layer\.tar\): "
            r"not a tar archive",
        ),
    ],
)
def test_archives_that_cannot_be_audited(reference: str, expected: str) -> None:
    with pytest.raises(ImageError, match=expected):
        load(reference)


def test_stub_archive_configs_are_still_read_before_the_layers_fail() -> None:
    # The stub archive's config is real (juice-shop-ctf); only the layers
    # are placeholders, and that is reported, not papered over.
    with pytest.raises(ImageError, match="layer 0"):
        load("docker-archive:nexb-images-stub-layers.tar.gz:bkimminich/juice-shop-ctf")


# --- zstd -----------------------------------------------------------------------


def _zstd_oci_archive(path: Path, compress: Any) -> Path:
    """An OCI archive whose one layer is zstd-compressed with ``compress``."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        data = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    blob = compress(layer.getvalue())
    config = json.dumps({"os": "linux", "config": {"User": "1000"}}).encode()

    def descriptor(data: bytes, media: str) -> dict[str, Any]:
        return {
            "mediaType": media,
            "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }

    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": descriptor(config, "application/vnd.oci.image.config.v1+json"),
            "layers": [descriptor(blob, "application/vnd.oci.image.layer.v1.tar+zstd")],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                descriptor(manifest, "application/vnd.oci.image.manifest.v1+json")
            ],
        }
    ).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in [
            ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
            ("index.json", index),
            *[
                (f"blobs/sha256/{hashlib.sha256(d).hexdigest()}", d)
                for d in (config, manifest, blob)
            ],
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_zstd_layer_is_read_with_the_extra(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    archive = _zstd_oci_archive(
        tmp_path / "zstd.tar", zstandard.ZstdCompressor().compress
    )

    image = resolve(f"oci-archive:{archive}").load(frozenset({"/etc/passwd"}))

    assert image.filesystem.read("/etc/passwd") == b"root:x:0:0:root:/root:/bin/sh\n"
    assert image.config is not None
    assert image.config.user == "1000"


def test_zstd_layer_without_the_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A zstd frame header is enough: the reader must stop at the import.
    archive = _zstd_oci_archive(
        tmp_path / "zstd.tar", lambda data: b"\x28\xb5\x2f\xfd" + data
    )
    monkeypatch.setitem(sys.modules, "zstandard", None)

    with pytest.raises(ImageError) as caught:
        resolve(f"oci-archive:{archive}").load()

    message = str(caught.value)
    assert message.startswith("zstd.tar: layer 0 (sha256:")
    assert "zstd-compressed; install the zstd extra" in message
    assert "pytest-sentry-audit[zstd]" in message


def test_zstd_missing_through_a_failing_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _zstd_oci_archive(
        tmp_path / "zstd.tar", lambda data: b"\x28\xb5\x2f\xfd" + data
    )
    real_import = builtins.__import__

    def no_zstandard(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "zstandard":
            raise ImportError("No module named 'zstandard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "zstandard", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_zstandard)

    with pytest.raises(ImageError, match=r"install the zstd extra"):
        resolve(f"oci-archive:{archive}").load()


def test_gzip_outer_archive_round_trip(tmp_path: Path) -> None:
    # The same archive gzip-compressed as a whole reads the same.
    plain = DATA / "ggcr-test_image_1.tar"
    packed = tmp_path / "image.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))

    image = resolve(f"docker-archive:{packed}").load(frozenset({"/foo"}))

    assert paths(image) == ["/", "/bar", "/foo"]
    assert image.filesystem.read("/foo") == b"foo\n"


def _every_archive() -> list[str]:
    archives = sorted(p.name for p in DATA.iterdir() if p.is_file())
    layouts = sorted(f"oci-layouts/{p.name}" for p in (DATA / "oci-layouts").iterdir())
    return archives + layouts


# What each archive that cannot be audited as it stands says first.
REFUSED = {
    "ggcr-no_manifest.tar": "no manifest.json; this is the legacy Docker v1",
    "ggcr-null_manifest.tar": "manifest.json is null",
    "ggcr-test_bundle.tar": "holds 2 images",
    "ggcr-test_link.tar": "holds 2 images",
    "nexb-images-stub-layers.tar.gz": "holds 2 images",
    "nexb-windows-mini-image.tar.gz": "",
    "oci-layouts/ggcr-test_index": "holds 4 images",
    "oci-layouts/regclient-testrepo": "holds 25 images",
}


@pytest.mark.parametrize("name", _every_archive())
def test_every_archive_loads_or_names_its_problem(name: str) -> None:
    # Whatever is added to tests/data/images/ later is held to the same rule.
    if name not in REFUSED:
        image = load(name)
        assert image.filesystem.lstat("/") is not None
        assert all(path.startswith("/") for path in image.filesystem.paths())
        return

    with pytest.raises(ImageError) as caught:
        load(name)

    assert type(caught.value) is ImageError
    assert str(caught.value).startswith(f"{Path(name).name}: {REFUSED[name]}")


def test_linked_layers_archive_without_a_selector() -> None:
    with pytest.raises(ImageError) as caught:
        load("ggcr-test_link.tar")

    assert str(caught.value).startswith("ggcr-test_link.tar: holds 2 images")
    assert paths(load("docker-archive:ggcr-test_link.tar:@0")) == ["/", "/bar", "/foo"]
