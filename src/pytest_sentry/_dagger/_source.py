"""Images that only the engine can reach, as sources the audit can read.

A registry reference (``myapp:latest``) or a ``dagger.Container`` is
exported once as a docker-archive; from then on it is an ordinary archive:
:class:`DockerArchiveSource` reads it, and the scanner gets the same file
through ``Image.archive_path``. The reference the user wrote is what reports
show, never a placeholder.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pytest_sentry._dagger._engine import get_engine
from pytest_sentry._dagger._reference import check_reference
from pytest_sentry._dagger._settings import registry_auth_from_env
from pytest_sentry._dagger.interface import (
    Engine,
    EngineError,
    EngineUnavailableError,
    ImageLoader,
    ImageTarget,
    RegistryAuth,
)
from pytest_sentry._image._docker_archive import DockerArchiveSource
from pytest_sentry._image.interface import (
    DEFAULT_CONTENT_PATHS,
    DEFAULT_LIMITS,
    Image,
    ImageError,
    ImageSource,
    Limits,
)

if TYPE_CHECKING:
    import dagger

logger = logging.getLogger(__name__)


class DaggerRegistrySource(ImageSource):
    """An image pulled by the engine from its registry."""

    scheme = "registry"

    def __init__(
        self,
        reference: str,
        auth: RegistryAuth | None = None,
        engine: Engine | None = None,
    ) -> None:
        check_reference(reference)
        self.reference = reference
        self.auth = auth
        self._engine = engine

    def load(
        self,
        content_paths: frozenset[str] = DEFAULT_CONTENT_PATHS,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Image:
        engine = self._engine or get_engine()
        try:
            auth = self.auth or registry_auth_from_env()
            exported = engine.export_reference(self.reference, auth)
        except EngineUnavailableError as error:
            raise ImageError(f"{self.reference}: {error}") from error
        except EngineError as error:
            raise ImageError(_subject(self.reference, error)) from error

        source = DockerArchiveSource(exported.archive_path, "", self.reference)
        return source.load(content_paths, limits)


def registry_factory(reference: str) -> ImageSource:
    """What ``resolve`` calls for anything that is not a path on disk."""
    return DaggerRegistrySource(reference)


class RegistryTarget(ImageTarget):
    """A reference audited with credentials given to the builder."""

    def __init__(self, reference: str, auth: RegistryAuth) -> None:
        self.label = reference
        self._auth = auth

    def prepare(self) -> tuple[str, ImageLoader]:
        return self.label, self._load

    def _load(
        self, reference: str, content_paths: frozenset[str], limits: Limits
    ) -> Image:
        from pytest_sentry._image._resolve import resolve  # noqa: PLC0415

        source = resolve(reference)
        if isinstance(source, DaggerRegistrySource):
            source = DaggerRegistrySource(reference, self._auth)
        return source.load(content_paths, limits)


class ContainerTarget(ImageTarget):
    """A ``dagger.Container`` from the caller's own pipeline."""

    label = "dagger.Container"

    def __init__(self, container: dagger.Container) -> None:
        self._container = container

    def prepare(self) -> tuple[str, ImageLoader]:
        try:
            exported = get_engine().export_container(self._container)
        except EngineUnavailableError as error:
            return self.label, _failing(ImageError(f"{self.label}: {error}"))
        except EngineError as error:
            return self.label, _failing(ImageError(_subject(self.label, error)))

        def load(_: str, content_paths: frozenset[str], limits: Limits) -> Image:
            source = DockerArchiveSource(exported.archive_path, "", exported.reference)
            return source.load(content_paths, limits)

        logger.debug("dagger.Container exported as %s", exported.reference)
        return exported.reference, load


def container_target(container: object) -> ContainerTarget:
    """A target for ``container``; :class:`ValueError` if it is not one."""
    import dagger  # noqa: PLC0415 - only when a container is actually passed

    if not isinstance(container, dagger.Container):
        raise ValueError(
            "scan: expected an image reference (str) or a dagger.Container, got "
            f"{type(container).__name__}"
        )
    return ContainerTarget(container)


def _failing(error: ImageError) -> ImageLoader:
    def load(_: str, __: frozenset[str], ___: Limits) -> Image:
        raise error

    return load


def _subject(subject: str, error: EngineError) -> str:
    """The error's text, prefixed with ``subject`` unless it already leads."""
    text = str(error)
    return text if text.startswith(subject) else f"{subject}: {text}"
