"""The process-wide engine connection: opened lazily, shared, closed once.

The first audit that needs the engine provisions it (bounded by
``SENTRY_DAGGER_PROVISION_TIMEOUT``); every later one reuses the connection,
or, if provisioning failed, gets the same error at once. Exports are kept per
reference for the life of the engine, so an image audited by several tests
is pulled and exported once and its archive handed to every scanner.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_sentry._dagger import _export, _provision
from pytest_sentry._dagger._logfilter import install
from pytest_sentry._dagger._loop import LoopThread
from pytest_sentry._dagger._reference import archive_name
from pytest_sentry._dagger._settings import EngineSettings
from pytest_sentry._dagger.interface import (
    Engine,
    EngineError,
    EngineUnavailableError,
    ExportedImage,
    RegistryAuth,
)

if TYPE_CHECKING:
    import dagger

logger = logging.getLogger(__name__)

T = TypeVar("T")
Connected = tuple["dagger.Connection", "dagger.Client"]

#: Seconds allowed for closing the session (the CLI may flush caches).
CLOSE_TIMEOUT = 30.0
#: Seconds to wait for the CLI's last words after it failed.
STDERR_GRACE = 0.5


class DaggerEngine(Engine):
    """One engine connection on a background event loop."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._session: _Session | None = None
        self._failure: EngineUnavailableError | None = None
        self._exports: dict[str, concurrent.futures.Future[ExportedImage]] = {}
        self._workdir: Path | None = None
        self._log = _provision.EngineLog()
        self._closed = False
        # Created on the engine's loop, the first time it is needed.
        self._semaphore: asyncio.Semaphore | None = None

    # Engine ---------------------------------------------------------------

    def export_reference(
        self, reference: str, auth: RegistryAuth | None = None
    ) -> ExportedImage:
        future = self._export_future(reference, auth)
        return self._wait(future, reference, self._get_settings().export_timeout)

    def export_container(self, container: dagger.Container) -> ExportedImage:
        container_id = self._container_id(container)
        key = f"container:{container_id}"
        with self._lock:
            future = self._exports.get(key)
        if future is None:
            dest = self._dest("dagger-container.tar")
            future = self._submit(
                lambda client: _export.export_container(client, container_id, dest)
            )
            with self._lock:
                future = self._exports.setdefault(key, future)
        timeout = self._get_settings().export_timeout
        return self._wait(future, "dagger.Container", timeout)

    def prefetch(
        self, references: Iterable[str], auth: RegistryAuth | None = None
    ) -> None:
        for reference in references:
            try:
                self._export_future(reference, auth)
            except EngineError as error:
                logger.debug("prefetch of %s not started: %s", reference, error)
                return

    def session(self) -> EngineSession:
        loop, client = self._client()
        return EngineSession(self, loop, client)

    def run_coroutine(
        self, loop: LoopThread, coroutine: Coroutine[Any, Any, T], subject: str
    ) -> T:
        """Run an SDK coroutine on the engine's loop, within the run timeout."""
        import dagger  # noqa: PLC0415

        future = loop.submit(self._limited(coroutine))
        timeout = self._get_settings().run_timeout
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            # A TransportError is what a caller of the SDK already handles.
            raise dagger.TransportError(
                f"{subject}: no answer from the Dagger engine after {timeout:g} s"
            ) from None
        except concurrent.futures.CancelledError:
            raise dagger.TransportError(
                f"{subject}: the Dagger engine connection was closed"
            ) from None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            session, workdir = self._session, self._workdir

        if session is not None:
            session.close()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        logger.debug("Dagger engine closed")

    # Internals ------------------------------------------------------------

    def _get_settings(self) -> EngineSettings:
        if self._settings is None:
            self._settings = EngineSettings.from_env()
        return self._settings

    def _client(self) -> tuple[LoopThread, dagger.Client]:
        """The loop and the connected client; provisions once, bounded in time."""
        with self._lock:
            if self._closed:
                raise EngineError("Dagger engine: already closed for this session")
            if self._failure is not None:
                raise self._failure
            if self._session is None:
                self._session = self._start()
            session = self._session

        try:
            _, client = session.connected.result(session.remaining())
        except concurrent.futures.TimeoutError:
            session.connected.cancel()
            timeout = self._get_settings().provision_timeout
            failure = session.plan.failure(f"no engine session after {timeout:g} s")
            raise self._fail(failure, None) from None
        except Exception as error:
            problem = _provision.describe(error)
            if problem is None:
                raise
            # The SDK drops the CLI's stderr from its message when output
            # goes to a log of ours, and may report the CLI's end before its
            # stderr is copied; the last lines say why it failed.
            self._log.wait(STDERR_GRACE)
            tail = self._log.tail(lines=5).replace("\n", " | ")
            if tail and tail not in problem:
                problem = f"{problem} Engine output: {tail}"
            raise self._fail(session.plan.failure(problem), error) from error
        return session.loop, client

    def _start(self) -> _Session:
        settings = self._get_settings()
        try:
            plan = _provision.plan()
        except EngineUnavailableError as error:
            self._failure = error
            raise
        install()
        logger.info("starting the Dagger engine session (%s)", plan.tried)
        loop = LoopThread()
        return _Session(
            loop=loop,
            connected=loop.submit(_provision.connect(self._log)),
            deadline=time.monotonic() + settings.provision_timeout,
            plan=plan,
        )

    def _fail(
        self, failure: EngineUnavailableError, cause: BaseException | None
    ) -> EngineUnavailableError:
        with self._lock:
            if self._failure is None:
                self._failure = failure
                if cause is not None:
                    failure.__cause__ = cause
            return self._failure

    def _submit(
        self, make: Callable[[dagger.Client], Coroutine[Any, Any, T]]
    ) -> concurrent.futures.Future[T]:
        loop, client = self._client()
        return loop.submit(self._limited(make(client)))

    async def _limited(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._get_settings().parallel)
        async with self._semaphore:
            return await coroutine

    def _wait(
        self, future: concurrent.futures.Future[T], subject: str, timeout: float
    ) -> T:
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise EngineError(
                f"{subject}: no answer from the Dagger engine after {timeout:g} s"
            ) from None
        except concurrent.futures.CancelledError:
            raise EngineError(f"{subject}: cancelled (the engine was closed)") from None

    def _export_future(
        self, reference: str, auth: RegistryAuth | None
    ) -> concurrent.futures.Future[ExportedImage]:
        with self._lock:
            future = self._exports.get(reference)
        if future is not None and not future.cancelled():
            return future

        dest = self._dest(archive_name(reference))
        future = self._submit(
            lambda client: _export.export_reference(client, reference, auth, dest)
        )
        with self._lock:
            existing = self._exports.get(reference)
            if existing is not None and not existing.cancelled():
                future.cancel()
                return existing
            self._exports[reference] = future
        return future

    def _dest(self, name: str) -> Path:
        with self._lock:
            if self._workdir is None:
                self._workdir = Path(tempfile.mkdtemp(prefix="pytest-sentry-dagger-"))
            # A fresh directory per export: two references may share a file name.
            return Path(tempfile.mkdtemp(dir=self._workdir)) / name

    def _container_id(self, container: dagger.Container) -> str:
        """The container's id, asked through the connection that made it.

        A container from the caller's own client belongs to the caller's
        event loop. From a worker thread of that loop (``anyio.to_thread``,
        as a Dagger module function should use) we ask there; otherwise on
        our loop, which suits a container of the not-yet-connected ``dag``.
        """
        import anyio.from_thread  # noqa: PLC0415

        try:
            return anyio.from_thread.run(container.id)
        except RuntimeError:
            logger.debug("dagger.Container: not in an AnyIO worker thread")

        loop, _ = self._client()
        future = loop.submit(container.id())
        try:
            return self._wait(future, "dagger.Container", CLOSE_TIMEOUT)
        except Exception as error:
            problem = _provision.describe(error) or str(error)
            raise EngineError(
                f"dagger.Container: cannot get its id from its connection ({problem}); "
                "call the builder from `await anyio.to_thread.run_sync(...)` inside "
                "the pipeline that made the container"
            ) from error


@dataclass(frozen=True)
class _Session:
    """A provisioning attempt and, once it succeeds, the live connection."""

    loop: LoopThread
    connected: concurrent.futures.Future[Connected]
    deadline: float
    plan: _provision.Plan

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def close(self) -> None:
        connected = self.connected
        if connected.done() and not connected.cancelled() and not connected.exception():
            connection, _ = connected.result()
            closing = self.loop.submit(connection.__aexit__(None, None, None))
            try:
                closing.result(CLOSE_TIMEOUT)
            except Exception as error:
                # Closing must never fail a test run that already has results.
                logger.debug("closing the Dagger connection: %s", error)
        else:
            connected.cancel()
        self.loop.stop()


class EngineSession:
    """The engine as the Dagger scanner runner sees it (``DaggerSession``):
    the connected client, and a way to run coroutines on its loop."""

    def __init__(
        self, engine: DaggerEngine, loop: LoopThread, client: dagger.Client
    ) -> None:
        self._engine = engine
        self._loop = loop
        self._client = client

    @property
    def client(self) -> dagger.Client:
        return self._client

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._engine.run_coroutine(self._loop, coroutine, "scanner")


_engine: DaggerEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> DaggerEngine:
    """The engine of this process; nothing connects until it is used."""
    global _engine  # noqa: PLW0603 - one engine per process, by design
    with _engine_lock:
        if _engine is None:
            _engine = DaggerEngine()
            atexit.register(close_engine)
        return _engine


def close_engine() -> None:
    """Close the engine if one was created; the next use starts a new one."""
    global _engine
    with _engine_lock:
        engine, _engine = _engine, None
    if engine is not None:
        engine.close()
        atexit.unregister(close_engine)
