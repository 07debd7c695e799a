"""From what a user writes to an :class:`ImageSource`.

``docker-archive:app.tar``, ``docker-archive:app.tar:myapp:1.2``,
``oci-archive:app.tar:@0``, ``oci:layout/``, ``dir:rootfs/`` or a plain path,
whose kind is detected from its contents. Anything that is not a path on disk
is an image reference for the Dagger engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_sentry._image._docker_archive import DockerArchiveSource
from pytest_sentry._image._oci_layout import OciLayoutSource
from pytest_sentry._image._rootfs import RootfsSource
from pytest_sentry._image._store import TarStore
from pytest_sentry._image.interface import DEFAULT_LIMITS, ImageError, ImageSource

SCHEMES = ("docker-archive", "oci-archive", "oci", "dir")

# Registry references are served by the Dagger source, which lives with the
# Dagger integration; it registers itself here so this module stays free of
# the optional SDK.
_registry_source: Callable[[str], ImageSource] | None = None


def register_registry_source(factory: Callable[[str], ImageSource]) -> None:
    global _registry_source  # noqa: PLW0603 - one plug point, set once at import
    _registry_source = factory


def resolve(reference: str) -> ImageSource:
    """The source for ``reference``; :class:`ImageError` names what is wrong."""
    scheme, _, rest = reference.partition(":")
    if scheme in SCHEMES and rest:
        path, selector = _split(rest)
        return _by_scheme(scheme, path, selector, reference)

    path = Path(reference)
    if path.exists():
        return detect(path, reference)

    if _registry_source is not None:
        return _registry_source(reference)
    raise ImageError(
        f"{reference}: not a file or directory, and registry references need the "
        "Dagger engine; pass an archive as docker-archive:PATH or oci-archive:PATH"
    )


def _split(rest: str) -> tuple[Path, str]:
    """Path and optional selector: the longest prefix that exists is the path."""
    if Path(rest).exists():
        return Path(rest), ""
    cut = rest.find(":")
    while cut != -1:
        if Path(rest[:cut]).exists():
            return Path(rest[:cut]), rest[cut + 1 :]
        cut = rest.find(":", cut + 1)
    raise ImageError(f"{rest}: no such file or directory")


def _by_scheme(scheme: str, path: Path, selector: str, reference: str) -> ImageSource:
    if scheme == "docker-archive":
        if path.is_dir():
            raise ImageError(
                f"{path}: docker-archive expects a tar file, not a directory"
            )
        return DockerArchiveSource(path, selector, reference)
    if scheme == "oci-archive":
        if path.is_dir():
            raise ImageError(
                f"{path}: oci-archive expects a tar file; use oci: for a directory"
            )
        return OciLayoutSource(path, selector, reference)
    if scheme == "oci":
        if not path.is_dir():
            raise ImageError(
                f"{path}: oci expects a layout directory; use oci-archive: for a tar"
            )
        return OciLayoutSource(path, selector, reference)
    if selector:
        raise ImageError(f"{reference}: a dir: source takes no selector")
    return RootfsSource(path, reference)


def detect(path: Path, reference: str = "") -> ImageSource:
    """Tell a docker-archive from an OCI layout or a root filesystem by content."""
    reference = reference or str(path)
    if path.is_dir():
        if (path / "oci-layout").is_file() and (path / "index.json").is_file():
            return OciLayoutSource(path, "", reference)
        return RootfsSource(path, reference)

    # The store's listing, so a damaged file gets the same named errors here
    # as when its kind is given.
    store = TarStore(path, DEFAULT_LIMITS)
    try:
        names = store.names()
    finally:
        store.close()

    # manifest.json first: Docker 25 writes both, and its manifest.json is
    # the part every reader agrees on.
    if "manifest.json" in names or "repositories" in names:
        return DockerArchiveSource(path, "", reference)
    if "index.json" in names or "oci-layout" in names:
        return OciLayoutSource(path, "", reference)
    raise ImageError(
        f"{path.name}: neither a docker-archive (no manifest.json) nor an OCI "
        "layout (no index.json)"
    )
