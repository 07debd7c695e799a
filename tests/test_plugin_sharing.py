"""One audit per image and settings per session, across tests and xdist workers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conftest import PluginImages
from pluginrun import audits_run, install_audit_counter

pytestmark = pytest.mark.usefixtures("lean_inner_runs")


def fifty_tests(pytester: pytest.Pytester, image: str) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.parametrize("n", range(25))
        def test_cli_image(audit, n):
            assert audit.image_ref == {image!r}
            assert audit.check("non-root-user").status.value == "PASS"

        @pytest.mark.sentry(image={image!r})
        @pytest.mark.parametrize("n", range(25))
        def test_marked_image(audit, n):
            assert audit.score == 92
        """
    )


def test_fifty_tests_and_the_generated_items_share_one_audit(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    counter = install_audit_counter(pytester)
    fifty_tests(pytester, str(plugin_images.passing))

    result = pytester.runpytest(
        f"--sentry-image={plugin_images.passing}",
        f"--sentry-scanner-report=trivy:{plugin_images.medium_report}",
    )

    result.assert_outcomes(passed=55, skipped=3)
    assert audits_run(counter) == [str(plugin_images.passing)]


def test_other_settings_for_the_same_image_are_another_audit(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    counter = install_audit_counter(pytester)
    image = str(plugin_images.passing)
    pytester.makepyfile(
        f"""
        import pytest

        def test_session_settings(audit):
            assert audit.fail_on.value == "HIGH"

        @pytest.mark.sentry(image={image!r}, fail_on="CRITICAL")
        @pytest.mark.parametrize("n", range(3))
        def test_own_threshold(audit, n):
            assert audit.fail_on.value == "CRITICAL"
        """
    )

    result = pytester.runpytest(f"--sentry-image={image}", "--sentry-scanner=none")

    result.assert_outcomes(passed=7, skipped=5)
    assert audits_run(counter) == [image, image]


@pytest.mark.slow
def test_xdist_workers_share_one_audit_and_the_controller_reports(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    counter = install_audit_counter(pytester)
    fifty_tests(pytester, str(plugin_images.passing))
    junit = pytester.path / "junit.xml"

    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        f"--sentry-image={plugin_images.passing}",
        f"--sentry-scanner-report=trivy:{plugin_images.medium_report}",
        "--sentry-report-dir=reports",
        f"--junitxml={junit}",
        "-v",
    )

    result.assert_outcomes(passed=55, skipped=3)
    # Both workers ran tests asking for the audit: the sharing crossed processes.
    for worker in ("gw0", "gw1"):
        result.stdout.fnmatch_lines([f"[[]{worker}[]]*PASSED*test_*_image*"])
    assert audits_run(counter) == [str(plugin_images.passing)]
    assert result.stdout.str().count("= sentry audit =") == 1
    result.stdout.fnmatch_lines(
        ["passing.tar  PASSED  score 92/100 (Excellent)  checks: 3 passed  *"]
    )
    reports = sorted(p.name for p in (pytester.path / "reports").iterdir())
    assert reports == ["passing.tar.json", "passing.tar.md"]
    scores = {
        p.get("value")
        for case in ET.parse(junit).getroot().iter("testcase")  # noqa: S314
        for p in case.iter("property")
        if p.get("name") == "sentry.score"
    }
    assert scores == {"92"}
