"""An asyncio event loop on a background thread, for the async Dagger SDK.

The rest of pytest_sentry is synchronous and may be called from any thread
(pytest's main thread, a thread pool in the plugin). Coroutines submitted
here run concurrently on one loop and one engine connection; callers block
on the returned future with their own timeout.

The thread is a daemon: a provisioning attempt stuck in a worker thread of
the SDK (a CLI download, ``dagger session`` that never answers) must not
keep the interpreter alive after pytest is done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class LoopThread:
    """One running event loop and the thread that runs it."""

    def __init__(self, name: str = "pytest-sentry-dagger") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            logger.debug("event loop for the Dagger engine stopped")

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel what still runs, give it ``timeout`` s to unwind, stop the loop."""
        if not self._thread.is_alive():
            return
        try:
            self.submit(self._cancel_all(timeout)).result(timeout + 1)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            logger.debug("Dagger engine tasks did not unwind within %s s", timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()

    @staticmethod
    async def _cancel_all(timeout: float) -> None:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            # A task blocked in an SDK worker thread cannot be interrupted;
            # it is abandoned with the daemon thread after the timeout.
            await asyncio.wait(tasks, timeout=timeout)
