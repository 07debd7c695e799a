"""From a scanner name and options to a ready :class:`VulnerabilityScan`.

The builder, the CLI and the plugin call :func:`make_scan`; it is the only
place that names concrete scanners and runners. Credentials given here, or
else found in this process's environment under the scanner's own variable
names (``SNYK_TOKEN``...), travel to the scanner as child environment or
Dagger secrets, never in argv.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path

from pytest_sentry._models import Vulnerability
from pytest_sentry._runners._local import LocalRunner, find_executable
from pytest_sentry._runners._report import ReportRunner
from pytest_sentry._runners.interface import (
    DaggerSession,
    Runner,
    RunnerKind,
    dagger_session,
)
from pytest_sentry._scanners._blackduck import BlackDuckScanner, parse_blackduck
from pytest_sentry._scanners._custom import CustomScanner
from pytest_sentry._scanners._grype import GrypeScanner, parse_grype
from pytest_sentry._scanners._snyk import SnykScanner, parse_snyk
from pytest_sentry._scanners._trivy import TrivyScanner, parse_trivy
from pytest_sentry._scanners._wiz import WizScanner, parse_wiz
from pytest_sentry._scanners.interface import (
    DEFAULT_TIMEOUT,
    OutputFormat,
    Scanner,
    ScannerName,
    ScannerScan,
    ScannerUnavailableError,
    VulnerabilityScan,
)

logger = logging.getLogger(__name__)

SCANNERS: dict[ScannerName, type[Scanner]] = {
    ScannerName.TRIVY: TrivyScanner,
    ScannerName.GRYPE: GrypeScanner,
    ScannerName.SNYK: SnykScanner,
    ScannerName.WIZ: WizScanner,
    ScannerName.BLACKDUCK: BlackDuckScanner,
}
PARSERS: dict[OutputFormat, Callable[[bytes], list[Vulnerability]]] = {
    OutputFormat.TRIVY: parse_trivy,
    OutputFormat.GRYPE: parse_grype,
    OutputFormat.SNYK: parse_snyk,
    OutputFormat.WIZ: parse_wiz,
    OutputFormat.BLACKDUCK: parse_blackduck,
}
# Which option fills which of a scanner's credential variables.
_CREDENTIAL_OPTIONS: dict[ScannerName, dict[str, str]] = {
    ScannerName.SNYK: {"token": "SNYK_TOKEN"},
    ScannerName.WIZ: {
        "client_id": "WIZ_CLIENT_ID",
        "client_secret": "WIZ_CLIENT_SECRET",
    },
    ScannerName.BLACKDUCK: {"url": "BLACKDUCK_URL", "token": "BLACKDUCK_API_TOKEN"},
}


_REPORT_HINT = (
    "read a report file instead (FORMAT:PATH: --scanner-report in the CLI, "
    "--sentry-scanner-report in pytest, with_scanner_report() in the builder)"
)


def make_scan(
    name: str | ScannerName,
    *,
    runner: str | RunnerKind = RunnerKind.AUTO,
    report_path: str | Path | None = None,
    token: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    url: str | None = None,
    image: str | None = None,
    args: Sequence[str] | None = None,
    output_format: str | OutputFormat | None = None,
    success_codes: Sequence[int] | None = None,
    credentials: Mapping[str, str] | None = None,
    executable: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    session: DaggerSession | None = None,
    today: date | None = None,
) -> VulnerabilityScan:
    """A scan of ``name`` run by ``runner``.

    ``runner`` is ``auto`` (the local executable if found, else the Dagger
    engine if a session is registered), ``local``, ``dagger`` or ``report``
    (read ``report_path``). For built-in scanners ``args`` are extra
    arguments; for ``custom`` they are the whole argv, program first, with
    ``{archive}``. Raises :class:`ScannerUnavailableError` when no runner can
    execute the scanner here, and ``ValueError`` for bad options.
    """
    scanner_name = ScannerName.parse(name)
    kind = RunnerKind.parse(runner)
    if report_path is not None and kind is RunnerKind.AUTO:
        kind = RunnerKind.REPORT

    options = {"token": token, "client_id": client_id, "client_secret": client_secret}
    options["url"] = url
    runs = kind is not RunnerKind.REPORT
    scanner = _scanner(
        scanner_name, image, args, output_format, success_codes, credentials, runs
    )
    found = _credentials(scanner_name, options, need=runs)
    extra = () if scanner_name is ScannerName.CUSTOM else tuple(args or ())
    spec = scanner.exec_spec(
        image=image, extra_args=extra, credentials=found, timeout=timeout
    )

    chosen = _runner(
        kind,
        spec.tool,
        spec.program,
        spec.container_image,
        report_path,
        executable,
        session,
        today,
    )
    logger.debug("%s: will run with the %s runner", spec.tool, chosen.kind.value)
    return ScannerScan(scanner, chosen, spec)


def parse_report_spec(spec: str) -> tuple[OutputFormat, Path]:
    """``"trivy:reports/app.json"`` -> (OutputFormat.TRIVY, Path(...))."""
    name, sep, path = spec.partition(":")
    if not sep or not name or not path:
        raise ValueError(
            f"scanner report {spec!r}: expected FORMAT:PATH, e.g. trivy:report.json"
        )
    return OutputFormat.parse(name), Path(path)


def _scanner(
    name: ScannerName,
    image: str | None,
    args: Sequence[str] | None,
    output_format: str | OutputFormat | None,
    success_codes: Sequence[int] | None,
    credentials: Mapping[str, str] | None,
    runs: bool,
) -> Scanner:
    if name is not ScannerName.CUSTOM:
        if success_codes is not None or credentials is not None:
            raise ValueError(
                f"{name.value}: success_codes and credentials are options of "
                "custom scanners only"
            )
        return SCANNERS[name]()

    if output_format is None:
        raise ValueError("custom scanner: output_format is required (trivy, grype...)")
    fmt = OutputFormat.parse(output_format)
    return CustomScanner(
        image=image or "",
        argv=list(args or ()),
        output_format=fmt,
        parser=PARSERS[fmt],
        success_codes=tuple(success_codes or (0,)),
        credentials=credentials,
        runs=runs,
    )


def _credentials(
    name: ScannerName, options: dict[str, str | None], *, need: bool
) -> dict[str, str]:
    mapping = _CREDENTIAL_OPTIONS.get(name, {})
    for option, value in options.items():
        if value is not None and option not in mapping:
            raise ValueError(f"{name.value}: takes no {option} option")

    found: dict[str, str] = {}
    for option, variable in mapping.items():
        value = options.get(option) or os.environ.get(variable, "")
        if value:
            found[variable] = value
        elif need:
            raise ScannerUnavailableError(
                f"{name.value}: needs {variable}: pass {option}=... or set "
                f"{variable} in the environment"
            )
    return found


def _runner(
    kind: RunnerKind,
    tool: str,
    program: str,
    container_image: str,
    report_path: str | Path | None,
    executable: str | None,
    session: DaggerSession | None,
    today: date | None,
) -> Runner:
    if kind is RunnerKind.REPORT:
        if report_path is None:
            raise ValueError(f"{tool}: the report runner needs a report path")
        return ReportRunner(report_path)

    local = find_executable(executable or program)
    if kind is RunnerKind.LOCAL:
        if local is None:
            raise ScannerUnavailableError(
                f"{tool}: executable {executable or program!r} not found on PATH; "
                f"install it, or {_REPORT_HINT}"
            )
        return LocalRunner(local)
    if kind is RunnerKind.AUTO and local is not None:
        return LocalRunner(local)

    engine, reason = _session(session)
    if engine is None:
        prefix = (
            f"{tool}: {program!r} is not on PATH and "
            if kind is RunnerKind.AUTO
            else f"{tool}: "
        )
        raise ScannerUnavailableError(
            f"{prefix}no Dagger engine is available ({reason}); install "
            f"{program}, {_REPORT_HINT}, or run with a Dagger engine"
        )
    if not container_image:
        raise ValueError(f"{tool}: the Dagger runner needs a container image")

    from pytest_sentry._runners._dagger import DaggerRunner  # noqa: PLC0415

    return DaggerRunner(engine, today)


def _session(session: DaggerSession | None) -> tuple[DaggerSession | None, str]:
    if session is not None:
        return session, ""
    try:
        found = dagger_session()
    except Exception as error:  # any provider failure means "no engine"
        return None, f"the engine session failed: {error}"
    return found, "no engine session is registered" if found is None else ""
