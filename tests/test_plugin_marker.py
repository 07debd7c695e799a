"""The sentry marker and the audit and sentry_scan fixtures."""

from __future__ import annotations

import pytest

from conftest import PluginImages
from pluginrun import longrepr, outcomes

pytestmark = pytest.mark.usefixtures("lean_inner_runs")


def test_function_marker_names_the_image(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.sentry(image={str(plugin_images.failing)!r}, scanner="none")
        def test_root(audit):
            assert audit.image_ref == {str(plugin_images.failing)!r}
            assert audit.check("non-root-user").status.value == "FAIL"
            assert audit.check("secrets-in-env").status.value == "FAIL"
            assert not audit.passed
            assert audit.score == 100 - 15 - 15 - 3
        """
    )

    result = pytester.runpytest("--strict-markers")

    result.assert_outcomes(passed=1)


def test_class_and_module_markers_with_the_closest_keyword_winning(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        pytestmark = pytest.mark.sentry(
            image={str(plugin_images.passing)!r},
            scanner_report="trivy:{plugin_images.medium_report}",
        )

        def test_module_image(audit):
            assert audit.image_ref == {str(plugin_images.passing)!r}
            assert audit.fail_on.value == "HIGH"

        @pytest.mark.sentry(fail_on="medium")
        def test_function_tightens_the_threshold(audit):
            assert audit.image_ref == {str(plugin_images.passing)!r}
            assert audit.fail_on.value == "MEDIUM"
            assert not audit.passed

        @pytest.mark.sentry(image={str(plugin_images.failing)!r})
        class TestFailing:
            def test_class_image(self, audit):
                assert audit.image_ref == {str(plugin_images.failing)!r}
                assert len(audit.vulnerabilities_at_least("MEDIUM")) == 4

            @pytest.mark.sentry(checks=["health-check"], min_score=99)
            def test_method_keeps_class_image(self, audit):
                assert audit.image_ref == {str(plugin_images.failing)!r}
                assert [c.id for c in audit.checks] == ["health-check"]
                assert audit.min_score == 99
        """
    )

    result = pytester.runpytest("--strict-markers")

    result.assert_outcomes(passed=4)


def test_positional_image_and_unknown_keywords(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.sentry({str(plugin_images.passing)!r}, scanner="none")
        def test_positional(audit):
            assert audit.passed

        @pytest.mark.sentry(image={str(plugin_images.passing)!r}, fail_at="HIGH")
        def test_misspelt(audit):
            pass

        @pytest.mark.sentry(image={str(plugin_images.passing)!r}, checks=["nope"])
        def test_unknown_check(audit):
            pass
        """
    )

    recorder = pytester.inline_run()

    got = outcomes(recorder)
    assert got["test_positional_image_and_unknown_keywords.py::test_positional"] == (
        "passed"
    )
    misspelt = "test_positional_image_and_unknown_keywords.py::test_misspelt"
    assert got[misspelt] == "error"
    assert longrepr(recorder, misspelt).endswith(
        "@pytest.mark.sentry: unknown keyword fail_at (known: image, fail_on, "
        "scanner, min_score, checks, scanner_report)"
    )
    unknown = "test_positional_image_and_unknown_keywords.py::test_unknown_check"
    assert "@pytest.mark.sentry checks: unknown check 'nope'" in longrepr(
        recorder, unknown
    )


def test_fixture_uses_the_only_command_line_image(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile(
        f"""
        def test_default(audit):
            assert audit.image_ref == {str(plugin_images.passing)!r}
        """
    )

    result = pytester.runpytest(
        f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none"
    )

    result.assert_outcomes(passed=4, skipped=5)


@pytest.mark.parametrize("count", [0, 2])
def test_fixture_without_one_image_is_a_usage_error(
    pytester: pytest.Pytester, plugin_images: PluginImages, count: int
) -> None:
    pytester.makepyfile("def test_which(audit):\n    pass\n")
    images = [plugin_images.passing, plugin_images.failing][:count]

    recorder = pytester.inline_run(
        *[f"--sentry-image={i}" for i in images], "--sentry-scanner=none"
    )

    nodeid = "test_fixture_without_one_image_is_a_usage_error.py::test_which"
    assert outcomes(recorder)[nodeid] == "error"
    text = longrepr(recorder, nodeid)
    assert "audit fixture: no image to audit; mark the test with" in text
    assert "pass exactly one --sentry-image" in text
    if count:
        assert f"(given: {plugin_images.passing}, {plugin_images.failing})" in text


def test_erroring_audit_errors_the_test(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.sentry(image={str(plugin_images.broken)!r}, scanner="none")
        def test_score(audit):
            assert audit.score == 0
        """
    )

    recorder = pytester.inline_run()

    nodeid = "test_erroring_audit_errors_the_test.py::test_score"
    assert outcomes(recorder)[nodeid] == "error"
    text = longrepr(recorder, nodeid)
    assert f"sentry audit of {plugin_images.broken}: ERROR" in text
    assert "not a tar archive" in text


def test_findings_without_a_scan_skip_instead_of_passing(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.sentry(image={str(plugin_images.passing)!r}, scanner="none")
        def test_no_criticals(audit):
            assert audit.passed
            assert not audit.vulnerabilities_at_least("CRITICAL")
        """
    )

    recorder = pytester.inline_run()

    nodeid = (
        "test_findings_without_a_scan_skip_instead_of_passing.py::test_no_criticals"
    )
    assert outcomes(recorder)[nodeid] == "skipped"
    assert longrepr(recorder, nodeid).startswith("no vulnerability scan ran")


def test_sentry_scan_builds_with_the_session_settings(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile(
        f"""
        def test_adhoc(sentry_scan):
            builder = sentry_scan({str(plugin_images.passing)!r})
            assert builder.scanner is None
            assert builder.policy.fail_on.value == "LOW"
            result = builder.fail_on("CRITICAL").audit()
            assert result.passed
            assert result.fail_on.value == "CRITICAL"
        """
    )

    result = pytester.runpytest("--sentry-scanner=none", "--sentry-fail-on=LOW")

    result.assert_outcomes(passed=1)


def test_marker_registered_for_strict_markers_and_listed(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest("--markers")

    result.stdout.fnmatch_lines(["@pytest.mark.sentry(image=None, *, fail_on=None*"])
