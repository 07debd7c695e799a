"""The result model: what an audit produces, frozen and serialisable.

JSON keys are camelCase (``imageRef``, ``packageName``...) because the original
tool's README documents them so and users' automation reads them; Python
attributes stay snake_case.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from functools import total_ordering

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


@total_ordering
class Severity(enum.Enum):
    """The five severity levels, ordered: ``Severity.CRITICAL > Severity.HIGH``."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFO = "INFO"

    @property
    def rank(self) -> int:
        """Higher is more severe: INFO is 0, CRITICAL is 4."""
        return _SEVERITY_RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        """Read a user's spelling (``high``, ``High``, ``HIGH``) or fail clearly."""
        if isinstance(value, Severity):
            return value
        try:
            return cls(value.strip().upper())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"severity {value!r}: not one of {choices}") from None

    @classmethod
    def descending(cls) -> tuple[Severity, ...]:
        """CRITICAL first, INFO last."""
        return tuple(sorted(cls, reverse=True))


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class CheckStatus(enum.Enum):
    """The outcome of one security check."""

    PASS = "PASS"  # noqa: S105 - a status, not a password
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"
    ERROR = "ERROR"


class Verdict(enum.Enum):
    """The outcome of a whole audit; maps onto the CLI's exit code."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    ERROR = "ERROR"

    @property
    def exit_code(self) -> int:
        """0 passed, 1 failed, 2 error: what CI gates on."""
        return {Verdict.PASSED: 0, Verdict.FAILED: 1, Verdict.ERROR: 2}[self]


class Rating(enum.Enum):
    """The score's band, per the original README's table."""

    EXCELLENT = "Excellent"
    GOOD = "Good"
    FAIR = "Fair"
    POOR = "Poor"

    @classmethod
    def for_score(cls, score: int) -> Rating:
        if score >= 90:
            return cls.EXCELLENT
        if score >= 70:
            return cls.GOOD
        if score >= 50:
            return cls.FAIR
        return cls.POOR

    @property
    def recommendation(self) -> str:
        return {
            Rating.EXCELLENT: "Safe to deploy",
            Rating.GOOD: "Review findings before deploy",
            Rating.FAIR: "Address high-severity issues",
            Rating.POOR: "Do not deploy",
        }[self]


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
        extra="forbid",
    )


class CheckResult(_Frozen):
    """What one security check found in one image."""

    id: str = Field(description="Stable identifier, e.g. non-root-user.")
    name: str = Field(description="Human-readable name, e.g. Non-Root User.")
    status: CheckStatus
    severity: Severity = Field(description="How bad a FAIL of this check is.")
    details: str = Field(description="One sentence on what was found.")
    evidence: tuple[str, ...] = Field(
        default=(),
        description="Redacted specifics, one line each (never a secret in full).",
    )
    remediation: str = ""


class Vulnerability(_Frozen):
    """One finding: one vulnerability in one installed package."""

    cve_id: str = Field(
        description="CVE id where the scanner knows one, else the scanner's id."
    )
    package_name: str
    installed_version: str = ""
    fixed_version: str = ""
    severity: Severity
    scanner_severity: str = Field(
        default="", description="The severity string exactly as the scanner wrote it."
    )
    title: str = ""
    url: str = ""
    aliases: tuple[str, ...] = Field(
        default=(), description="Other ids the scanner gave the same finding."
    )
    package_type: str = ""
    suppressed: bool = False
    suppression_reason: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """The de-duplication key: id, package and installed version."""
        return (self.cve_id, self.package_name, self.installed_version)

    @property
    def has_fix(self) -> bool:
        return bool(self.fixed_version)


class VulnSummary(_Frozen):
    """Counts of unsuppressed findings by severity."""

    critical: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    info: int = 0
    total: int = 0
    suppressed: int = 0

    @classmethod
    def of(cls, vulnerabilities: tuple[Vulnerability, ...]) -> VulnSummary:
        active = [v for v in vulnerabilities if not v.suppressed]
        counts = dict.fromkeys(Severity, 0)
        for vuln in active:
            counts[vuln.severity] += 1
        return cls(
            critical=counts[Severity.CRITICAL],
            high=counts[Severity.HIGH],
            medium=counts[Severity.MEDIUM],
            low=counts[Severity.LOW],
            info=counts[Severity.INFO],
            total=len(active),
            suppressed=len(vulnerabilities) - len(active),
        )

    def count(self, severity: Severity) -> int:
        return int(getattr(self, severity.value.lower()))


class GateResult(_Frozen):
    """The pass/fail rule for one severity: enforced at or above ``failOn``."""

    severity: Severity
    enforced: bool
    count: int
    passed: bool


class ExpiredIgnore(_Frozen):
    """An ignore entry whose expiry date has passed: it no longer suppresses."""

    id: str
    package: str = ""
    reason: str = ""
    expires: date


class AuditResult(_Frozen):
    """Everything one audit of one image found, and what it concluded."""

    timestamp: datetime
    image_ref: str = Field(description="The image as the user named it.")
    image_digest: str = Field(default="", description="Config digest, if known.")
    scanner_used: str = Field(description="Scanner name, or 'none'.")
    scan_ran: bool = Field(description="False when no vulnerability scan ran.")
    passed: bool
    verdict: Verdict
    score: int = Field(ge=0, le=100)
    rating: Rating
    fail_on: Severity
    min_score: int | None = None
    checks: tuple[CheckResult, ...] = ()
    vulnerabilities: tuple[Vulnerability, ...] = ()
    vuln_summary: VulnSummary = VulnSummary()
    gates: tuple[GateResult, ...] = ()
    expired_ignores: tuple[ExpiredIgnore, ...] = ()
    errors: tuple[str, ...] = Field(
        default=(), description="Why the audit could not do its work (ERROR)."
    )
    notes: tuple[str, ...] = Field(
        default=(), description="What the reader must know, e.g. that no scan ran."
    )
    tool_version: str = ""

    def check(self, check_id: str) -> CheckResult:
        """The result of one check by id (``non-root-user``) or name."""
        for result in self.checks:
            if check_id in (result.id, result.name):
                return result
        known = ", ".join(r.id for r in self.checks) or "none"
        raise KeyError(f"check {check_id!r}: not in this audit (ran: {known})")

    def vulnerabilities_at_least(
        self, severity: Severity | str, *, include_suppressed: bool = False
    ) -> tuple[Vulnerability, ...]:
        """Findings at or above ``severity``, unsuppressed unless asked."""
        threshold = Severity.parse(severity)
        return tuple(
            v
            for v in self.vulnerabilities
            if v.severity >= threshold and (include_suppressed or not v.suppressed)
        )

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code
