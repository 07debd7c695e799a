"""What each generated item reports for an audit, and the words it uses.

Pure functions of an :class:`AuditResult`, so the rules (an unreadable image
errors every item, a gate below ``fail_on`` is skipped, no scan skips the
gates) can be read and tested apart from pytest's machinery.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pytest_sentry._models import (
    AuditResult,
    CheckResult,
    CheckStatus,
    Severity,
    Vulnerability,
)
from pytest_sentry._policy import CHECK_DEDUCTION, FINDING_DEDUCTION, WARN_DEDUCTION

#: Findings listed in a failed gate's explanation; the report has the rest.
MAX_ROWS = 25


class Kind(enum.Enum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    message: str = ""


def check_outcome(result: AuditResult, check_id: str) -> Outcome:
    found = [c for c in result.checks if c.id == check_id]
    if not found:
        return Outcome(Kind.ERROR, _not_done(result, f"check {check_id} did not run"))

    check = found[0]
    if check.status is CheckStatus.PASS:
        return Outcome(Kind.PASS)
    if check.status is CheckStatus.SKIP:
        return Outcome(Kind.SKIP, f"{check.id}: {check.details}")
    if check.status is CheckStatus.WARN:
        return Outcome(Kind.WARN, f"{check.id}: {check.details}")
    kind = Kind.FAIL if check.status is CheckStatus.FAIL else Kind.ERROR
    return Outcome(kind, explain_check(check))


def gate_outcome(result: AuditResult, severity: Severity) -> Outcome:
    # With --sentry-require-scanner a scanner that cannot run is an audit
    # error, caught by the first test; so a scan that did not run is a skip.
    if result.errors:
        return Outcome(Kind.ERROR, _not_done(result, "no findings to gate"))
    if not result.scan_ran:
        return Outcome(Kind.SKIP, no_scan_reason(result))

    gate = next((g for g in result.gates if g.severity is severity), None)
    if gate is None:
        return Outcome(Kind.ERROR, f"gate {severity.value}: not in this audit")
    if not gate.enforced:
        counted = f"{gate.count} finding(s), reported only" if gate.count else "none"
        return Outcome(
            Kind.SKIP,
            f"below the fail-on threshold {result.fail_on.value} ({counted})",
        )
    if gate.passed:
        return Outcome(Kind.PASS)
    findings = [
        v for v in result.vulnerabilities if v.severity is severity and not v.suppressed
    ]
    return Outcome(Kind.FAIL, explain_gate(result, severity, findings))


def score_outcome(result: AuditResult) -> Outcome:
    if result.errors:
        return Outcome(Kind.ERROR, _not_done(result, "no score"))
    errored = [c.id for c in result.checks if c.status is CheckStatus.ERROR]
    if errored:
        return Outcome(
            Kind.ERROR, f"score incomplete: check {', '.join(errored)} errored"
        )
    if result.min_score is None or result.score >= result.min_score:
        return Outcome(Kind.PASS)
    return Outcome(Kind.FAIL, explain_score(result))


def no_scan_reason(result: AuditResult) -> str:
    """Why the gates have nothing to judge, in the audit's own words."""
    prefix = "no vulnerability scan ran"
    for note in result.notes:
        if "scan" in note.lower():
            detail = note.removeprefix("No vulnerability scan ran: ")
            detail = detail.replace(", so no scan ran:", ":")
            return f"{prefix}: {detail[:1].lower()}{detail[1:]}"
    return f"{prefix} (scanner: {result.scanner_used})"


def _not_done(result: AuditResult, what: str) -> str:
    lines = [f"sentry audit of {result.image_ref} could not do its work, {what}:"]
    lines += [f"  {line}" for e in result.errors for line in e.splitlines()] or [
        "  (no reason given)"
    ]
    return "\n".join(lines)


def explain_check(check: CheckResult) -> str:
    lines = [
        f"{check.name} ({check.id}) {check.status.value}, severity "
        f"{check.severity.value}",
        check.details,
    ]
    if check.evidence:
        lines.append("evidence:")
        lines += [f"  - {line}" for line in check.evidence]
    if check.remediation and check.status is CheckStatus.FAIL:
        lines.append(f"remediation: {check.remediation}")
    return "\n".join(lines)


def explain_gate(
    result: AuditResult, severity: Severity, findings: list[Vulnerability]
) -> str:
    head = (
        f"{len(findings)} {severity.value} finding(s) from {result.scanner_used}; "
        f"the fail-on threshold is {result.fail_on.value}"
    )
    rows = [("SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED")]
    rows += [
        (
            v.severity.value,
            v.cve_id,
            v.package_name,
            v.installed_version,
            v.fixed_version or "-",
        )
        for v in findings[:MAX_ROWS]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines = [head, *table]
    if len(findings) > MAX_ROWS:
        lines.append(f"... and {len(findings) - MAX_ROWS} more in the report")
    return "\n".join(lines)


def explain_score(result: AuditResult) -> str:
    lines = [
        f"score {result.score}/100 ({result.rating.value}) is below the minimum "
        f"{result.min_score}",
        "deductions:",
    ]
    for check in result.checks:
        if check.status is CheckStatus.FAIL:
            points = CHECK_DEDUCTION[check.severity]
            lines.append(f"  -{points:<3} {check.id} failed ({check.severity.value})")
        elif check.status is CheckStatus.WARN:
            lines.append(f"  -{WARN_DEDUCTION:<3} {check.id} warned")
    for severity, points in FINDING_DEDUCTION.items():
        count = result.vuln_summary.count(severity)
        if count and points:
            lines.append(f"  -{count * points:<3} {count} {severity.value} finding(s)")
    if not result.scan_ran:
        lines.append("(no vulnerability scan ran; findings would lower it further)")
    return "\n".join(lines)
