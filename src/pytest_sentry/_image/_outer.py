"""Open an outer archive (docker-archive or OCI layout tar) under the bounds.

A compressed outer archive (``app.tar.gz``) is decompressed through a
counting wrapper, so a small file that inflates to gigabytes is refused like
a layer would be; members are counted while they are listed, so an archive
with millions of entries stops at the bound instead of after listing them.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from pathlib import Path
from typing import IO, Any

from pytest_sentry._image._decompress import Compression, sniff
from pytest_sentry._image._streams import RATIO_FLOOR, READ_ERRORS
from pytest_sentry._image._tar import Probe, ProbedTar, is_truncation
from pytest_sentry._image.interface import ImageError, ImageLimitError, Limits


class _Inflated:
    """A compressed outer archive, seekable, under the ratio bound."""

    def __init__(
        self, raw: IO[bytes], inner: Any, limits: Limits, subject: str
    ) -> None:
        self._raw = raw
        self._inner = inner
        self._limits = limits
        self._subject = subject

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._inner.read(size)
        self._check()
        return data

    def seek(self, target: int, whence: int = io.SEEK_SET) -> int:
        position: int = self._inner.seek(target, whence)
        self._check()
        return position

    def tell(self) -> int:
        position: int = self._inner.tell()
        return position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        raise io.UnsupportedOperation("archives are read-only")

    def close(self) -> None:
        self._inner.close()
        self._raw.close()

    def _check(self) -> None:
        ratio = self._limits.max_ratio
        produced = self._inner.tell()
        if not ratio or produced < RATIO_FLOOR:
            return
        consumed = max(self._raw.tell(), 1)
        if produced > consumed * ratio:
            raise ImageLimitError(
                f"{self._subject}: archive decompresses to more than {ratio} times "
                f"its size ({produced} bytes from {consumed}); refusing a likely "
                "decompression bomb",
                "max_ratio",
            )


def open_outer(path: Path, limits: Limits) -> tuple[ProbedTar, list[tarfile.TarInfo]]:
    """The opened archive and its members, or an ImageError saying why not.

    The archive's ``fileobj`` is opened here: close it after the archive.
    """
    subject = path.name
    fileobj = _open(path, limits)
    try:
        tar = ProbedTar.open(fileobj=fileobj, mode="r:", tarinfo=Probe)
    except tarfile.ReadError as error:
        fileobj.close()
        # tarfile raises ReadError here only for the first header: a file
        # shorter than one is no tar, whatever it was meant to be.
        if is_truncation(error):
            raise ImageError(f"{subject}: archive is truncated") from error
        raise ImageError(f"{subject}: not a tar archive ({error})") from error
    except READ_ERRORS as error:
        fileobj.close()
        raise _unreadable(subject, error) from error
    except ImageError:
        fileobj.close()
        raise

    try:
        members = _members(tar, limits, subject)
    except BaseException:
        tar.close()
        fileobj.close()
        raise
    return tar, members


def _members(tar: ProbedTar, limits: Limits, subject: str) -> list[tarfile.TarInfo]:
    members = []
    while True:
        try:
            member = tar.next()
        except READ_ERRORS as error:
            raise _unreadable(subject, error) from error
        if member is None:
            break
        members.append(member)
        if limits.max_members and len(members) > limits.max_members:
            raise ImageLimitError(
                f"{subject}: more than {limits.max_members} entries in the archive",
                "max_members",
            )

    damage = tar.damage()
    if damage is not None:
        raise ImageError(f"{subject}: archive is {damage}")
    return members


def _open(path: Path, limits: Limits) -> IO[bytes] | _Inflated:
    """The file, behind a bounded decompressor if it is compressed."""
    try:
        raw = path.open("rb")
        kind = sniff(raw.read(8))
        raw.seek(0)
    except OSError as error:
        raise ImageError(f"{path.name}: cannot read ({error})") from error

    inner: Any
    if kind is Compression.GZIP:
        inner = gzip.GzipFile(fileobj=raw, mode="rb")
    elif kind is Compression.BZIP2:
        inner = bz2.BZ2File(raw)
    elif kind is Compression.XZ:
        inner = lzma.LZMAFile(raw)
    else:
        # Plain, or zstd, which tarfile cannot read: it then says "not a tar".
        return raw
    return _Inflated(raw, inner, limits, path.name)


def _unreadable(subject: str, error: BaseException) -> ImageError:
    if is_truncation(error):
        return ImageError(f"{subject}: archive is truncated")
    return ImageError(f"{subject}: unreadable archive ({error})")
