"""The plugin's per-session state, kept in the config's stash."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_sentry._models import AuditResult
from pytest_sentry._plugin._options import SessionOptions
from pytest_sentry._plugin._settings import AuditSettings
from pytest_sentry._plugin._store import AuditStore, CachedAudit, shared_directory
from pytest_sentry._plugin._targets import Target


class SentryState:
    """Options, the shared audit store, and the audits the session ran."""

    def __init__(self, config: pytest.Config, options: SessionOptions) -> None:
        self.config = config
        self.options = options
        self.store = AuditStore(lambda: shared_directory(config))
        #: Filled on the controller when the session finishes.
        self.finished: list[CachedAudit] = []
        self.reports_written: list[Path] = []
        self.report_error = ""
        #: Images whose report is attached to a failed item (pytest-html).
        self.attached_to_failure: set[str] = set()

    @property
    def is_worker(self) -> bool:
        """True in a pytest-xdist worker: it neither summarises nor writes."""
        return hasattr(self.config, "workerinput")

    def audit(self, target: Target, settings: AuditSettings) -> AuditResult:
        return self.store.audit(target, settings.builder(target.reference))

    def load_finished(self) -> list[CachedAudit]:
        """Every audit of the session, read once by the controller at the end."""
        distributed = self.config.pluginmanager.hasplugin("dsession")
        if self.is_worker or not (self.store.used or distributed):
            return []
        self.finished = self.store.all()
        return self.finished


STATE_KEY = pytest.StashKey[SentryState]()


def get_state(config: pytest.Config) -> SentryState:
    return config.stash[STATE_KEY]
