"""Apply layer tars, in order, to one merged path index.

The rules are the OCI image spec's, applied the way ``umoci unpack`` applies
them, so that the index matches what a runtime would see:

- a later entry replaces an earlier one, except that a directory over a
  directory only updates its metadata;
- ``.wh.<name>`` deletes ``<name>`` and ``.wh..wh..opq`` empties a directory,
  but only of what *lower* layers put there: an entry of the same layer
  stays, whichever comes first in the tar;
- a hard link copies its target's metadata (and captured content);
- names are normalised inside the image root, and parents are resolved
  through symbolic links inside the root too, creating missing directories,
  so nothing an archive says can point outside the image.

What a runtime would refuse (a hard link to nothing, a parent that is a file,
a symbolic link loop on the way) is an :class:`ImageError`.
"""

from __future__ import annotations

import dataclasses
import logging
import posixpath
import tarfile
from typing import IO

from pytest_sentry._image._streams import open_layer
from pytest_sentry._image._tar import LayerEntries
from pytest_sentry._image.interface import (
    MAX_SYMLINK_HOPS,
    FileEntry,
    FileSystem,
    FileType,
    ImageError,
    ImageLimitError,
    Limits,
    normalize,
)

logger = logging.getLogger(__name__)

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_ROOT_OPAQUE = "/" + _OPAQUE
_AUFS_META = "/.wh..wh."
_AUFS_LINKS = "/.wh..wh.plnk/"

# eStargz puts its table of contents and prefetch markers in the layer tar;
# they are not part of the image's filesystem.
_ESTARGZ_NAMES = frozenset(
    {"stargz.index.json", ".prefetch.landmark", ".no.prefetch.landmark"}
)

_TYPES = {
    tarfile.REGTYPE: FileType.FILE,
    tarfile.AREGTYPE: FileType.FILE,
    tarfile.CONTTYPE: FileType.FILE,
    tarfile.GNUTYPE_SPARSE: FileType.FILE,
    tarfile.DIRTYPE: FileType.DIRECTORY,
    tarfile.SYMTYPE: FileType.SYMLINK,
    tarfile.CHRTYPE: FileType.CHARDEV,
    tarfile.BLKTYPE: FileType.BLOCKDEV,
    tarfile.FIFOTYPE: FileType.FIFO,
}


class _Refused(Exception):
    """An entry a runtime would refuse to unpack; the text says why."""


class LayerMerger:
    """Builds a :class:`FileSystem` from layers applied bottom to top."""

    def __init__(self, content_paths: frozenset[str], limits: Limits) -> None:
        self._content_paths = frozenset(normalize(p) for p in content_paths)
        self._content_names = frozenset(
            posixpath.basename(p) for p in self._content_paths
        )
        self._limits = limits
        self._entries: dict[str, FileEntry] = {}
        self._children: dict[str, set[str]] = {"/": set()}
        # Paths the current layer created, with their ancestors: what its
        # whiteouts must leave alone (umoci calls them upper paths).
        self._upper: set[str] = set()
        self._fs = FileSystem(self._entries)
        self._aufs_links: dict[str, FileEntry] = {}
        self.members = 0

    @property
    def filesystem(self) -> FileSystem:
        return self._fs

    def apply(self, blob: IO[bytes], subject: str) -> None:
        """Stream one layer blob (any supported compression) onto the index."""
        self._upper = set()
        stream = open_layer(blob, subject, self._limits)
        logger.debug("%s: applying a %s layer", subject, stream.compression.value)

        entries = LayerEntries(stream, subject, self._limits)
        max_members = self._limits.max_members
        try:
            for member in entries:
                self.members += 1
                if max_members and self.members > max_members:
                    raise ImageLimitError(
                        f"{subject}: more than {max_members} entries in the image",
                        "max_members",
                    )
                try:
                    self._apply_member(member, entries)
                except _Refused as error:
                    raise ImageError(f"{subject}: {member.name}: {error}") from error
        finally:
            entries.close()
            stream.close()

    def _apply_member(self, member: tarfile.TarInfo, entries: LayerEntries) -> None:
        path = normalize(member.name)
        if path == "/":
            self._set_root(member)
            return
        parent, _, base = path.rpartition("/")
        parent = parent or "/"

        if path.startswith(_AUFS_META) and path != _ROOT_OPAQUE:
            self._aufs_meta(member, path, base)
            return
        if base.startswith(_WHITEOUT):
            self._whiteout(parent, base)
            return
        if parent == "/" and base in _ESTARGZ_NAMES:
            return

        if parent not in self._children:
            parent = self._make_dirs(self._locate(parent))
        path = f"{parent}/{base}" if parent != "/" else f"/{base}"

        if member.islnk():
            entry = self._hardlink(member)
        else:
            kind = _TYPES.get(member.type)
            if kind is None:
                logger.debug("%s: tar type %r, skipped", member.name, member.type)
                return
            entry = _entry(member, kind)
            if (
                kind is FileType.FILE
                and base in self._content_names
                and _fits(member.size, self._limits.max_content_bytes)
                and self._wanted(path)
            ):
                entry.content = entries.read(member)

        self._put(path, parent, entry)

    def _aufs_meta(self, member: tarfile.TarInfo, path: str, base: str) -> None:
        # Docker skips AUFS metadata too, but keeps the files of .wh..wh.plnk
        # as targets for the hard links that AUFS-era layers point there.
        if path.startswith(_AUFS_LINKS) and member.isfile():
            self._aufs_links[base] = _entry(member, FileType.FILE)

    def _set_root(self, member: tarfile.TarInfo) -> None:
        if member.isdir():
            self._entries["/"] = _entry(member, FileType.DIRECTORY)
        else:
            logger.warning(
                "%s: an image root that is not a directory; ignored", member.name
            )

    def _wanted(self, path: str) -> bool:
        """Is ``path`` a content path, or one seen through a symbolic link?"""
        if path in self._content_paths:
            return True
        folder, _, base = path.rpartition("/")
        for wanted in self._content_paths:
            wanted_folder, _, wanted_base = wanted.rpartition("/")
            if wanted_base != base:
                continue
            try:
                if self._locate(wanted_folder or "/") == (folder or "/"):
                    return True
            except _Refused:
                continue
        return False

    def _locate(self, path: str) -> str:
        """Where ``path`` really is, following links inside the root.

        Missing components are taken as they are, as securejoin does for
        umoci; a loop or more than ``MAX_SYMLINK_HOPS`` links is refused.
        """
        pending = path.split("/")[::-1]
        resolved = "/"
        hops = 0

        while pending:
            part = pending.pop()
            if not part or part == ".":
                continue
            if part == "..":
                resolved = resolved.rpartition("/")[0] or "/"
                continue
            candidate = f"{resolved}/{part}" if resolved != "/" else f"/{part}"
            entry = self._entries.get(candidate)
            if entry is None or entry.type is not FileType.SYMLINK:
                resolved = candidate
                continue

            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise _Refused(f"too many levels of symbolic links at {candidate}")
            if entry.link_target.startswith("/"):
                resolved = "/"
            pending.extend(entry.link_target.split("/")[::-1])

        return resolved

    def _make_dirs(self, real: str) -> str:
        """Create the missing directories of a real path, like ``mkdir -p``."""
        missing = []
        current = real
        while current not in self._children:
            if current in self._entries:
                raise _Refused(f"parent {current} is not a directory")
            missing.append(current)
            current = current.rpartition("/")[0] or "/"

        for path in reversed(missing):
            self._put(
                path,
                path.rpartition("/")[0] or "/",
                FileEntry(FileType.DIRECTORY, mode=0o755),
            )
        return real

    def _hardlink(self, member: tarfile.TarInfo) -> FileEntry:
        link = normalize(member.linkname)
        folder, _, base = link.rpartition("/")
        if link.startswith(_AUFS_LINKS):
            target = self._aufs_links.get(base)
        else:
            real = self._locate(folder or "/")
            target = self._entries.get(f"{real}/{base}" if real != "/" else f"/{base}")
        if target is None:
            raise _Refused(f"hard link to missing {member.linkname}")
        if target.type is FileType.DIRECTORY:
            raise _Refused(f"hard link to directory {member.linkname}")
        return dataclasses.replace(target)

    def _put(self, path: str, parent: str, entry: FileEntry) -> None:
        old = self._entries.get(path)
        is_dir = entry.type is FileType.DIRECTORY
        if old is not None and old.type is FileType.DIRECTORY and not is_dir:
            self._remove(path)
        self._entries[path] = entry
        self._children[parent].add(path)
        if is_dir and path not in self._children:
            self._children[path] = set()

        upper = self._upper
        while path not in upper:
            upper.add(path)
            path = path.rpartition("/")[0] or "/"

    def _whiteout(self, parent: str, base: str) -> None:
        real = self._locate(parent)
        if real not in self._children:
            return
        if base == _OPAQUE:
            for child in list(self._children[real]):
                self._remove_lower(child)
            return
        if base.startswith(_WHITEOUT + _WHITEOUT):
            # Other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not files.
            return
        target = posixpath.join(real, base[len(_WHITEOUT) :])
        if target in self._entries:
            self._remove_lower(target)

    def _remove_lower(self, path: str) -> None:
        """Remove what lower layers put at and under ``path``, keep this layer's."""
        stack = [path]
        while stack:
            current = stack.pop()
            if current in self._upper:
                stack.extend(self._children.get(current, ()))
            else:
                self._remove(current)

    def _remove(self, path: str) -> None:
        stack = [path]
        while stack:
            current = stack.pop()
            self._entries.pop(current, None)
            stack.extend(self._children.pop(current, ()))
        parent = path.rpartition("/")[0] or "/"
        siblings = self._children.get(parent)
        if siblings is not None:
            siblings.discard(path)


def _entry(member: tarfile.TarInfo, kind: FileType) -> FileEntry:
    # Some writers (old Docker, nexB's fixtures) store the whole st_mode, file
    # type bits included; a runtime applies only the permission bits.
    return FileEntry(
        type=kind,
        mode=member.mode & 0o7777,
        uid=member.uid,
        gid=member.gid,
        size=member.size if kind is FileType.FILE else 0,
        link_target=member.linkname if kind is FileType.SYMLINK else "",
    )


def _fits(size: int, bound: int) -> bool:
    return not bound or size <= bound
