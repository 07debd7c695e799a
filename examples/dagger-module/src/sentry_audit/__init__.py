"""Audit a container image for security, from ``dagger call``.

The pytest_sentry builder behind a Dagger module, chained the way the
original Sentry module was::

    dagger call scan --container=alpine:3.19 report
    dagger call scan --container=alpine:3.19 --fail-on=CRITICAL json
    dagger call scan --container=alpine:3.19 exit-code   # fails the process

``exit-code`` returns 0 when the audit passes and raises otherwise, so
``dagger call`` itself exits non-zero and a CI step fails on a failed (1) or
errored (2) audit - the original printed 1 and exited 0.

The builder is synchronous and uses its own engine connection; it runs in a
worker thread so that it can ask this module's connection for the
container's id while the event loop keeps serving.
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
import dagger
from dagger import Doc, field, function, object_type

import pytest_sentry


class AuditFailedError(Exception):
    """The audit did not pass; the message is the verdict and its reasons."""


@object_type
class Audit:
    """One image and how to audit it."""

    container: dagger.Container = field()
    # Kept in the object's state between chained calls, not exposed as API.
    fail_on: str = "HIGH"
    scanner: str = "trivy"
    min_score: int = 0
    snyk_token: dagger.Secret | None = None

    async def _builder(self) -> pytest_sentry.Scan:
        builder = pytest_sentry.scan(self.container).fail_on(self.fail_on)
        if self.min_score:
            builder = builder.min_score(self.min_score)
        if self.scanner == "none":
            return builder.without_scanner()
        if self.scanner == "snyk":
            if self.snyk_token is None:
                raise AuditFailedError("scanner snyk: pass --snyk-token=env:SNYK_TOKEN")
            return builder.with_snyk(await self.snyk_token.plaintext()).with_runner(
                "dagger"
            )
        return builder.with_scanner(self.scanner, runner="dagger")

    @function
    async def report(self) -> str:
        """The Markdown report."""
        builder = await self._builder()
        return await anyio.to_thread.run_sync(builder.report)

    @function
    async def json(self) -> str:
        """The JSON report (camelCase keys, as the original module documented)."""
        builder = await self._builder()
        return await anyio.to_thread.run_sync(builder.json)

    @function
    async def exit_code(self) -> int:
        """0 when the audit passes; otherwise an error, so the call fails."""
        builder = await self._builder()
        result = await anyio.to_thread.run_sync(builder.audit)
        if result.exit_code != 0:
            raise AuditFailedError(
                f"{result.image_ref}: audit {result.verdict.value} "
                f"(exit code {result.exit_code}, score {result.score}): "
                f"{'; '.join(_reasons(result)) or 'see the report'}"
            )
        return 0


def _reasons(result: pytest_sentry.AuditResult) -> list[str]:
    reasons = list(result.errors)
    reasons += [
        f"check {check.id} failed"
        for check in result.checks
        if check.status is pytest_sentry.CheckStatus.FAIL
    ]
    reasons += [
        f"{gate.count} {gate.severity.value} finding(s)"
        for gate in result.gates
        if not gate.passed
    ]
    if result.min_score is not None and result.score < result.min_score:
        reasons.append(f"score below {result.min_score}")
    return reasons


@object_type
class SentryAudit:
    """Security audits of container images: checks, a scanner, a policy."""

    @function
    def scan(
        self,
        container: Annotated[dagger.Container, Doc("the image to audit")],
        fail_on: Annotated[str, Doc("lowest severity that fails")] = "HIGH",
        scanner: Annotated[
            str, Doc("trivy, grype, snyk or none; runs in the engine")
        ] = "trivy",
        min_score: Annotated[int, Doc("fail below this score (0: off)")] = 0,
        snyk_token: Annotated[dagger.Secret | None, Doc("for snyk")] = None,
    ) -> Audit:
        """Describe the audit; call report, json or exit-code on the result."""
        return Audit(
            container=container,
            fail_on=fail_on,
            scanner=scanner,
            min_score=min_score,
            snyk_token=snyk_token,
        )
