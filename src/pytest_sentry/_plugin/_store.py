"""One audit per image and settings per session, shared by every test.

Within a process, results are kept in memory. Across pytest-xdist workers
they are shared through a directory every worker of the session sees: the
first worker to need an audit takes a file lock, runs it and writes it as
JSON; the others wait on the lock and read the file. The controller reads
the same files for the terminal summary and the reports.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from filelock import FileLock
from pydantic import BaseModel, ConfigDict

from pytest_sentry._builder import Scan
from pytest_sentry._errors import SentryError
from pytest_sentry._models import AuditResult, Rating, Verdict
from pytest_sentry._plugin._settings import audit_key
from pytest_sentry._plugin._targets import Target
from pytest_sentry._version import __version__

logger = logging.getLogger(__name__)

_SUBDIR = "sentry-audits"


class CachedAudit(BaseModel):
    """An audit as stored for the session: the result plus how it was named."""

    model_config = ConfigDict(frozen=True)

    key: str
    image: str
    label: str
    result: AuditResult


class AuditStore:
    """Audits by key, run at most once per session whatever the process."""

    def __init__(self, directory: Callable[[], Path]) -> None:
        self._directory = directory
        self._memo: dict[str, CachedAudit] = {}

    @property
    def used(self) -> bool:
        """True once this process has needed an audit."""
        return bool(self._memo)

    def audit(self, target: Target, builder: Scan) -> AuditResult:
        key = audit_key(builder)
        if key not in self._memo:
            self._memo[key] = self._shared(key, target, builder)
        return self._memo[key].result

    def all(self) -> list[CachedAudit]:
        """Every audit of the session, from every worker, in a stable order."""
        directory = self._directory()
        audits = [
            CachedAudit.model_validate_json(path.read_text(encoding="utf-8"))
            for path in sorted(directory.glob("*.json"))
        ]
        return sorted(audits, key=lambda a: (a.label, a.key))

    def _shared(self, key: str, target: Target, builder: Scan) -> CachedAudit:
        directory = self._directory()
        path = directory / f"{key}.json"
        with FileLock(str(directory / f"{key}.lock")):
            if path.is_file():
                logger.debug("%s: audit shared from %s", target.written, path)
                return CachedAudit.model_validate_json(path.read_text(encoding="utf-8"))

            logger.debug("%s: auditing (key %s)", target.written, key)
            result = _run(target, builder)
            cached = CachedAudit(
                key=key, image=target.written, label=target.label, result=result
            )
            # Written under another name and renamed, so that the controller
            # listing the directory never reads half a file.
            partial = directory / f".{key}.{os.getpid()}.partial"
            partial.write_text(cached.model_dump_json(), encoding="utf-8")
            partial.replace(path)
            return cached


def _run(target: Target, builder: Scan) -> AuditResult:
    try:
        result = builder.audit()
    except (SentryError, ValueError, OSError) as error:
        # The builder turns image and scan failures into ERROR results; a
        # scanner that cannot even be set up (bad report path, unknown
        # format) still raises, and must be an ERROR too, never a crash.
        result = _error_result(target, builder, f"{target.written}: {error}")
    return result.model_copy(update={"image_ref": target.written})


def _error_result(target: Target, builder: Scan, message: str) -> AuditResult:
    return AuditResult(
        timestamp=datetime.now(UTC).replace(microsecond=0),
        image_ref=target.written,
        scanner_used=builder.scanner.name if builder.scanner else "none",
        scan_ran=False,
        passed=False,
        verdict=Verdict.ERROR,
        score=0,
        rating=Rating.for_score(0),
        fail_on=builder.policy.fail_on,
        min_score=builder.policy.min_score,
        errors=(message,),
        notes=("The audit could not be set up, so no check or scan ran.",),
        tool_version=__version__,
    )


def shared_directory(config: pytest.Config) -> Path:
    """The session's audit directory, the same for the controller and workers.

    pytest-xdist gives each worker a base temporary directory inside the
    controller's, so a worker shares its parent and a lone process uses its
    own; both are unique to the session, so no audit outlives it.
    """
    factory: pytest.TempPathFactory | None = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        raise SentryError(
            "sentry audit: pytest's tmp_path plugin is disabled (-p no:tmpdir); "
            "the plugin keeps its audits in the session's temporary directory"
        )
    base = factory.getbasetemp()
    if hasattr(config, "workerinput"):
        base = base.parent
    directory = base / _SUBDIR
    directory.mkdir(parents=True, exist_ok=True)
    return directory
