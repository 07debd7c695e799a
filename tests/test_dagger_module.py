"""The example Dagger module's functions, called as Python against the
stand-in session (``dagger_endpoint``).

``dagger call`` itself cannot run here (no Dagger CLI, no engine): these
tests run the module's code - the object it builds, the builder chain, the
worker thread and the ``exit-code`` failure - inside an SDK connection, not
inside the module runtime.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import dagger
import pytest
from dagger import dag

from dagger_fake import Canned, FakeSession

MODULE = (
    Path(__file__).parent.parent
    / "examples"
    / "dagger-module"
    / "src"
    / "sentry_audit"
    / "__init__.py"
)
TRIVY_REPORT = Path(__file__).parent / "data" / "dagger" / "trivy-alpine-310.json"


@pytest.fixture(scope="module")
def sentry_audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sentry_audit", MODULE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sentry_audit"] = module
    spec.loader.exec_module(module)
    return module


def call(module: ModuleType, function: str, **options: Any) -> Any:
    """``dagger call scan --container=alpine:3.19 [options] FUNCTION``."""

    async def run() -> Any:
        async with dagger.connection(dagger.Config(log_output=io.StringIO())):
            audit = module.SentryAudit().scan(
                container=dag.container().from_("alpine:3.19"), **options
            )
            return await getattr(audit, function)()

    return anyio.run(run)


def test_json_is_the_documented_report(
    dagger_endpoint: FakeSession, sentry_audit: ModuleType
) -> None:
    document = json.loads(call(sentry_audit, "json", scanner="none"))

    assert document["imageRef"].startswith("docker.io/library/alpine:3.19@sha256:")
    assert document["passed"] is False
    assert document["scannerUsed"] == "none"


def test_report_runs_the_scanner_in_the_engine(
    dagger_endpoint: FakeSession, sentry_audit: ModuleType
) -> None:
    dagger_endpoint.engine.canned["trivy"] = Canned(0, TRIVY_REPORT.read_text(), "")

    report = call(sentry_audit, "report")

    assert "docker.io/library/alpine:3.19@sha256:" in report
    assert "CVE-2019-1549" in report
    (run,) = dagger_endpoint.engine.execs.values()
    assert run.argv[0] == "trivy"


def test_exit_code_fails_the_call_when_the_audit_fails(
    dagger_endpoint: FakeSession, sentry_audit: ModuleType
) -> None:
    dagger_endpoint.engine.canned["trivy"] = Canned(0, TRIVY_REPORT.read_text(), "")

    with pytest.raises(sentry_audit.AuditFailedError) as caught:
        call(sentry_audit, "exit_code", fail_on="MEDIUM")

    message = str(caught.value)
    assert message.startswith("docker.io/library/alpine:3.19@sha256:")
    assert "audit FAILED (exit code 1, score " in message
    assert "check non-root-user failed" in message
    assert "4 MEDIUM finding(s)" in message


def test_exit_code_fails_the_call_when_the_audit_errors(
    dagger_endpoint: FakeSession, sentry_audit: ModuleType
) -> None:
    dagger_endpoint.engine.canned["grype"] = Canned(1, "", "grype: db update failed")

    with pytest.raises(
        sentry_audit.AuditFailedError, match=r"audit ERROR \(exit code 2"
    ):
        call(sentry_audit, "exit_code", scanner="grype")
