"""What an image source gives the rest of the audit: an :class:`Image`.

An image is its config plus a merged, read-only index of its filesystem. The
index holds metadata for every path; contents are kept only for the few small
files that checks ask for, so memory follows the number of files, not their
size.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pytest_sentry._errors import SentryError


class ImageError(SentryError):
    """An image could not be read: named file or reference, then the problem."""


class ImageLimitError(ImageError):
    """An image exceeded a configured safety bound (size, members, ratio).

    ``bound`` names the :class:`Limits` field, and the message says how to
    raise it, because a legitimate large image must not be a dead end.
    """

    def __init__(self, message: str, bound: str) -> None:
        self.bound = bound
        super().__init__(
            f"{message} (bound {bound}; raise it with --limit {bound}=VALUE, "
            f"--sentry-limit {bound}=VALUE or Scan.with_limit)"
        )


class FileType(enum.Enum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    CHARDEV = "chardev"
    BLOCKDEV = "blockdev"
    FIFO = "fifo"


@dataclass(slots=True)
class FileEntry:
    """One path in the merged filesystem.

    ``content`` is filled only for files a check asked for (and under the
    content size bound); for every other file it stays ``None``.
    """

    type: FileType
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    link_target: str = ""
    content: bytes | None = None

    @property
    def is_executable(self) -> bool:
        return self.type is FileType.FILE and bool(self.mode & 0o111)


@dataclass(frozen=True, slots=True)
class Limits:
    """Safety bounds for reading untrusted archives.

    A value of 0 disables that bound. Defaults allow any real image seen in
    practice while stopping decompression bombs and absurd member counts.
    Exceeding one raises :class:`ImageLimitError`, except ``max_content_bytes``,
    past which a file is indexed without its content.
    """

    #: Bytes of one layer's tar: claimed entry sizes and the bytes read.
    max_layer_bytes: int = 16 * 1024**3
    #: Claimed size of one entry.
    max_member_bytes: int = 8 * 1024**3
    #: Entries of the whole image, and of the outer archive.
    max_members: int = 2_000_000
    #: Decompressed over compressed bytes, once past 64 MiB of output, for
    #: layers and for a compressed outer archive.
    max_ratio: int = 200
    #: Size of a file whose content a check asked for.
    max_content_bytes: int = 1024 * 1024
    #: Size of a manifest, index, config, and of one extended tar header.
    max_metadata_bytes: int = 16 * 1024 * 1024


DEFAULT_LIMITS = Limits()

_UNITS = {
    "": 1,
    "k": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gib": 1024**3,
}


def override_limit(limits: Limits, spec: str) -> Limits:
    """``limits`` with one bound changed by ``NAME=VALUE``.

    ``VALUE`` is a whole number with an optional binary unit (``512MiB``,
    ``4G``); ``0`` turns the bound off. This is how the CLI's ``--limit`` and
    pytest's ``--sentry-limit`` reach the reader.
    """
    name, sep, raw = spec.partition("=")
    name = name.strip().replace("-", "_")
    known = [f.name for f in dataclasses.fields(Limits)]
    if not sep or name not in known:
        raise ValueError(
            f"limit {spec!r}: expected NAME=VALUE with NAME one of {', '.join(known)}"
        )
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", raw)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"limit {spec!r}: {raw.strip()!r} is not a whole number with an optional "
            "unit (K, M, G, KiB, MiB, GiB)"
        )
    return dataclasses.replace(limits, **{name: int(match.group(1)) * _UNITS[unit]})


MAX_SYMLINK_HOPS = 40


def normalize(path: str) -> str:
    """An absolute, clean path that cannot climb above ``/``.

    ``../../etc/passwd``, ``./etc//passwd`` and ``/etc/passwd`` all become
    ``/etc/passwd``: an archive cannot name anything outside the image root.
    """
    clean = posixpath.normpath("/" + path.lstrip("/"))
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    return clean


class FileSystem:
    """The merged filesystem of an image, as a read-only path index."""

    def __init__(self, entries: dict[str, FileEntry] | None = None) -> None:
        self._entries: dict[str, FileEntry] = entries if entries is not None else {}
        self._entries.setdefault("/", FileEntry(FileType.DIRECTORY, mode=0o755))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and normalize(path) in self._entries

    def paths(self) -> Iterator[str]:
        """Every path, sorted, ``/`` first."""
        return iter(sorted(self._entries))

    def items(self) -> Iterable[tuple[str, FileEntry]]:
        return self._entries.items()

    def lstat(self, path: str) -> FileEntry | None:
        """The entry at ``path`` itself, not following a final symlink."""
        return self._entries.get(normalize(path))

    def resolve(self, path: str) -> str | None:
        """Follow symlinks inside the image root; ``None`` if it leads nowhere.

        Absolute link targets are taken relative to the image root and ``..``
        stops at ``/``, as a container runtime would see them. A loop or more
        than ``MAX_SYMLINK_HOPS`` links gives ``None``, not an exception,
        because a dangling or looping link is a fact about the image.
        """
        # Not normalised first: "a/.." must climb from wherever the link "a"
        # leads, not cancel out on paper.
        pending = [part for part in ("/" + path).split("/")[::-1] if part]
        resolved = "/"
        hops = 0

        while pending:
            part = pending.pop()
            if part == ".":
                continue
            if part == "..":
                resolved = posixpath.dirname(resolved)
                continue
            candidate = posixpath.join(resolved, part)
            entry = self._entries.get(candidate)
            if entry is None:
                return None
            if entry.type is not FileType.SYMLINK:
                if pending and entry.type is not FileType.DIRECTORY:
                    return None
                resolved = candidate
                continue

            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return None
            target = entry.link_target
            if target.startswith("/"):
                resolved = "/"
            pending.extend(p for p in target.split("/")[::-1] if p)

        return resolved

    def stat(self, path: str) -> FileEntry | None:
        """The entry ``path`` leads to after following symlinks."""
        resolved = self.resolve(path)
        return None if resolved is None else self._entries.get(resolved)

    def read(self, path: str) -> bytes | None:
        """Contents of a small file the reader kept, following symlinks."""
        entry = self.stat(path)
        if entry is None or entry.type is not FileType.FILE:
            return None
        return entry.content

    def read_text(self, path: str) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image config that checks and reports use.

    ``user`` is ``None`` when the source has no config at all (a bare root
    filesystem), which is different from an empty ``User`` (root).
    """

    user: str | None = ""
    env: tuple[str, ...] = ()
    healthcheck: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    os: str = "linux"
    architecture: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def env_map(self) -> dict[str, str]:
        """``Env`` as a mapping; a later duplicate wins, as in a runtime."""
        result: dict[str, str] = {}
        for item in self.env:
            name, _, value = item.partition("=")
            result[name] = value
        return result

    @property
    def has_healthcheck(self) -> bool:
        """True unless absent or explicitly disabled (``["NONE"]``)."""
        return bool(self.healthcheck) and self.healthcheck != ("NONE",)


@dataclass(frozen=True)
class Image:
    """An image ready for checks: who it is, its config, its filesystem."""

    reference: str
    config: ImageConfig | None
    filesystem: FileSystem
    digest: str = ""
    tags: tuple[str, ...] = ()
    archive_path: str = ""
    layer_count: int = 0


# Files whose contents checks need; anything else is indexed without content.
DEFAULT_CONTENT_PATHS = frozenset(
    {
        "/etc/passwd",
        "/etc/group",
        "/etc/shadow",
        "/etc/os-release",
        "/usr/lib/os-release",
        "/etc/alpine-release",
        "/etc/debian_version",
    }
)


class ImageSource(abc.ABC):
    """Turns one image reference into an :class:`Image`."""

    #: The prefix users write before a path, e.g. ``docker-archive``.
    scheme: str

    @abc.abstractmethod
    def load(
        self,
        content_paths: frozenset[str] = DEFAULT_CONTENT_PATHS,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Image:
        """Read the image; raise :class:`ImageError` naming the subject."""
