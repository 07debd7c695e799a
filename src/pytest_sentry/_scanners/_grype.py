"""Grype: ``grype docker-archive:ARCHIVE -o json``.

Checked against: Anchore's Grype documentation (``docker-archive:`` source
scheme, ``-o json``; exit codes 0 ok, 1 error, 2 only with ``--fail-on``,
which we do not pass; ``GRYPE_DB_CACHE_DIR``; the update check turned off
with ``GRYPE_CHECK_FOR_APP_UPDATE``). The JSON shape was checked against
Grype's own presenter snapshots (current schema) and real reports from Grype
0.7.0 to 0.96.0: ``matches[].vulnerability`` (``id``, ``severity`` including
Negligible and Unknown or absent, ``fix.versions``; old versions have no
``fix``), ``relatedVulnerabilities`` (the CVE behind a GHSA) and
``matches[].artifact`` (``name``, ``version``, ``type``). Not run for real:
no Grype binary or network here.
"""

from __future__ import annotations

from typing import Any

from pytest_sentry._models import Vulnerability
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

TOOL = "grype"


class GrypeScanner(Scanner):
    name = ScannerName.GRYPE
    output_format = OutputFormat.GRYPE
    default_image = "anchore/grype:v0.87.0"
    program = "grype"
    container_entry = ("/grype",)
    args = ("docker-archive:{archive}", "-o", "json")
    env = (("GRYPE_CHECK_FOR_APP_UPDATE", "false"),)
    cache_dir = "/sentry/cache"
    cache_env = (("GRYPE_DB_CACHE_DIR", "/sentry/cache"),)

    def parse(self, data: bytes) -> list[Vulnerability]:
        return parse_grype(data)


def parse_grype(data: bytes) -> list[Vulnerability]:
    """Findings in a Grype JSON report."""
    document = load_json(data, TOOL)
    reject_other_formats(document, TOOL)
    if not isinstance(document, dict):
        raise ScanError(f"{TOOL}: expected a JSON object, got {kind(document)}")
    if "matches" not in document:
        raise ScanError(f'{TOOL}: not a Grype report (no "matches")')

    findings = []
    for index, entry in enumerate(as_list(document["matches"], TOOL, "matches")):
        findings.append(_match(as_dict(entry, TOOL, f"matches[{index}]"), index))
    return findings


def _match(match: dict[str, Any], index: int) -> Vulnerability:
    where = f"matches[{index}]"
    vuln = as_dict(match.get("vulnerability"), TOOL, f"{where}.vulnerability")
    artifact = as_dict(match.get("artifact"), TOOL, f"{where}.artifact")
    own_id = required(vuln, "id", TOOL, f"{where}.vulnerability")

    related = as_list(
        match.get("relatedVulnerabilities"), TOOL, f"{where}.relatedVulnerabilities"
    )
    related_ids = [r.get("id") for r in related if isinstance(r, dict)]
    cve_id, aliases = prefer_cve(own_id, [i for i in related_ids if isinstance(i, str)])

    fix = vuln.get("fix")
    versions = fix.get("versions") if isinstance(fix, dict) else None
    urls = vuln.get("urls") or vuln.get("links")
    first_url = urls[0] if isinstance(urls, list) and urls else ""
    description = vuln.get("description") or _related_description(related)

    return finding(
        cve_id=cve_id,
        package_name=required(artifact, "name", TOOL, f"{where}.artifact"),
        installed_version=text(artifact.get("version")),
        fixed_version=join_versions(versions if isinstance(versions, list) else []),
        severity=severity(vuln.get("severity")),
        scanner_severity=text(vuln.get("severity")),
        title=short(description),
        url=text(vuln.get("dataSource")) or text(first_url),
        aliases=aliases,
        package_type=text(artifact.get("type")),
    )


def _related_description(related: list[Any]) -> str:
    for entry in related:
        if isinstance(entry, dict) and isinstance(entry.get("description"), str):
            return str(entry["description"])
    return ""
