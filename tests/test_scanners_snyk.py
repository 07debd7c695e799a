"""The Snyk parser against every recorded ``snyk container test --json`` output."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sentry._models import Severity
from pytest_sentry._scanners._normalize import finalize
from pytest_sentry._scanners._snyk import SnykScanner, parse_snyk
from pytest_sentry._scanners.interface import ScanError
from scannerdata import assert_parsed, document, files, read

REFUSED = {"snykcli-container-sarif.json": "SARIF"}


def projects(doc: Any) -> list[dict[str, Any]]:
    found = []
    for project in doc if isinstance(doc, list) else [doc]:
        found.append(project)
        found.extend(project.get("applications") or [])
    return found


def raw_severities(doc: Any) -> list[Any]:
    return [
        v.get("severityWithCritical") or v.get("severity")
        for p in projects(doc)
        for v in p["vulnerabilities"]
    ]


@pytest.mark.parametrize("name", [n for n in files("snyk") if n not in REFUSED])
def test_counts_match_the_report(name: str) -> None:
    assert_parsed(
        parse_snyk(read("snyk", name)), raw_severities(document("snyk", name))
    )


def test_sarif_is_refused() -> None:
    with pytest.raises(ScanError, match=r"^snyk: this is a SARIF report"):
        parse_snyk(read("snyk", "snykcli-container-sarif.json"))


def test_cve_from_identifiers_wins_over_the_snyk_id() -> None:
    findings = parse_snyk(read("snyk", "snykcli-docker-fixable-vulns.json"))

    first = findings[0]
    assert first.cve_id == "CVE-2018-20843"
    assert first.aliases == ("SNYK-LINUX-EXPAT-450908",)
    assert first.package_name == "expat"
    assert first.installed_version == "2.2.5-r0"
    assert first.fixed_version == "2.2.7-r0"  # from nearestFixedInVersion
    assert first.severity is Severity.HIGH
    assert first.scanner_severity == "high"
    assert first.url == "https://security.snyk.io/vuln/SNYK-LINUX-EXPAT-450908"


def test_fixed_in_lists_every_version() -> None:
    findings = parse_snyk(read("snyk", "dd-snyk-maven-many-vulns.json"))

    finding = next(f for f in findings if f.cve_id == "CVE-2020-25649")
    assert finding.package_name == "com.fasterxml.jackson.core:jackson-databind"
    assert finding.fixed_version == "2.6.7.4, 2.9.10.7, 2.10.5.1"
    assert finding.package_type == "maven"


def test_application_findings_of_a_project_list_are_included() -> None:
    doc = document("snyk", "snykcli-container-app-vulns-results.json")
    npm_count = len(doc[1]["vulnerabilities"])

    findings = parse_snyk(read("snyk", "snykcli-container-app-vulns-results.json"))

    npm = [f for f in findings if f.package_type == "npm"]
    assert len(npm) == npm_count == 11
    # An advisory without a CVE keeps Snyk's own id.
    assert any(f.cve_id == "npm:connect:20120107" and not f.aliases for f in npm)


def test_repeated_paths_collapse_to_one_finding_per_package() -> None:
    doc = document("snyk", "snykcli-basic-apk-results.json")
    keys = {
        (v["identifiers"]["CVE"][0], v["name"], v["version"])
        for v in doc[0]["vulnerabilities"]
    }

    unique = finalize(parse_snyk(read("snyk", "snykcli-basic-apk-results.json")))

    assert {f.key for f in unique} == keys
    assert len(unique) == 2 < len(doc[0]["vulnerabilities"])


def test_an_error_result_is_a_scan_error() -> None:
    data = b'{"ok": false, "error": "Could not find image archive", "path": "x"}'

    with pytest.raises(ScanError, match="Snyk reported an error: Could not find"):
        parse_snyk(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "snyk: the report is empty"),
        (b"42", "snyk: expected a JSON object or list, got a number"),
        (
            b'{"ok": true}',
            'snyk: report: not a Snyk test result (no "vulnerabilities")',
        ),
        (b"[1]", "snyk: [0]: expected an object, got a number"),
        (
            b'{"vulnerabilities": [{"name": "x"}]}',
            'snyk: report.vulnerabilities[0]: missing "id"',
        ),
        (
            b'{"vulnerabilities": [{"id": "SNYK-1"}]}',
            'snyk: report.vulnerabilities[0]: missing "name"',
        ),
    ],
)
def test_malformed_reports_raise_scan_error(data: bytes, message: str) -> None:
    with pytest.raises(ScanError) as caught:
        parse_snyk(data)
    assert str(caught.value).startswith(message)


def test_empty_project_list_has_no_findings() -> None:
    assert parse_snyk(b"[]") == []


def test_scanner_accepts_exit_code_one_and_reads_the_token_from_the_environment() -> (
    None
):
    spec = SnykScanner().exec_spec(credentials={"SNYK_TOKEN": "t0ken-value"})

    argv = spec.command(("snyk",), "/in/app.tar", "")

    assert argv == ["snyk", "container", "test", "docker-archive:/in/app.tar", "--json"]
    assert spec.success_codes == frozenset({0, 1})
    assert spec.secrets == ("t0ken-value",)
    assert "t0ken-value" not in repr(spec)
