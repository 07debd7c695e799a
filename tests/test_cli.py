"""The CLI on real archives: reports, options, and the process exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_sentry._cli import main

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "images" / "alpine-3.10.tar.gz"
EXAMPLE_REPORT = ROOT / "examples" / "reports" / "alpine-3.10.trivy.json"
IMAGES = Path(__file__).parent / "data" / "images"


@pytest.fixture(autouse=True)
def _no_scanner_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The default scanner must not be found by accident on a developer's
    # machine: these tests pin which scanner, if any, runs.
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("DAGGER_SESSION_PORT", raising=False)
    monkeypatch.delenv("DAGGER_SESSION_TOKEN", raising=False)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _audit_example(
    capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    """The example archive with its Trivy report, plus ``extra`` options."""
    report = f"trivy:{EXAMPLE_REPORT}"
    return _run(capsys, "scan", str(EXAMPLE), "--scanner-report", report, *extra)


def test_example_audit_fails_on_root_user(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _audit_example(capsys)
    assert code == 1
    assert "│ STATUS: FAILED" in out
    assert "Score: 77/100 (Good)" in out
    assert "Vulnerabilities: 4 total (0 critical)" in out
    assert "| MEDIUM | CVE-2019-1549 | libcrypto1.1 | 1.1.1c-r0 | 1.1.1d-r0 |" in out


def test_disabling_the_failing_check_and_raising_the_bar_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _audit_example(
        capsys,
        "--disable-check",
        "non-root-user",
        "--fail-on",
        "critical",
    )
    assert code == 0
    assert "STATUS: PASSED" in out
    assert "Non-Root User" not in out


def test_medium_threshold_fails_on_the_medium_findings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _audit_example(
        capsys,
        "--disable-check",
        "non-root-user",
        "--fail-on",
        "MEDIUM",
    )
    assert code == 1
    assert "STATUS: FAILED" in out


def test_min_score_fails_a_passing_audit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "scan",
        str(EXAMPLE),
        "--scanner",
        "none",
        "--disable-check",
        "non-root-user",
        "--min-score",
        "101",
    )
    assert code == 2
    code, out, _ = _audit_example(
        capsys,
        "--disable-check",
        "non-root-user",
        "--fail-on",
        "CRITICAL",
        "--min-score",
        "95",
    )
    assert code == 1
    assert "Score: 92/100" in out


def test_broken_archive_is_an_error_naming_the_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(
        capsys, "scan", str(IMAGES / "ggcr-null_manifest.tar"), "--scanner", "none"
    )
    assert code == 2
    assert "STATUS: ERROR" in out
    assert "ggcr-null_manifest.tar: manifest.json is null" in out


def test_misspelled_image_is_an_error_not_a_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "scan", "docker-archive:no-such-app.tar")
    assert code == 2
    assert "no-such-app.tar: no such file or directory" in out


def test_explicit_scanner_that_cannot_run_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "scan", str(EXAMPLE), "--scanner", "grype")
    assert code == 2
    assert "STATUS: ERROR" in out
    assert "grype" in out.split("## Errors")[1].split("##")[0]


def test_default_scanner_that_cannot_run_says_no_scan_ran(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "scan", str(EXAMPLE), "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert document["scanRan"] is False
    assert document["scannerUsed"] == "none"
    assert any("could not run here" in note for note in document["notes"])
    assert any("No vulnerability scan ran" in note for note in document["notes"])


def test_json_report_written_to_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "out" / "report.json"
    code, out, _ = _audit_example(
        capsys,
        "--format",
        "json",
        "--output",
        str(target),
    )
    document = json.loads(target.read_text())
    assert code == 1
    assert out.strip() == f"FAILED: report written to {target}"
    assert document["imageRef"] == str(EXAMPLE)
    assert document["scannerUsed"] == "trivy"
    assert [v["cveId"] for v in document["vulnerabilities"]] == [
        "CVE-2019-1549",
        "CVE-2019-1549",
        "CVE-2019-1551",
        "CVE-2019-1551",
    ]


def test_two_audits_of_one_image_differ_only_in_timestamp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = (
        "scan",
        str(EXAMPLE),
        "--scanner-report",
        f"trivy:{EXAMPLE_REPORT}",
        "--format",
        "json",
    )
    first = json.loads(_run(capsys, *argv)[1])
    second = json.loads(_run(capsys, *argv)[1])
    first.pop("timestamp")
    second.pop("timestamp")
    assert first == second


def test_policy_file_ignores_and_reports_expired_entries(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'fail_on = "MEDIUM"\n'
        'disabled_checks = ["non-root-user"]\n'
        "[[ignore]]\n"
        'id = "CVE-2019-1549"\n'
        'reason = "fork() not used by the service"\n'
        "expires = 2999-01-01\n"
        "[[ignore]]\n"
        'id = "CVE-2019-1551"\n'
        'reason = "waiting for upstream"\n'
        "expires = 2020-01-01\n"
    )
    code, out, _ = _audit_example(
        capsys,
        "--policy",
        str(policy),
        "--format",
        "json",
    )
    document = json.loads(out)
    suppressed = [v for v in document["vulnerabilities"] if v["suppressed"]]
    assert code == 1
    assert {v["cveId"] for v in suppressed} == {"CVE-2019-1549"}
    assert {v["suppressionReason"] for v in suppressed} == {
        "fork() not used by the service"
    }
    assert document["vulnSummary"]["medium"] == 2
    assert [e["id"] for e in document["expiredIgnores"]] == ["CVE-2019-1551"]


def test_sarif_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _audit_example(
        capsys,
        "--format",
        "sarif",
    )
    assert code == 1
    assert json.loads(out)["runs"][0]["properties"]["verdict"] == "FAILED"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scan", "x.tar", "--fail-on", "severe"], "severity 'severe'"),
        (["scan", "x.tar", "--disable-check", "nope"], "invalid choice: 'nope'"),
        (["scan", "x.tar", "--scanner", "custom"], "--scanner custom"),
        (["scan", "x.tar", "--scanner-report", "trivy"], "expected FORMAT:PATH"),
    ],
)
def test_usage_errors_exit_two(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code = main(argv)
    except SystemExit as stop:
        code = int(stop.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err


def test_schema_command_prints_the_published_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "schema")
    published = (ROOT / "schema" / "audit-result.schema.json").read_text()
    assert code == 0
    assert json.loads(out) == json.loads(published)


def test_process_exit_code_is_the_verdict(tmp_path: Path) -> None:
    # The original printed its exit code and exited 0; here the process itself
    # must exit with it, or CI gates block nothing.
    env = {**os.environ, "PATH": str(tmp_path)}
    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_sentry",
            "scan",
            str(EXAMPLE),
            "--scanner",
            "none",
            "--format",
            "json",
        ],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    errored = subprocess.run(
        [sys.executable, "-m", "pytest_sentry", "scan", str(tmp_path / "nope.tar")],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["verdict"] == "FAILED"
    assert errored.returncode == 2
