"""Recorded scanner reports (tests/data/scanners/) and one asserting helper.

Each parser test walks the raw JSON with a few lines of its own to count
findings by the scanner's severity string, then calls :func:`assert_parsed`,
which compares those counts with the parser's output. The walk never calls
parser code, so a parser bug cannot hide behind itself.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_sentry._models import Severity, Vulnerability

DATA = Path(__file__).parent / "data" / "scanners"

# The five levels as this test suite understands them; anything else is INFO.
_LEVELS = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
}


def files(tool: str) -> list[str]:
    """Names of the recorded reports for one tool, sorted."""
    return sorted(p.name for p in (DATA / tool).glob("*.json"))


def read(tool: str, name: str) -> bytes:
    return (DATA / tool / name).read_bytes()


def document(tool: str, name: str) -> Any:
    return json.loads(read(tool, name))


def assert_parsed(findings: list[Vulnerability], raw_severities: Iterable[Any]) -> None:
    """Findings match, one for one, the severities counted in the raw JSON."""
    raw = [s if isinstance(s, str) else "" for s in raw_severities]
    assert len(findings) == len(raw)
    assert Counter(f.scanner_severity for f in findings) == Counter(raw)

    expected = Counter(_LEVELS.get(s.upper(), Severity.INFO) for s in raw)
    assert Counter(f.severity for f in findings) == expected
    assert all(f.cve_id and f.package_name for f in findings)
    # Parsers build findings without validation; every one must pass it.
    assert all(Vulnerability.model_validate(f.model_dump()) == f for f in findings)
