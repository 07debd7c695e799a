"""The promises of the threat model, end to end, on one hostile image.

The image is untrusted input. Its executables, health check and entrypoint
would all write a marker file if anything ran them; its links point out of
the root at the host's own /etc/passwd; its environment holds a token. A
checks-only audit, through the builder and through the CLI, must run none
of it, write nothing anywhere, read the image's files and not the host's,
and never show the token. ``fuzzing.Sandbox`` watches every process start
and every write through a ``sys.addaudithook`` hook.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pytest_sentry
from fuzzing import Sandbox
from imagebuilder import build_docker_archive, build_oci_archive
from pytest_sentry._cli import main as cli_main
from pytest_sentry._models import AuditResult, CheckStatus, Verdict

TOKEN = "ghp_" + "Zq8Xw2Lk5Rt7Yp3Nm9Bv4Cx6Hj1Gf0Ds2Ae"
# What a hostile script would write, if anything ran it.
MARKER = "/tmp/sentry-untrusted-ran"
SCRIPT = f"#!/bin/sh\ntouch {MARKER}\nexec /bin/sh\n"
# uid 0 for "app" in the image; the host's /etc/passwd has no such user, so
# reading the host's file instead would give another result.
IMAGE_PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:0:0::/home/app:/bin/sh\n"


def hostile_layers() -> list[list[tuple[object, ...]]]:
    return [
        [
            ("/bin", "dir"),
            ("/bin/sh", "file", SCRIPT, 0o755),
            ("/usr/bin/curl", "file", SCRIPT, 0o4755),
            ("/entrypoint.sh", "file", SCRIPT, 0o755),
            # Links that climb out of the root: inside the image they land
            # on the image's own files, never the host's.
            ("/etc", "symlink", "../../../../../../real-etc"),
            ("/real-etc/passwd", "file", IMAGE_PASSWD),
            ("/real-etc/group", "symlink", "/../../../../etc/group"),
        ],
        [("/usr/bin/wget", "symlink", "../../../../../../../bin/sh")],
    ]


CONFIG = {
    "User": "app",
    "Env": ["PATH=/usr/bin:/bin", f"GITHUB_TOKEN={TOKEN}"],
    "Entrypoint": ["/entrypoint.sh"],
    "Healthcheck": {"Test": ["CMD", "/usr/bin/curl", "-f", "http://localhost/"]},
}


@pytest.fixture(params=["docker-archive", "oci-archive"])
def hostile_image(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    folder = tmp_path / "input"
    folder.mkdir()
    if request.param == "docker-archive":
        path = build_docker_archive(folder / "hostile.tar", hostile_layers(), CONFIG)
    else:
        path = build_oci_archive(folder / "hostile.tar", hostile_layers(), CONFIG)
    return f"{request.param}:{path}"


def assert_read_from_the_image(result: AuditResult) -> None:
    checks = {check.id: check for check in result.checks}
    # "app" is uid 0 only in the image's /etc/passwd, reached through an
    # /etc link that climbs above the root.
    assert checks["non-root-user"].status is CheckStatus.FAIL
    assert "uid 0" in checks["non-root-user"].details
    assert checks["secrets-in-env"].status is CheckStatus.FAIL
    assert checks["health-check"].status is CheckStatus.PASS
    assert result.verdict is Verdict.FAILED


def test_an_audit_runs_nothing_and_writes_nothing(
    fuzz_sandbox: Sandbox, hostile_image: str
) -> None:
    builder = pytest_sentry.scan(hostile_image).without_scanner()

    result = fuzz_sandbox.run(builder.audit)

    assert_read_from_the_image(result)
    assert not Path(MARKER).exists()
    assert TOKEN not in result.model_dump_json()
    assert TOKEN[:8] not in builder.report() + builder.json()


@pytest.mark.parametrize("output", ["json", "markdown", "sarif"])
def test_the_cli_runs_nothing_and_prints_no_secret(
    fuzz_sandbox: Sandbox,
    hostile_image: str,
    output: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["scan", hostile_image, "--scanner", "none", "--format", output]

    code = fuzz_sandbox.run(lambda: cli_main(argv))

    printed = capsys.readouterr()
    assert code == 1
    assert not Path(MARKER).exists()
    assert TOKEN[:8] not in printed.out + printed.err
    assert "GITHUB_TOKEN" in printed.out
