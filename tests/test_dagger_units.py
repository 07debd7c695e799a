"""The Dagger integration's plain parts: references, settings, plans, masking."""

from __future__ import annotations

import json
import logging

import pytest

from pytest_sentry._dagger._logfilter import SecretMaskFilter
from pytest_sentry._dagger._provision import plan
from pytest_sentry._dagger._reference import archive_name, check_reference, registry_of
from pytest_sentry._dagger._settings import EngineSettings, registry_auth_from_env
from pytest_sentry._dagger.interface import (
    EngineError,
    EngineUnavailableError,
    RegistryAuth,
)
from pytest_sentry._image.interface import ImageError


@pytest.mark.parametrize(
    "reference",
    [
        "alpine",
        "alpine:3.19",
        "library/alpine:3.19",
        "ghcr.io/org/team/app:v1.2.3-rc.1",
        "localhost:5000/app",
        "registry.example.com:8443/a_b/c__d/e-f:latest",
        "alpine@sha256:" + "a" * 64,
        "alpine:3.19@sha256:" + "0" * 64,
    ],
)
def test_registry_references_are_accepted(reference: str) -> None:
    check_reference(reference)


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("app.tar", "no such file or directory"),
        ("./build/app.tar.gz", "no such file or directory"),
        ("/srv/images/app", "no such file or directory"),
        ("MyApp:latest", "not a valid image reference"),
        ("app:", "not a valid image reference"),
        ("app@sha256:short", "not a valid image reference"),
        ("two words", "not a valid image reference"),
    ],
)
def test_what_cannot_be_pulled_is_refused(reference: str, problem: str) -> None:
    with pytest.raises(ImageError, match=problem) as caught:
        check_reference(reference)
    assert str(caught.value).startswith(f"{reference}: ")


@pytest.mark.parametrize(
    ("reference", "registry"),
    [
        ("alpine:3.19", "docker.io"),
        ("library/alpine", "docker.io"),
        ("ghcr.io/org/app:1", "ghcr.io"),
        ("localhost/app", "localhost"),
        ("registry.example.com:5000/app", "registry.example.com:5000"),
    ],
)
def test_the_registry_of_a_reference(reference: str, registry: str) -> None:
    assert registry_of(reference) == registry


def test_archive_names_say_which_image_they_hold() -> None:
    assert archive_name("ghcr.io/org/app:1.2") == "ghcr.io_org_app_1.2.tar"
    assert archive_name("alpine@sha256:" + "b" * 64).startswith("alpine_sha256_bbb")


def test_settings_come_from_the_environment_and_refuse_nonsense() -> None:
    settings = EngineSettings.from_env(
        {"SENTRY_DAGGER_PROVISION_TIMEOUT": "7.5", "SENTRY_DAGGER_PARALLEL": "2"}
    )
    assert (settings.provision_timeout, settings.parallel) == (7.5, 2)
    assert EngineSettings.from_env({}) == EngineSettings()

    with pytest.raises(EngineError, match=r"^SENTRY_DAGGER_RUN_TIMEOUT: 'soon' is"):
        EngineSettings.from_env({"SENTRY_DAGGER_RUN_TIMEOUT": "soon"})
    with pytest.raises(EngineError, match=r"^SENTRY_DAGGER_PARALLEL: must be greater"):
        EngineSettings.from_env({"SENTRY_DAGGER_PARALLEL": "0"})


def test_registry_credentials_from_the_environment() -> None:
    auth = registry_auth_from_env(
        {
            "SENTRY_REGISTRY_USER": "ci",
            "SENTRY_REGISTRY_PASSWORD": "pw-0f3a9c",
            "SENTRY_REGISTRY": "ghcr.io",
        }
    )
    assert auth == RegistryAuth("ci", "pw-0f3a9c", "ghcr.io")
    assert "pw-0f3a9c" not in repr(auth)
    assert auth.applies_to("ghcr.io")
    assert not auth.applies_to("docker.io")
    assert RegistryAuth("ci", "x").applies_to("docker.io")
    assert registry_auth_from_env({}) is None


def test_the_plan_names_how_the_engine_is_reached(tmp_path: object) -> None:
    runner = plan(
        {
            "_EXPERIMENTAL_DAGGER_RUNNER_HOST": "tcp://build-box:1234",
            "_EXPERIMENTAL_DAGGER_CLI_BIN": "/opt/dagger",
            "PATH": "",
        }
    )
    assert runner.tried == (
        "DAGGER_SESSION_PORT not set; Dagger CLI /opt/dagger "
        "(_EXPERIMENTAL_DAGGER_CLI_BIN), engine at tcp://build-box:1234 from "
        "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
    )

    with pytest.raises(EngineUnavailableError, match="switched off by SENTRY_DAGGER=0"):
        plan({"SENTRY_DAGGER": "0", "DAGGER_SESSION_PORT": "1234"})


def test_a_session_token_never_shows_in_a_failure() -> None:
    session = plan({"DAGGER_SESSION_PORT": "4321", "DAGGER_SESSION_TOKEN": "tok-77"})

    failure = session.failure("401 for token tok-77")

    assert "tok-77" not in str(failure)
    assert "401 for token ****" in str(failure)


def test_plaintext_arguments_are_masked_in_every_form_gql_logs_them() -> None:
    masker = SecretMaskFilter()
    value = "pass-9e1"
    query = f'{{ setSecret(name: "n", plaintext: "{value}") {{ id }} }}'
    body = ">>> " + json.dumps({"query": query})
    arguments = "Added arguments " + repr({"name": "n", "plaintext": value})

    for text in (query, body, arguments):
        masked = masker.mask(text)
        assert value not in masked
        assert "****" in masked
        assert "setSecret" in masked or "Added arguments" in masked


def test_registered_values_are_masked_in_log_records() -> None:
    masker = SecretMaskFilter()
    masker.add("token-5b7d")
    record = logging.LogRecord(
        "gql.transport.httpx",
        logging.DEBUG,
        __file__,
        1,
        "<<< %s",
        ("token-5b7d",),
        None,
    )

    assert masker.filter(record)

    assert record.getMessage() == "<<< ****"
