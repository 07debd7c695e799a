"""The JSON report: the documented camelCase keys, in a stable order."""

from __future__ import annotations

import json
from typing import Any

from pytest_sentry._models import AuditResult
from pytest_sentry._report.interface import Renderer, ReportFormat


class JsonRenderer(Renderer):
    format = ReportFormat.JSON

    def render(self, result: AuditResult) -> str:
        return json.dumps(to_document(result), indent=2, ensure_ascii=False) + "\n"


def to_document(result: AuditResult) -> dict[str, Any]:
    """The result as plain JSON data; findings are already sorted by the audit."""
    document: dict[str, Any] = result.model_dump(mode="json", by_alias=True)
    return document


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the report, as published in ``schema/``."""
    schema = AuditResult.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pytest_sentry audit result"
    return schema
