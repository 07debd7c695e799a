"""Markdown, JSON and SARIF output of one fixed audit result.

The Markdown and JSON outputs are compared with committed snapshots; set
SENTRY_UPDATE_SNAPSHOTS=1 to rewrite them after an intended change and review
the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pytest_sentry._models import (
    AuditResult,
    CheckResult,
    CheckStatus,
    ExpiredIgnore,
    Rating,
    Severity,
    Verdict,
    Vulnerability,
    VulnSummary,
)
from pytest_sentry._policy import gates
from pytest_sentry._report import json_schema, render, render_json, render_markdown
from pytest_sentry._report._markdown import summary_box

SNAPSHOTS = Path(__file__).parent / "snapshots"
SCHEMA_FILE = Path(__file__).parent.parent / "schema" / "audit-result.schema.json"


def _result(image_ref: str = "docker-archive:build/app.tar") -> AuditResult:
    vulns = (
        Vulnerability(
            cve_id="CVE-2024-0001",
            package_name="openssl",
            installed_version="1.1.1",
            fixed_version="1.1.2",
            severity=Severity.CRITICAL,
            scanner_severity="CRITICAL",
            title="Buffer overflow | in parser",
        ),
        Vulnerability(
            cve_id="CVE-2024-0002",
            package_name="zlib",
            installed_version="1.2",
            severity=Severity.HIGH,
            scanner_severity="High",
        ),
        Vulnerability(
            cve_id="CVE-2023-9999",
            package_name="busybox",
            installed_version="1.30",
            severity=Severity.MEDIUM,
            scanner_severity="Medium",
            suppressed=True,
            suppression_reason="not reachable: applet removed",
        ),
    )
    summary = VulnSummary.of(vulns)
    checks = (
        CheckResult(
            id="non-root-user",
            name="Non-Root User",
            status=CheckStatus.FAIL,
            severity=Severity.HIGH,
            details="Container runs as root (User is empty)",
            remediation="Add USER 10001 to the Dockerfile",
        ),
        CheckResult(
            id="secrets-in-env",
            name="Secrets in Environment",
            status=CheckStatus.FAIL,
            severity=Severity.HIGH,
            details="1 secret found in environment variables",
            evidence=("AWS_ACCESS_KEY_ID: aws-access-key-id (AKIA…)",),
        ),
        CheckResult(
            id="health-check",
            name="Health Check",
            status=CheckStatus.WARN,
            severity=Severity.INFO,
            details="No HEALTHCHECK and no curl or wget",
        ),
    )
    return AuditResult(
        timestamp=datetime(2026, 1, 4, 15, 0, tzinfo=UTC),
        image_ref=image_ref,
        image_digest="sha256:" + "ab" * 32,
        scanner_used="trivy",
        scan_ran=True,
        passed=False,
        verdict=Verdict.FAILED,
        score=37,
        rating=Rating.POOR,
        fail_on=Severity.HIGH,
        checks=checks,
        vulnerabilities=vulns,
        vuln_summary=summary,
        gates=gates(summary, Severity.HIGH),
        expired_ignores=(
            ExpiredIgnore(id="CVE-2020-1", reason="old", expires=date(2025, 1, 1)),
        ),
        tool_version="0.0.0-test",
    )


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("SENTRY_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), (
        f"{path}: missing snapshot; run with SENTRY_UPDATE_SNAPSHOTS=1"
    )
    assert text == path.read_text(encoding="utf-8")


def test_markdown_matches_snapshot() -> None:
    _snapshot("report.md", render_markdown(_result()))


def test_json_matches_snapshot() -> None:
    _snapshot("report.json", render_json(_result()))


def test_markdown_has_the_original_sections_in_order() -> None:
    text = render_markdown(_result())
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Executive Summary",
        "## Security Checks",
        "## Vulnerability Summary",
        "## Top Findings",
        "## Suppressed Findings",
        "## Recommendations",
    ]
    assert "Buffer overflow \\| in parser" in text
    assert "not reachable: applet removed" in text
    assert "CVE-2020-1 expired on 2025-01-01" in text


@pytest.mark.parametrize(
    "image_ref",
    [
        "docker-archive:/very/long/path/to/some/deeply/nested/build/output/"
        "directory/my-application-image-with-a-long-name.tar:registry.example.com/"
        "team/app:1.2.3",
        "oci-archive:構築/アプリ.tar",
        "x",
    ],
)
def test_summary_box_stays_aligned(image_ref: str) -> None:
    import unicodedata

    def columns(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    lines = summary_box(_result(image_ref)).splitlines()
    widths = {columns(line) for line in lines}
    assert len(widths) == 1, lines
    assert widths.pop() >= 63
    assert lines[0].startswith("┌")
    assert lines[-1].startswith("└")
    assert all(line.endswith(("│", "┐", "┤", "┘")) for line in lines)
    assert any(image_ref in line for line in lines)


def test_json_uses_the_documented_camel_case_keys() -> None:
    document = json.loads(render_json(_result()))
    for key in (
        "timestamp",
        "imageRef",
        "scannerUsed",
        "passed",
        "score",
        "checks",
        "vulnerabilities",
        "vulnSummary",
    ):
        assert key in document
    assert document["timestamp"] == "2026-01-04T15:00:00Z"
    assert document["imageRef"] == "docker-archive:build/app.tar"
    first = document["vulnerabilities"][0]
    assert set(first) >= {
        "packageName",
        "cveId",
        "severity",
        "installedVersion",
        "fixedVersion",
    }
    assert first["cveId"] == "CVE-2024-0001"
    assert set(document["vulnSummary"]) >= {
        "critical",
        "high",
        "medium",
        "low",
        "total",
    }
    assert document["vulnSummary"]["total"] == 2
    assert document["checks"][0] == {
        "id": "non-root-user",
        "name": "Non-Root User",
        "status": "FAIL",
        "severity": "HIGH",
        "details": "Container runs as root (User is empty)",
        "evidence": [],
        "remediation": "Add USER 10001 to the Dockerfile",
    }


def test_json_round_trips_into_the_model() -> None:
    original = _result()
    assert AuditResult.model_validate_json(render_json(original)) == original


def test_published_schema_is_current() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema()


def test_report_validates_against_the_published_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.validate(json.loads(render_json(_result())), schema)


def test_sarif_carries_checks_findings_and_suppressions() -> None:
    sarif = json.loads(render(_result(), "sarif"))
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rule_ids == [
        "non-root-user",
        "secrets-in-env",
        "health-check",
        "CVE-2024-0001",
        "CVE-2024-0002",
        "CVE-2023-9999",
    ]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["non-root-user"] == "error"
    assert levels["health-check"] == "warning"
    assert levels["CVE-2023-9999"] == "warning"
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["CVE-2023-9999"]
    assert run["invocations"][0]["executionSuccessful"] is True
