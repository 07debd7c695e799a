"""OCI image layouts, as a tar (``oci-archive:``) or a directory (``oci:``).

The index is walked recursively: nested indexes and Docker manifest lists are
followed, artifacts that are not images (signatures, SBOM attestations) are
left out, and when only the platform tells candidates apart the host's
platform is chosen, as ``docker pull`` would.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_sentry._image._config import load_json, parse_config
from pytest_sentry._image._layers import LayerMerger
from pytest_sentry._image._store import DirStore, Store, TarStore
from pytest_sentry._image.interface import (
    DEFAULT_CONTENT_PATHS,
    DEFAULT_LIMITS,
    Image,
    ImageError,
    ImageSource,
    Limits,
)

logger = logging.getLogger(__name__)

_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")
_INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
_IMAGE_CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
_REF_NAMES = ("org.opencontainers.image.ref.name", "io.containerd.image.name")
_MAX_DEPTH = 8
_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


@dataclass(frozen=True)
class _Candidate:
    manifest: dict[str, Any]
    digest: str
    ref_name: str
    platform: str

    def describe(self, index: int) -> str:
        ref = f"ref={self.ref_name} " if self.ref_name else ""
        return f"@{index} ({ref}{self.platform or 'no platform'} {self.digest[:19]})"


class OciLayoutSource(ImageSource):
    """An image inside an OCI image layout, picked by ref name or ``@index``."""

    scheme = "oci"

    def __init__(self, path: Path, selector: str = "", reference: str = "") -> None:
        self.path = path
        self.selector = selector
        self.is_archive = not path.is_dir()
        self.scheme = "oci-archive" if self.is_archive else "oci"
        self.reference = reference or f"{self.scheme}:{path}"

    def load(
        self,
        content_paths: frozenset[str] = DEFAULT_CONTENT_PATHS,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Image:
        store: Store = (
            TarStore(self.path, limits)
            if self.is_archive
            else DirStore(self.path, limits)
        )
        try:
            return self._load(store, content_paths, limits)
        finally:
            store.close()

    def _load(
        self, store: Store, content_paths: frozenset[str], limits: Limits
    ) -> Image:
        subject = store.subject
        if not store.has("index.json"):
            raise ImageError(f"{subject}: no index.json; not an OCI image layout")
        index = _json_object(store.read_small("index.json"), f"{subject}: index.json")

        candidates: list[_Candidate] = []
        self._walk(store, index, "", "", candidates, depth=0, seen=set())
        chosen = self._pick(candidates, subject)

        config_desc = chosen.manifest.get("config") or {}
        config_bytes = _blob(store, config_desc, subject)
        config = parse_config(
            config_bytes, f"{subject}: config {config_desc.get('digest')}"
        )

        layers = chosen.manifest.get("layers") or []
        if not isinstance(layers, list) or not all(
            isinstance(layer, dict) for layer in layers
        ):
            raise ImageError(
                f"{subject}: manifest {chosen.digest[:19]} has malformed 'layers'"
            )
        merger = LayerMerger(content_paths, limits)
        for number, layer in enumerate(layers):
            digest = str(layer.get("digest", ""))
            with _open_blob(store, digest, subject) as blob:
                merger.apply(blob, f"{subject}: layer {number} ({digest[:19]})")

        logger.debug("%s: %d layers, %d entries", subject, len(layers), merger.members)
        return Image(
            reference=self.reference,
            config=config,
            filesystem=merger.filesystem,
            digest=str(config_desc.get("digest", "")),
            tags=(chosen.ref_name,) if chosen.ref_name else (),
            archive_path=str(self.path),
            layer_count=len(layers),
        )

    def _walk(
        self,
        store: Store,
        index: dict[str, Any],
        ref_name: str,
        plat: str,
        found: list[_Candidate],
        depth: int,
        seen: set[tuple[str, str, str]],
    ) -> None:
        if depth > _MAX_DEPTH:
            raise ImageError(
                f"{store.subject}: indexes nested deeper than {_MAX_DEPTH}"
            )
        manifests = index.get("manifests") or []
        if not isinstance(manifests, list):
            raise ImageError(f"{store.subject}: index 'manifests' is not a list")

        for descriptor in manifests:
            if not isinstance(descriptor, dict):
                continue
            annotations = descriptor.get("annotations")
            if not isinstance(annotations, dict):
                annotations = {}
            # A name given in index.json wins over one inside a nested index:
            # the spec only gives meaning to the top level's.
            name = ref_name or next(
                (str(annotations[k]) for k in _REF_NAMES if k in annotations), ""
            )
            here = _platform(descriptor.get("platform")) or plat
            media = str(descriptor.get("mediaType") or "")

            document = _json_object(
                _blob(store, descriptor, store.subject),
                f"{store.subject}: {descriptor.get('digest')}",
            )
            if media in _INDEX_TYPES or "manifests" in document:
                # Each nested index once per name and platform: a layout that
                # lists one index many times, level after level, would
                # otherwise take exponential time.
                key = (str(descriptor.get("digest")), name, here)
                if key not in seen:
                    seen.add(key)
                    self._walk(store, document, name, here, found, depth + 1, seen)
                continue
            config = document.get("config")
            config_type = (
                str(config.get("mediaType") or "") if isinstance(config, dict) else ""
            )
            if (
                config_type not in _IMAGE_CONFIG_TYPES
                or here.startswith("unknown")
                or not _has_tar_layers(document)
            ):
                logger.debug(
                    "%s: skipping artifact %s", store.subject, descriptor.get("digest")
                )
                continue
            found.append(_Candidate(document, str(descriptor["digest"]), name, here))

    def _pick(self, candidates: list[_Candidate], subject: str) -> _Candidate:
        listing = "; ".join(c.describe(i) for i, c in enumerate(candidates))
        if not candidates:
            raise ImageError(f"{subject}: the layout holds no image manifest")

        if self.selector.startswith("@"):
            number = self.selector[1:]
            if not number.isdigit() or int(number) >= len(candidates):
                raise ImageError(
                    f"{subject}: no image {self.selector}; the layout holds {listing}"
                )
            return candidates[int(number)]

        pool = candidates
        if self.selector:
            pool = [c for c in candidates if _ref_matches(self.selector, c.ref_name)]
            if not pool:
                raise ImageError(
                    f"{subject}: no image named {self.selector!r}; "
                    f"the layout holds {listing}"
                )
        if len({c.digest for c in pool}) == 1:
            # One manifest listed twice (ggcr's test_index does): no choice.
            return pool[0]

        host = _host_platform()
        native = [c for c in pool if c.platform == host]
        if len(native) == 1 and len({c.ref_name for c in pool}) == 1:
            logger.debug("%s: picked %s of %d platforms", subject, host, len(pool))
            return native[0]
        raise ImageError(
            f"{subject}: holds {len(pool)} images, pick one with "
            f"{self.scheme}:{self.path}:REF or :@INDEX; {listing}"
        )


def _has_tar_layers(manifest: dict[str, Any]) -> bool:
    """Are all layers filesystem tars? Artifacts borrow the image config type.

    A missing media type counts as a tar, to be lenient with hand-made layouts.
    """
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        return True
    for layer in layers:
        media = str(layer.get("mediaType") or "") if isinstance(layer, dict) else ""
        if media and "tar" not in media:
            return False
    return True


def _ref_matches(selector: str, ref_name: str) -> bool:
    return bool(ref_name) and (
        selector == ref_name or ref_name.rsplit(":", 1)[-1] == selector
    )


def _platform(value: Any) -> str:
    if not isinstance(value, dict) or not value.get("os"):
        return ""
    text = f"{value['os']}/{value.get('architecture', '')}"
    if value.get("variant"):
        text += f"/{value['variant']}"
    return text


def _host_platform() -> str:
    machine = platform.machine().lower()
    return f"linux/{_ARCH_ALIASES.get(machine, machine)}"


def _json_object(data: bytes, subject: str) -> dict[str, Any]:
    document = load_json(data, subject)
    if not isinstance(document, dict):
        raise ImageError(f"{subject}: not a JSON object")
    return document


def _blob_name(digest: str, subject: str) -> str:
    # A digest becomes a path: only the exact form the spec allows is
    # accepted, so "sha256:../../etc" can never name a file.
    if not _DIGEST.match(digest):
        raise ImageError(f"{subject}: invalid blob digest {digest!r}")
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _open_blob(store: Store, digest: str, subject: str) -> Any:
    return store.open(_blob_name(digest, subject))


def _blob(store: Store, descriptor: Any, subject: str) -> bytes:
    """A small blob, verified against its descriptor's digest."""
    if not isinstance(descriptor, dict):
        raise ImageError(f"{subject}: descriptor is not a JSON object")
    digest = str(descriptor.get("digest", ""))
    data = store.read_small(_blob_name(digest, subject))
    algorithm, _, expected = digest.partition(":")
    if hashlib.new(algorithm, data).hexdigest() != expected:
        raise ImageError(f"{subject}: blob {digest[:19]} does not match its digest")
    return data
