"""Helpers for the plugin tests, which run pytest inside pytest (pytester).

:func:`outcomes` turns an inline run into ``{nodeid: outcome}`` where an
error in setup reads ``"error"``. :func:`install_audit_counter` adds a
conftest to the inner run that appends one line per audit actually run to a
file, so a test can count audits across xdist worker processes too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

COUNTER_CONFTEST = """
import pytest_sentry._builder as builder

_real = builder.run_audit


def _counting(reference, **kwargs):
    with open({counter!r}, "a", encoding="utf-8") as out:
        out.write(str(reference) + "\\n")
    return _real(reference, **kwargs)


def pytest_configure(config):
    builder.run_audit = _counting


def pytest_unconfigure(config):
    builder.run_audit = _real
"""


def outcomes(recorder: pytest.HookRecorder) -> dict[str, str]:
    """The outcome of every test of an inline run, keyed by node id."""
    result: dict[str, str] = {}
    for report in recorder.getreports("pytest_runtest_logreport"):
        if report.when == "setup" and report.failed:
            result[report.nodeid] = "error"
        elif report.when == "setup" and report.skipped:
            result[report.nodeid] = "skipped"
        elif report.when == "call":
            result[report.nodeid] = report.outcome
    return result


def longrepr(recorder: pytest.HookRecorder, nodeid: str) -> str:
    """The failure or error text, or the skip reason, pytest shows for ``nodeid``."""
    for report in recorder.getreports("pytest_runtest_logreport"):
        if report.nodeid == nodeid and report.skipped:
            assert isinstance(report.longrepr, tuple)
            return str(report.longrepr[2]).removeprefix("Skipped: ")
        if report.nodeid == nodeid and report.failed:
            return str(report.longreprtext)
    raise AssertionError(f"{nodeid}: no failed or skipped report")


def install_audit_counter(pytester: pytest.Pytester) -> Path:
    """A conftest counting audits into a file; returns the file."""
    counter = pytester.path / "audits.log"
    pytester.makeconftest(COUNTER_CONFTEST.format(counter=str(counter)))
    return counter


def audits_run(counter: Path) -> list[str]:
    if not counter.exists():
        return []
    return counter.read_text(encoding="utf-8").splitlines()
