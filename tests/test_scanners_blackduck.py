"""The Black Duck parser: Hub REST JSON from the corpus, Detect result files.

The corpus has no Detect stateless result file (see the module docstring of
``_blackduck``); the Detect tests use a document written here from Detect's
generated API classes, and say so. Hub CSV/zip exports, BDBA CSV and BDIO
documents are not supported and were not copied.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_sentry._models import Severity
from pytest_sentry._runners.interface import OutputKind
from pytest_sentry._scanners._blackduck import BlackDuckScanner, parse_blackduck
from pytest_sentry._scanners.interface import ScanError
from scannerdata import assert_parsed, document, files, read

REFUSED = {"bc-hub-vulnerability-notification.json": 'no "items"'}


def raw_severities(doc: Any) -> list[Any]:
    items = doc["items"] if isinstance(doc, dict) else doc
    return [item["vulnerabilityWithRemediation"].get("severity") for item in items]


@pytest.mark.parametrize("name", [n for n in files("blackduck") if n not in REFUSED])
def test_counts_match_the_report(name: str) -> None:
    assert_parsed(
        parse_blackduck(read("blackduck", name)),
        raw_severities(document("blackduck", name)),
    )


def test_notifications_are_refused() -> None:
    with pytest.raises(ScanError, match=r"^blackduck: not a Black Duck result"):
        parse_blackduck(read("blackduck", "bc-hub-vulnerability-notification.json"))


def test_bdsa_with_a_related_cve_is_reported_as_the_cve() -> None:
    findings = parse_blackduck(
        read("blackduck", "dd-blackduck-api-vulnerable-bom-components.json")
    )

    first = findings[0]
    assert first.cve_id == "CVE-2021-3810"
    assert first.aliases == ("BDSA-2021-2909",)
    assert first.package_name == "cdr/code-server"
    assert first.installed_version == "3.3.0-rc.27"
    assert first.severity is Severity.MEDIUM
    assert first.package_type == "npmjs"
    assert first.fixed_version == ""


def test_the_paged_object_form_is_read_like_the_list() -> None:
    items = document("blackduck", "dd-blackduck-api-vulnerable-bom-components.json")
    paged = json.dumps({"totalCount": len(items), "items": items}).encode()

    assert parse_blackduck(paged) == parse_blackduck(
        read("blackduck", "dd-blackduck-api-vulnerable-bom-components.json")
    )


# Shaped after Detect's DeveloperScansScanView (blackduck-common-api); not a
# recorded file, since none was available.
DETECT_RESULT = [
    {
        "componentName": "Apache Commons Text",
        "versionName": "1.9",
        "externalId": "org.apache.commons:commons-text:1.9",
        "externalNamespace": "maven",
        "policyViolationVulnerabilities": [
            {
                "name": "CVE-2022-42889",
                "vulnSeverity": "CRITICAL",
                "description": "Text4Shell: variable interpolation runs code",
                "overallScore": 9.8,
            },
            {"name": "BDSA-2022-2771", "vulnSeverity": "HIGH"},
        ],
        "shortTermUpgradeGuidance": {"versionName": "1.10.0"},
    },
    {
        "componentName": "zlib",
        "versionName": "1.2.13",
        "policyViolationVulnerabilities": [],
    },
]


def test_detect_result_file_components_become_findings() -> None:
    findings = parse_blackduck(json.dumps(DETECT_RESULT).encode())

    assert [(f.cve_id, f.severity) for f in findings] == [
        ("CVE-2022-42889", Severity.CRITICAL),
        ("BDSA-2022-2771", Severity.HIGH),
    ]
    assert findings[0].package_name == "Apache Commons Text"
    assert findings[0].installed_version == "1.9"
    assert findings[0].fixed_version == "1.10.0"
    assert findings[0].package_type == "maven"
    assert findings[0].title == "Text4Shell: variable interpolation runs code"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "blackduck: the report is empty"),
        (b'"x"', "blackduck: expected a JSON list, got a string"),
        (b"[{}]", "blackduck: items[0]: neither a Detect component nor a Hub item"),
        (
            b'[{"componentName": "c", "vulnerabilityWithRemediation": {}}]',
            "blackduck: items[0].vulnerabilityWithRemediation: missing "
            '"vulnerabilityName"',
        ),
    ],
)
def test_malformed_reports_raise_scan_error(data: bytes, message: str) -> None:
    with pytest.raises(ScanError) as caught:
        parse_blackduck(data)
    assert str(caught.value).startswith(message)


def test_empty_result_list_has_no_findings() -> None:
    assert parse_blackduck(b"[]") == []


def test_scanner_runs_detect_with_java_and_reads_its_output_directory() -> None:
    spec = BlackDuckScanner().exec_spec(
        credentials={
            "BLACKDUCK_URL": "https://bd.example",
            "BLACKDUCK_API_TOKEN": "tok-abc",
        }
    )

    argv = spec.command(spec.container_entry, "/in/app.tar", "/out")

    assert argv[:3] == ["java", "-jar", "/detect.jar"]
    assert "--detect.container.scan.file.path=/in/app.tar" in argv
    assert "--detect.output.path=/out" in argv
    assert spec.output.kind is OutputKind.DIRECTORY
    assert spec.success_codes == frozenset({0, 3})
    # The server URL is not a secret; the token is.
    assert spec.secrets == ("tok-abc",)
