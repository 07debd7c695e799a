"""No Dagger engine to be had: the audit is an ERROR that says what to do.

Each case builds the machine it needs in ``tmp_path``: an empty PATH (no
container runtime), a stand-in Dagger CLI that fails or hangs (reached
through the SDK's own ``_EXPERIMENTAL_DAGGER_CLI_BIN``), a dead session port.
Nothing reaches the network. How long each took is recorded in the test's
``user_properties`` (``seconds``), never asserted.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

import pytest_sentry
from pytest_sentry._dagger._engine import get_engine
from pytest_sentry._models import AuditResult, Verdict
from pytest_sentry._scanners import make_scan
from pytest_sentry._scanners.interface import ScannerUnavailableError

DATA = Path(__file__).parent / "data" / "dagger"
ADVICE = (
    "Registry images and scanner containers need a Dagger engine: install the "
    "Dagger CLI (https://docs.dagger.io/install) and a container runtime "
    "(Docker or Podman), or run inside an existing session (`dagger run pytest "
    "...` sets DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN). Without an engine, "
    "audit an archive instead: `docker save -o app.tar IMAGE`, then "
    "docker-archive:app.tar (scanners then run as local executables)."
)


def timed_audit(reference: str, request: pytest.FixtureRequest) -> AuditResult:
    started = time.monotonic()
    result = pytest_sentry.scan(reference).without_scanner().audit()
    request.node.user_properties.append(
        ("seconds", round(time.monotonic() - started, 3))
    )
    return result


def executable(path: Path, script: str) -> Path:
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


@pytest.fixture
def runtime_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding a ``docker`` stub and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable(bin_dir / "docker", "exit 1\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def test_no_container_runtime_fails_at_once_without_downloading(
    dagger_clean: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    result = timed_audit("alpine:3.19", request)

    assert result.verdict is Verdict.ERROR
    assert result.exit_code == 2
    assert result.score == 0
    assert result.errors == (
        "alpine:3.19: Dagger engine: not available: no container runtime to start "
        "an engine in (docker, podman, nerdctl, finch not found on PATH) (tried: "
        "DAGGER_SESSION_PORT not set; the Dagger CLI v0.21.11 that dagger-io "
        f"downloads or caches; container runtimes on PATH). {ADVICE}",
    )
    # The SDK's cache is where it would have put a downloaded CLI.
    assert not (dagger_clean / "dagger").exists()


def test_a_cli_that_cannot_start_an_engine_is_reported_with_its_words(
    dagger_clean: Path,
    runtime_only: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    cli = executable(
        tmp_path / "dagger",
        'echo "Error: failed to start engine: cannot connect to the Docker '
        'daemon" >&2\nexit 1\n',
    )
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli))

    result = timed_audit("alpine:3.19", request)

    assert result.verdict is Verdict.ERROR
    (error,) = result.errors
    assert error.startswith(
        "alpine:3.19: Dagger engine: not available: the Dagger CLI could not start "
        "an engine session: Failed to start Dagger engine session: "
    )
    # The SDK reports either the exit status or "No connection params",
    # depending on which it sees first; the CLI's own words are kept either way.
    assert (
        f"Command '{cli} session --label dagger.io/sdk.name:python" in error
        or "No connection params" in error
    )
    assert (
        "Engine output: Error: failed to start engine: cannot connect to the "
        "Docker daemon"
    ) in error
    assert (
        f"(tried: DAGGER_SESSION_PORT not set; Dagger CLI {cli} "
        "(_EXPERIMENTAL_DAGGER_CLI_BIN), engine to start with docker "
        f"({runtime_only / 'docker'}))"
    ) in error
    assert error.endswith(ADVICE)


def test_an_engine_that_never_answers_is_given_up_after_the_timeout(
    dagger_clean: Path,
    runtime_only: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    cli = executable(tmp_path / "dagger", "exec /bin/sleep 5\n")
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli))
    monkeypatch.setenv("SENTRY_DAGGER_PROVISION_TIMEOUT", "1")

    result = timed_audit("alpine:3.19", request)

    assert result.verdict is Verdict.ERROR
    assert result.errors[0].startswith(
        "alpine:3.19: Dagger engine: not available: no engine session after 1 s "
        f"(tried: DAGGER_SESSION_PORT not set; Dagger CLI {cli}"
    )


def test_a_dead_session_port_is_reported(
    dagger_clean: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    monkeypatch.setenv("DAGGER_SESSION_PORT", str(port))
    monkeypatch.setenv("DAGGER_SESSION_TOKEN", "dead-session-token-44e1")

    result = timed_audit("alpine:3.19", request)

    (error,) = result.errors
    assert error.startswith(
        "alpine:3.19: Dagger engine: not available: no answer from the engine "
        "session: Failed to establish client connection to the Dagger session"
    )
    assert f"(tried: the existing session on 127.0.0.1:{port} from " in error
    assert "dead-session-token-44e1" not in error


def test_a_session_port_without_its_token_is_a_clear_error(
    dagger_clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGGER_SESSION_PORT", "8080")

    result = pytest_sentry.scan("alpine:3.19").without_scanner().audit()

    assert result.errors[0].startswith(
        "alpine:3.19: Dagger engine: not available: DAGGER_SESSION_PORT is set but "
        "DAGGER_SESSION_TOKEN is not (tried: the existing session on 127.0.0.1:8080"
    )


def test_the_failure_is_remembered_for_the_rest_of_the_session(
    dagger_clean: Path,
    runtime_only: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = tmp_path / "calls"
    cli = executable(tmp_path / "dagger", f'echo x >> "{calls}"\nexit 1\n')
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", str(cli))

    first = pytest_sentry.scan("alpine:3.19").without_scanner().audit()
    second = pytest_sentry.scan("busybox:1").without_scanner().audit()

    assert calls.read_text().count("x") == 1
    assert first.errors[0].removeprefix("alpine:3.19: ") == (
        second.errors[0].removeprefix("busybox:1: ")
    )


def test_a_scanner_that_needs_the_engine_is_unavailable_with_the_reason(
    dagger_clean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(ScannerUnavailableError) as caught:
        make_scan("trivy", runner="dagger")

    message = str(caught.value)
    assert message.startswith("trivy: no Dagger engine is available")
    assert "no container runtime to start an engine in" in message


def test_archives_are_audited_without_ever_starting_an_engine(
    dagger_clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRY_DAGGER", "off")

    result = (
        pytest_sentry.scan(f"docker-archive:{DATA / 'hello-world.tar'}")
        .without_scanner()
        .audit()
    )

    assert not result.errors
    assert result.verdict is Verdict.FAILED  # runs as root; read, not errored
    assert get_engine()._session is None
