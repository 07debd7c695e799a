"""Decompressing, counting readers for layer blobs.

Layers are read once, front to back. The compression is taken from the first
bytes, not from a media type or a file name, because archives in the wild
mislabel both (Docker 25 writes uncompressed layers under ``.tar.gz``-looking
names, and Dagger exports gzip layers under ``layer.tar``).
"""

from __future__ import annotations

import bz2
import enum
import io
import lzma
import zlib
from typing import IO, Any

from pytest_sentry._image.interface import ImageError, ImageLimitError, Limits

_CHUNK = 1024 * 1024

# The ratio bound only applies past this many output bytes: small, highly
# repetitive layers (a few MB of zeros) are common and harmless.
_RATIO_FLOOR = 64 * 1024 * 1024


class Compression(enum.Enum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"
    BZIP2 = "bzip2"
    XZ = "xz"


_MAGIC = (
    (b"\x1f\x8b", Compression.GZIP),
    (b"\x28\xb5\x2f\xfd", Compression.ZSTD),
    (b"BZh", Compression.BZIP2),
    (b"\xfd7zXZ\x00", Compression.XZ),
)


def sniff(head: bytes) -> Compression:
    """The compression of a blob, from its first bytes."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return Compression.NONE


class _CountingReader(io.RawIOBase):
    """Counts bytes read from the compressed side, for the ratio bound."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size


class _GzipReader(io.RawIOBase):
    """A gzip reader with large reads and support for concatenated members.

    ``gzip.GzipFile`` reads in small chunks; this keeps decompression at the
    speed of ``gzip -dc`` on large layers.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._eof = False
        self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        while not self._pending and not self._eof:
            self._fill(want)
        size = min(want, len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _fill(self, want: int) -> None:
        if self._inflate.unconsumed_tail:
            data = self._inflate.unconsumed_tail
        else:
            data = self._raw.read(_CHUNK)
            if not data:
                if not self._inflate.eof and self._started:
                    raise ImageError("gzip stream: truncated before its end")
                self._eof = True
                return
        self._started = True
        try:
            self._pending = self._inflate.decompress(data, max(want, _CHUNK))
        except zlib.error as error:
            raise ImageError(f"gzip stream: corrupt data ({error})") from error

        if self._inflate.eof:
            rest = self._inflate.unused_data
            self._inflate = zlib.decompressobj(wbits=31)
            self._started = False
            if rest.strip(b"\x00"):
                self._pending += self._inflate.decompress(rest, _CHUNK)
                self._started = True


class LayerStream(io.BufferedReader):
    """A decompressed layer with counters for the limits."""

    def __init__(self, raw: io.RawIOBase, counter: _CountingReader) -> None:
        super().__init__(raw, buffer_size=_CHUNK)
        self._counter = counter

    @property
    def compressed_bytes(self) -> int:
        return self._counter.count


def open_layer(blob: IO[bytes], subject: str) -> tuple[LayerStream, Compression]:
    """Wrap a raw layer blob in the right decompressor.

    ``subject`` names the layer in errors. zstd needs the ``zstd`` extra; its
    absence is reported as such rather than as a corrupt layer.
    """
    counter = _CountingReader(blob)
    buffered = io.BufferedReader(counter, buffer_size=_CHUNK)
    kind = sniff(buffered.peek(8)[:8])

    raw: io.RawIOBase
    if kind is Compression.GZIP:
        raw = _GzipReader(buffered)
    elif kind is Compression.ZSTD:
        raw = _zstd_reader(buffered, subject)
    elif kind is Compression.BZIP2:
        raw = _Adapter(bz2.BZ2File(buffered))
    elif kind is Compression.XZ:
        raw = _Adapter(lzma.LZMAFile(buffered))
    else:
        raw = _Adapter(buffered)
    return LayerStream(raw, counter), kind


class _Adapter(io.RawIOBase):
    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _zstd_reader(buffered: IO[bytes], subject: str) -> io.RawIOBase:
    try:
        import zstandard  # noqa: PLC0415 - optional extra, imported only when needed
    except ImportError as error:
        raise ImageError(
            f"{subject}: layer is zstd-compressed; install the zstd extra "
            "(pip install 'pytest-sentry-audit[zstd]')"
        ) from error
    reader = zstandard.ZstdDecompressor().stream_reader(
        buffered, read_across_frames=True
    )
    return _Adapter(reader)


def check_ratio(
    stream: LayerStream, produced: int, limits: Limits, subject: str
) -> None:
    """Stop a decompression bomb once it has produced enough to tell."""
    if not limits.max_ratio or produced < _RATIO_FLOOR:
        return
    compressed = max(stream.compressed_bytes, 1)
    if produced > compressed * limits.max_ratio:
        raise ImageLimitError(
            f"{subject}: decompresses to more than {limits.max_ratio} times its "
            f"size ({produced} bytes from {compressed}); refusing a likely "
            "decompression bomb"
        )
