"""The audit where CI reads test results: junitxml properties, pytest-html.

Every generated item records the image's verdict, score and counts as
junitxml properties. In pytest-html, the report (Markdown rendered to HTML,
plus the JSON) is attached to the first selected item of every image, so a
clean audit is in the report too, and to the image's first item that failed
or errored in each process, where a reader of failures looks; not to every
row, which would repeat a long report dozens of times.
"""

from __future__ import annotations

import functools
import html
import json
from typing import TYPE_CHECKING, Any

import pytest

from pytest_sentry._models import AuditResult, CheckStatus, Severity
from pytest_sentry._plugin._summary import findings_text

if TYPE_CHECKING:
    from pytest_sentry._plugin._items import SentryItem
    from pytest_sentry._plugin._store import CachedAudit

_STYLE = (
    "<style>.sentry-report table{border-collapse:collapse;margin:.5em 0}"
    ".sentry-report th,.sentry-report td{border:1px solid #ccc;padding:2px 6px;"
    "text-align:left}.sentry-report pre{background:#f6f6f6;padding:.5em;"
    "overflow-x:auto}.sentry-report blockquote{margin:.5em 0;padding-left:1em;"
    "border-left:3px solid #ccc}</style>"
)


def junit_properties(result: AuditResult) -> list[tuple[str, object]]:
    """Name/value pairs for ``item.user_properties`` (junitxml writes them)."""
    summary = result.vuln_summary
    failed = sum(1 for c in result.checks if c.status is CheckStatus.FAIL)
    properties: list[tuple[str, object]] = [
        ("sentry.image", result.image_ref),
        ("sentry.verdict", result.verdict.value),
        ("sentry.score", result.score),
        ("sentry.rating", result.rating.value),
        ("sentry.scanner", result.scanner_used),
        ("sentry.scan_ran", str(result.scan_ran).lower()),
        ("sentry.checks.failed", failed),
    ]
    properties += [
        (f"sentry.vulnerabilities.{s.value.lower()}", summary.count(s))
        for s in Severity.descending()
    ]
    properties.append(("sentry.vulnerabilities.total", summary.total))
    return properties


def attach(item: SentryItem, report: pytest.TestReport, failed: set[str]) -> None:
    """Add the report as pytest-html extras to the item's final report.

    ``failed`` holds the labels of images whose report already went on a
    failed item in this process.
    """
    final = report.when == "call" or (report.when == "setup" and not report.passed)
    if not final or item.result is None:
        return
    first_failure = report.failed and item.target.label not in failed
    if report.failed:
        failed.add(item.target.label)
    if not (item.anchor or first_failure):
        return
    # pytest-html reads this attribute; TestReport keeps unknown attributes
    # and pytest-xdist carries them from workers to the controller.
    extras = [*getattr(report, "extras", []), *_extras(item.result)]
    report.extras = extras  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=16)
def _extras(result: AuditResult) -> tuple[dict[str, Any], ...]:
    try:
        from pytest_html import extras  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:
        return ()
    from pytest_sentry._report import render_json, render_markdown  # noqa: PLC0415

    body = markdown_to_html(render_markdown(result))
    return (
        extras.html(f'{_STYLE}<div class="sentry-report">{body}</div>'),
        extras.json(json.loads(render_json(result)), name="Audit JSON"),
    )


def markdown_to_html(text: str) -> str:
    """The Markdown report as HTML; raw HTML in it is escaped, never passed on.

    markdown-it-py comes with rich, which dagger-io requires; without it
    the report is shown as preformatted text.
    """
    try:
        from markdown_it import MarkdownIt  # noqa: PLC0415
    except ImportError:
        return f"<pre>{html.escape(text)}</pre>"
    return str(MarkdownIt("commonmark", {"html": False}).enable("table").render(text))


def html_summary(audits: list[CachedAudit]) -> list[str]:
    """One line per audited image for the top of the pytest-html report."""
    lines = []
    for audit in audits:
        result = audit.result
        text = (
            f"Sentry audit of {audit.image}: {result.verdict.value}, score "
            f"{result.score}/100 ({result.rating.value}), "
            f"{findings_text(result)} [{result.scanner_used}; fail-on "
            f"{result.fail_on.value}]"
        )
        lines.append(f'<p class="sentry-summary">{html.escape(text)}</p>')
    return lines
