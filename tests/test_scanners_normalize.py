"""Shared normalisation: severities, CVE preference, de-duplication, enums."""

from __future__ import annotations

import logging

import pytest

from pytest_sentry._models import Severity, Vulnerability
from pytest_sentry._scanners._factory import PARSERS, SCANNERS
from pytest_sentry._scanners._normalize import (
    finalize,
    join_versions,
    prefer_cve,
    severity,
    short,
)
from pytest_sentry._scanners.interface import OutputFormat, ScannerName


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CRITICAL", Severity.CRITICAL),
        ("Critical", Severity.CRITICAL),
        ("high", Severity.HIGH),
        ("Important", Severity.HIGH),
        ("MEDIUM", Severity.MEDIUM),
        ("moderate", Severity.MEDIUM),
        ("Low", Severity.LOW),
        ("Negligible", Severity.INFO),
        ("Unknown", Severity.INFO),
        ("UNKNOWN", Severity.INFO),
        ("", Severity.INFO),
        (None, Severity.INFO),
        (7.5, Severity.INFO),
    ],
)
def test_severities_map_to_five_levels(raw: object, expected: Severity) -> None:
    assert severity(raw) is expected


def test_an_unrecognised_severity_is_info_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)

    assert severity("Apocalyptic") is Severity.INFO
    assert severity("Apocalyptic") is Severity.INFO

    warnings = [r for r in caplog.records if "Apocalyptic" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("own", "related", "chosen", "aliases"),
    [
        ("CVE-2021-1", ["GHSA-x"], "CVE-2021-1", ("GHSA-x",)),
        ("GHSA-x", ["CVE-2021-1"], "CVE-2021-1", ("GHSA-x",)),
        ("SNYK-1", ["CVE-2", "CVE-3"], "CVE-2", ("SNYK-1", "CVE-3")),
        ("BDSA-1", [], "BDSA-1", ()),
        ("GHSA-x", ["GHSA-x", ""], "GHSA-x", ()),
    ],
)
def test_cve_ids_are_preferred(
    own: str, related: list[str], chosen: str, aliases: tuple[str, ...]
) -> None:
    assert prefer_cve(own, related) == (chosen, aliases)


def finding(**changes: object) -> Vulnerability:
    fields: dict[str, object] = {
        "cve_id": "CVE-2024-1",
        "package_name": "openssl",
        "installed_version": "3.0.1",
        "severity": Severity.LOW,
    }
    fields.update(changes)
    return Vulnerability.model_validate(fields)


def test_duplicates_keep_the_most_severe_and_merge_fixes_and_aliases() -> None:
    low = finding(severity=Severity.LOW, fixed_version="3.0.2", aliases=("GHSA-a",))
    high = finding(
        severity=Severity.HIGH,
        scanner_severity="High",
        fixed_version="3.0.9, 3.0.2",
        aliases=("DSA-9",),
        title="",
    )
    other_version = finding(installed_version="3.0.5")

    merged = finalize([low, high, other_version])

    assert len(merged) == 2
    assert merged[0].severity is Severity.HIGH
    assert merged[0].scanner_severity == "High"
    assert merged[0].fixed_version == "3.0.9, 3.0.2"
    assert set(merged[0].aliases) == {"GHSA-a", "DSA-9"}
    assert merged[1].installed_version == "3.0.5"


def test_equal_severity_keeps_the_first_and_its_fields() -> None:
    first = finding(title="first", url="")
    second = finding(title="second", url="https://x")

    (merged,) = finalize([first, second])

    assert merged.title == "first"
    assert merged.url == "https://x"


def test_short_titles_are_one_bounded_line() -> None:
    assert short("Line one\nline two") == "Line one"
    assert len(short("x" * 500)) == 160
    assert short(None) == ""
    assert join_versions(["1.0", "", "1.0", 2]) == "1.0, 2"


def test_every_scanner_name_has_a_scanner_or_is_custom() -> None:
    for name in ScannerName:
        if name is ScannerName.CUSTOM:
            assert name not in SCANNERS
        else:
            scanner = SCANNERS[name]()
            assert scanner.name is name
            assert scanner.program
            assert scanner.container_entry
            assert ":" in scanner.default_image


EMPTY_REPORTS = {
    OutputFormat.TRIVY: b'{"SchemaVersion": 2, "Results": []}',
    OutputFormat.GRYPE: b'{"matches": []}',
    OutputFormat.SNYK: b'{"ok": true, "vulnerabilities": []}',
    OutputFormat.WIZ: b'{"status": {"state": "SUCCESS"}, "result": {}}',
    OutputFormat.BLACKDUCK: b"[]",
}


def test_every_output_format_has_a_parser() -> None:
    assert set(PARSERS) == set(OutputFormat) == set(EMPTY_REPORTS)
    for fmt, parser in PARSERS.items():
        assert parser(EMPTY_REPORTS[fmt]) == []


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("Trivy", ScannerName.TRIVY),
        ("black-duck", ScannerName.BLACKDUCK),
        ("black_duck", ScannerName.BLACKDUCK),
        (ScannerName.WIZ, ScannerName.WIZ),
    ],
)
def test_scanner_name_spellings(spelling: str, expected: ScannerName) -> None:
    assert ScannerName.parse(spelling) is expected


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(ValueError, match="scanner 'clair': not one of trivy, grype"):
        ScannerName.parse("clair")
    with pytest.raises(ValueError, match="output format 'sarif'"):
        OutputFormat.parse("sarif")
    assert OutputFormat.parse("grype-json") is OutputFormat.GRYPE
