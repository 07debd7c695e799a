"""Generated test items: one per check and per severity gate of each image.

Node ids read ``sentry/<image>::check::<check id>``,
``sentry/<image>::gate::<severity>`` and ``sentry/<image>::score``. The
items are collected like any test (so ``-k``, ``-m``, ``--deselect``, ``--lf``
and xdist see them) and share one audit per image through the session store.
An audit that could not do its work makes its items errors, raised in setup.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest

from pytest_sentry._checks import check_ids
from pytest_sentry._errors import SentryError
from pytest_sentry._models import AuditResult, Severity
from pytest_sentry._plugin._attachments import junit_properties
from pytest_sentry._plugin._outcomes import (
    Kind,
    Outcome,
    check_outcome,
    gate_outcome,
    score_outcome,
)
from pytest_sentry._plugin._state import get_state
from pytest_sentry._plugin._targets import Target
from pytest_sentry._plugin._warning import SentryWarning

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

PREFIX = "sentry"


class AuditFailure(Exception):
    """An item's audit finding: shown as its text, without a traceback."""


class AuditError(Exception):
    """The audit could not decide this item: raised in setup, so pytest
    reports an error; shown as its text, without a traceback."""


def image_collectors(session: pytest.Session) -> list[SentryImage]:
    """One collector per image the options name, children of the session."""
    state = get_state(session.config)
    return [
        SentryImage.from_parent(
            session,
            name=f"{PREFIX}/{target.label}",
            nodeid=f"{PREFIX}/{target.label}",
            path=session.config.rootpath,
            target=target,
        )
        for target in state.options.images
    ]


class SentryImage(pytest.Collector):
    """The items of one image."""

    def __init__(self, *, target: Target, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        # -m sentry selects these items like tests marked for an audit.
        self.add_marker(pytest.mark.sentry(image=target.written))

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        settings = get_state(self.config).options.settings
        policy = settings.builder(self.target.reference).policy
        checks = tuple(c for c in check_ids() if c not in policy.disabled_checks)
        gates = tuple(s.value.lower() for s in Severity.descending())
        target = self.target
        yield SentryGroup.from_parent(self, name="check", target=target, members=checks)
        yield SentryGroup.from_parent(self, name="gate", target=target, members=gates)
        if policy.min_score is not None:
            yield ScoreItem.from_parent(self, name="score", target=self.target)


class SentryGroup(pytest.Collector):
    """``check`` or ``gate``: a name ``-k`` can select on."""

    def __init__(
        self, *, target: Target, members: tuple[str, ...], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.members = members

    def collect(self) -> Iterator[pytest.Item]:
        item_class = CheckItem if self.name == "check" else GateItem
        for member in self.members:
            yield item_class.from_parent(self, name=member, target=self.target)


class SentryItem(pytest.Item):
    """One verdict drawn from an image's audit."""

    def __init__(self, *, target: Target, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.result: AuditResult | None = None
        self.outcome: Outcome | None = None
        #: Set on the first selected item of each image: it carries the
        #: whole report in pytest-html even when everything passed.
        self.anchor = False

    def decide(self, result: AuditResult) -> Outcome:
        raise NotImplementedError

    def setup(self) -> None:
        state = get_state(self.config)
        try:
            self.result = state.audit(self.target, state.options.settings)
        except SentryError as error:
            raise AuditError(str(error)) from error

        self.user_properties.extend(junit_properties(self.result))
        self.outcome = self.decide(self.result)
        if self.outcome.kind is Kind.ERROR:
            raise AuditError(self.outcome.message)
        if self.outcome.kind is Kind.SKIP:
            pytest.skip(self.outcome.message)

    def runtest(self) -> None:
        # setup() has decided; errors and skips never get here.
        outcome = self.outcome
        if outcome is None:
            raise AuditError(f"{self.nodeid}: no audit result; setup did not run")
        if outcome.kind is Kind.FAIL:
            raise AuditFailure(outcome.message)
        if outcome.kind is Kind.WARN:
            # Attributed to the item rather than to this line of the plugin.
            warnings.warn_explicit(
                SentryWarning(outcome.message),
                SentryWarning,
                filename=self.nodeid,
                lineno=0,
                module="pytest_sentry",
            )

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: TracebackStyle | None = None,
    ) -> str | TerminalRepr:
        # A finding is the answer, not a crash: no traceback into the plugin.
        if isinstance(excinfo.value, AuditFailure | SentryWarning):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.nodeid


class CheckItem(SentryItem):
    def decide(self, result: AuditResult) -> Outcome:
        return check_outcome(result, self.name)


class GateItem(SentryItem):
    def decide(self, result: AuditResult) -> Outcome:
        return gate_outcome(result, Severity.parse(self.name))


class ScoreItem(SentryItem):
    def decide(self, result: AuditResult) -> Outcome:
        return score_outcome(result)


def tidy_report(
    item: SentryItem, call: pytest.CallInfo[None], report: pytest.TestReport
) -> None:
    """Make skips and setup errors read as the item's, not the plugin's."""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2]
        report.longrepr = cast(Any, (item.nodeid, None, reason))
    elif report.failed and call.excinfo and call.excinfo.errisinstance(AuditError):
        report.longrepr = str(call.excinfo.value)


def mark_anchors(items: list[pytest.Item]) -> None:
    """Flag the first selected item of each image (after deselection)."""
    seen: set[str] = set()
    for item in items:
        if isinstance(item, SentryItem) and item.target.label not in seen:
            seen.add(item.target.label)
            item.anchor = True
