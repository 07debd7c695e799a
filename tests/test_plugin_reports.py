"""What the plugin writes: terminal summary, report files, pytest-html."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import PLUGIN_SECRET, PluginImages

pytestmark = pytest.mark.usefixtures("lean_inner_runs")


def test_no_summary_when_nothing_was_audited(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)
    assert "sentry audit" not in result.stdout.str()


def test_summary_line_per_image_with_errors_and_notes(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    result = pytester.runpytest(
        f"--sentry-image={plugin_images.failing}",
        f"--sentry-image={plugin_images.broken}",
        "--sentry-scanner=none",
    )

    result.stdout.fnmatch_lines(
        [
            "*= sentry audit =*",
            "broken.tar  ERROR  score 0/100 (Poor)  checks: none ran  "
            "vulnerabilities: not scanned  [[]none; fail-on HIGH[]]",
            "    error: broken.tar: not a tar archive*",
            "    note: The image could not be read, so no check or scan ran.",
            "failing.tar  FAILED  score 67/100 (Fair)  checks: 2 failed, 1 warned  "
            "vulnerabilities: not scanned  [[]none; fail-on HIGH[]]",
            "    note: No vulnerability scan ran: *",
        ]
    )


def test_one_report_per_image_and_settings(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    image = str(plugin_images.passing)
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.sentry(image={image!r}, fail_on="CRITICAL")
        def test_own_threshold(audit):
            pass
        """
    )

    pytester.runpytest(
        f"--sentry-image={image}", "--sentry-scanner=none", "--sentry-report-dir=out"
    )

    names = sorted(p.name for p in (pytester.path / "out").iterdir())
    assert len(names) == 4
    assert all(re.fullmatch(r"passing\.tar-[0-9a-f]{8}\.(md|json)", n) for n in names)
    thresholds = sorted(
        json.loads((pytester.path / "out" / n).read_text(encoding="utf-8"))["failOn"]
        for n in names
        if n.endswith(".json")
    )
    assert thresholds == ["CRITICAL", "HIGH"]


def test_no_output_holds_the_secret(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    result = pytester.runpytest(
        f"--sentry-image={plugin_images.failing}",
        "--sentry-scanner=none",
        "--sentry-report-dir=out",
        "--junitxml=junit.xml",
        "--html=report.html",
        "--self-contained-html",
        "-rA",
    )

    written = [p for p in pytester.path.rglob("*") if p.is_file()]
    assert len([p for p in written if p.parent.name == "out"]) == 2
    assert "GITHUB_TOKEN" in result.stdout.str()
    assert PLUGIN_SECRET[:8] not in result.stdout.str()
    for path in written:
        assert PLUGIN_SECRET[:8] not in path.read_text(
            encoding="utf-8", errors="replace"
        )


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def headless(
    browser: str, profile: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def row(dom: str, nodeid: str) -> str:
    """The pytest-html results row of one test, as rendered."""
    start = rf'<tbody class="results-table-row[^"]*" id="{re.escape(nodeid)}">'
    match = re.search(start + "(.*?)</tbody>", dom, re.DOTALL)
    assert match, f"{nodeid}: no row in the rendered report"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_html_report_renders_the_summary_and_the_attached_report(
    pytester: pytest.Pytester,
    plugin_images: PluginImages,
    tmp_path: Path,
    workers: list[str],
) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed; cannot render the HTML report")
    html = pytester.path / "report.html"
    pytester.runpytest_subprocess(
        *workers,
        f"--sentry-image={plugin_images.failing}",
        f"--sentry-scanner-report=trivy:{plugin_images.critical_report}",
        f"--html={html}",
        "--self-contained-html",
    )

    done = headless(browser, tmp_path / "profile", "--dump-dom", html.as_uri())
    headless(
        browser,
        tmp_path / "profile",
        "--window-size=1280,2400",
        f"--screenshot={tmp_path / 'report.png'}",
        html.as_uri(),
    )

    dom = done.stdout
    assert "Sentry audit of " in dom
    assert re.search(
        r"Sentry audit of \S*failing\.tar: FAILED, score 39/100 \(Poor\), "
        r"vulnerabilities: 2 critical, 4 medium",
        dom,
    )
    first = row(dom, "sentry/failing.tar::check::non-root-user")
    assert "<h1>Security Audit Report</h1>" in first
    assert "Non-Root User" in first
    assert "CVE-2019-14697" in first
    assert "Audit JSON" in first
    if not workers:
        # Later failures of the image do not repeat it (each xdist worker
        # attaches it to the first failure it sees).
        later = row(dom, "sentry/failing.tar::check::secrets-in-env")
        assert "Security Audit Report" not in later
    assert (tmp_path / "report.png").stat().st_size > 10_000
