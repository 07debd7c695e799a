"""Black Duck: Detect's stateless container scan, or the Hub's REST JSON.

Run: ``java -jar /detect.jar --detect.tools=CONTAINER_SCAN
--detect.container.scan.file.path=ARCHIVE --detect.blackduck.scan.mode=STATELESS
--detect.output.path=DIR``, with ``BLACKDUCK_URL`` and ``BLACKDUCK_API_TOKEN``
in the environment. Checked against Detect's documentation and source
(container scan properties; stateless results written to
``<name>_<version>_BlackDuck_DeveloperMode_Result.json`` in the scan output
directory; exit codes 0 success and 3 policy violation, others failures) and
the ``blackducksoftware/detect`` image's Dockerfile (its entrypoint is
``java -jar /detect.jar``, which we run ourselves).

Two JSON shapes are read, told apart per item:

- Detect's result file: a list of components (``componentName``,
  ``versionName``, ``policyViolationVulnerabilities[]`` or
  ``allVulnerabilities[]`` with ``name``, ``vulnSeverity``;
  ``shortTermUpgradeGuidance.versionName``). Checked only against the
  generated API classes in blackduck-common-api and Detect's docs: no real
  result file was available. Stateless scans list the vulnerabilities that
  violate a policy, so findings below the server's policy do not appear.
- The Hub's ``vulnerable-bom-components`` response (a list of items, or an
  object with ``items``): ``componentName``, ``componentVersionName``,
  ``vulnerabilityWithRemediation`` (``vulnerabilityName`` BDSA or CVE,
  ``severity``, ``relatedVulnerability`` link to the CVE). Checked against a
  real, sanitised API response; it carries no fixed version.
"""

from __future__ import annotations

from typing import Any

from pytest_sentry._models import Vulnerability
from pytest_sentry._runners.interface import Credential, OutputKind, OutputLocation
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

TOOL = "blackduck"


class BlackDuckScanner(Scanner):
    name = ScannerName.BLACKDUCK
    output_format = OutputFormat.BLACKDUCK
    default_image = "blackducksoftware/detect:10.4.0"
    program = "detect"
    container_entry = ("java", "-jar", "/detect.jar")
    args = (
        "--detect.tools=CONTAINER_SCAN",
        "--detect.container.scan.file.path={archive}",
        "--detect.blackduck.scan.mode=STATELESS",
        "--detect.output.path={output}",
    )
    success_codes = frozenset({0, 3})
    output = OutputLocation(
        OutputKind.DIRECTORY, "**/*_BlackDuck_DeveloperMode_Result.json"
    )
    credentials = (
        Credential("BLACKDUCK_URL", secret=False),
        Credential("BLACKDUCK_API_TOKEN"),
    )

    def parse(self, data: bytes) -> list[Vulnerability]:
        return parse_blackduck(data)


def parse_blackduck(data: bytes) -> list[Vulnerability]:
    """Findings in a Detect result file or a Hub vulnerable-components response."""
    document = load_json(data, TOOL)
    reject_other_formats(document, TOOL)
    if isinstance(document, dict):
        if "items" not in document:
            raise ScanError(f'{TOOL}: not a Black Duck result (no "items")')
        items = as_list(document["items"], TOOL, "items")
    elif isinstance(document, list):
        items = document
    else:
        raise ScanError(f"{TOOL}: expected a JSON list, got {kind(document)}")

    findings: list[Vulnerability] = []
    for index, entry in enumerate(items):
        where = f"items[{index}]"
        item = as_dict(entry, TOOL, where)
        if "vulnerabilityWithRemediation" in item:
            findings.append(_hub_item(item, where))
        elif "componentName" in item:
            findings.extend(_detect_component(item, where))
        else:
            raise ScanError(
                f"{TOOL}: {where}: neither a Detect component nor a Hub item"
            )
    return findings


def _hub_item(item: dict[str, Any], where: str) -> Vulnerability:
    vuln_where = f"{where}.vulnerabilityWithRemediation"
    vuln = as_dict(item["vulnerabilityWithRemediation"], TOOL, vuln_where)
    own_id = required(vuln, "vulnerabilityName", TOOL, vuln_where)
    related = text(vuln.get("relatedVulnerability")).rstrip("/").rsplit("/", 1)[-1]
    cve_id, aliases = prefer_cve(own_id, [related])
    return finding(
        cve_id=cve_id,
        package_name=required(item, "componentName", TOOL, where),
        installed_version=text(item.get("componentVersionName")),
        severity=severity(vuln.get("severity")),
        scanner_severity=text(vuln.get("severity")),
        title=short(vuln.get("description")),
        aliases=aliases,
        package_type=text(item.get("componentVersionOriginName")),
    )


def _detect_component(item: dict[str, Any], where: str) -> list[Vulnerability]:
    name = required(item, "componentName", TOOL, where)
    key = (
        "allVulnerabilities"
        if item.get("allVulnerabilities")
        else "policyViolationVulnerabilities"
    )
    guidance = item.get("shortTermUpgradeGuidance")
    fixed = text(guidance.get("versionName")) if isinstance(guidance, dict) else ""

    findings = []
    for index, entry in enumerate(as_list(item.get(key), TOOL, f"{where}.{key}")):
        vuln_where = f"{where}.{key}[{index}]"
        vuln = as_dict(entry, TOOL, vuln_where)
        own_id = required(vuln, "name", TOOL, vuln_where)
        raw = vuln.get("vulnSeverity") or vuln.get("severity")
        cve_id, aliases = prefer_cve(own_id)
        findings.append(
            finding(
                cve_id=cve_id,
                package_name=name,
                installed_version=text(item.get("versionName")),
                fixed_version=fixed,
                severity=severity(raw),
                scanner_severity=text(raw),
                title=short(vuln.get("description")),
                aliases=aliases,
                package_type=text(item.get("externalNamespace")),
            )
        )
    return findings
