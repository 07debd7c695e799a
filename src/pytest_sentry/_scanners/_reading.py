"""Reading untrusted JSON reports: every defect becomes a clear ScanError.

Messages read "<scanner>: <where in the report>: <what is wrong>", for
example ``grype: matches[3].artifact: missing "name"``.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_sentry._scanners.interface import ScanError


def load_json(data: bytes, tool: str) -> Any:
    """The decoded document; ScanError for empty or malformed input."""
    if not data.strip():
        raise ScanError(f"{tool}: the report is empty")
    try:
        return json.loads(data)
    except RecursionError as error:
        # json's C decoder recurses once per level; a hostile report nests
        # deeper than the interpreter's stack allows.
        raise ScanError(
            f"{tool}: the report is not valid JSON: nested too deeply"
        ) from error
    except ValueError as error:
        # JSONDecodeError, UnicodeDecodeError, and the int-size guard of
        # Python 3.11+ ("Exceeds the limit (4300 digits)") are all ValueErrors.
        raise ScanError(f"{tool}: the report is not valid JSON: {error}") from error


def kind(value: object) -> str:
    """A JSON type name for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def as_list(value: object, tool: str, where: str) -> list[Any]:
    """``value`` if it is a list; absent or null count as empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ScanError(f"{tool}: {where}: expected a list, got {kind(value)}")
    return value


def as_dict(value: object, tool: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScanError(f"{tool}: {where}: expected an object, got {kind(value)}")
    return value


def required(entry: dict[str, Any], key: str, tool: str, where: str) -> str:
    """A non-empty string field, or ScanError naming it."""
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ScanError(f'{tool}: {where}: missing "{key}"')
    return value


def text(value: object) -> str:
    """A string field that may be absent, null or another type."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return str(value)


def reject_other_formats(document: object, tool: str) -> None:
    """Clear errors for SARIF and CycloneDX documents given as a JSON report."""
    if not isinstance(document, dict):
        return
    if "runs" in document and ("$schema" in document or "version" in document):
        raise ScanError(
            f"{tool}: this is a SARIF report; run the scanner with JSON output"
        )
    if document.get("bomFormat") == "CycloneDX":
        raise ScanError(
            f"{tool}: this is a CycloneDX document; run the scanner with JSON output"
        )
