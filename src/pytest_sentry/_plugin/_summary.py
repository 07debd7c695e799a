"""The session's audits in the terminal summary and as report files.

Both happen once, on the controller (or the only process): xdist workers
only audit and store results.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_sentry._models import AuditResult, CheckStatus, Severity, Verdict
from pytest_sentry._plugin._store import CachedAudit

_COLOR = {Verdict.PASSED: "green", Verdict.FAILED: "red", Verdict.ERROR: "red"}


def write_reports(audits: Sequence[CachedAudit], directory: Path) -> list[Path]:
    """A Markdown and a JSON report per audit; the paths written."""
    from pytest_sentry._report import render_json, render_markdown  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for audit, stem in zip(audits, file_stems(audits), strict=True):
        for suffix, text in (
            (".md", render_markdown(audit.result)),
            (".json", render_json(audit.result)),
        ):
            path = directory / f"{stem}{suffix}"
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def file_stems(audits: Sequence[CachedAudit]) -> list[str]:
    """File names from image labels; an image audited under several settings
    (markers can change them) gets the settings' key appended."""
    slugs = [re.sub(r"[^A-Za-z0-9._-]+", "_", a.label).strip("._") for a in audits]
    slugs = [slug or "image" for slug in slugs]
    counts = Counter(slugs)
    return [
        slug if counts[slug] == 1 else f"{slug}-{audit.key[:8]}"
        for slug, audit in zip(slugs, audits, strict=True)
    ]


def terminal_summary(
    reporter: pytest.TerminalReporter,
    audits: Sequence[CachedAudit],
    written: Sequence[Path],
    write_error: str = "",
) -> None:
    """A few lines per image; nothing at all when no audit ran."""
    if not audits:
        return
    reporter.write_sep("=", "sentry audit", bold=True)
    for audit in audits:
        result = audit.result
        reporter.write(f"{audit.label}  ")
        color = {_COLOR[result.verdict]: True}
        reporter.write(result.verdict.value, bold=True, **color)
        reporter.write_line(f"  {describe(result)}")
        for word, texts in (("error", result.errors), ("note", result.notes)):
            for text in texts:
                first, *rest = text.splitlines() or [""]
                reporter.write_line(f"    {word}: {first}")
                for line in rest:
                    reporter.write_line(f"      {line}")
    if written:
        folder = written[0].parent
        reporter.write_line(f"reports: {len(written)} files in {folder}")
    if write_error:
        reporter.write_line(f"reports not written: {write_error}", red=True)


def describe(result: AuditResult) -> str:
    """Score, checks and findings in one line."""
    policy = f"fail-on {result.fail_on.value}"
    if result.min_score is not None:
        policy += f", min-score {result.min_score}"
    return (
        f"score {result.score}/100 ({result.rating.value})  checks: "
        f"{_checks(result)}  {findings_text(result)}  [{result.scanner_used}; {policy}]"
    )


def _checks(result: AuditResult) -> str:
    if not result.checks:
        return "none ran"
    counts = Counter(check.status for check in result.checks)
    words = {
        CheckStatus.PASS: "passed",
        CheckStatus.FAIL: "failed",
        CheckStatus.WARN: "warned",
        CheckStatus.SKIP: "skipped",
        CheckStatus.ERROR: "errored",
    }
    return ", ".join(f"{counts[s]} {w}" for s, w in words.items() if counts[s])


def findings_text(result: AuditResult) -> str:
    """Finding counts by severity, or that no scan ran."""
    if not result.scan_ran:
        return "vulnerabilities: not scanned"
    summary = result.vuln_summary
    parts = [
        f"{summary.count(s)} {s.value.lower()}"
        for s in Severity.descending()
        if summary.count(s)
    ]
    return "vulnerabilities: " + (", ".join(parts) or "none")
