"""The pytest plugin: options, the ``sentry`` marker, fixtures, generated items
and reports. pytest loads this module through the ``sentry_audit`` entry point.

Hooks live here and stay thin; each delegates to the module that owns the
work (options, items, store, summary, attachments).
"""

from __future__ import annotations

import logging
from collections.abc import Generator

import pytest

from pytest_sentry._dagger import close_engine, prefetch
from pytest_sentry._plugin._attachments import attach, html_summary
from pytest_sentry._plugin._fixtures import audit, sentry_scan
from pytest_sentry._plugin._items import (
    SentryItem,
    image_collectors,
    mark_anchors,
    tidy_report,
)
from pytest_sentry._plugin._marker import HELP
from pytest_sentry._plugin._options import add_options, read_options
from pytest_sentry._plugin._state import STATE_KEY, SentryState, get_state
from pytest_sentry._plugin._summary import terminal_summary, write_reports

__all__ = ["audit", "sentry_scan"]

logger = logging.getLogger(__name__)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", HELP)
    config.stash[STATE_KEY] = SentryState(config, read_options(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    if STATE_KEY in config.stash:
        del config.stash[STATE_KEY]
    # Every process, xdist workers included, may have opened an engine.
    close_engine()


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    # The items join the session's own collection, before any deselection
    # hook runs, so -k, -m, --deselect, --lf and xdist treat them as tests.
    report = yield
    if isinstance(collector, pytest.Session) and report.passed:
        report.result.extend(image_collectors(collector))
    return report


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_anchors(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    # Registry images are exported through the engine concurrently, up front,
    # instead of one after another as each audit first asks for its image.
    references = [t.reference for t in get_state(session.config).options.images]
    for item in session.items:
        mark = item.get_closest_marker("sentry")
        if mark is not None:
            image = mark.kwargs.get("image", mark.args[0] if mark.args else None)
            if isinstance(image, str):
                references.append(image)
    prefetch(dict.fromkeys(references))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if isinstance(item, SentryItem):
        tidy_report(item, call, report)
        attach(item, report, get_state(item.config).attached_to_failure)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # tryfirst: read the audits before the tmp_path plugin may remove the
    # session's temporary directory.
    state = get_state(session.config)
    audits = state.load_finished()
    report_dir = state.options.report_dir
    if not audits or report_dir is None:
        return
    try:
        state.reports_written = write_reports(audits, report_dir)
    except OSError as error:
        logger.warning("sentry reports: cannot write to %s: %s", report_dir, error)
        state.report_error = f"{report_dir}: {error}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    state = get_state(terminalreporter.config)
    if state.is_worker:
        return
    terminal_summary(
        terminalreporter, state.finished, state.reports_written, state.report_error
    )


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    prefix.extend(html_summary(get_state(session.config).finished))
