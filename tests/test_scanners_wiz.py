"""The Wiz CLI parser against every recorded Wiz CLI JSON result.

The portal CSV exports in the corpus are not Wiz CLI output and are not
supported; they were not copied.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sentry._models import Severity
from pytest_sentry._runners.interface import OutputKind
from pytest_sentry._scanners._wiz import WizScanner, parse_wiz
from pytest_sentry._scanners.interface import ScanError
from scannerdata import assert_parsed, document, files, read

REFUSED = {"dd-wizcli-iac-many_vul.json": "an IaC scan result"}


def raw_severities(doc: Any) -> list[Any]:
    result = doc["result"]
    groups = ("osPackages", "libraries", "applications")
    return [
        v.get("severity")
        for group in groups
        for package in result.get(group) or []
        for v in package.get("vulnerabilities") or []
    ]


@pytest.mark.parametrize("name", [n for n in files("wiz") if n not in REFUSED])
def test_counts_match_the_report(name: str) -> None:
    assert_parsed(parse_wiz(read("wiz", name)), raw_severities(document("wiz", name)))


def test_iac_results_are_refused() -> None:
    with pytest.raises(ScanError, match=r"^wiz: an IaC scan result"):
        parse_wiz(read("wiz", "dd-wizcli-iac-many_vul.json"))


def test_library_finding_fields_and_ghsa_alias() -> None:
    findings = parse_wiz(read("wiz", "dd-wizcli-img-many_vul.json"))

    finding = next(f for f in findings if f.cve_id == "CVE-2023-44487")
    assert finding.package_name == "golang.org/x/net"
    assert finding.installed_version == "0.14.0"
    assert finding.fixed_version == "0.17.0"
    assert finding.severity is Severity.MEDIUM
    assert finding.aliases == ("GHSA-qppj-fm5r-hxr3",)
    assert finding.package_type == "library"


def test_os_package_finding() -> None:
    findings = parse_wiz(read("wiz", "dd-wizcli-img-many_vul.json"))

    os_findings = [f for f in findings if f.package_type == "os"]
    assert next((f.cve_id, f.package_name, f.severity) for f in os_findings) == (
        "CVE-2024-5535",
        "libcrypto3",
        Severity.LOW,
    )
    assert len(os_findings) == 2


def test_analytics_agree_with_the_findings() -> None:
    # Wiz's own summary counts, written by the tool, as a second witness.
    counts = document("wiz", "dd-wizcli-img-many_vul.json")["result"]["analytics"][
        "vulnerabilities"
    ]

    findings = parse_wiz(read("wiz", "dd-wizcli-img-many_vul.json"))

    for level in ("critical", "high", "medium", "low"):
        severity = Severity.parse(level)
        assert sum(f.severity is severity for f in findings) == counts[f"{level}Count"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "wiz: the report is empty"),
        (b"[]", "wiz: expected a JSON object, got a list"),
        (
            b'{"status": {"state": "FAILED"}, "result": {}}',
            "wiz: the scan did not succeed",
        ),
        (
            b'{"status": {"state": "SUCCESS"}}',
            'wiz: not a Wiz CLI scan result (no "result")',
        ),
        (b'{"result": null}', "wiz: result: expected an object, got null"),
        (
            b'{"result": {"libraries": [{"name": "x", "vulnerabilities": [{}]}]}}',
            'wiz: result.libraries[0].vulnerabilities[0]: missing "name"',
        ),
    ],
)
def test_malformed_reports_raise_scan_error(data: bytes, message: str) -> None:
    with pytest.raises(ScanError) as caught:
        parse_wiz(data)
    assert str(caught.value).startswith(message)


def test_scanner_writes_to_a_file_and_accepts_policy_failures() -> None:
    spec = WizScanner().exec_spec(
        credentials={"WIZ_CLIENT_ID": "id-123456", "WIZ_CLIENT_SECRET": "s3cret-value"}
    )

    argv = spec.command(("wizcli",), "/in/app.tar", "/out/wiz.json")

    assert argv[:4] == ["wizcli", "scan", "container-image", "/in/app.tar"]
    assert argv[argv.index("--json-output-file") + 1] == "/out/wiz.json"
    assert spec.output.kind is OutputKind.FILE
    assert spec.success_codes == frozenset({0, 4})
    assert set(spec.secrets) == {"id-123456", "s3cret-value"}
