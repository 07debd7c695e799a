"""The ``audit`` and ``sentry_scan`` fixtures.

``audit`` is the :class:`AuditResult` of the image the closest ``sentry``
marker names (or the one ``--sentry-image``), audited once per session with
the same settings. An audit that could not do its work errors the test
instead of handing it a result that could pass.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_sentry._builder import Scan
from pytest_sentry._errors import SentryError
from pytest_sentry._models import (
    AuditResult,
    CheckStatus,
    Severity,
    Verdict,
    Vulnerability,
)
from pytest_sentry._plugin._marker import apply_marker, marker_image, marker_values
from pytest_sentry._plugin._outcomes import no_scan_reason
from pytest_sentry._plugin._settings import SettingsError
from pytest_sentry._plugin._state import SentryState, get_state
from pytest_sentry._plugin._targets import Target, resolve, single_target


class FixtureAudit(AuditResult):
    """An :class:`AuditResult` that will not vouch for findings it never looked at.

    When no vulnerability scan ran, :meth:`vulnerabilities_at_least` skips
    the test rather than return an empty tuple that an assertion would read
    as "no findings". (With ``--sentry-require-scanner`` such an audit is an
    ERROR and the fixture already errored.)
    """

    @classmethod
    def of(cls, result: AuditResult) -> FixtureAudit:
        return cls.model_validate(dict(result))

    def __repr__(self) -> str:
        # Short, because pytest repeats it in every failed assertion.
        return (
            f"<audit of {self.image_ref}: {self.verdict.value}, score "
            f"{self.score}, fail-on {self.fail_on.value}>"
        )

    def vulnerabilities_at_least(
        self, severity: Severity | str, *, include_suppressed: bool = False
    ) -> tuple[Vulnerability, ...]:
        if not self.scan_ran:
            pytest.skip(no_scan_reason(self))
        return super().vulnerabilities_at_least(
            severity, include_suppressed=include_suppressed
        )


@pytest.fixture
def audit(request: pytest.FixtureRequest) -> AuditResult:
    """The audit of the image named by the ``sentry`` marker or --sentry-image."""
    state = get_state(request.config)
    try:
        values = marker_values(request.node)
        settings = apply_marker(state.options.settings, values, request.config.rootpath)
        target = _target(state, marker_image(values), request.config.rootpath)
        result = state.audit(target, settings)
    except SentryError as error:
        pytest.fail(str(error), pytrace=False)

    if result.verdict is Verdict.ERROR:
        lines = [f"sentry audit of {target.written}: ERROR"]
        lines += [f"  {line}" for e in result.errors for line in e.splitlines()]
        lines += [
            f"  check {c.id}: {c.details}"
            for c in result.checks
            if c.status is CheckStatus.ERROR
        ]
        pytest.fail("\n".join(lines), pytrace=False)
    return FixtureAudit.of(result)


@pytest.fixture
def sentry_scan(request: pytest.FixtureRequest) -> Callable[[str], Scan]:
    """A builder factory with the session's settings: ``sentry_scan("app.tar")``.

    Relative paths are read from the rootdir, as in markers. Each call
    returns a fresh :class:`Scan` for ad-hoc audits; its audits are not
    shared with other tests.
    """
    settings = get_state(request.config).options.settings
    base = request.config.rootpath

    def factory(image: str) -> Scan:
        return settings.builder(resolve(image, base))

    return factory


def _target(state: SentryState, image: str | None, base: Path) -> Target:
    if image is not None:
        return single_target(image, base)
    images = state.options.images
    if len(images) == 1:
        return images[0]
    named = ", ".join(t.written for t in images) or "none"
    raise SettingsError(
        "audit fixture: no image to audit; mark the test with "
        "@pytest.mark.sentry(image=...) or pass exactly one --sentry-image "
        f"(given: {named})"
    )
