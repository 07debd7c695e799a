"""The local runner with fake scanner executables: exit codes, crashes,
timeouts, bad output, and where credentials may and may not appear.

Each fake is a small Python script written to ``tmp_path``, made executable
and put first on PATH. It records its argv and environment to a JSON file
next to itself, then behaves as the test asks.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from imagebuilder import build_docker_archive, load_image
from pytest_sentry._image.interface import Image
from pytest_sentry._models import Severity
from pytest_sentry._scanners import make_scan
from pytest_sentry._scanners.interface import ScanError, ScannerUnavailableError
from scannerdata import DATA

TOKEN = "snyk-Tok3n-7f2c9a81d4e5b6"
GRYPE_REPORT = DATA / "grype" / "ddsamples-juice_shop-grype-sca.json"
SNYK_REPORT = DATA / "snyk" / "snykcli-docker-no-fixable-vulns.json"


@pytest.fixture
def image(tmp_path: Path) -> Image:
    path = build_docker_archive(
        tmp_path / "app.tar", [[("/etc/os-release", "file", "ID=alpine\n")]]
    )
    return load_image(path)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SNYK_TOKEN", raising=False)
    return directory


def fake(bin_dir: Path, name: str, body: str) -> Path:
    """An executable ``name`` that records argv/environ, then runs ``body``."""
    script = bin_dir / name
    record = bin_dir / f"{name}.record.json"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys, time, signal, subprocess\n"
        "json.dump({'argv': sys.argv, 'env': dict(os.environ)}, "
        f"open({str(record)!r}, 'w'))\n" + textwrap.dedent(body),
        encoding="utf-8",
    )
    script.chmod(0o755)
    return record


def recorded(record: Path) -> dict[str, Any]:
    return json.loads(record.read_text(encoding="utf-8"))


def test_success_with_findings(bin_dir: Path, image: Image) -> None:
    record = fake(
        bin_dir,
        "grype",
        f"sys.stdout.buffer.write(open({str(GRYPE_REPORT)!r}, 'rb').read())\n",
    )

    findings = make_scan("grype", runner="local").run(image)

    argv = recorded(record)["argv"]
    assert argv[1:] == [f"docker-archive:{image.archive_path}", "-o", "json"]
    assert recorded(record)["env"]["GRYPE_CHECK_FOR_APP_UPDATE"] == "false"
    # 84 matches, 43 after de-duplication on (id, package, version).
    assert len(findings) == 43
    assert sum(f.severity is Severity.CRITICAL for f in findings) > 0


def test_snyk_exit_code_one_means_findings_and_the_token_stays_in_the_env(
    bin_dir: Path, image: Image, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    record = fake(
        bin_dir,
        "snyk",
        f"sys.stdout.buffer.write(open({str(SNYK_REPORT)!r}, 'rb').read())\n"
        "sys.exit(1)\n",
    )

    findings = make_scan("snyk", runner="local", token=TOKEN).run(image)

    seen = recorded(record)
    assert seen["env"]["SNYK_TOKEN"] == TOKEN
    assert all(TOKEN not in arg for arg in seen["argv"])
    assert seen["argv"][1:] == [
        "container",
        "test",
        f"docker-archive:{image.archive_path}",
        "--json",
    ]
    assert len(findings) == 80
    assert TOKEN not in caplog.text
    assert "SNYK_TOKEN" in caplog.text  # the name may be logged, the value not
    assert all(TOKEN not in f.model_dump_json() for f in findings)


def test_the_token_is_taken_from_the_environment_when_not_given(
    bin_dir: Path, image: Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = fake(bin_dir, "snyk", 'print(\'{"ok": true, "vulnerabilities": []}\')\n')
    monkeypatch.setenv("SNYK_TOKEN", TOKEN)

    assert make_scan("snyk", runner="local").run(image) == ()
    assert recorded(record)["env"]["SNYK_TOKEN"] == TOKEN


def test_a_missing_token_is_reported_before_anything_runs(bin_dir: Path) -> None:
    fake(bin_dir, "snyk", "sys.exit(0)\n")

    with pytest.raises(ScannerUnavailableError, match="snyk: needs SNYK_TOKEN"):
        make_scan("snyk", runner="local")


def test_an_error_exit_names_scanner_code_and_stderr_with_the_token_masked(
    bin_dir: Path, image: Image, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake(
        bin_dir,
        "snyk",
        "token = os.environ['SNYK_TOKEN']\n"
        "sys.stderr.write('Authentication failed for token ' + token + '\\n')\n"
        'print(\'{"ok": false, "error": "Unauthorized"}\')\n'
        "sys.exit(2)\n",
    )

    with pytest.raises(ScanError) as caught:
        make_scan("snyk", runner="local", token=TOKEN).run(image)

    message = str(caught.value)
    assert message.startswith("snyk: failed with exit code 2; stderr:\n")
    assert "Authentication failed for token ****" in message
    assert TOKEN not in message
    assert TOKEN not in caplog.text
    assert caught.value.__cause__ is None or TOKEN not in str(caught.value.__cause__)


def test_a_token_echoed_into_the_report_does_not_reach_the_findings(
    bin_dir: Path, image: Image
) -> None:
    report = {
        "vulnerabilities": [
            {
                "id": "SNYK-X-1",
                "name": "pkg",
                "version": "1",
                "severity": "high",
                "title": "debug: token=" + TOKEN,
            }
        ]
    }
    fake(bin_dir, "snyk", f"print({json.dumps(json.dumps(report))})\nsys.exit(1)\n")

    (finding,) = make_scan("snyk", runner="local", token=TOKEN).run(image)

    assert finding.title == "debug: token=****"


def test_empty_json_errors_show_stdout_when_stderr_is_empty(
    bin_dir: Path, image: Image
) -> None:
    fake(bin_dir, "grype", 'print(\'{"error": "db load failed"}\')\nsys.exit(1)\n')

    with pytest.raises(ScanError) as caught:
        make_scan("grype", runner="local").run(image)

    assert str(caught.value) == (
        "grype: failed with exit code 1; stderr was empty; output began:\n"
        '{"error": "db load failed"}'
    )


def test_a_crash_is_reported_with_the_signal(bin_dir: Path, image: Image) -> None:
    fake(
        bin_dir,
        "grype",
        "sys.stderr.write('about to crash\\n'); sys.stderr.flush()\nos.abort()\n",
    )

    with pytest.raises(ScanError) as caught:
        make_scan("grype", runner="local").run(image)

    assert str(caught.value).startswith(
        "grype: crashed (killed by signal SIGABRT); stderr:\nabout to crash"
    )


def test_a_timeout_stops_the_scanner_and_its_children(
    bin_dir: Path, image: Image, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    fake(
        bin_dir,
        "grype",
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "sys.stderr.write('still loading the database\\n'); sys.stderr.flush()\n"
        "time.sleep(300)\n",
    )

    with pytest.raises(ScanError) as caught:
        make_scan("grype", runner="local", timeout=1).run(image)

    assert str(caught.value).startswith(
        "grype: timed out after 1 s and was stopped; stderr:\n"
        "still loading the database"
    )
    assert not _alive(int(pid_file.read_text()))


def _alive(pid: int) -> bool:
    # A killed child may linger as a zombie until init reaps it.
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


def test_empty_stdout_is_an_error_never_zero_findings(
    bin_dir: Path, image: Image
) -> None:
    fake(bin_dir, "grype", "sys.exit(0)\n")

    with pytest.raises(ScanError) as caught:
        make_scan("grype", runner="local").run(image)

    assert str(caught.value) == (
        "grype: printed nothing (exit code 0; stderr was empty)"
    )


def test_malformed_json_is_an_error(bin_dir: Path, image: Image) -> None:
    fake(
        bin_dir,
        "grype",
        "print('{\"matches\": [')\nsys.stderr.write('warn: slow\\n')\n",
    )

    with pytest.raises(ScanError) as caught:
        make_scan("grype", runner="local").run(image)

    message = str(caught.value)
    assert message.startswith("grype: the report is not valid JSON")
    assert message.endswith("(exit code 0; stderr:\nwarn: slow)")


def test_huge_stderr_neither_hangs_nor_floods_the_message(
    bin_dir: Path, image: Image
) -> None:
    fake(
        bin_dir,
        "grype",
        "line = 'x' * 999 + '\\n'\n"
        "sys.stderr.write('first line of the failure\\n')\n"
        "for _ in range(20000): sys.stderr.write(line)\n"
        "sys.exit(1)\n",
    )

    with pytest.raises(ScanError) as caught:
        make_scan("grype", runner="local").run(image)

    message = str(caught.value)
    assert "first line of the failure" in message
    assert len(message) < 2200


def test_a_custom_scanner_writing_a_file(bin_dir: Path, image: Image) -> None:
    record = fake(
        bin_dir,
        "myscan",
        "out = sys.argv[sys.argv.index('--out') + 1]\n"
        f"open(out, 'wb').write(open({str(GRYPE_REPORT)!r}, 'rb').read())\n"
        "sys.exit(3)\n",
    )

    scan = make_scan(
        "custom",
        runner="local",
        args=["myscan", "--in", "{archive}", "--out", "{output}"],
        output_format="grype",
        success_codes=[0, 3],
    )
    findings = scan.run(image)

    assert len(findings) == 43
    assert recorded(record)["argv"][2] == image.archive_path


def test_a_custom_scanner_whose_output_is_not_its_format(
    bin_dir: Path, image: Image
) -> None:
    fake(bin_dir, "myscan", "print('{\"artifacts\": []}')\n")

    scan = make_scan(
        "custom", runner="local", args=["myscan", "{archive}"], output_format="grype"
    )
    with pytest.raises(ScanError) as caught:
        scan.run(image)

    assert str(caught.value).startswith(
        'custom: grype: not a Grype report (no "matches") (exit code 0;'
    )


def test_an_explicit_executable_path(tmp_path: Path, image: Image) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    record = fake(tools, "grype-0.87", "print('{\"matches\": []}')\n")

    scan = make_scan("grype", runner="local", executable=str(tools / "grype-0.87"))

    assert scan.run(image) == ()
    assert recorded(record)["argv"][0] == str(tools / "grype-0.87")


def test_a_missing_executable_is_unavailable(bin_dir: Path) -> None:
    with pytest.raises(ScannerUnavailableError, match="'no-such-scanner' not found"):
        make_scan("grype", runner="local", executable="no-such-scanner")


def test_an_oci_archive_is_refused_with_a_conversion_hint(
    bin_dir: Path, tmp_path: Path
) -> None:
    from imagebuilder import build_oci_archive

    fake(bin_dir, "grype", "print('{\"matches\": []}')\n")
    path = build_oci_archive(tmp_path / "oci.tar", [[("/etc/hostname", "file", "x\n")]])
    oci_image = load_image(path)

    with pytest.raises(ScanError, match=r"is an OCI archive; .* skopeo copy"):
        make_scan("grype", runner="local").run(oci_image)
