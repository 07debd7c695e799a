"""The Dagger integration driven through the real SDK against a GraphQL endpoint.

``dagger_endpoint`` (conftest) is a session stand-in on 127.0.0.1 that the
dagger-io SDK joins through DAGGER_SESSION_PORT/DAGGER_SESSION_TOKEN, exactly
as under ``dagger run``. Everything between the builder and the HTTP request
is real: our engine session and its event loop, the registry source, the
scanners' Dagger runner, the SDK's query builder, id resolution and secrets.
What the endpoint answers is canned (see tests/dagger_fake.py); no engine
ran any of this.
"""

from __future__ import annotations

import concurrent.futures
import logging
from datetime import date
from pathlib import Path

import pytest

import pytest_sentry
from dagger_fake import Canned, FakeSession
from pytest_sentry import _dagger
from pytest_sentry._models import Severity, Verdict

DATA = Path(__file__).parent / "data" / "dagger"
TRIVY_REPORT = (DATA / "trivy-alpine-310.json").read_text()
SNYK_REPORT = (DATA / "snykcli-basic-apk-results.json").read_text()
SNYK_TOKEN = "snyk-endpoint-tok3n-9d2e71"
REGISTRY_PASSWORD = "registry-pa55-word-77ac01"


def queries_with(fake: FakeSession, text: str) -> list[str]:
    return [q for q in fake.engine.api_queries if text in q]


def test_a_registry_image_is_exported_once_and_read_as_a_docker_archive(
    dagger_endpoint: FakeSession,
) -> None:
    first = pytest_sentry.scan("hello-world:latest").without_scanner().audit()
    again = pytest_sentry.scan("hello-world:latest").without_scanner().audit()

    (export,) = dagger_endpoint.engine.exports
    assert export.ops == (("from", "hello-world:latest"),)
    assert export.forced_compression == "Gzip"
    assert export.media_types == "DockerMediaTypes"
    assert Path(export.path).name == "hello-world_latest.tar"
    assert len(queries_with(dagger_endpoint, "export(")) == 1

    # The reference the user wrote, the image the archive holds.
    assert first.image_ref == again.image_ref == "hello-world:latest"
    assert first.image_digest == again.image_digest
    assert first.image_digest.startswith("sha256:")
    assert first.verdict is Verdict.FAILED  # hello-world runs as root
    assert not first.errors


def test_the_session_token_goes_only_in_the_authorization_header(
    dagger_endpoint: FakeSession,
) -> None:
    pytest_sentry.scan("hello-world:latest").without_scanner().audit()

    assert dagger_endpoint.engine.unauthorized == 0
    assert dagger_endpoint.engine.queries
    assert not queries_with(dagger_endpoint, dagger_endpoint.token)


def test_a_scanner_runs_in_the_engine_on_the_exported_archive(
    dagger_endpoint: FakeSession,
) -> None:
    dagger_endpoint.engine.canned["trivy"] = Canned(0, TRIVY_REPORT, "")

    result = (
        pytest_sentry.scan("hello-world:latest")
        .with_scanner("trivy", runner="dagger")
        .audit()
    )

    assert result.scan_ran, result.errors
    assert result.vuln_summary.medium == 4
    assert len(dagger_endpoint.engine.exports) == 1
    archive = dagger_endpoint.engine.exports[0].path

    (run,) = dagger_endpoint.engine.execs.values()
    assert run.image == "aquasec/trivy:0.59.1"
    assert run.argv[0] == "trivy"
    assert run.argv[1:3] == ["image", "--input"]
    assert run.expect == "ANY"
    assert run.use_entrypoint is False

    # The archive the image was read from is the one the scanner gets.
    mounted = run.mounts[run.argv[3]]
    assert mounted["source"] == {"host_file": archive}
    assert run.caches == {"/sentry/cache": "pytest-sentry-trivy-db"}
    assert run.env["SENTRY_SCAN_DATE"] == date.today().isoformat()


def test_findings_reported_through_a_failing_exit_code_are_read(
    dagger_endpoint: FakeSession, caplog: pytest.LogCaptureFixture
) -> None:
    # Snyk exits 1 when it finds something; expect=ANY lets us read that.
    dagger_endpoint.engine.canned["snyk"] = Canned(1, SNYK_REPORT, "")
    caplog.set_level(logging.DEBUG)

    result = (
        pytest_sentry.scan("hello-world:latest")
        .with_snyk(SNYK_TOKEN)
        .with_runner("dagger")
        .fail_on(Severity.CRITICAL)
        .audit()
    )

    assert result.scan_ran, result.errors
    # 13 dependency paths, two distinct (id, package, version) findings.
    assert {v.package_name for v in result.vulnerabilities} == {
        "musl/musl",
        "musl/musl-utils",
    }
    assert result.vuln_summary.low == 2
    (run,) = dagger_endpoint.engine.execs.values()
    assert run.argv[:3] == ["snyk", "container", "test"]
    assert run.secret_env == {"SNYK_TOKEN": "sentry-snyk-snyk_token"}
    assert SNYK_TOKEN not in repr(run.env) + repr(run.argv)

    # The SDK sends the plaintext in exactly one place: setSecret's argument.
    carrying = queries_with(dagger_endpoint, SNYK_TOKEN)
    assert carrying
    for query in carrying:
        assert "setSecret(" in query
        assert f'plaintext: "{SNYK_TOKEN}"' in query
    assert any("withSecretVariable" in q for q in dagger_endpoint.engine.api_queries)

    # gql logs queries and their arguments at DEBUG; the value is masked.
    assert "setSecret" in caplog.text
    assert SNYK_TOKEN not in caplog.text
    assert 'plaintext: \\"****\\"' in caplog.text or "'plaintext': '****'" in (
        caplog.text
    )
    assert SNYK_TOKEN not in result.model_dump_json()


def test_a_scanner_killed_by_a_signal_makes_the_audit_an_error(
    dagger_endpoint: FakeSession,
) -> None:
    dagger_endpoint.engine.canned["trivy"] = Canned(137, "", "Killed")

    result = (
        pytest_sentry.scan("hello-world:latest")
        .with_scanner("trivy", runner="dagger")
        .audit()
    )

    assert result.verdict is Verdict.ERROR
    assert result.exit_code == 2
    assert not result.scan_ran
    assert "trivy" in result.errors[0]


def test_registry_credentials_travel_as_a_secret(
    dagger_endpoint: FakeSession,
) -> None:
    reference = "registry.example.com/team/app:1.2"

    result = (
        pytest_sentry.scan(reference)
        .with_registry_auth("ci-bot", REGISTRY_PASSWORD)
        .without_scanner()
        .audit()
    )

    assert result.image_ref == reference
    (export,) = dagger_endpoint.engine.exports
    kind, address, username, secret_id = export.ops[0]
    assert (kind, address, username) == ("withRegistryAuth", reference, "ci-bot")
    assert export.ops[1] == ("from", reference)
    secret = dagger_endpoint.engine.secret(secret_id)
    assert secret.plaintext == REGISTRY_PASSWORD
    assert secret.name == "sentry-registry-password-registry.example.com"

    (carrying,) = queries_with(dagger_endpoint, REGISTRY_PASSWORD)
    assert carrying.lstrip("{ \n").startswith("setSecret(")
    assert REGISTRY_PASSWORD not in repr(
        pytest_sentry.scan(reference).with_registry_auth("ci-bot", REGISTRY_PASSWORD)
    )


def test_credentials_from_the_environment_apply_to_their_registry_only(
    dagger_endpoint: FakeSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRY_REGISTRY_USER", "ci-bot")
    monkeypatch.setenv("SENTRY_REGISTRY_PASSWORD", REGISTRY_PASSWORD)
    monkeypatch.setenv("SENTRY_REGISTRY", "ghcr.io")

    pytest_sentry.scan("ghcr.io/org/app:2").without_scanner().audit()
    pytest_sentry.scan("docker.io/library/busybox:1").without_scanner().audit()

    private, public = dagger_endpoint.engine.exports
    assert private.ops[0][:3] == ("withRegistryAuth", "ghcr.io/org/app:2", "ci-bot")
    assert public.ops == (("from", "docker.io/library/busybox:1"),)


def test_half_a_credential_pair_is_an_error_not_an_anonymous_pull(
    dagger_endpoint: FakeSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRY_REGISTRY_USER", "ci-bot")

    result = pytest_sentry.scan("ghcr.io/org/app:2").without_scanner().audit()

    assert result.verdict is Verdict.ERROR
    assert result.errors == (
        "ghcr.io/org/app:2: SENTRY_REGISTRY_PASSWORD: not set, but "
        "SENTRY_REGISTRY_USER is; set both or neither",
    )
    assert not dagger_endpoint.engine.exports


def test_an_image_the_engine_cannot_pull_is_an_error(
    dagger_endpoint: FakeSession,
) -> None:
    dagger_endpoint.engine.pull_errors["alpine:no-such-tag"] = (
        "failed to resolve source metadata for docker.io/library/alpine:no-such-tag"
    )

    result = pytest_sentry.scan("alpine:no-such-tag").without_scanner().audit()

    assert result.verdict is Verdict.ERROR
    assert result.score == 0
    assert not result.passed
    (error,) = result.errors
    assert error.startswith(
        "alpine:no-such-tag: the Dagger engine could not pull or export it: "
        "failed to resolve source metadata"
    )


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("app.tar", "app.tar: no such file or directory"),
        ("MyApp:latest", "MyApp:latest: not a file, and not a valid image reference"),
    ],
)
def test_what_cannot_be_a_registry_reference_never_reaches_the_engine(
    dagger_endpoint: FakeSession, reference: str, problem: str
) -> None:
    result = pytest_sentry.scan(reference).without_scanner().audit()

    assert result.verdict is Verdict.ERROR
    assert result.errors[0].startswith(problem)
    assert not dagger_endpoint.engine.queries


def test_prefetched_images_are_exported_concurrently(
    dagger_endpoint: FakeSession,
) -> None:
    dagger_endpoint.engine.export_delay = 0.4
    references = ["app-one:1", "app-two:1", "app-three:1", "docker-archive:x.tar"]

    _dagger.prefetch(references)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(
                lambda ref: pytest_sentry.scan(ref).without_scanner().audit(),
                references[:3],
            )
        )

    assert [r.image_ref for r in results] == references[:3]
    assert all(not r.errors for r in results)
    assert len(dagger_endpoint.engine.exports) == 3
    assert dagger_endpoint.engine.max_exports_in_flight >= 2


def test_exported_archives_are_deleted_when_the_engine_closes(
    dagger_endpoint: FakeSession,
) -> None:
    pytest_sentry.scan("hello-world:latest").without_scanner().audit()
    archive = Path(dagger_endpoint.engine.exports[0].path)
    assert archive.is_file()

    _dagger.close_engine()

    assert not archive.exists()
