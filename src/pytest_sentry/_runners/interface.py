"""Where a scanner runs: the :class:`Runner` contract and what it exchanges.

A runner knows nothing about any scanner. It receives an :class:`ExecSpec`
(the program, its arguments with ``{archive}``/``{output}``/``{timeout}``
placeholders, environment, credentials, accepted exit codes and where the
report appears) and returns a :class:`RunOutput`: the report's bytes plus the
exit code and the first lines of stderr. Parsing is the scanner's business.

Three runners exist: a local executable, a report file already on disk, and a
container in the Dagger engine. They raise :class:`RunnerError`, which the
scan that owns the runner turns into a ``ScanError`` (imports go from
scanners to runners, never back).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from pytest_sentry._errors import SentryError
from pytest_sentry._image.interface import Image

#: Lines of stderr quoted in error messages; enough to show the tool's own
#: error without flooding a test report.
STDERR_LINES = 12
#: Longest quoted excerpt in characters, whatever the line count.
STDERR_CHARS = 2000
#: What replaces a credential value in any message or log line.
MASK = "****"

T = TypeVar("T")


class RunnerError(SentryError):
    """A runner could not run the scanner or collect its report."""


class RunnerKind(enum.Enum):
    """Where a scanner runs; ``AUTO`` picks local, else the Dagger engine."""

    AUTO = "auto"
    LOCAL = "local"
    DAGGER = "dagger"
    REPORT = "report"

    @classmethod
    def parse(cls, value: str | RunnerKind) -> RunnerKind:
        if isinstance(value, RunnerKind):
            return value
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise ValueError(f"runner {value!r}: not one of {choices}") from None


class OutputKind(enum.Enum):
    """Where a scanner writes its report."""

    STDOUT = "stdout"
    FILE = "file"
    DIRECTORY = "directory"


@dataclass(frozen=True)
class OutputLocation:
    """Where the report appears.

    For ``FILE`` the runner chooses a path and substitutes it for
    ``{output}``; ``name`` is the file's base name. For ``DIRECTORY``
    ``{output}`` is a directory and ``name`` a glob pattern (``**/x.json``)
    for the report inside it; the newest match wins.
    """

    kind: OutputKind = OutputKind.STDOUT
    name: str = ""


STDOUT = OutputLocation()


@dataclass(frozen=True)
class Credential:
    """One environment variable a scanner reads a credential from."""

    env: str
    secret: bool = True
    required: bool = True


@dataclass(frozen=True)
class ExecSpec:
    """Everything a runner needs to run one scanner once.

    ``args`` follow the program name and may hold ``{archive}`` (the image
    archive's path), ``{output}`` (see :class:`OutputLocation`) and
    ``{timeout}`` (seconds, e.g. ``1800s``). ``program`` is the executable
    looked up on ``PATH`` for local runs; ``container_entry`` is the argv
    prefix inside ``container_image``, because Dagger does not run an
    image's entrypoint unless asked to.
    """

    tool: str
    program: str
    args: tuple[str, ...]
    container_image: str
    container_entry: tuple[str, ...]
    success_codes: frozenset[int]
    output: OutputLocation = STDOUT
    env: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    secret_names: frozenset[str] = frozenset()
    cache_dir: str = ""
    cache_env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 1800.0

    @property
    def secrets(self) -> tuple[str, ...]:
        """Credential values to mask: every value of a secret variable."""
        return tuple(
            value
            for name, value in self.credentials.items()
            if name in self.secret_names and value
        )

    def command(self, prefix: tuple[str, ...], archive: str, output: str) -> list[str]:
        """The argv with placeholders filled in."""
        values = {
            "{archive}": archive,
            "{output}": output,
            "{timeout}": f"{int(self.timeout)}s",
        }
        result = list(prefix)
        for template in self.args:
            arg = template
            for placeholder, value in values.items():
                arg = arg.replace(placeholder, value)
            result.append(arg)
        return result


@dataclass(frozen=True)
class RunOutput:
    """What a run produced: the report and how the process ended.

    ``exit_code`` is ``None`` when nothing ran (a report file on disk).
    ``stderr`` holds only the first lines, already masked.
    """

    data: bytes
    exit_code: int | None
    stderr: str = ""
    origin: str = ""


class Runner(abc.ABC):
    """Runs the program an :class:`ExecSpec` describes and collects its report."""

    kind: ClassVar[RunnerKind]

    @abc.abstractmethod
    def execute(self, spec: ExecSpec, image: Image) -> RunOutput:
        """Run ``spec`` against ``image``; :class:`RunnerError` if it cannot."""


def mask(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret value replaced by :data:`MASK`.

    Longer values first, so a secret that contains another is not half-masked.
    """
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text


def excerpt(raw: bytes | str, secrets: tuple[str, ...] = ()) -> str:
    """The first lines of a tool's output, decoded, masked and bounded."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    lines = text.strip().splitlines()[:STDERR_LINES]

    # Mask before cutting, so a secret at the cut cannot show half of itself.
    head = mask("\n".join(line.rstrip() for line in lines), secrets)
    if len(head) > STDERR_CHARS:
        head = head[:STDERR_CHARS] + "..."
    return head


class DaggerSession(Protocol):
    """An open Dagger engine connection, owned elsewhere (the plugin's session).

    The dagger-io SDK is asynchronous and its client belongs to the event
    loop that opened the connection, so the owner also runs coroutines for
    us: ``run`` executes one on that loop and blocks until it finishes.
    """

    @property
    def client(self) -> Any:
        """The connected ``dagger.Client``."""

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the connection's loop and return its result."""


# Whoever owns the engine connection registers a provider here; this module
# stays free of the optional SDK and of any engine state of its own.
_session_provider: Callable[[], DaggerSession | None] | None = None


def register_dagger_session(provider: Callable[[], DaggerSession | None]) -> None:
    """Tell the runners how to reach an engine session (or ``None`` if none)."""
    global _session_provider  # noqa: PLW0603 - one plug point, set by the plugin
    _session_provider = provider


def dagger_session() -> DaggerSession | None:
    """The registered engine session, or ``None`` when there is none."""
    return _session_provider() if _session_provider is not None else None
