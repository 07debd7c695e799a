"""Property-based fuzzing of every scanner report parser with hypothesis.

Scanner output is untrusted input: a scanner may be a newer version, a
wrapper script, or compromised. Whatever bytes it prints - random bytes,
JSON shaped like its format with wrong types, nulls and missing fields,
recorded real reports with values swapped for other types - the parser gives
findings or a :class:`ScanError` whose message starts with the scanner's
name. Never another exception type, never a hang, never a side effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import Sandbox, fuzz_settings, mutated, places, shaped
from pytest_sentry._image.interface import FileSystem, Image
from pytest_sentry._models import Severity, Vulnerability
from pytest_sentry._scanners import make_scan
from pytest_sentry._scanners._blackduck import parse_blackduck
from pytest_sentry._scanners._grype import parse_grype
from pytest_sentry._scanners._normalize import finalize
from pytest_sentry._scanners._snyk import parse_snyk
from pytest_sentry._scanners._trivy import parse_trivy
from pytest_sentry._scanners._wiz import parse_wiz
from pytest_sentry._scanners.interface import ScanError

DATA = Path(__file__).parent / "data" / "scanners"

PARSERS: dict[str, Callable[[bytes], list[Vulnerability]]] = {
    "trivy": parse_trivy,
    "grype": parse_grype,
    "snyk": parse_snyk,
    "wiz": parse_wiz,
    "blackduck": parse_blackduck,
}
TOOLS = sorted(PARSERS)


def parse_or_refuse(
    sandbox: Sandbox, tool: str, data: bytes
) -> list[Vulnerability] | None:
    """Parse under the sandbox; a ScanError must name the scanner first."""
    try:
        findings = sandbox.run(lambda: finalize(PARSERS[tool](data)))
    except ScanError as error:
        message = str(error)
        assert message.startswith(f"{tool}: "), message
        return None
    for item in findings:
        assert isinstance(item, Vulnerability)
        assert isinstance(item.severity, Severity)
        assert item.cve_id.strip()
        assert item.package_name.strip()
    return findings


# --- strategies: each format's shape, values of any type ------------------------

text = st.text(max_size=10)
ids = st.sampled_from(["CVE-2021-1234", "GHSA-aaaa-bbbb-cccc", "SNYK-X-1", "", " "])
severities = st.sampled_from(
    ["CRITICAL", "High", "medium", "Low", "Negligible", "Unknown", "", "BOGUS"]
)
versions = st.lists(text, max_size=3)

trivy_vuln = shaped(
    {
        "VulnerabilityID": ids,
        "VendorIDs": st.lists(ids, max_size=2),
        "PkgName": text,
        "InstalledVersion": text,
        "FixedVersion": text,
        "Severity": severities,
        "Title": text,
        "Description": text,
        "PrimaryURL": text,
    }
)
trivy_result = shaped(
    {
        "Target": text,
        "Type": text,
        "Vulnerabilities": st.lists(trivy_vuln, max_size=3),
        "Secrets": st.lists(text, max_size=1),
    }
)
trivy_report = st.one_of(
    shaped(
        {
            "SchemaVersion": st.just(2),
            "ArtifactName": text,
            "Results": st.lists(trivy_result, max_size=3),
            "ClusterName": text,
        }
    ),
    st.lists(trivy_result, max_size=3),
)

grype_report = shaped(
    {
        "matches": st.lists(
            shaped(
                {
                    "vulnerability": shaped(
                        {
                            "id": ids,
                            "severity": severities,
                            "fix": shaped({"versions": versions}),
                            "urls": versions,
                            "links": versions,
                            "dataSource": text,
                            "description": text,
                        }
                    ),
                    "artifact": shaped({"name": text, "version": text, "type": text}),
                    "relatedVulnerabilities": st.lists(
                        shaped({"id": ids, "description": text}), max_size=2
                    ),
                }
            ),
            max_size=4,
        )
    }
)

snyk_vuln = shaped(
    {
        "id": ids,
        "identifiers": shaped({"CVE": st.lists(ids, max_size=2)}),
        "name": text,
        "packageName": text,
        "version": text,
        "fixedIn": versions,
        "nearestFixedInVersion": text,
        "severity": severities,
        "severityWithCritical": severities,
        "title": text,
        "packageManager": text,
    }
)
snyk_app = shaped(
    {"vulnerabilities": st.lists(snyk_vuln, max_size=3), "packageManager": text}
)
snyk_project = shaped(
    {
        "ok": st.booleans(),
        "error": text,
        "vulnerabilities": st.lists(snyk_vuln, max_size=3),
        "packageManager": text,
        "applications": st.lists(snyk_app, max_size=2),
    }
)
snyk_report = st.one_of(snyk_project, st.lists(snyk_project, max_size=3))

wiz_package = shaped(
    {
        "name": text,
        "version": text,
        "vulnerabilities": st.lists(
            shaped(
                {
                    "name": ids,
                    "severity": severities,
                    "fixedVersion": text,
                    "source": st.sampled_from(
                        ["https://github.com/advisories/GHSA-a-b-c", "", "x/"]
                    ),
                    "description": text,
                }
            ),
            max_size=3,
        ),
    }
)
wiz_report = shaped(
    {
        "status": shaped({"state": st.sampled_from(["SUCCESS", "FAILED", ""])}),
        "result": shaped(
            {
                "osPackages": st.lists(wiz_package, max_size=2),
                "libraries": st.lists(wiz_package, max_size=2),
                "applications": st.lists(wiz_package, max_size=2),
                "__typename": text,
            }
        ),
    }
)

blackduck_vuln = shaped(
    {
        "name": ids,
        "vulnSeverity": severities,
        "severity": severities,
        "description": text,
    }
)
blackduck_item = st.one_of(
    shaped(
        {
            "componentName": text,
            "componentVersionName": text,
            "componentVersionOriginName": text,
            "vulnerabilityWithRemediation": shaped(
                {
                    "vulnerabilityName": ids,
                    "severity": severities,
                    "relatedVulnerability": text,
                    "description": text,
                }
            ),
        }
    ),
    shaped(
        {
            "componentName": text,
            "versionName": text,
            "externalNamespace": text,
            "allVulnerabilities": st.lists(blackduck_vuln, max_size=2),
            "policyViolationVulnerabilities": st.lists(blackduck_vuln, max_size=2),
            "shortTermUpgradeGuidance": shaped({"versionName": text}),
        }
    ),
)
blackduck_report = st.one_of(
    st.lists(blackduck_item, max_size=4),
    shaped({"items": st.lists(blackduck_item, max_size=4)}),
)

SHAPES: dict[str, st.SearchStrategy[Any]] = {
    "trivy": trivy_report,
    "grype": grype_report,
    "snyk": snyk_report,
    "wiz": wiz_report,
    "blackduck": blackduck_report,
}


# --- the tests --------------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
@fuzz_settings(150)
@given(data=st.binary(max_size=400))
def test_random_bytes(fuzz_sandbox: Sandbox, tool: str, data: bytes) -> None:
    parse_or_refuse(fuzz_sandbox, tool, data)


@pytest.mark.parametrize("tool", TOOLS)
@fuzz_settings(150)
@given(data=st.data())
def test_shaped_json(fuzz_sandbox: Sandbox, tool: str, data: st.DataObject) -> None:
    document = data.draw(SHAPES[tool])

    parse_or_refuse(fuzz_sandbox, tool, json.dumps(document).encode())


def _small_reports() -> list[tuple[str, str]]:
    return [
        (tool, path.name)
        for tool in TOOLS
        for path in sorted((DATA / tool).glob("*.json"))
        if path.stat().st_size <= 50_000
    ]


_DOCUMENTS: dict[tuple[str, str], tuple[Any, list[tuple[Any, ...]]]] = {}


def _document(tool: str, name: str) -> tuple[Any, list[tuple[Any, ...]]]:
    if (tool, name) not in _DOCUMENTS:
        document = json.loads((DATA / tool / name).read_bytes())
        _DOCUMENTS[tool, name] = (document, places(document))
    return _DOCUMENTS[tool, name]


@pytest.mark.parametrize("tool", TOOLS)
@fuzz_settings(150)
@given(data=st.data())
def test_mutated_recorded_reports(
    fuzz_sandbox: Sandbox, tool: str, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from([n for t, n in _small_reports() if t == tool]))
    document, where = _document(tool, name)
    if not where:
        return
    changed = data.draw(mutated(document, where))

    parse_or_refuse(fuzz_sandbox, tool, json.dumps(changed).encode())


@pytest.mark.parametrize("tool", TOOLS)
@fuzz_settings(50)
@given(data=st.data())
def test_report_runner_with_bad_reports(
    fuzz_sandbox: Sandbox, tmp_path: Path, tool: str, data: st.DataObject
) -> None:
    # The whole scan path a report file takes: read, parse, de-duplicate,
    # mask. Its errors name the scanner as well.
    body = data.draw(
        st.one_of(
            st.binary(max_size=200),
            SHAPES[tool].map(lambda d: json.dumps(d).encode()),
        )
    )
    report = tmp_path / "report.json"
    report.write_bytes(body)
    scan = make_scan(tool, runner="report", report_path=report)
    image = Image(reference="fuzz", config=None, filesystem=FileSystem())

    try:
        findings = fuzz_sandbox.run(lambda: scan.run(image))
    except ScanError as error:
        message = str(error)
        assert message.startswith(f"{tool}: "), message
        return
    assert all(isinstance(f, Vulnerability) for f in findings)


# --- inputs that once escaped as other exception types ------------------------------

HOSTILE_JSON = {
    "nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "nested objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "an integer of 5000 digits": b'{"matches": [' + b"1" * 5000 + b"]}",
    "invalid UTF-8": b'{"Results": ["\xff\xfe"]}',
    "a NUL byte": b"\x00",
}


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("case", sorted(HOSTILE_JSON))
def test_hostile_json_is_a_clear_error(
    fuzz_sandbox: Sandbox, tool: str, case: str
) -> None:
    data = HOSTILE_JSON[case]

    with pytest.raises(ScanError) as caught:
        fuzz_sandbox.run(lambda: PARSERS[tool](data))

    assert str(caught.value).startswith(f"{tool}: the report is not valid JSON")


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        ({"0": "https://a.example"}, ""),
        ("https://a.example", ""),
        (7, ""),
        ([None, "https://b.example"], ""),
        (["https://c.example"], "https://c.example"),
    ],
)
def test_grype_urls_of_any_shape(urls: Any, expected: str) -> None:
    # Found by test_mutated_recorded_reports: an object here raised KeyError.
    report = {
        "matches": [
            {
                "vulnerability": {"id": "CVE-2021-1234", "urls": urls},
                "artifact": {"name": "x"},
            }
        ]
    }

    (finding,) = parse_grype(json.dumps(report).encode())

    assert finding.url == expected


@pytest.mark.parametrize("tool", TOOLS)
def test_shapes_reach_the_findings(tool: str) -> None:
    # The strategies must be able to produce reports that parse into
    # findings, or the fuzzing only ever exercises the error paths.
    good = {
        "trivy": {
            "SchemaVersion": 2,
            "Results": [
                {
                    "Vulnerabilities": [
                        {"VulnerabilityID": "CVE-2021-1234", "PkgName": "x"}
                    ]
                }
            ],
        },
        "grype": {
            "matches": [
                {"vulnerability": {"id": "CVE-2021-1234"}, "artifact": {"name": "x"}}
            ]
        },
        "snyk": {"vulnerabilities": [{"id": "SNYK-X-1", "name": "x"}]},
        "wiz": {
            "result": {
                "osPackages": [
                    {"name": "x", "vulnerabilities": [{"name": "CVE-2021-1234"}]}
                ]
            }
        },
        "blackduck": [
            {
                "componentName": "x",
                "vulnerabilityWithRemediation": {"vulnerabilityName": "CVE-2021-1234"},
            }
        ],
    }[tool]

    findings = PARSERS[tool](json.dumps(good).encode())

    assert [(f.cve_id, f.package_name) for f in findings] == [
        ("SNYK-X-1" if tool == "snyk" else "CVE-2021-1234", "x")
    ]
