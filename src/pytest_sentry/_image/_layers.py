"""Apply layer tars, in order, to one merged path index.

This follows the OCI image spec's changeset rules: ``.wh.<name>`` deletes
``<name>`` from lower layers, ``.wh..wh..opq`` empties a directory of what
lower layers put there, a later entry replaces an earlier one, hard links copy
their target's metadata. Every name is normalised inside the image root and a
parent that is a symlink is resolved inside the root too, as ``umoci`` and
Docker's applier do, so nothing an archive says can point outside the image.
"""

from __future__ import annotations

import logging
import posixpath
import tarfile
from typing import IO

from pytest_sentry._image._streams import LayerStream, check_ratio, open_layer
from pytest_sentry._image.interface import (
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

# tarfile keeps every member it has read; in stream mode nothing needs them
# again, so they are dropped this often to keep memory flat.
_FORGET_EVERY = 512


class LayerMerger:
    """Builds a :class:`FileSystem` from layers applied bottom to top."""

    def __init__(self, content_paths: frozenset[str], limits: Limits) -> None:
        self._content_paths = content_paths
        self._limits = limits
        self._entries: dict[str, FileEntry] = {}
        self._children: dict[str, set[str]] = {}
        self._layer_of: dict[str, int] = {}
        self._fs = FileSystem(self._entries)
        self._children["/"] = set()
        self._layer = -1
        self.members = 0

    @property
    def filesystem(self) -> FileSystem:
        return self._fs

    def apply(self, blob: IO[bytes], subject: str) -> None:
        """Stream one layer blob (any supported compression) onto the index."""
        self._layer += 1
        stream, compression = open_layer(blob, subject)
        logger.debug("%s: applying as %s-compressed tar", subject, compression.value)

        try:
            tar = tarfile.open(fileobj=stream, mode="r|", bufsize=1024 * 1024)
        except tarfile.ReadError as error:
            raise ImageError(f"{subject}: not a tar archive ({error})") from error
        except EOFError as error:
            raise ImageError(f"{subject}: truncated before the first entry") from error

        with tar:
            self._apply_members(tar, stream, subject)

    def _apply_members(
        self, tar: tarfile.TarFile, stream: LayerStream, subject: str
    ) -> None:
        limits = self._limits
        produced = 0
        seen = 0

        while True:
            try:
                member = tar.next()
            except (tarfile.TarError, EOFError, OSError) as error:
                raise ImageError(
                    f"{subject}: unreadable after {seen} entries ({error})"
                ) from error
            if member is None:
                break

            seen += 1
            self.members += 1
            produced += member.size
            if limits.max_members and self.members > limits.max_members:
                raise ImageLimitError(
                    f"{subject}: more than {limits.max_members} entries in the image"
                )
            if limits.max_member_bytes and member.size > limits.max_member_bytes:
                raise ImageLimitError(
                    f"{subject}: entry {member.name!r} is {member.size} bytes, "
                    f"over the {limits.max_member_bytes}-byte bound"
                )
            if limits.max_layer_bytes and produced > limits.max_layer_bytes:
                raise ImageLimitError(
                    f"{subject}: layer exceeds {limits.max_layer_bytes} bytes"
                )
            if seen % _FORGET_EVERY == 0:
                tar.members.clear()  # type: ignore[attr-defined]  # not in typeshed
                check_ratio(stream, produced, limits, subject)

            self._apply_member(tar, member, subject)

        check_ratio(stream, produced, limits, subject)

    def _apply_member(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, subject: str
    ) -> None:
        path = normalize(member.name)
        parent, _, base = path.rpartition("/")
        parent = parent or "/"

        if base.startswith(_WHITEOUT):
            self._whiteout(parent, base)
            return
        if parent == "/" and base in _ESTARGZ_NAMES:
            return
        if path == "/":
            if member.isdir():
                self._entries["/"] = self._entry(member)
            return

        real_parent = self._real_parent(parent)
        if real_parent is None:
            logger.warning(
                "%s: %s sits under a link that leaves the image; skipped",
                subject,
                member.name,
            )
            return
        parent = real_parent
        path = parent + "/" + base if parent != "/" else "/" + base

        if member.islnk():
            entry = self._hardlink(member, subject)
        else:
            kind = _TYPES.get(member.type)
            if kind is None:
                logger.debug(
                    "%s: %s has tar type %r; skipped", subject, path, member.type
                )
                return
            entry = self._entry(member, kind)
            if (
                kind is FileType.FILE
                and path in self._content_paths
                and member.size <= self._limits.max_content_bytes
            ):
                entry.content = self._read(tar, member, subject)

        self._put(path, parent, entry)

    @staticmethod
    def _entry(
        member: tarfile.TarInfo, kind: FileType = FileType.DIRECTORY
    ) -> FileEntry:
        return FileEntry(
            type=kind,
            mode=member.mode,
            uid=member.uid,
            gid=member.gid,
            size=member.size if kind is FileType.FILE else 0,
            link_target=member.linkname if kind is FileType.SYMLINK else "",
        )

    def _hardlink(self, member: tarfile.TarInfo, subject: str) -> FileEntry:
        target_path = self._fs.resolve(posixpath.dirname(normalize(member.linkname)))
        target = None
        if target_path is not None:
            name = posixpath.basename(normalize(member.linkname))
            target = self._entries.get(posixpath.join(target_path, name))
        if target is None or target.type is FileType.DIRECTORY:
            logger.warning(
                "%s: hard link %s points at missing %s; kept as an empty file",
                subject,
                member.name,
                member.linkname,
            )
            return FileEntry(
                FileType.FILE, mode=member.mode, uid=member.uid, gid=member.gid
            )
        return FileEntry(
            type=target.type,
            mode=target.mode,
            uid=target.uid,
            gid=target.gid,
            size=target.size,
            link_target=target.link_target,
            content=target.content,
        )

    @staticmethod
    def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, subject: str) -> bytes:
        handle = tar.extractfile(member)
        if handle is None:
            return b""
        try:
            return handle.read()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ImageError(
                f"{subject}: {member.name} is truncated ({error})"
            ) from error

    def _real_parent(self, parent: str) -> str | None:
        """The directory an entry really lands in, creating missing parents."""
        if parent in self._children:
            return parent

        existing = self._entries.get(parent)
        if existing is not None and existing.type is FileType.SYMLINK:
            resolved = self._fs.resolve(parent)
            if resolved is None:
                # A dangling link as parent: the unpacker would create the
                # link's target; we do too, inside the root.
                resolved = self._create_link_target(parent)
            if resolved is None or resolved not in self._children:
                return None
            return resolved

        grand, _, _ = parent.rpartition("/")
        real_grand = self._real_parent(grand or "/")
        if real_grand is None:
            return None
        real = posixpath.join(real_grand, posixpath.basename(parent))
        if real not in self._children:
            self._put(real, real_grand, FileEntry(FileType.DIRECTORY, mode=0o755))
        return real

    def _create_link_target(self, link: str) -> str | None:
        entry = self._entries[link]
        base = "/" if entry.link_target.startswith("/") else posixpath.dirname(link)
        target = normalize(posixpath.join(base, entry.link_target))
        if target in self._entries:
            return None
        self._real_parent(target)
        return target if target in self._children else None

    def _put(self, path: str, parent: str, entry: FileEntry) -> None:
        old = self._entries.get(path)
        is_dir = entry.type is FileType.DIRECTORY
        if old is not None and old.type is FileType.DIRECTORY and not is_dir:
            self._remove(path)
        self._entries[path] = entry
        self._layer_of[path] = self._layer
        self._children[parent].add(path)
        if is_dir and path not in self._children:
            self._children[path] = set()

    def _whiteout(self, parent: str, base: str) -> None:
        real = self._fs.resolve(parent)
        if real is None or real not in self._children:
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
            self._remove(target)

    def _remove_lower(self, path: str) -> None:
        """Remove what lower layers put at ``path``, keep this layer's entries."""
        if self._layer_of.get(path) != self._layer:
            self._remove(path)
            return
        for child in list(self._children.get(path, ())):
            self._remove_lower(child)

    def _remove(self, path: str) -> None:
        stack = [path]
        while stack:
            current = stack.pop()
            self._entries.pop(current, None)
            self._layer_of.pop(current, None)
            stack.extend(self._children.pop(current, ()))
        parent = posixpath.dirname(path)
        siblings = self._children.get(parent)
        if siblings is not None:
            siblings.discard(path)
