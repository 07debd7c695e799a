"""Reports already on disk (``trivy:report.json``), and the scan factory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imagebuilder import build_docker_archive, load_image
from pytest_sentry._image.interface import Image
from pytest_sentry._scanners import make_scan, parse_report_spec
from pytest_sentry._scanners.interface import OutputFormat, ScanError
from scannerdata import DATA


@pytest.fixture
def image(tmp_path: Path) -> Image:
    path = build_docker_archive(
        tmp_path / "app.tar", [[("/etc/hostname", "file", "x\n")]]
    )
    return load_image(path)


def test_a_report_spec_names_format_and_path() -> None:
    assert parse_report_spec("trivy:reports/app.json") == (
        OutputFormat.TRIVY,
        Path("reports/app.json"),
    )
    assert parse_report_spec("Grype:/abs/r.json") == (
        OutputFormat.GRYPE,
        Path("/abs/r.json"),
    )


@pytest.mark.parametrize("spec", ["report.json", "trivy:", ":r.json", "sarif:r.json"])
def test_bad_report_specs(spec: str) -> None:
    with pytest.raises(ValueError, match=r"scanner report|output format"):
        parse_report_spec(spec)


def test_a_report_file_is_parsed_and_deduplicated(image: Image) -> None:
    path = DATA / "trivy" / "scb-trivy-juice-shop-v10.2.0.json"

    findings = make_scan("trivy", report_path=path).run(image)

    assert len(findings) == 197  # 236 entries, duplicates across package.json files
    assert len({f.key for f in findings}) == 197


def test_a_report_needs_no_credentials(
    image: Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SNYK_TOKEN", raising=False)
    path = DATA / "snyk" / "snykcli-docker-fixable-vulns.json"

    findings = make_scan("snyk", runner="report", report_path=path).run(image)

    assert {f.cve_id for f in findings} >= {"CVE-2018-20843"}


def test_a_missing_report_is_a_scan_error(image: Image, tmp_path: Path) -> None:
    with pytest.raises(ScanError, match=r"^grype: report .*absent.json: no such file"):
        make_scan("grype", report_path=tmp_path / "absent.json").run(image)


def test_an_empty_report_is_an_error_not_zero_findings(
    image: Image, tmp_path: Path
) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")

    with pytest.raises(ScanError) as caught:
        make_scan("trivy", report_path=path).run(image)

    assert str(caught.value) == f"trivy: the report is empty (report {path})"


def test_a_bad_report_names_the_file(image: Image) -> None:
    path = DATA / "trivy" / "dd-trivy-kubernetes.json"

    with pytest.raises(ScanError) as caught:
        make_scan("trivy", report_path=path).run(image)

    assert str(caught.value).startswith("trivy: a Kubernetes cluster report")
    assert str(caught.value).endswith(f"(report {path})")


def test_a_detect_output_directory_is_searched(image: Image, tmp_path: Path) -> None:
    scan_dir = tmp_path / "detect" / "runs" / "2025-03-01-10-00-00" / "scan"
    scan_dir.mkdir(parents=True)
    shutil.copy(
        DATA / "blackduck" / "dd-blackduck-api-vulnerable-bom-components.json",
        scan_dir / "app_1_BlackDuck_DeveloperMode_Result.json",
    )

    findings = make_scan("blackduck", report_path=tmp_path / "detect").run(image)

    assert len(findings) == 43


def test_a_directory_for_a_single_file_scanner_is_refused(
    image: Image, tmp_path: Path
) -> None:
    with pytest.raises(ScanError, match="is a directory; give the report file"):
        make_scan("grype", report_path=tmp_path).run(image)


def test_a_custom_format_report(image: Image) -> None:
    path = DATA / "grype" / "grype-TestJsonImgsPresenter.json"

    findings = make_scan("custom", report_path=path, output_format="grype").run(image)

    assert [f.cve_id for f in findings] == ["CVE-1999-0001", "CVE-1999-0002"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "clair"}, "scanner 'clair': not one of"),
        ({"name": "trivy", "runner": "kubernetes"}, "runner 'kubernetes': not one of"),
        ({"name": "trivy", "token": "x"}, "trivy: takes no token option"),
        ({"name": "grype", "success_codes": [0, 1]}, "options of custom scanners only"),
        (
            {"name": "trivy", "runner": "report"},
            "the report runner needs a report path",
        ),
        ({"name": "custom", "args": ["x", "{archive}"]}, "output_format is required"),
        (
            {"name": "custom", "args": ["scan", "img.tar"], "output_format": "trivy"},
            "must contain {archive}",
        ),
        ({"name": "custom", "args": [], "output_format": "trivy"}, "must start with"),
    ],
)
def test_bad_options_are_value_errors(kwargs: dict[str, object], message: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(
        ValueError, match=message.replace("{", r"\{").replace("}", r"\}")
    ):
        make_scan(str(name), **kwargs)  # type: ignore[arg-type]
