"""The Dagger integration: registry images, ``dagger.Container`` and scanner
containers through one shared engine connection.

Importing this package registers the registry source with the image
resolver and the engine session with the scanner runners, and nothing more:
the ``dagger`` SDK itself loads only when an engine is used. The builder
imports this package, and the CLI and the plugin import the builder.

Call :func:`close_engine` when the pytest session (or CLI run) ends; an
``atexit`` hook does it otherwise. Call :func:`prefetch` with every registry
reference a session will audit to export them concurrently up front.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pytest_sentry._dagger._engine import close_engine, get_engine
from pytest_sentry._dagger._reference import check_reference
from pytest_sentry._dagger._settings import registry_auth_from_env
from pytest_sentry._dagger._source import (
    ContainerTarget,
    DaggerRegistrySource,
    RegistryTarget,
    container_target,
    registry_factory,
)
from pytest_sentry._dagger.interface import (
    Engine,
    EngineError,
    EngineUnavailableError,
    ImageTarget,
    RegistryAuth,
)
from pytest_sentry._image._resolve import SCHEMES, register_registry_source
from pytest_sentry._image.interface import ImageError
from pytest_sentry._runners.interface import DaggerSession, register_dagger_session


def _session() -> DaggerSession:
    # Called by make_scan when a scanner must run in the engine: provisions
    # now, so that "no engine" is known before the audit starts.
    return get_engine().session()


def register() -> None:
    """Plug the registry source and the engine session into their users.

    Runs at import; call it again after code (a test) replaced either hook.
    """
    register_registry_source(registry_factory)
    register_dagger_session(_session)


register()


def prefetch(references: Iterable[str]) -> None:
    """Start exporting the registry references among ``references`` now.

    Paths and archive references are skipped. Nothing waits and nothing
    raises here: a failure is reported by the audit of that image.
    """
    wanted = []
    for reference in references:
        if reference.partition(":")[0] in SCHEMES or Path(reference).exists():
            continue
        try:
            check_reference(reference)
        except ImageError:
            continue
        wanted.append(reference)
    if not wanted:
        return
    try:
        auth = registry_auth_from_env()
    except EngineError:
        return
    get_engine().prefetch(wanted, auth)


def registry_target(reference: str, auth: RegistryAuth) -> ImageTarget:
    return RegistryTarget(reference, auth)


__all__ = [
    "ContainerTarget",
    "DaggerRegistrySource",
    "Engine",
    "EngineError",
    "EngineUnavailableError",
    "ImageTarget",
    "RegistryAuth",
    "close_engine",
    "container_target",
    "get_engine",
    "prefetch",
    "register",
    "registry_target",
]
