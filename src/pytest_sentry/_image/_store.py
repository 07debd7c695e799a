"""Named files inside an outer archive or a directory, read without unpacking.

Both docker-archive and OCI layouts are "a few JSON files plus blobs"; the
stores let one reader serve tars, compressed tars and directories alike.
"""

from __future__ import annotations

import abc
import os
import posixpath
import stat
import tarfile
from pathlib import Path
from typing import IO

from pytest_sentry._image._outer import open_outer
from pytest_sentry._image._streams import READ_ERRORS
from pytest_sentry._image.interface import ImageError, ImageLimitError, Limits

_PIECE = 64 * 1024


# Links between members of an outer archive (ggcr writes some): a chain this
# long is a loop.
_MAX_LINK_HOPS = 16


class Store(abc.ABC):
    """A read-only set of named files: an outer tar or a directory."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits

    @property
    def subject(self) -> str:
        return self.path.name or str(self.path)

    @abc.abstractmethod
    def names(self) -> frozenset[str]:
        """Every regular file's name, relative, with ``/`` separators."""

    @abc.abstractmethod
    def open(self, name: str) -> IO[bytes]:
        """A stream of one file; :class:`ImageError` if absent."""

    def has(self, name: str) -> bool:
        return _clean(name) in self.names()

    def read_small(self, name: str) -> bytes:
        """A metadata file (manifest, index, config) under the metadata bound.

        Read in pieces: one read of the whole bound would allocate all of it
        for every small JSON file.
        """
        bound = self.limits.max_metadata_bytes
        pieces = []
        size = 0
        with self.open(name) as handle:
            while True:
                try:
                    piece = handle.read(_PIECE)
                except READ_ERRORS as error:
                    raise ImageError(
                        f"{self.subject}: {name} is truncated or unreadable ({error})"
                    ) from error
                if not piece:
                    break
                pieces.append(piece)
                size += len(piece)
                if bound and size > bound:
                    raise ImageLimitError(
                        f"{self.subject}: {name} is larger than {bound} bytes",
                        "max_metadata_bytes",
                    )
        return b"".join(pieces)

    def close(self) -> None:
        """Release what the store holds open."""


def _clean(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


class TarStore(Store):
    """Files inside a tar on disk, plain or compressed."""

    def __init__(self, path: Path, limits: Limits) -> None:
        super().__init__(path, limits)
        # Random access into a compressed outer tar re-reads from the start,
        # which is fine for the small archives that come compressed.
        self._tar, members = open_outer(path, limits)
        self._members: dict[str, tarfile.TarInfo] = {}
        for member in members:
            if member.isfile() or member.issym() or member.islnk():
                self._members[_clean(member.name)] = member

    def names(self) -> frozenset[str]:
        return frozenset(self._members)

    def open(self, name: str) -> IO[bytes]:
        member = self._follow(name)
        try:
            handle = self._tar.extractfile(member)
        except READ_ERRORS as error:
            raise ImageError(f"{self.subject}: cannot read {name} ({error})") from error
        if handle is None:
            raise ImageError(f"{self.subject}: {name} is not a regular file")
        return handle

    def _follow(self, name: str) -> tarfile.TarInfo:
        """The regular member ``name`` leads to; links stay inside the archive.

        Followed here, with a bound, rather than by tarfile, which recurses
        without one on a link loop.
        """
        current = _clean(name)
        for _hop in range(_MAX_LINK_HOPS):
            member = self._members.get(current)
            if member is None:
                missing = "" if current == _clean(name) else f" (via {current})"
                raise ImageError(f"{self.subject}: no {name} in the archive{missing}")
            if member.isfile():
                return member
            if member.islnk():
                current = _clean(member.linkname)
            else:
                base = "" if member.linkname.startswith("/") else member.name
                current = _clean(
                    posixpath.join(posixpath.dirname(base), member.linkname)
                )
        raise ImageError(f"{self.subject}: {name} is a link loop inside the archive")

    def close(self) -> None:
        self._tar.close()
        if self._tar.fileobj is not None:
            self._tar.fileobj.close()


class DirStore(Store):
    """Files inside a directory; nothing outside it is ever opened."""

    def __init__(self, path: Path, limits: Limits) -> None:
        super().__init__(path, limits)
        self._root = path.resolve()
        self._names: frozenset[str] | None = None

    def names(self) -> frozenset[str]:
        if self._names is None:
            found = set()
            for folder, _dirs, files in os.walk(self._root):
                relative = os.path.relpath(folder, self._root)
                for file in files:
                    found.add(
                        _clean(posixpath.join(relative.replace(os.sep, "/"), file))
                    )
            self._names = frozenset(found)
        return self._names

    def open(self, name: str) -> IO[bytes]:
        target = (self._root / _clean(name)).resolve()
        if not target.is_relative_to(self._root):
            raise ImageError(f"{self.subject}: {name} leads outside the layout")
        try:
            if not stat.S_ISREG(target.stat().st_mode):
                raise ImageError(f"{self.subject}: {name} is not a regular file")
            return target.open("rb")
        except FileNotFoundError as error:
            raise ImageError(f"{self.subject}: no {name} in the layout") from error
        except OSError as error:
            raise ImageError(f"{self.subject}: cannot read {name} ({error})") from error
