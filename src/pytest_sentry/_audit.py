"""The audit: source, checks, scan and policy combined into an AuditResult.

Nothing here knows a concrete source, check or scanner; failures of any of
them become data in the result (an ERROR verdict with the reason), so every
front end - builder, CLI, pytest plugin - reports them the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from pytest_sentry._checks.interface import Check, CheckError
from pytest_sentry._image.interface import (
    DEFAULT_CONTENT_PATHS,
    DEFAULT_LIMITS,
    Image,
    ImageError,
    Limits,
)
from pytest_sentry._models import (
    AuditResult,
    CheckResult,
    CheckStatus,
    ExpiredIgnore,
    Rating,
    Vulnerability,
    VulnSummary,
)
from pytest_sentry._policy import DEFAULT_POLICY, Policy, gates, score, verdict
from pytest_sentry._scanners.interface import ScanError, VulnerabilityScan
from pytest_sentry._version import __version__

logger = logging.getLogger(__name__)

NO_SCAN_NOTE = (
    "No vulnerability scan ran: this audit covers configuration checks only, "
    "not vulnerabilities in installed packages."
)

ImageLoader = Callable[[str, frozenset[str], Limits], Image]


def default_loader(
    reference: str, content_paths: frozenset[str], limits: Limits
) -> Image:
    """Resolve a reference with the built-in sources and read the image."""
    from pytest_sentry._image._resolve import resolve  # noqa: PLC0415

    return resolve(reference).load(content_paths, limits)


def run_audit(
    reference: str,
    *,
    checks: Sequence[Check],
    scan: VulnerabilityScan | None,
    policy: Policy = DEFAULT_POLICY,
    limits: Limits = DEFAULT_LIMITS,
    loader: ImageLoader = default_loader,
    today: date | None = None,
) -> AuditResult:
    """Audit one image; never raises for a problem with the image or a tool."""
    started = datetime.now(UTC).replace(microsecond=0)
    enabled = [c for c in checks if c.id not in policy.disabled_checks]
    scanner_name = scan.name if scan is not None else "none"
    content_paths = DEFAULT_CONTENT_PATHS.union(*(c.content_paths for c in enabled))

    try:
        image = loader(reference, content_paths, limits)
    except ImageError as error:
        logger.debug("%s: could not be read: %s", reference, error)
        return _errored(reference, started, scanner_name, policy, str(error))

    results = tuple(_run_check(check, image) for check in enabled)

    errors: list[str] = []
    findings: tuple[Vulnerability, ...] = ()
    if scan is not None:
        try:
            findings = scan.run(image)
        except ScanError as error:
            errors.append(str(error))

    findings, expired = _apply_policy(findings, policy, today or started.date())
    findings = tuple(sorted(findings, key=_finding_order))
    summary = VulnSummary.of(findings)
    gate_results = gates(summary, policy.fail_on)
    total = score(results, summary)
    outcome = verdict(results, gate_results, total, policy, tuple(errors))

    notes = [] if scan is not None else [NO_SCAN_NOTE]
    notes += [
        f"Ignore of {e.id}{' in ' + e.package if e.package else ''} expired on "
        f"{e.expires.isoformat()} and no longer applies."
        for e in expired
    ]
    return AuditResult(
        timestamp=started,
        image_ref=reference,
        image_digest=image.digest,
        scanner_used=scanner_name,
        scan_ran=scan is not None and not errors,
        passed=outcome.exit_code == 0,
        verdict=outcome,
        score=total if not errors else 0,
        rating=Rating.for_score(total if not errors else 0),
        fail_on=policy.fail_on,
        min_score=policy.min_score,
        checks=results,
        vulnerabilities=findings,
        vuln_summary=summary,
        gates=gate_results,
        expired_ignores=expired,
        errors=tuple(errors),
        notes=tuple(notes),
        tool_version=__version__,
    )


def _run_check(check: Check, image: Image) -> CheckResult:
    try:
        return check.run(image)
    except CheckError as error:
        return check.result(CheckStatus.ERROR, str(error))


def _apply_policy(
    findings: tuple[Vulnerability, ...], policy: Policy, today: date
) -> tuple[tuple[Vulnerability, ...], tuple[ExpiredIgnore, ...]]:
    if not policy.ignores and not policy.only_fixed:
        return findings, ()
    from pytest_sentry._ignores import apply_ignores  # noqa: PLC0415

    kept, expired = apply_ignores(
        findings, policy.ignores, today, only_fixed=policy.only_fixed
    )
    return tuple(kept), tuple(expired)


def _finding_order(vuln: Vulnerability) -> tuple[int, str, str, str]:
    # Most severe first, then a total order on the identifying fields, so two
    # audits of one image produce byte-identical reports.
    return (-vuln.severity.rank, vuln.cve_id, vuln.package_name, vuln.installed_version)


def _errored(
    reference: str, started: datetime, scanner: str, policy: Policy, message: str
) -> AuditResult:
    return AuditResult(
        timestamp=started,
        image_ref=reference,
        scanner_used=scanner,
        scan_ran=False,
        passed=False,
        verdict=verdict((), (), 0, policy, (message,)),
        score=0,
        rating=Rating.for_score(0),
        fail_on=policy.fail_on,
        min_score=policy.min_score,
        errors=(message,),
        notes=("The image could not be read, so no check or scan ran.",),
        tool_version=__version__,
    )
