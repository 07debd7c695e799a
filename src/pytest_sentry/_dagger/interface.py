"""What the Dagger integration offers the rest of pytest_sentry.

Two things need a Dagger engine: reading an image that exists only in a
registry or as a ``dagger.Container``, and running a scanner in a container
(``pytest_sentry._runners._dagger``, through the ``DaggerSession`` that this
package registers with the runners). Both go through one :class:`Engine` per
process (one pytest session, one CLI run), opened on first use and closed by
:func:`pytest_sentry._dagger.close_engine`.

The engine side is synchronous to its callers; the SDK's async client runs on
an event loop in a background thread, so several images can be exported and
scanned at once while the rest of the code stays plain functions.

Nothing in this module imports ``dagger``: the SDK loads only when an engine
is actually used.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_sentry._errors import SentryError
from pytest_sentry._image.interface import Image, Limits
from pytest_sentry._runners.interface import DaggerSession

if TYPE_CHECKING:
    import dagger

#: Environment variables for registry credentials (see :class:`RegistryAuth`).
REGISTRY_USER_ENV = "SENTRY_REGISTRY_USER"
REGISTRY_PASSWORD_ENV = "SENTRY_REGISTRY_PASSWORD"  # noqa: S105 - a variable name
REGISTRY_ADDRESS_ENV = "SENTRY_REGISTRY"


class EngineError(SentryError):
    """The Dagger engine could not do what was asked: subject, then problem."""


class EngineUnavailableError(EngineError):
    """No engine could be reached or provisioned.

    The message lists what was tried and what the user can do instead; it is
    raised within seconds and then remembered for the rest of the process, so
    a session with fifty images does not try fifty times.
    """


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for pulling from a private registry.

    ``address`` limits them to one registry (``ghcr.io``,
    ``registry.example.com:5000``); empty means every reference audited with
    them. The password travels to the engine only as a Dagger secret.
    """

    username: str
    password: str = field(repr=False)
    address: str = ""

    def applies_to(self, registry: str) -> bool:
        return not self.address or self.address == registry


@dataclass(frozen=True)
class ExportedImage:
    """An image written by the engine as a single-platform docker-archive."""

    reference: str
    archive_path: Path


class Engine(abc.ABC):
    """One engine connection, shared by everything in the process."""

    @abc.abstractmethod
    def export_reference(
        self, reference: str, auth: RegistryAuth | None = None
    ) -> ExportedImage:
        """Pull ``reference`` and export it once; later calls reuse the archive.

        Raises :class:`EngineError` (or :class:`EngineUnavailableError`).
        """

    @abc.abstractmethod
    def export_container(self, container: dagger.Container) -> ExportedImage:
        """Export a ``dagger.Container`` built by the caller's own pipeline."""

    @abc.abstractmethod
    def prefetch(
        self, references: Iterable[str], auth: RegistryAuth | None = None
    ) -> None:
        """Start exporting ``references`` concurrently, without waiting.

        Errors surface later, from :meth:`export_reference`.
        """

    @abc.abstractmethod
    def session(self) -> DaggerSession:
        """The connected session the Dagger scanner runner uses.

        Provisions the engine if needed (bounded in time) and raises
        :class:`EngineUnavailableError` if there is none.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection and delete exported archives; idempotent."""


#: What the builder hands to the audit instead of the default image loader.
ImageLoader = Callable[[str, frozenset[str], Limits], Image]


class ImageTarget(abc.ABC):
    """An image the builder reaches through Dagger: a container or a reference
    with credentials. ``prepare`` runs when the audit starts and never raises
    for an engine problem: the loader it returns raises the ``ImageError``,
    so the audit becomes an ERROR with the reason.
    """

    #: What reports call the image until ``prepare`` knows better.
    label: str

    @abc.abstractmethod
    def prepare(self) -> tuple[str, ImageLoader]:
        """The reference to report and a loader that reads the image."""
