"""Wiz: ``wizcli scan container-image ARCHIVE --json-output-file FILE``.

Checked against: third-party integrations of Wiz CLI 1.x (``scan
container-image``, ``--json-output-file``, ``--no-color``/``--no-style``,
``WIZ_CLIENT_ID``/``WIZ_CLIENT_SECRET`` in the environment; exit codes 0
passed, 1 general error, 2 invalid command, 3 authentication error, 4 policy
violation with results written). Wiz's own documentation is not public, and
whether 1.x accepts a ``docker save`` archive in place of an image name could
not be confirmed: override ``args`` if your Wiz CLI needs another form.

The JSON shape was checked only against sample output: ``wizcli docker
scan`` (0.x) reports contributed to DefectDojo's test suite, with
``result.osPackages[]`` and ``result.libraries[]`` (each with ``name``,
``version`` and ``vulnerabilities[]`` of ``name``, ``severity``,
``fixedVersion``, ``source``); ``result.applications[]`` is read the same
way. IaC results and failed scans are refused, never read as "no findings".
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

TOOL = "wiz"
_GROUPS = (("osPackages", "os"), ("libraries", "library"), ("applications", "app"))


class WizScanner(Scanner):
    name = ScannerName.WIZ
    output_format = OutputFormat.WIZ
    # Wiz publishes moving tags only (latest, latest-amd64, latest-arm64);
    # pin a digest through the image option for reproducible runs.
    default_image = "wiziocli.azurecr.io/wizcli:latest"
    program = "wizcli"
    container_entry = ("wizcli",)
    args = (
        "scan",
        "container-image",
        "{archive}",
        "--json-output-file",
        "{output}",
        "--no-color",
        "--no-style",
    )
    success_codes = frozenset({0, 4})
    output = OutputLocation(OutputKind.FILE, "wiz.json")
    credentials = (Credential("WIZ_CLIENT_ID"), Credential("WIZ_CLIENT_SECRET"))

    def parse(self, data: bytes) -> list[Vulnerability]:
        return parse_wiz(data)


def parse_wiz(data: bytes) -> list[Vulnerability]:
    """Findings in a Wiz CLI image or directory scan result."""
    document = load_json(data, TOOL)
    reject_other_formats(document, TOOL)
    if not isinstance(document, dict):
        raise ScanError(f"{TOOL}: expected a JSON object, got {kind(document)}")

    status = document.get("status")
    state = status.get("state") if isinstance(status, dict) else None
    if isinstance(state, str) and state.upper() not in ("SUCCESS", "SUCCEEDED"):
        raise ScanError(f"{TOOL}: the scan did not succeed (status {state})")
    if "result" not in document:
        raise ScanError(f'{TOOL}: not a Wiz CLI scan result (no "result")')
    result = as_dict(document["result"], TOOL, "result")

    if "ruleMatches" in result or "IAC" in text(result.get("__typename")).upper():
        raise ScanError(f"{TOOL}: an IaC scan result, not an image scan")

    findings = []
    for key, package_type in _GROUPS:
        for index, entry in enumerate(as_list(result.get(key), TOOL, f"result.{key}")):
            where = f"result.{key}[{index}]"
            package = as_dict(entry, TOOL, where)
            findings.extend(_package(package, where, package_type))
    return findings


def _package(
    package: dict[str, Any], where: str, package_type: str
) -> list[Vulnerability]:
    name = required(package, "name", TOOL, where)
    version = text(package.get("version"))
    findings = []
    vulns = as_list(package.get("vulnerabilities"), TOOL, f"{where}.vulnerabilities")
    for index, entry in enumerate(vulns):
        item = f"{where}.vulnerabilities[{index}]"
        vuln = as_dict(entry, TOOL, item)
        own_id = required(vuln, "name", TOOL, item)
        url = text(vuln.get("source"))
        # The advisory link often names the GHSA behind a CVE: keep it as an alias.
        advisory = url.rsplit("/", 1)[-1] if "/GHSA-" in url else ""
        cve_id, aliases = prefer_cve(own_id, [advisory])
        findings.append(
            finding(
                cve_id=cve_id,
                package_name=name,
                installed_version=version,
                fixed_version=text(vuln.get("fixedVersion")),
                severity=severity(vuln.get("severity")),
                scanner_severity=text(vuln.get("severity")),
                title=short(vuln.get("description")),
                url=url,
                aliases=aliases,
                package_type=package_type,
            )
        )
    return findings
