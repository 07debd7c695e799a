"""Score, gates and verdict: the original README's tables, and ERROR never passing."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from pytest_sentry._audit import NO_SCAN_NOTE, run_audit
from pytest_sentry._checks.interface import Check, CheckError
from pytest_sentry._image.interface import Image, ImageError
from pytest_sentry._models import (
    CheckResult,
    CheckStatus,
    Rating,
    Severity,
    Verdict,
    Vulnerability,
    VulnSummary,
)
from pytest_sentry._policy import Policy, gates, score
from pytest_sentry._scanners.interface import ScanError, VulnerabilityScan


def _check(status: CheckStatus, severity: Severity = Severity.HIGH) -> CheckResult:
    return CheckResult(id="c", name="C", status=status, severity=severity, details="d")


def _vuln(
    severity: Severity, cve: str = "CVE-2024-0001", **extra: object
) -> Vulnerability:
    return Vulnerability(
        cve_id=cve,
        package_name="pkg",
        installed_version="1.0",
        severity=severity,
        **extra,
    )


@pytest.mark.parametrize(
    ("severity", "deduction"),
    [
        (Severity.CRITICAL, 25),
        (Severity.HIGH, 15),
        (Severity.MEDIUM, 10),
        (Severity.LOW, 5),
        (Severity.INFO, 0),
    ],
)
def test_failed_check_deducts_by_its_severity(
    severity: Severity, deduction: int
) -> None:
    assert score([_check(CheckStatus.FAIL, severity)], VulnSummary()) == 100 - deduction


def test_warning_deducts_three_whatever_the_severity() -> None:
    checks = [_check(CheckStatus.WARN, Severity.INFO), _check(CheckStatus.WARN)]
    assert score(checks, VulnSummary()) == 94


def test_findings_deduct_ten_five_two_one_and_info_nothing() -> None:
    summary = VulnSummary(critical=1, high=2, medium=3, low=4, info=50, total=60)
    assert score([], summary) == 100 - 10 - 10 - 6 - 4


def test_score_is_clamped_at_zero() -> None:
    assert score([], VulnSummary(critical=30, total=30)) == 0


@pytest.mark.parametrize(
    ("value", "rating"),
    [
        (100, Rating.EXCELLENT),
        (90, Rating.EXCELLENT),
        (89, Rating.GOOD),
        (70, Rating.GOOD),
        (69, Rating.FAIR),
        (50, Rating.FAIR),
        (49, Rating.POOR),
        (0, Rating.POOR),
    ],
)
def test_rating_bands(value: int, rating: Rating) -> None:
    assert Rating.for_score(value) is rating


def test_gates_below_threshold_are_not_enforced() -> None:
    summary = VulnSummary(high=1, medium=4, total=5)
    result = {g.severity: g for g in gates(summary, Severity.CRITICAL)}
    assert [g.value for g in result] == ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
    assert result[Severity.CRITICAL].enforced
    assert result[Severity.CRITICAL].passed
    assert not result[Severity.HIGH].enforced
    assert result[Severity.HIGH].passed
    assert result[Severity.HIGH].count == 1

    strict = {g.severity: g for g in gates(summary, Severity.MEDIUM)}
    assert not strict[Severity.HIGH].passed
    assert not strict[Severity.MEDIUM].passed
    assert strict[Severity.LOW].passed


def test_severity_parse_accepts_any_case_and_rejects_unknown() -> None:
    assert Severity.parse("high") is Severity.HIGH
    assert Severity.parse(" Critical ") is Severity.CRITICAL
    with pytest.raises(ValueError, match="severity 'severe': not one of CRITICAL"):
        Severity.parse("severe")


def test_every_severity_orders_and_parses() -> None:
    ordered = Severity.descending()
    assert ordered[0] is Severity.CRITICAL
    assert ordered[-1] is Severity.INFO
    for severity in Severity:
        assert Severity.parse(severity.value.lower()) is severity
    for higher, lower in itertools.pairwise(ordered):
        assert higher > lower


def test_min_score_is_validated() -> None:
    with pytest.raises(ValueError, match="min_score 101"):
        Policy(min_score=101)


# The audit itself, with stand-in checks and scans: the pieces under test here
# are the combination rules, not any real check or scanner.


class _StaticCheck(Check):
    id = "static"
    name = "Static"
    severity = Severity.HIGH

    def __init__(self, status: CheckStatus) -> None:
        self.status = status

    def run(self, image: Image) -> CheckResult:
        if self.status is CheckStatus.ERROR:
            raise CheckError("static: could not read /etc/passwd")
        return self.result(self.status, "static result")


class _StaticScan(VulnerabilityScan):
    name = "static"

    def __init__(
        self, findings: tuple[Vulnerability, ...] = (), fail: str = ""
    ) -> None:
        self.findings = findings
        self.fail = fail

    def run(self, image: Image) -> tuple[Vulnerability, ...]:
        if self.fail:
            raise ScanError(self.fail)
        return self.findings


def _loader_ok(reference: str, paths: frozenset[str], limits: object) -> Image:
    from pytest_sentry._image.interface import FileSystem, ImageConfig

    return Image(reference=reference, config=ImageConfig(), filesystem=FileSystem())


def _loader_broken(reference: str, paths: frozenset[str], limits: object) -> Image:
    raise ImageError(f"{reference}: manifest.json is null")


def test_unreadable_image_is_an_error_with_score_zero() -> None:
    result = run_audit(
        "broken.tar",
        checks=[_StaticCheck(CheckStatus.PASS)],
        scan=None,
        loader=_loader_broken,
    )
    assert result.verdict is Verdict.ERROR
    assert not result.passed
    assert result.exit_code == 2
    assert result.score == 0
    assert result.errors == ("broken.tar: manifest.json is null",)
    assert result.checks == ()


def test_scanner_failure_is_an_error_never_zero_vulnerabilities() -> None:
    result = run_audit(
        "img",
        checks=[_StaticCheck(CheckStatus.PASS)],
        scan=_StaticScan(fail="trivy: exited 1: FATAL db download failed"),
        loader=_loader_ok,
    )
    assert result.verdict is Verdict.ERROR
    assert not result.scan_ran
    assert "trivy: exited 1" in result.errors[0]
    assert result.score == 0


def test_check_error_makes_the_audit_an_error() -> None:
    result = run_audit(
        "img", checks=[_StaticCheck(CheckStatus.ERROR)], scan=None, loader=_loader_ok
    )
    assert result.verdict is Verdict.ERROR
    assert result.check("static").status is CheckStatus.ERROR
    assert "could not read /etc/passwd" in result.check("static").details


def test_failed_check_fails_and_no_scan_is_noted() -> None:
    result = run_audit(
        "img", checks=[_StaticCheck(CheckStatus.FAIL)], scan=None, loader=_loader_ok
    )
    assert result.verdict is Verdict.FAILED
    assert result.score == 85
    assert result.scanner_used == "none"
    assert NO_SCAN_NOTE in result.notes


def test_findings_at_threshold_fail_and_below_pass() -> None:
    findings = (_vuln(Severity.MEDIUM), _vuln(Severity.HIGH, "CVE-2024-0002"))
    high = run_audit(
        "img",
        checks=[],
        scan=_StaticScan(findings),
        loader=_loader_ok,
        policy=Policy(fail_on=Severity.HIGH),
    )
    critical = run_audit(
        "img",
        checks=[],
        scan=_StaticScan(findings),
        loader=_loader_ok,
        policy=Policy(fail_on=Severity.CRITICAL),
    )
    assert high.verdict is Verdict.FAILED
    assert critical.verdict is Verdict.PASSED
    assert critical.score == 93
    assert critical.scan_ran
    assert critical.notes == ()


def test_min_score_fails_an_otherwise_passing_audit() -> None:
    findings = tuple(_vuln(Severity.LOW, f"CVE-2024-{n:04}") for n in range(20))
    result = run_audit(
        "img",
        checks=[],
        scan=_StaticScan(findings),
        loader=_loader_ok,
        policy=Policy(min_score=90),
    )
    assert result.score == 80
    assert result.verdict is Verdict.FAILED


def test_disabled_checks_do_not_run() -> None:
    result = run_audit(
        "img",
        checks=[_StaticCheck(CheckStatus.FAIL)],
        scan=None,
        loader=_loader_ok,
        policy=Policy(disabled_checks=frozenset({"static"})),
    )
    assert result.checks == ()
    assert result.verdict is Verdict.PASSED


def test_findings_come_out_sorted_most_severe_first() -> None:
    findings = (
        _vuln(Severity.LOW, "CVE-2024-0003"),
        _vuln(Severity.CRITICAL, "CVE-2024-0009"),
        _vuln(Severity.CRITICAL, "CVE-2024-0001"),
        _vuln(Severity.MEDIUM, "CVE-2024-0002"),
    )
    result = run_audit("img", checks=[], scan=_StaticScan(findings), loader=_loader_ok)
    assert [v.cve_id for v in result.vulnerabilities] == [
        "CVE-2024-0001",
        "CVE-2024-0009",
        "CVE-2024-0002",
        "CVE-2024-0003",
    ]


def test_audit_check_lookup_names_what_ran() -> None:
    result = run_audit(
        "img", checks=[_StaticCheck(CheckStatus.PASS)], scan=None, loader=_loader_ok
    )
    assert result.check("Static").id == "static"
    with pytest.raises(KeyError, match="check 'nope': not in this audit"):
        result.check("nope")


def test_vulnerabilities_at_least_skips_suppressed_unless_asked() -> None:
    findings = (
        _vuln(Severity.HIGH, "CVE-1", suppressed=True, suppression_reason="accepted"),
        _vuln(Severity.CRITICAL, "CVE-2"),
        _vuln(Severity.LOW, "CVE-3"),
    )
    result = run_audit("img", checks=[], scan=_StaticScan(findings), loader=_loader_ok)
    assert [v.cve_id for v in result.vulnerabilities_at_least("high")] == ["CVE-2"]
    both = result.vulnerabilities_at_least(Severity.HIGH, include_suppressed=True)
    assert {v.cve_id for v in both} == {"CVE-1", "CVE-2"}
    assert result.vuln_summary.total == 2
    assert result.vuln_summary.suppressed == 1
    assert date.today() >= result.timestamp.date()
