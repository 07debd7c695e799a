"""A root filesystem directory (``dir:``), or an OCI runtime bundle.

A bare root filesystem has no image config, so the checks that need one say
so instead of guessing. A runtime bundle (``config.json`` beside ``rootfs/``,
as ``umoci unpack`` writes) carries the user and environment, and they are
read from it.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from pytest_sentry._image.interface import (
    DEFAULT_CONTENT_PATHS,
    DEFAULT_LIMITS,
    FileEntry,
    FileSystem,
    FileType,
    Image,
    ImageConfig,
    ImageError,
    ImageLimitError,
    ImageSource,
    Limits,
)

logger = logging.getLogger(__name__)


class RootfsSource(ImageSource):
    """A directory read as an image's merged filesystem; links never followed."""

    scheme = "dir"

    def __init__(self, path: Path, reference: str = "") -> None:
        self.path = path
        self.reference = reference or f"{self.scheme}:{path}"

    def load(
        self,
        content_paths: frozenset[str] = DEFAULT_CONTENT_PATHS,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Image:
        if not self.path.is_dir():
            raise ImageError(f"{self.path}: not a directory")

        root, config = self.path, None
        bundle_config = self.path / "config.json"
        if bundle_config.is_file() and (self.path / "rootfs").is_dir():
            root = self.path / "rootfs"
            config = _bundle_config(bundle_config)

        entries = _walk(root, content_paths, limits)
        return Image(
            reference=self.reference,
            config=config,
            filesystem=FileSystem(entries),
            archive_path=str(self.path),
        )


def _walk(
    root: Path, content_paths: frozenset[str], limits: Limits
) -> dict[str, FileEntry]:
    entries: dict[str, FileEntry] = {}
    pending = [("/", str(root))]

    while pending:
        image_dir, host_dir = pending.pop()
        try:
            scan = list(os.scandir(host_dir))
        except OSError as error:
            raise ImageError(f"{host_dir}: cannot list ({error})") from error

        for item in scan:
            image_path = image_dir.rstrip("/") + "/" + item.name
            info = item.stat(follow_symlinks=False)
            entry = _entry(item.path, info)
            if entry is None:
                continue
            if (
                entry.type is FileType.FILE
                and image_path in content_paths
                and (
                    not limits.max_content_bytes
                    or info.st_size <= limits.max_content_bytes
                )
            ):
                entry.content = _read_nofollow(item.path)
            entries[image_path] = entry
            if entry.type is FileType.DIRECTORY:
                pending.append((image_path, item.path))

        if limits.max_members and len(entries) > limits.max_members:
            raise ImageLimitError(
                f"{root.name}: more than {limits.max_members} entries", "max_members"
            )

    root_info = os.lstat(root)
    entries["/"] = FileEntry(FileType.DIRECTORY, mode=stat.S_IMODE(root_info.st_mode))
    return entries


def _entry(host_path: str, info: os.stat_result) -> FileEntry | None:
    mode = info.st_mode
    kinds = (
        (stat.S_ISREG, FileType.FILE),
        (stat.S_ISDIR, FileType.DIRECTORY),
        (stat.S_ISLNK, FileType.SYMLINK),
        (stat.S_ISCHR, FileType.CHARDEV),
        (stat.S_ISBLK, FileType.BLOCKDEV),
        (stat.S_ISFIFO, FileType.FIFO),
    )
    kind = next((k for test, k in kinds if test(mode)), None)
    if kind is None:
        return None
    return FileEntry(
        type=kind,
        mode=stat.S_IMODE(mode),
        uid=info.st_uid,
        gid=info.st_gid,
        size=info.st_size if kind is FileType.FILE else 0,
        link_target=os.readlink(host_path) if kind is FileType.SYMLINK else "",
    )


def _read_nofollow(host_path: str) -> bytes:
    # O_NOFOLLOW: the file was a regular file when listed; if it has become a
    # link since, refuse rather than read whatever it points at on the host.
    fd = os.open(host_path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _bundle_config(path: Path) -> ImageConfig:
    try:
        document: Any = json.loads(path.read_bytes())
        process = document.get("process") or {}
        user = process.get("user") or {}
    except (ValueError, AttributeError, OSError) as error:
        raise ImageError(
            f"{path}: not a readable OCI runtime config ({error})"
        ) from error

    uid, gid = user.get("uid", 0), user.get("gid", 0)
    return ImageConfig(
        user=f"{uid}:{gid}",
        env=tuple(str(item) for item in process.get("env") or ()),
        entrypoint=tuple(str(item) for item in process.get("args") or ()),
    )
