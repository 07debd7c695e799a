"""The entries of one decompressed layer tar, with every failure named.

tarfile takes a header that is cut short or garbled after the first entry
for the end of the archive. A layer like that is damaged, and auditing the
part before the damage would report on an image nobody can run, so the walker
tells those stops apart from a proper end, as Go's archive/tar (and so every
container runtime) does.
"""

from __future__ import annotations

import copy
import logging
import tarfile
from collections.abc import Iterator
from typing import Self

from pytest_sentry._image._streams import READ_ERRORS, Layer
from pytest_sentry._image.interface import ImageError, ImageLimitError, Limits

logger = logging.getLogger(__name__)


# How tarfile stops at a proper end: a zero block, or no bytes at all (Go
# accepts a tar without its two zero blocks too).
_PROPER_ENDS = frozenset({"EOFHeaderError", "EmptyHeaderError"})

# tarfile keeps every member it has read; nothing here needs them again, so
# they are dropped this often to keep memory flat.
_FORGET_EVERY = 512


class ProbedTar(tarfile.TarFile):
    """A TarFile that remembers why it stopped reading headers.

    Open it with ``ProbedTar.open(..., tarinfo=Probe)``.
    """

    members: list[tarfile.TarInfo]  # present at runtime, missing from typeshed
    stopped_by: tarfile.HeaderError | None = None

    def damage(self, needs_marker: bool = False) -> str | None:
        """What is wrong with where reading stopped; ``None`` for a proper end.

        ``needs_marker`` refuses an end without the zero blocks, for streams
        whose decompressor cannot tell a cut from an end (zstd).
        """
        stop = self.stopped_by
        kind = type(stop).__name__
        if kind == "EmptyHeaderError" and needs_marker:
            return "truncated (no end-of-archive marker)"
        if stop is None or kind in _PROPER_ENDS:
            return None
        if kind == "TruncatedHeaderError":
            return "truncated (a header is cut short)"
        return f"corrupt (bad tar header: {stop})"


class Probe(tarfile.TarInfo):
    """Records, on a :class:`ProbedTar`, why tarfile stopped reading headers."""

    @classmethod
    def fromtarfile(cls, archive: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(archive)
        except tarfile.HeaderError as error:
            if isinstance(archive, ProbedTar):
                # Without its traceback: the frames would hold the archive,
                # its stream and their buffers in a cycle until the next gc.
                archive.stopped_by = copy.copy(error).with_traceback(None)
            raise


def is_truncation(error: BaseException) -> bool:
    """Does a tarfile error mean the data ended early?"""
    return isinstance(error, EOFError) or "unexpected end of data" in str(error)


class LayerEntries:
    """Iterate one layer's entries; :meth:`read` gives the current one's data."""

    def __init__(self, stream: Layer, subject: str, limits: Limits) -> None:
        self._subject = subject
        self._limits = limits
        self._tar: ProbedTar | None = None
        self._ends_verified = stream.ends_verified
        try:
            self._tar = ProbedTar.open(fileobj=stream, mode="r:", tarinfo=Probe)
        except READ_ERRORS as error:
            if stream.tell() == 0 and "empty" in str(error):
                if not stream.ends_verified:
                    raise ImageError(
                        f"{subject}: layer is truncated ({stream.compression.value} "
                        "data decompresses to nothing)"
                    ) from error
                # A zero-byte layer: Go's reader sees an empty archive.
                logger.debug("%s: empty layer", subject)
                return
            raise ImageError(f"{subject}: not a tar archive ({error})") from error

    def __iter__(self) -> Iterator[tarfile.TarInfo]:
        tar = self._tar
        if tar is None:
            return
        subject = self._subject
        max_member = self._limits.max_member_bytes
        max_layer = self._limits.max_layer_bytes
        seen = 0
        claimed = 0

        while True:
            try:
                member = tar.next()
            except READ_ERRORS as error:
                raise self._damaged(seen, error) from error
            if member is None:
                self._check_end(tar, seen)
                return

            seen += 1
            if seen % _FORGET_EVERY == 0:
                tar.members.clear()

            # Claimed sizes are checked before any data is read, so a bomb
            # that announces itself is refused without inflating it.
            claimed += member.size
            if max_member and member.size > max_member:
                raise ImageLimitError(
                    f"{subject}: entry {member.name!r} is {member.size} bytes, "
                    f"over the {max_member}-byte bound",
                    "max_member_bytes",
                )
            if max_layer and claimed > max_layer:
                raise ImageLimitError(
                    f"{subject}: layer exceeds {max_layer} bytes", "max_layer_bytes"
                )
            yield member

    def read(self, member: tarfile.TarInfo) -> bytes:
        """The data of the entry just yielded (the stream cannot go back)."""
        if self._tar is None:
            return b""
        try:
            handle = self._tar.extractfile(member)
            return b"" if handle is None else handle.read()
        except READ_ERRORS as error:
            raise ImageError(
                f"{self._subject}: {member.name} is truncated ({error})"
            ) from error

    def close(self) -> None:
        # TarInfo objects point back at their TarFile; breaking the cycle
        # frees the decompression buffers now rather than at the next gc.
        if self._tar is not None:
            self._tar.members.clear()
            self._tar.close()
            self._tar = None

    def _damaged(self, seen: int, error: BaseException) -> ImageError:
        if is_truncation(error):
            return ImageError(
                f"{self._subject}: layer is truncated (data ends inside entry {seen})"
            )
        return ImageError(
            f"{self._subject}: corrupt tar data after {seen} entries ({error})"
        )

    def _check_end(self, tar: ProbedTar, seen: int) -> None:
        damage = tar.damage(needs_marker=not self._ends_verified)
        if damage is not None:
            raise ImageError(
                f"{self._subject}: layer is {damage} after {seen} entries"
            ) from tar.stopped_by
