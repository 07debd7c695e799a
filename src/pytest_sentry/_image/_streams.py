"""Bounded, forward-only readers for layer blobs.

Layers are read once, front to back. The compression is taken from the first
bytes, not from a media type or a file name, because archives in the wild
mislabel both (Docker 25 writes uncompressed layers under ``.tar.gz``-looking
names, and Dagger exports gzip layers under ``layer.tar``). A plain layer in
a seekable blob is read in place; any other is decompressed and counted, so
the size and ratio bounds hold however the data is packed.
"""

from __future__ import annotations

import io
import lzma
import tarfile
import zlib
from typing import IO, Any

from pytest_sentry._image._decompress import CHUNK, Compression, decoder, sniff
from pytest_sentry._image.interface import ImageError, ImageLimitError, Limits

# The ratio bound only applies past this many output bytes: small, highly
# repetitive layers (a few MB of zeros) are common and harmless.
RATIO_FLOOR = 64 * 1024 * 1024

# What reading through a tar, plain or compressed (an outer .tar.gz reads
# through gzip and lzma), raises when the data is cut short or damaged.
READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError)


class _BlobReader(io.RawIOBase):
    """The compressed side: counts bytes for the ratio bound, names read errors."""

    def __init__(self, blob: IO[bytes], subject: str) -> None:
        self._blob = blob
        self._subject = subject
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._blob.read(len(buffer))
        except READ_ERRORS as error:
            raise ImageError(
                f"{self._subject}: blob is truncated or unreadable ({error})"
            ) from error
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size


class _Bounded(io.RawIOBase):
    """The decompressed side: enforces the layer size and ratio bounds."""

    def __init__(
        self,
        inner: io.RawIOBase | io.BufferedIOBase,
        blob: _BlobReader,
        limits: Limits,
        subject: str,
    ) -> None:
        self._inner = inner
        self._blob = blob
        self._limits = limits
        self._subject = subject
        self.produced = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.produced

    def readinto(self, buffer: Any) -> int:
        size = self._inner.readinto(buffer) or 0
        self.produced += size
        if size:
            self._check()
        return size

    def _check(self) -> None:
        limits = self._limits
        if limits.max_layer_bytes and self.produced > limits.max_layer_bytes:
            raise ImageLimitError(
                f"{self._subject}: layer decompresses to more than "
                f"{limits.max_layer_bytes} bytes",
                "max_layer_bytes",
            )
        if not limits.max_ratio or self.produced < RATIO_FLOOR:
            return
        compressed = max(self._blob.count, 1)
        if self.produced > compressed * limits.max_ratio:
            raise ImageLimitError(
                f"{self._subject}: decompresses to more than {limits.max_ratio} "
                f"times its size ({self.produced} bytes from {compressed}); "
                "refusing a likely decompression bomb",
                "max_ratio",
            )


class LayerStream(io.BufferedReader):
    """A decompressed layer that tarfile can read in its random-access mode.

    ``seek`` only goes forward, by reading and dropping bytes. tarfile's own
    stream mode copies its whole buffer on every header it reads; this keeps
    headers at the cost of a C ``read`` and skipped data at a ``readinto``.
    """

    def __init__(
        self, raw: _Bounded, compression: Compression, limits: Limits, subject: str
    ) -> None:
        super().__init__(raw, buffer_size=CHUNK)
        self.compression = compression
        # zstandard's reader ends quietly on a cut stream; the others raise.
        self.ends_verified = compression is not Compression.ZSTD
        self._scratch = bytearray(CHUNK)
        self._limits = limits
        self._subject = subject

    def read(self, size: int | None = -1) -> bytes:
        _check_read(size, self._limits, self._subject)
        return super().read(size)

    def seekable(self) -> bool:
        return True

    def seek(self, target: int, whence: int = io.SEEK_SET) -> int:
        position = self.tell()
        if whence == io.SEEK_CUR:
            target += position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("layer streams only seek from the start")
        if target < position:
            raise io.UnsupportedOperation("layer streams cannot seek backwards")

        view = memoryview(self._scratch)
        while position < target:
            got = self.readinto(view[: min(target - position, CHUNK)])
            if not got:
                break
            position += got
        return position


class PlainLayer:
    """An uncompressed layer in a seekable blob, where skipping data is a seek.

    Most docker-archives (``docker save``, skopeo) hold uncompressed layers;
    seeking past file contents instead of reading them is what keeps the
    reader at the speed of a bare tarfile loop there. The bounds need no
    counting: what comes out is what is on disk.
    """

    compression = Compression.NONE
    ends_verified = True

    def __init__(
        self, blob: IO[bytes], start: int, limits: Limits, subject: str
    ) -> None:
        self._blob = blob
        self._start = start
        self._limits = limits
        self._subject = subject

    def read(self, size: int = -1) -> bytes:
        _check_read(size, self._limits, self._subject)
        try:
            data = self._blob.read(size)
        except READ_ERRORS as error:
            raise ImageError(
                f"{self._subject}: blob is truncated or unreadable ({error})"
            ) from error
        self._check_size()
        return data

    def tell(self) -> int:
        return self._blob.tell() - self._start

    def seek(self, target: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target += self._start
        position = self._blob.seek(target, whence) - self._start
        self._check_size()
        return position

    def _check_size(self) -> None:
        bound = self._limits.max_layer_bytes
        if bound and self.tell() > bound:
            raise ImageLimitError(
                f"{self._subject}: layer is larger than {bound} bytes",
                "max_layer_bytes",
            )

    def write(self, data: bytes) -> int:
        raise io.UnsupportedOperation("layers are read-only")

    def close(self) -> None:
        """The blob belongs to the store, which closes it."""


Layer = LayerStream | PlainLayer


def open_layer(blob: IO[bytes], subject: str, limits: Limits) -> Layer:
    """Wrap a raw layer blob in the right decompressor and the bounds.

    ``subject`` names the layer in errors. zstd needs the ``zstd`` extra; its
    absence is reported as such rather than as a corrupt layer.
    """
    if blob.seekable():
        start = blob.tell()
        head = PlainLayer(blob, start, limits, subject).read(8)
        blob.seek(start)
        if sniff(head) is Compression.NONE:
            return PlainLayer(blob, start, limits, subject)

    counter = _BlobReader(blob, subject)
    buffered = io.BufferedReader(counter, buffer_size=CHUNK)
    kind = sniff(buffered.peek(8)[:8])
    inner = decoder(kind, buffered, subject)
    return LayerStream(_Bounded(inner, counter, limits, subject), kind, limits, subject)


def _check_read(size: int | None, limits: Limits, subject: str) -> None:
    """Refuse one read larger than any a sound tar needs.

    tarfile reads headers by the block, contents in small pieces, and an
    extended header (PAX, GNU long name) in one read of the size the header
    claims; that claim is held to the metadata bound before anything is
    allocated for it.
    """
    bound = limits.max_metadata_bytes
    if bound and size is not None and size > bound:
        raise ImageLimitError(
            f"{subject}: an extended tar header claims {size} bytes, over the "
            f"{bound}-byte metadata bound",
            "max_metadata_bytes",
        )
