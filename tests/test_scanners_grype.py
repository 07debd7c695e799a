"""The Grype parser against every recorded Grype JSON report."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_sentry._models import Severity
from pytest_sentry._scanners._grype import GrypeScanner, parse_grype
from pytest_sentry._scanners._normalize import finalize
from pytest_sentry._scanners.interface import ScanError
from scannerdata import assert_parsed, document, files, read

REFUSED = {
    "grype-TestCycloneDxPresenterImage.json": "CycloneDX",
    "grype-TestSarifPresenter_directory.json": "SARIF",
    "grype-TestSarifPresenter_image.json": "SARIF",
}


def raw_severities(doc: Any) -> list[Any]:
    return [m["vulnerability"].get("severity") for m in doc["matches"]]


@pytest.mark.parametrize("name", [n for n in files("grype") if n not in REFUSED])
def test_counts_match_the_report(name: str) -> None:
    assert_parsed(
        parse_grype(read("grype", name)), raw_severities(document("grype", name))
    )


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_other_formats_are_refused(name: str) -> None:
    with pytest.raises(ScanError, match=f"^grype: this is a {REFUSED[name]}"):
        parse_grype(read("grype", name))


def test_negligible_and_unknown_are_info() -> None:
    findings = parse_grype(read("grype", "dd-grype-many_vulns.json"))

    by_raw: dict[str, set[Severity]] = {}
    for finding in findings:
        by_raw.setdefault(finding.scanner_severity, set()).add(finding.severity)
    assert by_raw["Negligible"] == {Severity.INFO}
    assert by_raw["Unknown"] == {Severity.INFO}
    assert sum(f.scanner_severity == "Negligible" for f in findings) == 681


def test_missing_severity_is_info_with_an_empty_scanner_string() -> None:
    findings = parse_grype(read("grype", "dd-grype-issue_9618.json"))

    finding = next(f for f in findings if f.cve_id == "CVE-2024-26308")
    assert finding.severity is Severity.INFO
    assert finding.scanner_severity == ""
    assert finding.fixed_version == "1.26.0"


def test_ghsa_with_a_related_cve_is_reported_as_the_cve() -> None:
    findings = parse_grype(read("grype", "ddsamples-juice_shop-grype-sca.json"))

    finding = next(f for f in findings if "GHSA-78wr-2p64-hpwj" in f.aliases)
    assert finding.cve_id == "CVE-2024-47554"
    assert finding.package_name == "commons-io"
    assert finding.installed_version == "2.4"
    assert finding.fixed_version == "2.14.0"
    assert finding.severity is Severity.HIGH
    assert finding.scanner_severity == "High"
    assert finding.package_type == "java-archive"
    assert finding.url == "https://github.com/advisories/GHSA-78wr-2p64-hpwj"


def test_every_fixed_version_is_kept() -> None:
    findings = parse_grype(read("grype", "grype-TestJsonImgsPresenter.json"))

    assert findings[0].cve_id == "CVE-1999-0001"
    assert findings[0].package_name == "package-1"
    assert findings[0].installed_version == "1.1.1"
    assert findings[0].fixed_version == "1.2.1, 2.1.3, 3.4.0"
    assert findings[0].severity is Severity.LOW
    assert findings[1].fixed_version == ""
    assert findings[1].severity is Severity.CRITICAL


def test_duplicates_collapse_on_id_package_and_version() -> None:
    doc = document("grype", "ddsamples-juice_shop-grype-sca.json")
    keys = set()
    for match in doc["matches"]:
        own = match["vulnerability"]["id"]
        related = [r["id"] for r in match.get("relatedVulnerabilities", [])]
        cve = (
            own
            if own.startswith("CVE-")
            else next((r for r in related if r.startswith("CVE-")), own)
        )
        keys.add((cve, match["artifact"]["name"], match["artifact"]["version"]))

    unique = finalize(parse_grype(read("grype", "ddsamples-juice_shop-grype-sca.json")))

    assert len(unique) == len(keys) < len(doc["matches"])
    assert {f.key for f in unique} == keys


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "grype: the report is empty"),
        (b"[]", "grype: expected a JSON object, got a list"),
        (b'{"source": {}}', 'grype: not a Grype report (no "matches")'),
        (b'{"matches": {}}', "grype: matches: expected a list, got an object"),
        (
            b'{"matches": [{"artifact": {"name": "x"}}]}',
            "grype: matches[0].vulnerability",
        ),
        (
            b'{"matches": [{"vulnerability": {"id": "CVE-1"}, "artifact": {}}]}',
            'grype: matches[0].artifact: missing "name"',
        ),
    ],
)
def test_malformed_reports_raise_scan_error(data: bytes, message: str) -> None:
    with pytest.raises(ScanError) as caught:
        parse_grype(data)
    assert str(caught.value).startswith(message)


def test_null_matches_mean_no_findings() -> None:
    assert parse_grype(b'{"matches": null}') == []


def test_scanner_names_the_archive_with_grype_scheme() -> None:
    spec = GrypeScanner().exec_spec()

    argv = spec.command(spec.container_entry, "/in/app.tar", "")

    assert argv == ["/grype", "docker-archive:/in/app.tar", "-o", "json"]
    assert spec.env == {"GRYPE_CHECK_FOR_APP_UPDATE": "false"}
    assert spec.cache_env == {"GRYPE_DB_CACHE_DIR": spec.cache_dir}
