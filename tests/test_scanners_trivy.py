"""The Trivy parser against every recorded Trivy JSON report."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sentry._models import Severity
from pytest_sentry._scanners._trivy import TrivyScanner, parse_trivy
from pytest_sentry._scanners.interface import ScanError
from scannerdata import assert_parsed, document, files, read

# Reports that are not a Trivy image scan in JSON, and what the error says.
REFUSED = {
    "dd-trivy-kubernetes.json": "Kubernetes cluster report",
    "scb-trivy-k8s-results_unexpected-attribute.json": "Kubernetes cluster report",
    "trivy-alpine-310.sarif.json": "SARIF",
    # A legacy report with a finding that has no id: refused, not skipped.
    "dd-trivy-legacy_trivy_mix.json": (
        'Results[0].Vulnerabilities[0]: missing "VulnerabilityID"'
    ),
}


def raw_severities(doc: Any) -> list[Any]:
    results = doc if isinstance(doc, list) else (doc or {}).get("Results") or []
    return [v.get("Severity") for r in results for v in r.get("Vulnerabilities") or []]


@pytest.mark.parametrize("name", [n for n in files("trivy") if n not in REFUSED])
def test_counts_match_the_report(name: str) -> None:
    assert_parsed(
        parse_trivy(read("trivy", name)), raw_severities(document("trivy", name))
    )


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_reports_that_are_not_image_scans_are_refused(name: str) -> None:
    with pytest.raises(ScanError, match=r"^trivy: ") as caught:
        parse_trivy(read("trivy", name))
    assert REFUSED[name] in str(caught.value)


def test_a_finding_keeps_every_field() -> None:
    findings = parse_trivy(read("trivy", "trivy-alpine-39.json"))

    first = findings[0]
    assert first.cve_id == "CVE-2019-1549"
    assert first.package_name == "libcrypto1.1"
    assert first.installed_version == "1.1.1b-r1"
    assert first.fixed_version == "1.1.1d-r0"
    assert first.severity is Severity.MEDIUM
    assert first.scanner_severity == "MEDIUM"
    assert first.title == "openssl: information disclosure in fork()"
    assert first.url == "https://avd.aquasec.com/nvd/cve-2019-1549"
    assert first.package_type == "alpine"
    assert [f.severity for f in findings].count(Severity.CRITICAL) == 2


def test_unknown_severity_is_info_and_kept_verbatim() -> None:
    findings = parse_trivy(read("trivy", "ddsamples-trivy_v0.2.1_python3.json"))

    unknown = [f for f in findings if f.scanner_severity == "UNKNOWN"]
    assert len(unknown) == 18
    assert {f.severity for f in unknown} == {Severity.INFO}


def test_vendor_ids_become_aliases() -> None:
    doc = document("trivy", "dd-trivy-kubernetes.json")
    result = doc["Vulnerabilities"][0]["Results"][0]
    report = {"SchemaVersion": 2, "Results": [result]}

    import json

    findings = parse_trivy(json.dumps(report).encode())

    assert findings[0].cve_id == "CVE-2020-27350"
    assert findings[0].aliases == ("DSA-4808-1",)


@pytest.mark.parametrize(
    ("data", "count"),
    [
        (b"null", 0),  # what old Trivy printed for a clean image
        (b"[]", 0),
        (b'{"SchemaVersion": 2}', 0),
        (b'{"SchemaVersion": 2, "Results": null}', 0),
        (b'{"SchemaVersion": 2, "Results": []}', 0),
        (
            b'{"SchemaVersion": 2, "Results": [{"Vulnerabilities": null}]}',
            0,
        ),
    ],
)
def test_degenerate_reports_have_no_findings(data: bytes, count: int) -> None:
    assert len(parse_trivy(data)) == count


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "trivy: the report is empty"),
        (b"  \n", "trivy: the report is empty"),
        (b'{"SchemaVersion": 2, "Results": [', "trivy: the report is not valid JSON"),
        (b"\xff\xfe\x00garbage", "trivy: the report is not valid JSON"),
        (b'"text"', "trivy: expected a JSON object or list, got a string"),
        (b"{}", "trivy: not a Trivy report"),
        (b'{"SchemaVersion": 2, "Results": {}}', "trivy: Results: expected a list"),
        (
            b'{"SchemaVersion": 2, "Results": [1]}',
            "trivy: Results[0]: expected an object",
        ),
        (
            b'{"Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1"}]}]}',
            'trivy: Results[0].Vulnerabilities[0]: missing "PkgName"',
        ),
    ],
)
def test_malformed_reports_raise_scan_error(data: bytes, message: str) -> None:
    with pytest.raises(ScanError) as caught:
        parse_trivy(data)
    assert str(caught.value).startswith(message)


def test_scanner_runs_the_program_with_the_archive_and_json_output() -> None:
    spec = TrivyScanner().exec_spec(timeout=600)

    argv = spec.command(("trivy",), "/tmp/app.tar", "")

    assert argv[:4] == ["trivy", "image", "--input", "/tmp/app.tar"]
    assert argv[argv.index("--format") + 1] == "json"
    assert argv[argv.index("--exit-code") + 1] == "0"
    assert argv[argv.index("--timeout") + 1] == "600s"
    assert spec.container_image == "aquasec/trivy:0.59.1"
    assert spec.container_entry == ("trivy",)
    assert spec.success_codes == frozenset({0})
