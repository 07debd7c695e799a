"""Policy, score and verdict: what fails an audit, and by how much.

The score tables are the original tool's, so that scores stay comparable for
users moving over: a failed check costs 25/15/10/5 points by its severity, a
warning 3, each CRITICAL/HIGH/MEDIUM/LOW finding 10/5/2/1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_sentry._models import (
    CheckResult,
    CheckStatus,
    GateResult,
    Severity,
    Verdict,
    VulnSummary,
)

if TYPE_CHECKING:
    from pytest_sentry._ignores import Ignore

CHECK_DEDUCTION = {
    Severity.CRITICAL: 25,
    Severity.HIGH: 15,
    Severity.MEDIUM: 10,
    Severity.LOW: 5,
    Severity.INFO: 0,
}
WARN_DEDUCTION = 3
FINDING_DEDUCTION = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 5,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


@dataclass(frozen=True)
class Policy:
    """What the user asks of an image.

    ``fail_on`` is the lowest severity whose findings fail the audit;
    ``min_score``, when set, fails an audit scoring below it; checks named in
    ``disabled_checks`` do not run; ``ignores`` suppress known findings until
    they expire; ``only_fixed`` suppresses findings that have no fix yet.
    """

    fail_on: Severity = Severity.HIGH
    min_score: int | None = None
    disabled_checks: frozenset[str] = frozenset()
    ignores: tuple[Ignore, ...] = field(default=())
    only_fixed: bool = False

    def __post_init__(self) -> None:
        if self.min_score is not None and not 0 <= self.min_score <= 100:
            raise ValueError(f"min_score {self.min_score}: must be between 0 and 100")


DEFAULT_POLICY = Policy()


def score(checks: Iterable[CheckResult], summary: VulnSummary) -> int:
    """100 minus the deductions, clamped to 0..100."""
    total = 100
    for check in checks:
        if check.status is CheckStatus.FAIL:
            total -= CHECK_DEDUCTION[check.severity]
        elif check.status is CheckStatus.WARN:
            total -= WARN_DEDUCTION
    for severity, points in FINDING_DEDUCTION.items():
        total -= points * summary.count(severity)
    return max(0, min(100, total))


def gates(summary: VulnSummary, fail_on: Severity) -> tuple[GateResult, ...]:
    """One gate per severity, most severe first; only those at or above
    ``fail_on`` are enforced."""
    results = []
    for severity in Severity.descending():
        enforced = severity >= fail_on
        count = summary.count(severity)
        results.append(
            GateResult(
                severity=severity,
                enforced=enforced,
                count=count,
                passed=not (enforced and count),
            )
        )
    return tuple(results)


def verdict(
    checks: Iterable[CheckResult],
    gate_results: Iterable[GateResult],
    total: int,
    policy: Policy,
    errors: tuple[str, ...],
) -> Verdict:
    """ERROR when the audit could not do its work, else FAILED or PASSED."""
    checks = tuple(checks)
    if errors or any(c.status is CheckStatus.ERROR for c in checks):
        return Verdict.ERROR
    if any(c.status is CheckStatus.FAIL for c in checks):
        return Verdict.FAILED
    if not all(gate.passed for gate in gate_results):
        return Verdict.FAILED
    if policy.min_score is not None and total < policy.min_score:
        return Verdict.FAILED
    return Verdict.PASSED
