"""``pytest_sentry.scan(container)`` for a ``dagger.Container`` from the
caller's own pipeline, driven through the real SDK against the stand-in
session (``dagger_endpoint`` in conftest).

The pipeline owns its connection (the global ``dag`` here, as in a Dagger
module) and calls the synchronous builder from a worker thread; the
container's id is asked through the pipeline's connection, the export runs
on ours. No engine ran any of this.
"""

from __future__ import annotations

import io

import anyio
import anyio.to_thread
import dagger
import pytest
from dagger import dag

import pytest_sentry
from dagger_fake import FakeSession
from pytest_sentry._models import AuditResult, Verdict


def audit_in_pipeline(build: str) -> AuditResult:
    """Run a small pipeline that builds a container and audits it."""

    async def pipeline() -> AuditResult:
        async with dagger.connection(dagger.Config(log_output=io.StringIO())):
            container = dag.container().from_("alpine:3.19")
            if build == "with-env":
                container = container.with_env_variable("APP_MODE", "production")
            builder = pytest_sentry.scan(container).without_scanner()
            return await anyio.to_thread.run_sync(builder.audit)

    return anyio.run(pipeline)


def test_a_pulled_container_is_named_by_the_address_the_engine_pulled(
    dagger_endpoint: FakeSession,
) -> None:
    result = audit_in_pipeline("plain")

    assert result.image_ref.startswith("docker.io/library/alpine:3.19@sha256:")
    assert not result.errors
    (export,) = dagger_endpoint.engine.exports
    assert export.ops == (("from", "alpine:3.19"),)
    assert export.media_types == "DockerMediaTypes"
    # The id came from the pipeline's connection, the export from ours.
    assert any("loadContainerFromID" in q for q in dagger_endpoint.engine.api_queries)


def test_a_built_container_is_named_by_its_config_digest(
    dagger_endpoint: FakeSession,
) -> None:
    result = audit_in_pipeline("with-env")

    assert result.image_ref == f"dagger-container@{result.image_digest[:19]}"
    assert result.image_digest.startswith("sha256:")
    (export,) = dagger_endpoint.engine.exports
    assert export.ops[-1] == ("withEnvVariable", "APP_MODE", "production")


def test_the_same_container_is_exported_once(dagger_endpoint: FakeSession) -> None:
    async def pipeline() -> tuple[AuditResult, AuditResult]:
        async with dagger.connection(dagger.Config(log_output=io.StringIO())):
            container = dag.container().from_("alpine:3.19")
            first = pytest_sentry.scan(container).without_scanner()
            second = pytest_sentry.scan(container).without_scanner().fail_on("LOW")
            return (
                await anyio.to_thread.run_sync(first.audit),
                await anyio.to_thread.run_sync(second.audit),
            )

    first, second = anyio.run(pipeline)

    assert first.image_ref == second.image_ref
    assert len(dagger_endpoint.engine.exports) == 1


def test_without_an_engine_the_container_audit_is_an_error(
    dagger_clean: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRY_DAGGER", "off")

    result = pytest_sentry.scan(dag.container().from_("alpine:3.19")).audit()

    assert result.verdict is Verdict.ERROR
    assert result.image_ref == "dagger.Container"
    assert result.errors[0].startswith(
        "dagger.Container: Dagger engine: not available: "
        "switched off by SENTRY_DAGGER=off"
    )


def test_anything_else_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"expected an image reference .* got int"):
        pytest_sentry.scan(42)  # type: ignore[arg-type]
