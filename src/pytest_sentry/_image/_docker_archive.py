"""docker-archive: what ``docker save``, ``skopeo copy docker-archive:`` and
Dagger's ``Container.export`` write. Docker 25 hybrid archives (an OCI layout
that also carries ``manifest.json``) are read through their ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from pytest_sentry._image._config import load_json, parse_config
from pytest_sentry._image._layers import LayerMerger
from pytest_sentry._image._store import Store, TarStore
from pytest_sentry._image.interface import (
    DEFAULT_CONTENT_PATHS,
    DEFAULT_LIMITS,
    Image,
    ImageError,
    ImageSource,
    Limits,
)

logger = logging.getLogger(__name__)


class DockerArchiveSource(ImageSource):
    """An image inside a docker-archive tar, picked by tag or ``@index``."""

    scheme = "docker-archive"

    def __init__(self, path: Path, selector: str = "", reference: str = "") -> None:
        self.path = path
        self.selector = selector
        self.reference = reference or f"{self.scheme}:{path}"

    def load(
        self,
        content_paths: frozenset[str] = DEFAULT_CONTENT_PATHS,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Image:
        store = TarStore(self.path, limits)
        try:
            return self._load(store, content_paths, limits)
        finally:
            store.close()

    def _load(
        self, store: Store, content_paths: frozenset[str], limits: Limits
    ) -> Image:
        subject = self.path.name
        entry = self._pick(read_manifest(store), subject)

        config_name = str(entry.get("Config") or "")
        if not config_name:
            raise ImageError(f"{subject}: manifest entry has no Config")
        config_bytes = store.read_small(config_name)
        config = parse_config(config_bytes, f"{subject}: {config_name}")

        layers = entry.get("Layers") or []
        if not isinstance(layers, list):
            raise ImageError(f"{subject}: manifest 'Layers' is not a list")

        merger = LayerMerger(content_paths, limits)
        for index, layer in enumerate(layers):
            layer_subject = f"{subject}: layer {index} ({layer})"
            with store.open(str(layer)) as blob:
                merger.apply(blob, layer_subject)

        tags = _tags(entry)
        logger.debug("%s: %d layers, %d entries", subject, len(layers), merger.members)
        return Image(
            reference=self.reference,
            config=config,
            filesystem=merger.filesystem,
            digest="sha256:" + hashlib.sha256(config_bytes).hexdigest(),
            tags=tags,
            archive_path=str(self.path),
            layer_count=len(layers),
        )

    def _pick(self, manifest: list[dict[str, Any]], subject: str) -> dict[str, Any]:
        if self.selector.startswith("@"):
            number = self.selector[1:]
            if not number.isdigit() or int(number) >= len(manifest):
                raise ImageError(
                    f"{subject}: no image {self.selector}; "
                    f"the archive holds {_describe(manifest)}"
                )
            return manifest[int(number)]

        if self.selector:
            for entry in manifest:
                if _matches(self.selector, _tags(entry)):
                    return entry
            raise ImageError(
                f"{subject}: no image tagged {self.selector!r}; "
                f"the archive holds {_describe(manifest)}"
            )

        if len(manifest) > 1:
            raise ImageError(
                f"{subject}: holds {len(manifest)} images, pick one with "
                f"docker-archive:{self.path}:TAG or :@INDEX; {_describe(manifest)}"
            )
        return manifest[0]


def read_manifest(store: Store) -> list[dict[str, Any]]:
    """The archive's ``manifest.json``, checked for shape."""
    subject = store.subject
    if not store.has("manifest.json"):
        if store.has("repositories"):
            raise ImageError(
                f"{subject}: no manifest.json; this is the legacy Docker v1 save "
                "format (before Docker 1.10), which is not supported"
            )
        raise ImageError(f"{subject}: no manifest.json; not a docker-archive")

    manifest = load_json(store.read_small("manifest.json"), f"{subject}: manifest.json")
    if manifest is None:
        raise ImageError(f"{subject}: manifest.json is null")
    if not isinstance(manifest, list):
        raise ImageError(f"{subject}: manifest.json is not a list of images")
    if not manifest:
        raise ImageError(f"{subject}: manifest.json lists no images")
    if not all(isinstance(entry, dict) for entry in manifest):
        raise ImageError(f"{subject}: manifest.json has an entry that is not an object")
    return manifest


def _tags(entry: dict[str, Any]) -> tuple[str, ...]:
    tags = entry.get("RepoTags")
    return tuple(str(tag) for tag in tags) if isinstance(tags, list) else ()


def _matches(selector: str, tags: tuple[str, ...]) -> bool:
    wanted = {selector}
    if ":" not in selector.rsplit("/", 1)[-1]:
        wanted.add(selector + ":latest")
    return any(tag in wanted for tag in tags)


def _describe(manifest: list[dict[str, Any]]) -> str:
    parts = []
    for index, entry in enumerate(manifest):
        tags = ", ".join(_tags(entry)) or "untagged"
        parts.append(f"@{index} ({tags})")
    return "; ".join(parts)
