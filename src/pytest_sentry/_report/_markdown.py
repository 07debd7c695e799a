"""The Markdown report, in the original tool's layout, from a jinja2 template."""

from __future__ import annotations

import unicodedata
from importlib import resources

import jinja2

from pytest_sentry._models import AuditResult, CheckStatus, Severity, Vulnerability
from pytest_sentry._report.interface import Renderer, ReportFormat

TOP_FINDINGS = 20
_BOX_MIN_INNER = 61
_BAR_MAX = 40


class MarkdownRenderer(Renderer):
    format = ReportFormat.MARKDOWN

    def render(self, result: AuditResult) -> str:
        active = [v for v in result.vulnerabilities if not v.suppressed]
        return _template().render(
            result=result,
            box=summary_box(result),
            bars=severity_bars(result),
            findings=active[:TOP_FINDINGS],
            hidden=max(0, len(active) - TOP_FINDINGS),
            suppressed=[v for v in result.vulnerabilities if v.suppressed],
            recommendations=recommendations(result),
            timestamp=_iso(result),
        )


def _template() -> jinja2.Template:
    text = (
        resources.files("pytest_sentry._report")
        .joinpath("templates/report.md.j2")
        .read_text(encoding="utf-8")
    )
    # Markdown, not HTML: autoescaping would turn "<" in a title into "&lt;".
    env = jinja2.Environment(  # noqa: S701
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    )
    env.filters["cell"] = _cell
    env.filters["line"] = _line
    return env.from_string(text)


def _iso(result: AuditResult) -> str:
    return result.timestamp.isoformat().replace("+00:00", "Z")


def _line(value: object) -> str:
    """Text safe as one list item: whitespace, newlines included, collapsed."""
    return " ".join(str(value).split())


def _cell(value: object) -> str:
    """Text safe inside a table cell: one line, pipes escaped."""
    return _line(value).replace("|", "\\|")


def _width(text: str) -> int:
    """Columns a string takes in a terminal: wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def summary_box(result: AuditResult) -> str:
    """The executive summary box, widened to fit its longest line."""
    counts = dict.fromkeys(CheckStatus, 0)
    for check in result.checks:
        counts[check.status] += 1
    check_line = f"Checks: {counts[CheckStatus.PASS]} passed, "
    check_line += f"{counts[CheckStatus.FAIL]} failed"
    for status, word in (
        (CheckStatus.WARN, "warning"),
        (CheckStatus.SKIP, "skipped"),
        (CheckStatus.ERROR, "error"),
    ):
        if counts[status]:
            check_line += f", {counts[status]} {word}"

    summary = result.vuln_summary
    vuln_line = f"Vulnerabilities: {summary.total} total ({summary.critical} critical)"
    if not result.scan_ran:
        vuln_line = "Vulnerabilities: not scanned"

    sections = [
        [f"STATUS: {result.verdict.value}"],
        [
            f"Score: {result.score}/100 ({result.rating.value})",
            f"Timestamp: {_iso(result)}",
            f"Image: {result.image_ref}",
            f"Scanner: {result.scanner_used}",
        ],
        [check_line, vuln_line],
    ]
    inner = max(_BOX_MIN_INNER, *(_width(line) + 2 for s in sections for line in s))

    rows = ["┌" + "─" * inner + "┐"]
    for number, section in enumerate(sections):
        if number:
            rows.append("├" + "─" * inner + "┤")
        rows += [f"│ {line}{' ' * (inner - 2 - _width(line))} │" for line in section]
    rows.append("└" + "─" * inner + "┘")
    return "\n".join(rows)


def severity_bars(result: AuditResult) -> str:
    """Counts per severity with bars scaled to the largest count."""
    summary = result.vuln_summary
    levels: list[Severity] = [
        s for s in Severity.descending() if s is not Severity.INFO
    ]
    if summary.info:
        levels += [Severity.INFO]
    largest = max((summary.count(s) for s in levels), default=0)

    lines = []
    for severity in levels:
        count = summary.count(severity)
        bar = ""
        if count:
            bar = " " + "█" * max(1, round(count / largest * _BAR_MAX))
        lines.append(f"{severity.value.title() + ':':<10}{count:>5}{bar}")
    lines.append("─" * 21)
    lines.append(f"{'Total:':<10}{summary.total:>5}")
    return "\n".join(lines)


def recommendations(result: AuditResult) -> list[str]:
    """What to do next, most urgent first."""
    items = []
    if result.errors:
        items.append(
            "**Audit Incomplete**: resolve the errors above and run the audit "
            "again; until then this image has not been assessed"
        )
    for check in result.checks:
        if check.status in (CheckStatus.FAIL, CheckStatus.ERROR, CheckStatus.WARN):
            items.append(f"**{check.name}**: {_line(check.details)}")
    for severity in Severity.descending():
        count = result.vuln_summary.count(severity)
        if count and severity >= Severity.LOW:
            fixable = _fixable(result.vulnerabilities, severity)
            items.append(
                f"**{severity.value.title()} Vulnerabilities**: review and patch "
                f"{count} {severity.value.lower()}-severity vulnerabilities "
                f"({fixable} with a fixed version available)"
            )
    if not result.scan_ran and not result.errors:
        items.append(
            "**Vulnerability Scan**: run a scanner (Trivy, Grype, ...) or pass a "
            "scanner report; this audit did not look for vulnerable packages"
        )
    for ignore in result.expired_ignores:
        items.append(
            f"**Expired Ignore**: {ignore.id} expired on {ignore.expires.isoformat()}; "
            "fix it or renew the ignore with a new reason"
        )
    return items


def _fixable(vulns: tuple[Vulnerability, ...], severity: Severity) -> int:
    return sum(
        1 for v in vulns if v.severity is severity and v.has_fix and not v.suppressed
    )
