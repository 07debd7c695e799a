"""Image references as registries spell them: ``[host[:port]/]path[:tag][@digest]``.

Checked before any engine is involved, so that a misspelled archive path
(``app.tar``) or an impossible name (``MyApp``) gets a precise error at once
instead of a pull failure after the engine has started.
"""

from __future__ import annotations

import re

from pytest_sentry._image.interface import ImageError

DEFAULT_REGISTRY = "docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
    r"(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?"
)
_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?"
    rf"(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".oci", ".docker")


def check_reference(reference: str) -> None:
    """Raise :class:`ImageError` unless ``reference`` can name a registry image."""
    lowered = reference.lower()
    if lowered.endswith(_ARCHIVE_SUFFIXES) or reference.startswith(("/", ".", "~")):
        raise ImageError(
            f"{reference}: no such file or directory (and it is not a registry "
            "reference such as myapp:1.2 or ghcr.io/org/app:latest)"
        )
    if _REFERENCE.match(reference) is None:
        raise ImageError(
            f"{reference}: not a file, and not a valid image reference "
            "([registry/]name[:tag][@digest], names in lowercase)"
        )


def registry_of(reference: str) -> str:
    """The registry host a reference pulls from (``docker.io`` by default)."""
    first, sep, _ = reference.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DEFAULT_REGISTRY


def archive_name(reference: str) -> str:
    """A file name for the exported archive that still says which image it is."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", reference).strip("._") or "image"
    return safe[:120] + ".tar"
