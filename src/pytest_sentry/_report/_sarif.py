"""SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

Failed and warning checks and unsuppressed findings become results; each
distinct check or vulnerability id becomes a rule. Suppressed findings are
kept with a SARIF suppression carrying the ignore's reason.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_sentry._models import AuditResult, CheckStatus, Severity, Vulnerability
from pytest_sentry._report.interface import Renderer, ReportFormat

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub orders code-scanning alerts by this 0-10 property.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}


class SarifRenderer(Renderer):
    format = ReportFormat.SARIF

    def render(self, result: AuditResult) -> str:
        return json.dumps(to_sarif(result), indent=2, ensure_ascii=False) + "\n"


def to_sarif(result: AuditResult) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    location = _location(result.image_ref)

    for check in result.checks:
        if check.status not in (CheckStatus.FAIL, CheckStatus.WARN):
            continue
        rules.setdefault(check.id, _rule(check.id, check.name, check.severity))
        message = check.details
        if check.evidence:
            message += " (" + "; ".join(check.evidence) + ")"
        results.append(
            {
                "ruleId": check.id,
                "level": "warning"
                if check.status is CheckStatus.WARN
                else _LEVEL[check.severity],
                "message": {"text": message},
                "locations": [location],
            }
        )

    for vuln in result.vulnerabilities:
        rules.setdefault(vuln.cve_id, _vuln_rule(vuln))
        results.append(_vuln_result(vuln, location))

    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pytest-sentry-audit",
                        "version": result.tool_version,
                        "informationUri": "https://pypi.org/project/pytest-sentry-audit/",
                        "rules": list(rules.values()),
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not result.errors,
                        "toolExecutionNotifications": [
                            {"level": "error", "message": {"text": e}}
                            for e in result.errors
                        ],
                    }
                ],
                "properties": {
                    "imageRef": result.image_ref,
                    "verdict": result.verdict.value,
                    "score": result.score,
                    "scannerUsed": result.scanner_used,
                },
                "results": results,
            }
        ],
    }


def _location(image_ref: str) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": image_ref}}}


def _rule(rule_id: str, name: str, severity: Severity) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": name},
        "properties": {"security-severity": _SECURITY_SEVERITY[severity]},
    }


def _vuln_rule(vuln: Vulnerability) -> dict[str, Any]:
    rule = _rule(vuln.cve_id, vuln.cve_id, vuln.severity)
    if vuln.title:
        rule["shortDescription"] = {"text": vuln.title}
    if vuln.url:
        rule["helpUri"] = vuln.url
    return rule


def _vuln_result(vuln: Vulnerability, location: dict[str, Any]) -> dict[str, Any]:
    fixed = f", fixed in {vuln.fixed_version}" if vuln.fixed_version else ""
    entry: dict[str, Any] = {
        "ruleId": vuln.cve_id,
        "level": _LEVEL[vuln.severity],
        "message": {
            "text": f"{vuln.package_name} {vuln.installed_version} is affected by "
            f"{vuln.cve_id} ({vuln.severity.value}{fixed})"
        },
        "locations": [location],
        "partialFingerprints": {
            "packageVersion": f"{vuln.package_name}@{vuln.installed_version}"
        },
    }
    if vuln.suppressed:
        entry["suppressions"] = [
            {"kind": "external", "justification": vuln.suppression_reason}
        ]
    return entry
