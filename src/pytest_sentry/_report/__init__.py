"""Report renderers: Markdown, JSON (and its schema), SARIF."""

from __future__ import annotations

from pytest_sentry._models import AuditResult
from pytest_sentry._report._json import JsonRenderer, json_schema
from pytest_sentry._report._markdown import MarkdownRenderer
from pytest_sentry._report.interface import Renderer, ReportError, ReportFormat

__all__ = [
    "Renderer",
    "ReportError",
    "ReportFormat",
    "json_schema",
    "render",
    "render_json",
    "render_markdown",
    "renderer_for",
]


def renderer_for(fmt: ReportFormat | str) -> Renderer:
    fmt = ReportFormat(fmt)
    renderers: dict[ReportFormat, type[Renderer]] = {
        ReportFormat.MARKDOWN: MarkdownRenderer,
        ReportFormat.JSON: JsonRenderer,
    }
    if fmt is ReportFormat.SARIF:
        from pytest_sentry._report._sarif import SarifRenderer  # noqa: PLC0415

        return SarifRenderer()
    return renderers[fmt]()


def render(result: AuditResult, fmt: ReportFormat | str) -> str:
    return renderer_for(fmt).render(result)


def render_markdown(result: AuditResult) -> str:
    return MarkdownRenderer().render(result)


def render_json(result: AuditResult) -> str:
    return JsonRenderer().render(result)
