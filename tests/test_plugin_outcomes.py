"""The rules that turn an audit into item outcomes, on results built here."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pytest_sentry._audit import NO_SCAN_NOTE
from pytest_sentry._models import (
    AuditResult,
    CheckResult,
    CheckStatus,
    Rating,
    Severity,
    Verdict,
    Vulnerability,
    VulnSummary,
)
from pytest_sentry._plugin._outcomes import (
    MAX_ROWS,
    Kind,
    check_outcome,
    gate_outcome,
    no_scan_reason,
    score_outcome,
)
from pytest_sentry._policy import DEFAULT_POLICY, gates, score, verdict


def audit(
    checks: tuple[CheckResult, ...] = (),
    findings: tuple[Vulnerability, ...] = (),
    *,
    scan_ran: bool = True,
    notes: tuple[str, ...] = (),
    errors: tuple[str, ...] = (),
) -> AuditResult:
    """A result shaped as the audit shapes it, from checks and findings."""
    summary = VulnSummary.of(findings)
    gate_results = gates(summary, Severity.HIGH)
    total = score(checks, summary)
    outcome = verdict(checks, gate_results, total, DEFAULT_POLICY, errors)
    return AuditResult(
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        image_ref="app.tar",
        scanner_used="trivy" if scan_ran else "none",
        scan_ran=scan_ran,
        passed=outcome is Verdict.PASSED,
        verdict=outcome,
        score=total,
        rating=Rating.for_score(total),
        fail_on=Severity.HIGH,
        min_score=95,
        checks=checks,
        vulnerabilities=findings,
        vuln_summary=summary,
        gates=gate_results,
        errors=errors,
        notes=notes,
    )


def check(status: CheckStatus, details: str = "details") -> CheckResult:
    return CheckResult(
        id="non-root-user",
        name="Non-Root User",
        status=status,
        severity=Severity.HIGH,
        details=details,
    )


def finding(number: int, severity: Severity = Severity.CRITICAL) -> Vulnerability:
    return Vulnerability(
        cve_id=f"CVE-2026-{number:04d}",
        package_name="openssl",
        installed_version="1.0",
        severity=severity,
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (CheckStatus.PASS, Kind.PASS),
        (CheckStatus.FAIL, Kind.FAIL),
        (CheckStatus.WARN, Kind.WARN),
        (CheckStatus.SKIP, Kind.SKIP),
        (CheckStatus.ERROR, Kind.ERROR),
    ],
)
def test_every_check_status_has_an_outcome(status: CheckStatus, kind: Kind) -> None:
    outcome = check_outcome(audit((check(status, "why"),)), "non-root-user")

    assert outcome.kind is kind
    if kind is not Kind.PASS:
        assert "why" in outcome.message


def test_a_check_missing_from_the_audit_is_an_error() -> None:
    outcome = check_outcome(audit(errors=("app.tar: unreadable",)), "health-check")

    assert outcome.kind is Kind.ERROR
    assert outcome.message == (
        "sentry audit of app.tar could not do its work, check health-check did not "
        "run:\n  app.tar: unreadable"
    )


def test_a_check_error_leaves_the_score_undecided() -> None:
    outcome = score_outcome(audit((check(CheckStatus.ERROR),)))

    assert outcome.kind is Kind.ERROR
    assert outcome.message == "score incomplete: check non-root-user errored"


def test_gates_enforce_at_and_above_the_threshold() -> None:
    result = audit(findings=(finding(1), finding(2, Severity.LOW)))

    assert gate_outcome(result, Severity.CRITICAL).kind is Kind.FAIL
    assert gate_outcome(result, Severity.HIGH).kind is Kind.PASS
    low = gate_outcome(result, Severity.LOW)
    assert low.kind is Kind.SKIP
    assert low.message == (
        "below the fail-on threshold HIGH (1 finding(s), reported only)"
    )


def test_suppressed_findings_are_not_listed_in_a_failed_gate() -> None:
    hidden = finding(9).model_copy(update={"suppressed": True})
    result = audit(findings=(finding(1), hidden))

    message = gate_outcome(result, Severity.CRITICAL).message

    assert "CVE-2026-0001" in message
    assert "CVE-2026-0009" not in message


def test_long_finding_lists_are_cut_with_a_pointer_to_the_report() -> None:
    result = audit(findings=tuple(finding(n) for n in range(MAX_ROWS + 5)))

    message = gate_outcome(result, Severity.CRITICAL).message

    assert message.splitlines()[0] == (
        f"{MAX_ROWS + 5} CRITICAL finding(s) from trivy; the fail-on threshold is HIGH"
    )
    assert len(message.splitlines()) == 1 + 1 + MAX_ROWS + 1
    assert message.endswith("... and 5 more in the report")


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (
            NO_SCAN_NOTE,
            "no vulnerability scan ran: this audit covers configuration checks "
            "only, not vulnerabilities in installed packages.",
        ),
        (
            "The scanner could not run here, so no scan ran: grype: not on PATH",
            "no vulnerability scan ran: the scanner could not run here: grype: not "
            "on PATH",
        ),
    ],
)
def test_gates_without_a_scan_skip_with_the_audit_note(note: str, reason: str) -> None:
    result = audit(scan_ran=False, notes=(note,))

    outcome = gate_outcome(result, Severity.CRITICAL)

    assert (outcome.kind, outcome.message) == (Kind.SKIP, reason)
    assert no_scan_reason(result) == reason


def test_score_below_the_minimum_lists_the_deductions() -> None:
    result = audit((check(CheckStatus.FAIL),), (finding(1),))

    outcome = score_outcome(result)

    assert outcome.kind is Kind.FAIL
    assert outcome.message.splitlines() == [
        "score 75/100 (Good) is below the minimum 95",
        "deductions:",
        "  -15  non-root-user failed (HIGH)",
        "  -10  1 CRITICAL finding(s)",
    ]
