"""Reaching a Dagger engine, or saying precisely why there is none.

The SDK either joins an existing session (``DAGGER_SESSION_PORT`` and
``DAGGER_SESSION_TOKEN``, as ``dagger run`` sets them) or provisions one: it
downloads its pinned Dagger CLI into the user cache and runs ``dagger
session``, which starts the engine in a container runtime. Without a runtime
that cannot work, so we say so at once instead of downloading a CLI first.
"""

from __future__ import annotations

import collections
import io
import logging
import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

from pytest_sentry._dagger._logfilter import MASK
from pytest_sentry._dagger.interface import EngineUnavailableError

if TYPE_CHECKING:
    import dagger

logger = logging.getLogger(__name__)

SWITCH_ENV = "SENTRY_DAGGER"
PORT_ENV = "DAGGER_SESSION_PORT"
TOKEN_ENV = "DAGGER_SESSION_TOKEN"  # noqa: S105 - a variable name
CLI_BIN_ENV = "_EXPERIMENTAL_DAGGER_CLI_BIN"
RUNNER_HOST_ENV = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
RUNTIMES = ("docker", "podman", "nerdctl", "finch")
#: Seconds the HTTP client waits to open a connection to the session.
CONNECT_TIMEOUT = 10.0

ADVICE = (
    "Registry images and scanner containers need a Dagger engine: install the "
    "Dagger CLI (https://docs.dagger.io/install) and a container runtime "
    "(Docker or Podman), or run inside an existing session (`dagger run pytest "
    "...` sets DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN). Without an engine, "
    "audit an archive instead: `docker save -o app.tar IMAGE`, then "
    "docker-archive:app.tar (scanners then run as local executables)."
)


@dataclass(frozen=True)
class Plan:
    """How the engine will be reached, in words for an error message."""

    tried: str
    session_token: str = ""

    def failure(self, problem: str) -> EngineUnavailableError:
        if self.session_token:
            problem = problem.replace(self.session_token, MASK)
        return EngineUnavailableError(
            f"Dagger engine: not available: {problem} (tried: {self.tried}). {ADVICE}"
        )


def plan(environ: Mapping[str, str] | None = None) -> Plan:
    """Decide how to reach an engine; :class:`EngineUnavailableError` if no way."""
    env = os.environ if environ is None else environ
    switch = env.get(SWITCH_ENV, "").strip()
    if switch.lower() in ("0", "off", "false", "no"):
        raise Plan("nothing").failure(f"switched off by {SWITCH_ENV}={switch}")

    port = env.get(PORT_ENV, "").strip()
    token = env.get(TOKEN_ENV, "")
    if port:
        tried = f"the existing session on 127.0.0.1:{port} from {PORT_ENV}"
        if not token:
            raise Plan(tried).failure(f"{PORT_ENV} is set but {TOKEN_ENV} is not")
        return Plan(tried, session_token=token)

    cli = _cli_description(env)
    runner = env.get(RUNNER_HOST_ENV, "").strip()
    if runner:
        return Plan(
            f"{PORT_ENV} not set; {cli}, engine at {runner} from {RUNNER_HOST_ENV}"
        )

    runtimes = [(name, shutil.which(name, path=env.get("PATH"))) for name in RUNTIMES]
    found = [(name, path) for name, path in runtimes if path]
    if not found:
        tried = f"{PORT_ENV} not set; {cli}; container runtimes on PATH"
        raise Plan(tried).failure(
            f"no container runtime to start an engine in ({', '.join(RUNTIMES)} "
            "not found on PATH)"
        )
    name, path = found[0]
    return Plan(f"{PORT_ENV} not set; {cli}, engine to start with {name} ({path})")


def _cli_description(env: Mapping[str, str]) -> str:
    if cli := env.get(CLI_BIN_ENV, "").strip():
        return f"Dagger CLI {cli} ({CLI_BIN_ENV})"
    try:
        version = metadata.version("dagger-io")
    except metadata.PackageNotFoundError:
        version = "?"
    on_path = shutil.which("dagger", path=env.get("PATH"))
    note = (
        f"; the dagger on PATH ({on_path}) is used only through `dagger run`"
        if on_path
        else ""
    )
    return f"the Dagger CLI v{version} that dagger-io downloads or caches{note}"


class EngineLog(io.StringIO):
    """Where the SDK writes engine and progress output.

    Each line goes to our debug log; the last lines are kept for errors.
    Nothing reaches the terminal, which belongs to pytest.
    """

    def __init__(self, keep: int = 40) -> None:
        super().__init__()
        self._tail: collections.deque[str] = collections.deque(maxlen=keep)
        self._written = threading.Event()

    def write(self, text: str, /) -> int:
        for line in text.splitlines():
            if line.strip():
                self._tail.append(line.rstrip())
                self._written.set()
                logger.debug("engine: %s", line.rstrip())
        return len(text)

    def wait(self, timeout: float) -> None:
        """Give a thread still copying the CLI's stderr a moment to finish."""
        self._written.wait(timeout)

    def tail(self, lines: int = 0) -> str:
        kept = list(self._tail)[-lines:] if lines else list(self._tail)
        return "\n".join(kept)


async def connect(log: EngineLog) -> tuple[dagger.Connection, dagger.Client]:
    """Open an isolated client (not the global ``dag``, which users may own)."""
    import dagger  # noqa: PLC0415 - the SDK loads only when an engine is needed

    config = dagger.Config(
        timeout=dagger.Timeout(None, connect=CONNECT_TIMEOUT),
        log_output=log,
    )
    connection = dagger.Connection(config)
    client = await connection.__aenter__()
    return connection, client


def describe(error: BaseException) -> str | None:
    """What went wrong while provisioning, or ``None`` if it is not about that."""
    import dagger  # noqa: PLC0415

    if isinstance(error, dagger.DownloadError):
        return str(error)  # "Failed to download the Dagger CLI: ..."
    if isinstance(error, dagger.SessionError):
        return f"the Dagger CLI could not start an engine session: {error}"
    if isinstance(error, dagger.ProvisionError):
        return str(error)
    if isinstance(error, dagger.ClientConnectionError | dagger.TransportError):
        return f"no answer from the engine session: {error}"
    if isinstance(error, OSError):
        return f"{type(error).__name__}: {error}"
    return None
