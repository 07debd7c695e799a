"""What the audit asks of a vulnerability scan, whatever runs it.

The audit holds one :class:`VulnerabilityScan` (or none) and calls ``run``
with the loaded image. Which scanner, which runner (Dagger engine, local
executable, report file) and how output is parsed are the business of the
implementations in this package and in ``pytest_sentry._runners``.
"""

from __future__ import annotations

import abc
import enum
import logging
import signal
from typing import ClassVar

from pytest_sentry._errors import SentryError
from pytest_sentry._image.interface import Image
from pytest_sentry._models import Vulnerability
from pytest_sentry._runners.interface import (
    STDOUT,
    Credential,
    ExecSpec,
    OutputLocation,
    Runner,
    RunnerError,
    RunOutput,
    excerpt,
    mask,
)

logger = logging.getLogger(__name__)

#: Default time a scanner may run before it is stopped.
DEFAULT_TIMEOUT = 1800.0


class ScanError(SentryError):
    """A scanner could not produce findings: it failed, or its output is bad."""


class ScannerUnavailableError(ScanError):
    """No runner can execute the scanner here (no executable, no engine).

    Raised when a scan is set up, before anything runs, so that callers can
    tell "this scanner cannot run on this machine" from "it ran and failed".
    """


class VulnerabilityScan(abc.ABC):
    """One configured scan: a scanner plus the runner that executes it."""

    #: The scanner's short name as reports show it: ``trivy``, ``grype``...
    name: str

    @abc.abstractmethod
    def run(self, image: Image) -> tuple[Vulnerability, ...]:
        """Findings for ``image``, normalised; :class:`ScanError` on failure.

        An empty tuple means the scanner ran and found nothing. It must never
        stand for a scanner that could not run.
        """


class ScannerName(enum.Enum):
    """The scanners this package knows how to run and parse."""

    TRIVY = "trivy"
    GRYPE = "grype"
    SNYK = "snyk"
    WIZ = "wiz"
    BLACKDUCK = "blackduck"
    CUSTOM = "custom"

    @classmethod
    def parse(cls, value: str | ScannerName) -> ScannerName:
        """A user's spelling (``Trivy``, ``black-duck``) or a clear error."""
        if isinstance(value, ScannerName):
            return value
        key = value.strip().lower().replace("-", "").replace("_", "")
        for member in cls:
            if member.value == key:
                return member
        choices = ", ".join(m.value for m in cls)
        raise ValueError(f"scanner {value!r}: not one of {choices}")


class OutputFormat(enum.Enum):
    """Report formats the parsers read; a custom scanner declares one."""

    TRIVY = "trivy"
    GRYPE = "grype"
    SNYK = "snyk"
    WIZ = "wiz"
    BLACKDUCK = "blackduck"

    @classmethod
    def parse(cls, value: str | OutputFormat) -> OutputFormat:
        if isinstance(value, OutputFormat):
            return value
        key = value.strip().lower().replace("-", "").replace("_", "")
        key = key.removesuffix("json")
        for member in cls:
            if member.value == key:
                return member
        choices = ", ".join(m.value for m in cls)
        raise ValueError(f"output format {value!r}: not one of {choices}")


class Scanner(abc.ABC):
    """One scanner: how to run it, and how to read what it writes.

    Subclasses set the class attributes and :meth:`parse`. ``args`` may use
    the placeholders ``{archive}``, ``{output}`` and ``{timeout}`` (see
    :class:`pytest_sentry._runners.interface.ExecSpec`).
    """

    name: ClassVar[ScannerName]
    output_format: ClassVar[OutputFormat]
    #: Pinned container image; users may override it.
    default_image: ClassVar[str]
    #: Executable looked up on PATH for local runs.
    program: ClassVar[str]
    #: argv prefix inside the container (the program, never the entrypoint).
    container_entry: ClassVar[tuple[str, ...]]
    args: ClassVar[tuple[str, ...]]
    success_codes: ClassVar[frozenset[int]] = frozenset({0})
    output: ClassVar[OutputLocation] = STDOUT
    credentials: ClassVar[tuple[Credential, ...]] = ()
    #: Plain environment for every run (update checks off, and so on).
    env: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: Where the scanner keeps its database inside the container, and the
    #: variables that point it there; empty when it has none.
    cache_dir: ClassVar[str] = ""
    cache_env: ClassVar[tuple[tuple[str, str], ...]] = ()

    @abc.abstractmethod
    def parse(self, data: bytes) -> list[Vulnerability]:
        """Findings in a report; :class:`ScanError` naming the scanner if bad."""

    def exec_spec(
        self,
        *,
        image: str | None = None,
        extra_args: tuple[str, ...] = (),
        credentials: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ExecSpec:
        """What a runner needs to run this scanner once."""
        return ExecSpec(
            tool=self.name.value,
            program=self.program,
            args=(*self.args, *extra_args),
            container_image=image or self.default_image,
            container_entry=self.container_entry,
            success_codes=self.success_codes,
            output=self.output,
            env=dict(self.env),
            credentials=dict(credentials or {}),
            secret_names=frozenset(c.env for c in self.credentials if c.secret),
            cache_dir=self.cache_dir,
            cache_env=dict(self.cache_env),
            timeout=timeout,
        )


class ScannerScan(VulnerabilityScan):
    """A scanner paired with the runner that executes it.

    Every failure becomes a :class:`ScanError` whose message names the
    scanner, the exit code and the first lines of stderr, with credential
    values masked. An empty report is an error, never "0 vulnerabilities".
    """

    def __init__(self, scanner: Scanner, runner: Runner, spec: ExecSpec) -> None:
        self.scanner = scanner
        self.runner = runner
        self.spec = spec
        self.name = scanner.name.value

    def __repr__(self) -> str:
        return f"ScannerScan({self.name}, {self.runner.kind.value})"

    def run(self, image: Image) -> tuple[Vulnerability, ...]:
        # Messages are masked where they are built; this is the last line of
        # defence. A message that still held a secret loses its chain, so no
        # traceback can print the unmasked original.
        secrets = self.spec.secrets
        try:
            return self._run(image)
        except RunnerError as error:
            text = mask(str(error), secrets)
            if text != str(error):
                raise ScanError(text) from None
            raise ScanError(text) from error
        except ScanError as error:
            text = mask(str(error), secrets)
            if text != str(error):
                raise ScanError(text) from None
            raise

    def _run(self, image: Image) -> tuple[Vulnerability, ...]:
        from pytest_sentry._scanners._normalize import finalize  # noqa: PLC0415

        output = self.runner.execute(self.spec, image)
        code = output.exit_code
        if code is not None and code not in self.spec.success_codes:
            raise ScanError(f"{self.name}: {_ended(code)}; {self._details(output)}")
        if not output.data.strip():
            raise ScanError(
                f"{self.name}: {self._nothing(code)} ({self._where(output)})"
            )

        try:
            findings = self.scanner.parse(output.data)
        except ScanError as error:
            text = str(error)
            if not text.startswith(f"{self.name}:"):
                text = f"{self.name}: {text}"
            raise ScanError(f"{text} ({self._where(output)})") from error

        logger.debug("%s: %d findings from %s", self.name, len(findings), output.origin)
        return tuple(finalize(self._masked_findings(findings)))

    def _nothing(self, code: int | None) -> str:
        if code is None:
            return "the report is empty"
        if self.spec.output == STDOUT:
            return "printed nothing"
        return "wrote no report"

    def _where(self, output: RunOutput) -> str:
        if output.exit_code is None:
            return output.origin
        return f"exit code {output.exit_code}; {self._details(output)}"

    def _details(self, output: RunOutput) -> str:
        if output.stderr:
            return f"stderr:\n{output.stderr}"
        if output.data.strip():
            # Some tools (Snyk) report their errors in the JSON, not on stderr.
            head = excerpt(output.data, self.spec.secrets)
            return f"stderr was empty; output began:\n{head}"
        return "stderr was empty"

    def _masked_findings(self, findings: list[Vulnerability]) -> list[Vulnerability]:
        # A scanner that echoes a credential into its report must not carry
        # it into ours.
        secrets = self.spec.secrets
        if not secrets:
            return findings
        return [_mask_finding(f, secrets) for f in findings]


def _mask_finding(finding: Vulnerability, secrets: tuple[str, ...]) -> Vulnerability:
    texts = {
        name: value
        for name, value in finding.model_dump(include=_TEXT_FIELDS).items()
        if any(secret in value for secret in secrets)
    }
    aliases = tuple(mask(a, secrets) for a in finding.aliases)
    if not texts and aliases == finding.aliases:
        return finding
    update: dict[str, object] = {k: mask(v, secrets) for k, v in texts.items()}
    update["aliases"] = aliases
    return finding.model_copy(update=update)


_TEXT_FIELDS = {
    "cve_id",
    "package_name",
    "installed_version",
    "fixed_version",
    "scanner_severity",
    "title",
    "url",
    "package_type",
}


def _ended(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"crashed (killed by signal {name})"
    return f"failed with exit code {code}"
