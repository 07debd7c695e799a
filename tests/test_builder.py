"""The builder: immutable steps, one audit per builder, no stale results."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest_sentry
from pytest_sentry import CheckStatus, Severity, Verdict

ROOT = Path(__file__).parent.parent
EXAMPLE = str(ROOT / "examples" / "images" / "alpine-3.10.tar.gz")
REPORT = str(ROOT / "examples" / "reports" / "alpine-3.10.trivy.json")
HELLO = str(Path(__file__).parent / "data" / "images" / "nexb-hello-world.tar")


def test_each_step_returns_a_new_builder_and_leaves_the_base_alone() -> None:
    base = pytest_sentry.scan(EXAMPLE).without_scanner()
    strict = base.fail_on("low").with_non_root_check(False)

    assert base.policy.fail_on is Severity.HIGH
    assert strict.policy.fail_on is Severity.LOW
    assert "non-root-user" in strict.policy.disabled_checks
    assert not base.policy.disabled_checks


def test_results_come_from_one_audit() -> None:
    builder = pytest_sentry.scan(EXAMPLE).with_scanner_report(f"trivy:{REPORT}")

    first = builder.audit()

    assert builder.audit() is first
    assert builder.passed() is False
    assert builder.exit_code() == 1
    assert '"imageRef"' in builder.json()
    assert "## Executive Summary" in builder.report()
    assert builder.audit() is first


def test_a_copy_never_returns_the_original_audit() -> None:
    builder = pytest_sentry.scan(EXAMPLE).without_scanner()
    original = builder.audit()

    copy = dataclasses.replace(builder, image=HELLO)

    assert copy.audit().image_ref == HELLO
    assert original.image_ref == EXAMPLE


def test_the_original_chain_reads_as_documented() -> None:
    result = (
        pytest_sentry.scan(EXAMPLE)
        .with_scanner_report(f"trivy:{REPORT}")
        .fail_on("CRITICAL")
        .with_non_root_check(enable=False)
        .with_secret_check(enable=True)
        .with_health_check(enable=True)
        .audit()
    )

    assert result.verdict is Verdict.PASSED
    assert [c.id for c in result.checks] == ["secrets-in-env", "health-check"]
    assert result.check("health-check").status is CheckStatus.PASS
    assert result.vuln_summary.medium == 4


def test_ignores_and_only_fixed_from_the_builder() -> None:
    result = (
        pytest_sentry.scan(EXAMPLE)
        .with_scanner_report(f"trivy:{REPORT}")
        .with_ignore("CVE-2019-1551", reason="RSAZ not used", package="libssl1.1")
        .audit()
    )

    suppressed = [v for v in result.vulnerabilities if v.suppressed]
    assert [(v.cve_id, v.package_name) for v in suppressed] == [
        ("CVE-2019-1551", "libssl1.1")
    ]
    assert suppressed[0].suppression_reason == "RSAZ not used"
    assert result.vuln_summary.total == 3
    assert result.vuln_summary.suppressed == 1
