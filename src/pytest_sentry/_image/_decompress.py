"""Decompressors for layer blobs, chosen by their first bytes.

Each turns the library's own errors into an :class:`ImageError` naming the
layer, so a corrupt or cut layer is reported as such, never as a zlib or
lzma traceback.
"""

from __future__ import annotations

import bz2
import enum
import io
import lzma
import zlib
from typing import IO, Any

from pytest_sentry._image.interface import ImageError

CHUNK = 256 * 1024


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


class GzipReader(io.RawIOBase):
    """gzip with large reads and concatenated members (eStargz writes many).

    ``gzip.GzipFile`` reads in small chunks; this keeps decompression at the
    speed of ``gzip -dc`` on large layers.
    """

    def __init__(self, source: IO[bytes], subject: str) -> None:
        self._source = source
        self._subject = subject
        self._inflate = zlib.decompressobj(wbits=31)
        self._input = b""
        self._in_member = False
        self._output = b""
        self._offset = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._offset >= len(self._output):
            if self._eof:
                return 0
            self._fill()
        size = min(len(buffer), len(self._output) - self._offset)
        buffer[:size] = memoryview(self._output)[self._offset : self._offset + size]
        self._offset += size
        return size

    def _fill(self) -> None:
        if self._inflate.eof:
            # One member done; whatever follows starts the next one.
            self._input = self._inflate.unused_data + self._input
            self._inflate = zlib.decompressobj(wbits=31)
            self._in_member = False

        if not self._input:
            self._input = self._source.read(CHUNK)
            if not self._input:
                if self._in_member:
                    raise ImageError(f"{self._subject}: gzip data is truncated")
                self._eof = True
                return

        if not self._in_member:
            # Zero padding after the last member is common and harmless, as
            # `gzip -d` agrees; anything else must be another member.
            self._input = self._input.lstrip(b"\x00")
            if not self._input:
                return
            self._in_member = True

        try:
            self._output = self._inflate.decompress(self._input, CHUNK)
        except zlib.error as error:
            raise ImageError(
                f"{self._subject}: gzip data is corrupt ({error})"
            ) from error
        self._offset = 0
        self._input = self._inflate.unconsumed_tail


def decoder(
    kind: Compression, buffered: io.BufferedReader[Any], subject: str
) -> io.RawIOBase | io.BufferedIOBase:
    """A reader of the decompressed bytes of ``buffered``."""
    if kind is Compression.GZIP:
        return GzipReader(buffered, subject)
    if kind is Compression.ZSTD:
        return _zstd_reader(buffered, subject)
    if kind is Compression.BZIP2:
        return _Decoded(bz2.BZ2File(buffered), subject, (OSError, EOFError))
    if kind is Compression.XZ:
        return _Decoded(lzma.LZMAFile(buffered), subject, (lzma.LZMAError, EOFError))
    return buffered


class _Decoded(io.RawIOBase):
    """A library decompressor whose own errors become the layer's problem."""

    def __init__(
        self,
        inner: IO[bytes],
        subject: str,
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self._inner = inner
        self._subject = subject
        self._errors = errors

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._inner.read(len(buffer))
        except self._errors as error:
            raise ImageError(
                f"{self._subject}: compressed data is corrupt or truncated ({error})"
            ) from error
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
    return _Decoded(reader, subject, (zstandard.ZstdError, OSError))
