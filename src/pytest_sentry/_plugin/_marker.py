"""The ``sentry`` marker: which image the ``audit`` fixture audits, and how.

``@pytest.mark.sentry(image=..., fail_on=..., scanner=..., min_score=...,
checks=[...], scanner_report=...)`` on a function, a class or a module
(``pytestmark``). Each keyword comes from the closest marker that sets it,
so a module can name the image and one test can tighten ``fail_on``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_sentry._checks import check_ids
from pytest_sentry._plugin._settings import (
    AuditSettings,
    SettingsError,
    parse_checks,
    parse_fail_on,
    parse_min_score,
    parse_scanner,
    parse_scanner_report,
)
from pytest_sentry._plugin._targets import resolve

NAME = "sentry"
HELP = (
    "sentry(image=None, *, fail_on=None, scanner=None, min_score=None, "
    "checks=None, scanner_report=None): audit IMAGE for the `audit` fixture; "
    "keywords override the --sentry-* options for this test"
)
KEYWORDS = ("image", "fail_on", "scanner", "min_score", "checks", "scanner_report")


def marker_values(node: pytest.Item) -> dict[str, Any]:
    """The marker keywords in effect for ``node``, closest marker first."""
    merged: dict[str, Any] = {}
    for mark in node.iter_markers(NAME):
        values = dict(mark.kwargs)
        if len(mark.args) > 1:
            raise SettingsError(
                f"@pytest.mark.sentry: takes at most one positional argument "
                f"(the image), got {len(mark.args)}"
            )
        if mark.args:
            values.setdefault("image", mark.args[0])
        unknown = sorted(set(values) - set(KEYWORDS))
        if unknown:
            raise SettingsError(
                f"@pytest.mark.sentry: unknown keyword {', '.join(unknown)} "
                f"(known: {', '.join(KEYWORDS)})"
            )
        for key, value in values.items():
            merged.setdefault(key, value)
    return merged


def apply_marker(
    settings: AuditSettings, values: dict[str, Any], base: Path
) -> AuditSettings:
    """``settings`` with the marker's keywords applied over them."""
    subject = "@pytest.mark.sentry"
    changes: dict[str, Any] = {}
    if values.get("fail_on") is not None:
        changes["fail_on"] = parse_fail_on(values["fail_on"], f"{subject} fail_on")
    if values.get("min_score") is not None:
        changes["min_score"] = parse_min_score(
            values["min_score"], f"{subject} min_score"
        )
    if values.get("scanner") is not None:
        changes["scanner"] = parse_scanner(str(values["scanner"]), f"{subject} scanner")
        changes["scanner_report"] = None
    if values.get("scanner_report") is not None:
        fmt, path = parse_scanner_report(
            str(values["scanner_report"]), f"{subject} scanner_report"
        )
        changes["scanner_report"] = f"{fmt}:{resolve(path, base)}"
    if values.get("checks") is not None:
        enabled = parse_checks(values["checks"], check_ids(), f"{subject} checks")
        changes["only_checks"] = frozenset(enabled)
    return replace(settings, **changes).validate()


def marker_image(values: dict[str, Any]) -> str | None:
    image = values.get("image")
    if image is None:
        return None
    if not isinstance(image, str) or not image.strip():
        raise SettingsError(f"@pytest.mark.sentry image {image!r}: expected a string")
    return image.strip()
