"""Coverage-guided fuzzing of the image reader with atheris (libFuzzer).

Run by hand, for as long as you like (``pip install atheris`` first)::

    python benchmarks/fuzz_reader.py -max_total_time=600
    python benchmarks/fuzz_reader.py -max_total_time=600 -jobs=2 -workers=2
    python benchmarks/fuzz_reader.py crash-1234abcd        # replay one input

Each input is used three ways: as the one layer of a docker-archive (the
first byte picks a compression), as a whole outer archive, and as the
manifest.json of an otherwise valid docker-archive; the small archives
of tests/data/images/ seed the corpus. The reader must give an
image or an ImageError whose message starts with the archive's name; any
other exception is a crash, and libFuzzer writes the input that caused it
to ``crash-<sha1>`` under the artifact directory (a temporary directory that
is printed first, unless ``-artifact_prefix=DIR/`` is given). Tight Limits
keep each input fast; ``-timeout=N`` (default 10 s here) reports hangs.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import logging
import lzma
import sys
import tarfile
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["pytest_sentry", "tarfile", "json"]):
    from pytest_sentry._image._resolve import resolve
    from pytest_sentry._image.interface import DEFAULT_CONTENT_PATHS, ImageError, Limits

LIMITS = Limits(
    max_layer_bytes=4 * 1024 * 1024,
    max_member_bytes=1024 * 1024,
    max_members=2000,
    max_ratio=50,
    max_content_bytes=4096,
    max_metadata_bytes=256 * 1024,
)
CONFIG = b'{"os": "linux", "config": {"User": "app", "Env": ["PATH=/bin"]}}'

_WORK = Path(tempfile.mkdtemp(prefix="sentry-fuzz-reader-"))


def _compress(kind: int, data: bytes) -> bytes:
    if kind == 1:
        return gzip.compress(data, mtime=0)
    if kind == 2:
        return bz2.compress(data)
    if kind == 3:
        return lzma.compress(data)
    if kind == 4:
        import zstandard

        return bytes(zstandard.ZstdCompressor().compress(data))
    return data


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _docker(layer: bytes, manifest: bytes | None = None) -> bytes:
    if manifest is None:
        manifest = json.dumps(
            [{"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["l.tar"]}]
        ).encode()
    return _tar({"config.json": CONFIG, "l.tar": layer, "manifest.json": manifest})


def _load(archive: bytes, name: str, reference: str) -> None:
    path = _WORK / name
    path.write_bytes(archive)
    try:
        resolve(reference.format(path=path)).load(DEFAULT_CONTENT_PATHS, LIMITS)
    except ImageError as error:
        if not str(error).startswith(f"{name}: "):
            raise AssertionError(f"message does not name {name}: {error}") from error


def test_one_input(data: bytes) -> None:
    if not data:
        return
    kind, body = data[0] % 5, data[1:]
    _load(_docker(_compress(kind, body)), "layer.tar", "docker-archive:{path}")
    _load(body, "outer.tar", "{path}")
    _load(_docker(_tar({}), manifest=body), "manifest.tar", "docker-archive:{path}")


def seed_corpus() -> Path:
    """The small real archives of tests/data/images/, uncompressed-layer byte
    first, so mutations start from real headers."""
    corpus = Path(tempfile.mkdtemp(prefix="sentry-fuzz-reader-corpus-"))
    images = Path(__file__).resolve().parent.parent / "tests" / "data" / "images"
    for archive in sorted(images.glob("*.tar*")):
        if archive.stat().st_size <= 64 * 1024:
            (corpus / archive.name).write_bytes(b"\x00" + archive.read_bytes())
    return corpus


def main() -> None:
    # The reader warns about tolerated oddities, which fuzz inputs are full of.
    logging.getLogger("pytest_sentry").setLevel(logging.ERROR)
    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):
        # libFuzzer adds what it finds to this folder; it is kept for reuse.
        corpus = seed_corpus()
        argv.append(str(corpus))
        print(f"corpus: {corpus}", flush=True)
    if not any(a.startswith("-artifact_prefix=") for a in argv):
        artifacts = Path(tempfile.mkdtemp(prefix="sentry-fuzz-artifacts-"))
        argv.append(f"-artifact_prefix={artifacts}/")
        print(f"artifacts go to {artifacts}/", flush=True)
    if not any(a.startswith("-timeout=") for a in argv):
        argv.append("-timeout=10")
    if not any(a.startswith("-rss_limit_mb=") for a in argv):
        argv.append("-rss_limit_mb=1024")
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
