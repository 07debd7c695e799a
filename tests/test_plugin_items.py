"""Generated items: node ids, outcomes and the text a failure shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import PLUGIN_SECRET, PluginImages
from pluginrun import longrepr, outcomes

pytestmark = pytest.mark.usefixtures("lean_inner_runs")

CHECKS = ("non-root-user", "secrets-in-env", "health-check")
GATES = ("critical", "high", "medium", "low", "info")


def ids(label: str) -> list[str]:
    return [f"sentry/{label}::check::{c}" for c in CHECKS] + [
        f"sentry/{label}::gate::{g}" for g in GATES
    ]


def test_collect_only_lists_one_item_per_check_and_gate(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    result = pytester.runpytest(
        "--co", "-q", f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none"
    )

    listed = [line for line in result.outlines if line.startswith("sentry/")]
    assert listed == ids("passing.tar")
    result.stdout.fnmatch_lines(["8 tests collected*"])


def test_passing_image_passes_checks_and_skips_gates_below_threshold(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.passing}",
        f"--sentry-scanner-report=trivy:{plugin_images.medium_report}",
    )

    got = outcomes(recorder)
    label = "sentry/passing.tar"
    assert {got[f"{label}::check::{c}"] for c in CHECKS} == {"passed"}
    assert got[f"{label}::gate::critical"] == "passed"
    assert got[f"{label}::gate::high"] == "passed"
    for gate in ("medium", "low", "info"):
        assert got[f"{label}::gate::{gate}"] == "skipped"
    assert longrepr(recorder, f"{label}::gate::medium").startswith(
        "below the fail-on threshold HIGH (4 finding(s), reported only)"
    )
    assert recorder.ret == pytest.ExitCode.OK


def test_failing_image_fails_with_the_check_and_gate_explanations(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    result = pytester.runpytest(
        f"--sentry-image={plugin_images.failing}",
        f"--sentry-scanner-report=trivy:{plugin_images.critical_report}",
        "-rA",
    )

    result.assert_outcomes(passed=2, failed=3, skipped=3, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*_ sentry/failing.tar::check::non-root-user _*",
            "Non-Root User (non-root-user) FAIL, severity HIGH",
            "The container runs as root*",
            "evidence:",
            "  - User: (not set)",
            "remediation: *",
            "*_ sentry/failing.tar::check::secrets-in-env _*",
            "Secrets in Environment (secrets-in-env) FAIL, severity HIGH",
            "*GITHUB_TOKEN*",
            "*_ sentry/failing.tar::gate::critical _*",
            "2 CRITICAL finding(s) from trivy; the fail-on threshold is HIGH",
            "SEVERITY  ID              PACKAGE     INSTALLED  FIXED",
            "CRITICAL  CVE-2019-14697  musl        1.1.20-r4  1.1.20-r5",
            "CRITICAL  CVE-2019-14697  musl-utils  1.1.20-r4  1.1.20-r5",
        ]
    )
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "_plugin" not in output
    assert PLUGIN_SECRET not in output
    assert PLUGIN_SECRET[:8] not in output


def test_warn_passes_with_a_sentry_warning(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    result = pytester.runpytest(
        f"--sentry-image={plugin_images.warning}",
        "--sentry-scanner=none",
        "-k",
        "health",
    )

    result.assert_outcomes(passed=1, deselected=7, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "sentry/warning.tar::check::health-check",
            "*SentryWarning: health-check: The image declares no HEALTHCHECK*",
        ]
    )


def test_warning_filter_turns_warn_into_a_clean_failure(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    result = pytester.runpytest(
        f"--sentry-image={plugin_images.warning}",
        "--sentry-scanner=none",
        "-k",
        "health",
        "-W",
        "error::pytest_sentry.SentryWarning",
    )

    result.assert_outcomes(failed=1, deselected=7)
    result.stdout.fnmatch_lines(
        [
            "*_ sentry/warning.tar::check::health-check _*",
            "health-check: The image declares no HEALTHCHECK*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_unreadable_image_makes_every_item_an_error(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.broken}",
        f"--sentry-scanner-report=trivy:{plugin_images.medium_report}",
    )

    got = outcomes(recorder)
    assert got == dict.fromkeys(ids("broken.tar"), "error")
    text = longrepr(recorder, "sentry/broken.tar::gate::high")
    assert text.startswith("sentry audit of ")
    assert "broken.tar: not a tar archive" in text
    assert "Traceback" not in text
    assert recorder.ret == pytest.ExitCode.TESTS_FAILED


def test_scan_error_errors_the_gates_and_keeps_the_checks(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    report = pytester.path / "truncated.json"
    report.write_text('{"SchemaVersion": 2, "Results": [', encoding="utf-8")

    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.passing}",
        f"--sentry-scanner-report=trivy:{report}",
        "--sentry-min-score=50",
    )

    got = outcomes(recorder)
    label = "sentry/passing.tar"
    assert {got[f"{label}::check::{c}"] for c in CHECKS} == {"passed"}
    assert {got[f"{label}::gate::{g}"] for g in GATES} == {"error"}
    assert got[f"{label}::score"] == "error"
    assert "trivy" in longrepr(recorder, f"{label}::gate::critical")


def test_no_scan_skips_every_gate_with_the_reason(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none"
    )

    got = outcomes(recorder)
    label = "sentry/passing.tar"
    assert {got[f"{label}::gate::{g}"] for g in GATES} == {"skipped"}
    reason = longrepr(recorder, f"{label}::gate::critical")
    assert "no vulnerability scan ran: this audit covers configuration checks" in (
        reason
    )


def test_scanner_that_cannot_run_skips_gates_unless_required(
    pytester: pytest.Pytester,
    plugin_images: PluginImages,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SNYK_TOKEN", raising=False)
    image = f"--sentry-image={plugin_images.passing}"

    optional = pytester.inline_run(image, "--sentry-scanner=snyk")
    required = pytester.inline_run(
        image, "--sentry-scanner=snyk", "--sentry-require-scanner"
    )

    label = "sentry/passing.tar"
    assert outcomes(optional)[f"{label}::gate::high"] == "skipped"
    assert "SNYK_TOKEN" in longrepr(optional, f"{label}::gate::high")
    assert outcomes(required)[f"{label}::gate::high"] == "error"
    assert "SNYK_TOKEN" in longrepr(required, f"{label}::gate::high")


def test_score_item_fails_below_the_minimum_with_the_deductions(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    result = pytester.runpytest(
        f"--sentry-image={plugin_images.failing}",
        f"--sentry-scanner-report=trivy:{plugin_images.critical_report}",
        "--sentry-min-score=80",
        "-k",
        "score",
    )

    result.assert_outcomes(failed=1, deselected=8)
    result.stdout.fnmatch_lines(
        [
            "*_ sentry/failing.tar::score _*",
            "score 39/100 (Poor) is below the minimum 80",
            "deductions:",
            "  -15  non-root-user failed (HIGH)",
            "  -15  secrets-in-env failed (HIGH)",
            "  -3   health-check warned",
            "  -20  2 CRITICAL finding(s)",
            "  -8   4 MEDIUM finding(s)",
        ]
    )


def test_keyword_deselect_and_marker_selection(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    image = f"--sentry-image={plugin_images.passing}"
    label = "sentry/passing.tar"

    by_keyword = outcomes(
        pytester.inline_run(image, "--sentry-scanner=none", "-k", "gate and not info")
    )
    deselected = outcomes(
        pytester.inline_run(
            image,
            "--sentry-scanner=none",
            f"--deselect={label}::check::non-root-user",
            f"--deselect={label}::gate",
        )
    )
    only_audit = outcomes(
        pytester.inline_run(image, "--sentry-scanner=none", "-m", "sentry")
    )
    no_audit = outcomes(
        pytester.inline_run(image, "--sentry-scanner=none", "-m", "not sentry")
    )

    assert sorted(by_keyword) == sorted(
        f"{label}::gate::{g}" for g in ("critical", "high", "medium", "low")
    )
    assert sorted(deselected) == sorted(
        ["test_keyword_deselect_and_marker_selection.py::test_plain"]
        + [f"{label}::check::{c}" for c in CHECKS[1:]]
    )
    assert sorted(only_audit) == sorted(ids("passing.tar"))
    assert list(no_audit) == [
        "test_keyword_deselect_and_marker_selection.py::test_plain"
    ]


def test_last_failed_reruns_only_the_failed_items(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    args = (
        f"--sentry-image={plugin_images.failing}",
        f"--sentry-scanner-report=trivy:{plugin_images.critical_report}",
    )

    first = outcomes(pytester.inline_run(*args))
    second = outcomes(pytester.inline_run(*args, "--lf"))

    failed = sorted(nodeid for nodeid, outcome in first.items() if outcome == "failed")
    assert failed == [
        "sentry/failing.tar::check::non-root-user",
        "sentry/failing.tar::check::secrets-in-env",
        "sentry/failing.tar::gate::critical",
    ]
    assert sorted(second) == failed


def test_images_sharing_a_basename_get_distinct_ids(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    for folder in ("one", "two"):
        (pytester.path / folder).mkdir()
        target = pytester.path / folder / "app.tar"
        target.write_bytes(plugin_images.passing.read_bytes())

    result = pytester.runpytest(
        "--co",
        "-q",
        "--sentry-image=one/app.tar",
        "--sentry-image=two/app.tar",
        "--sentry-scanner=none",
    )

    listed = [line for line in result.outlines if line.startswith("sentry/")]
    assert listed == ids("one/app.tar") + ids("two/app.tar")


def test_disabled_check_gets_no_item(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.failing}",
        "--sentry-scanner=none",
        "--sentry-disable-check=secrets-in-env",
    )

    checks = [n for n in outcomes(recorder) if "::check::" in n]
    assert checks == [
        "sentry/failing.tar::check::non-root-user",
        "sentry/failing.tar::check::health-check",
    ]


def test_junit_properties_on_generated_items(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    import xml.etree.ElementTree as ET

    pytester.makepyfile("def test_plain():\n    pass\n")
    junit = pytester.path / "junit.xml"
    pytester.runpytest(
        f"--sentry-image={plugin_images.failing}",
        f"--sentry-scanner-report=trivy:{plugin_images.critical_report}",
        f"--junitxml={junit}",
    )

    cases = ET.parse(junit).getroot().iter("testcase")  # noqa: S314 - our own file
    properties = {
        f"{case.get('classname')}.{case.get('name')}": {
            p.get("name"): p.get("value") for p in case.iter("property")
        }
        for case in cases
    }
    gate = properties["sentry.failing.tar.gate.critical"]
    assert gate["sentry.verdict"] == "FAILED"
    assert gate["sentry.score"] == "39"
    assert gate["sentry.vulnerabilities.critical"] == "2"
    assert gate["sentry.vulnerabilities.medium"] == "4"
    assert gate["sentry.image"] == str(plugin_images.failing)
    assert gate["sentry.checks.failed"] == "2"
    assert properties["test_junit_properties_on_generated_items.test_plain"] == {}
    assert len([k for k in properties if k.startswith("sentry.")]) == 8
    assert PLUGIN_SECRET not in junit.read_text(encoding="utf-8")


def test_report_is_json_serialisable_from_the_store(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    out = pytester.path / "reports"
    pytester.runpytest(
        f"--sentry-image={plugin_images.passing}",
        "--sentry-scanner=none",
        f"--sentry-report-dir={out}",
    )

    document = json.loads((out / "passing.tar.json").read_text(encoding="utf-8"))
    assert document["imageRef"] == str(plugin_images.passing)
    assert document["passed"] is True
    assert (
        Path(out / "passing.tar.md")
        .read_text(encoding="utf-8")
        .startswith("# Security Audit Report")
    )
