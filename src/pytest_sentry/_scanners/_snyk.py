"""Snyk: ``snyk container test docker-archive:ARCHIVE --json``.

Checked against: Snyk's CLI documentation for ``container test`` (exit codes
0 no vulnerabilities, 1 vulnerabilities found, 2 failure, 3 no supported
projects; ``docker-archive:`` archives; ``--json``; ``SNYK_TOKEN``). The JSON
shape was checked against real ``snyk container test --json`` output and the
Snyk CLI's own fixtures: one object or a list of projects (the OS project
plus ``applications[]`` with application findings), ``vulnerabilities[]``
with ``id`` (``SNYK-...``), ``identifiers.CVE``, ``severity`` (or
``severityWithCritical``), ``fixedIn`` and the older
``nearestFixedInVersion``. Error output (``{"ok": false, "error": ...}``) is
reported as such. Not run for real: no Snyk account or network here.

The package is Snyk's ``name`` (``gcc-10/libgcc-s1``: source and binary
package for OS findings) with its ``version``; findings repeat once per
dependency path in Snyk's output and are de-duplicated afterwards.
"""

from __future__ import annotations

from typing import Any

from pytest_sentry._models import Vulnerability
from pytest_sentry._runners.interface import Credential
from pytest_sentry._scanners._normalize import (
    finding,
    join_versions,
    prefer_cve,
    severity,
    short,
)
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

TOOL = "snyk"
_ADVISORY_URL = "https://security.snyk.io/vuln/"


class SnykScanner(Scanner):
    name = ScannerName.SNYK
    output_format = OutputFormat.SNYK
    # snyk/snyk publishes no version-pinned "docker" tag (its stable channel
    # rebuilds this tag); pin a digest through the image option if needed.
    default_image = "snyk/snyk:docker"
    program = "snyk"
    container_entry = ("snyk",)
    args = ("container", "test", "docker-archive:{archive}", "--json")
    success_codes = frozenset({0, 1})
    credentials = (Credential("SNYK_TOKEN"),)

    def parse(self, data: bytes) -> list[Vulnerability]:
        return parse_snyk(data)


def parse_snyk(data: bytes) -> list[Vulnerability]:
    """Findings in Snyk's JSON: one project object or a list of them."""
    document = load_json(data, TOOL)
    reject_other_formats(document, TOOL)
    if isinstance(document, dict):
        projects = [document]
    elif isinstance(document, list):
        projects = document
    else:
        raise ScanError(f"{TOOL}: expected a JSON object or list, got {kind(document)}")

    findings: list[Vulnerability] = []
    for index, entry in enumerate(projects):
        where = f"[{index}]" if isinstance(document, list) else "report"
        project = as_dict(entry, TOOL, where)
        findings.extend(_project(project, where))
        apps = as_list(project.get("applications"), TOOL, f"{where}.applications")
        for number, app in enumerate(apps):
            app_where = f"{where}.applications[{number}]"
            findings.extend(_project(as_dict(app, TOOL, app_where), app_where))
    return findings


def _project(project: dict[str, Any], where: str) -> list[Vulnerability]:
    if project.get("ok") is False and "error" in project:
        raise ScanError(f"{TOOL}: {where}: Snyk reported an error: {project['error']}")
    if "vulnerabilities" not in project:
        raise ScanError(
            f'{TOOL}: {where}: not a Snyk test result (no "vulnerabilities")'
        )

    package_type = text(project.get("packageManager"))
    vulns = as_list(project["vulnerabilities"], TOOL, f"{where}.vulnerabilities")
    return [
        _vulnerability(
            as_dict(v, TOOL, f"{where}.vulnerabilities[{i}]"),
            f"{where}.vulnerabilities[{i}]",
            package_type,
        )
        for i, v in enumerate(vulns)
    ]


def _vulnerability(
    vuln: dict[str, Any], where: str, package_type: str
) -> Vulnerability:
    own_id = required(vuln, "id", TOOL, where)
    identifiers = vuln.get("identifiers")
    cves = identifiers.get("CVE") if isinstance(identifiers, dict) else None
    cve_list = [c for c in cves if isinstance(c, str)] if isinstance(cves, list) else []
    cve_id, aliases = prefer_cve(
        cve_list[0] if cve_list else own_id, [own_id, *cve_list]
    )

    package = vuln.get("name") or vuln.get("packageName")
    if not isinstance(package, str) or not package:
        raise ScanError(f'{TOOL}: {where}: missing "name"')

    fixed_in = vuln.get("fixedIn")
    if isinstance(fixed_in, list) and fixed_in:
        fixed = join_versions(fixed_in)
    else:
        fixed = text(vuln.get("nearestFixedInVersion"))

    raw = vuln.get("severityWithCritical") or vuln.get("severity")
    return finding(
        cve_id=cve_id,
        package_name=package,
        installed_version=text(vuln.get("version")),
        fixed_version=fixed,
        severity=severity(raw),
        scanner_severity=text(raw),
        title=short(vuln.get("title")),
        url=_ADVISORY_URL + own_id if own_id.startswith("SNYK-") else "",
        aliases=aliases,
        package_type=text(vuln.get("packageManager")) or package_type,
    )
