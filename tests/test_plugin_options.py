"""Every --sentry-* option and its ini twin under [tool.pytest.ini_options]."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import PluginImages
from pluginrun import longrepr, outcomes

pytestmark = pytest.mark.usefixtures("lean_inner_runs")

LABEL = "sentry/passing.tar"


def configure(
    pytester: pytest.Pytester, where: str, option: str, value: str
) -> list[str]:
    """Arguments for the inner run: ``--option=value``, or the ini key set."""
    if where == "cli":
        return [f"--{option}={value}"]
    key = option.replace("-", "_")
    pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\n{key} = {value!r}\n")
    return []


def test_help_lists_the_options_in_one_group_and_the_ini_keys(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest("--help")

    text = result.stdout.str()
    group = text[text.index("container image audit (pytest_sentry):") :]
    for option in (
        "--sentry-image",
        "--sentry-scanner",
        "--sentry-fail-on",
        "--sentry-min-score",
        "--sentry-disable-check",
        "--sentry-policy",
        "--sentry-scanner-report",
        "--sentry-report-dir",
        "--sentry-require-scanner",
    ):
        assert option in group
    for key in (
        "sentry_images",
        "sentry_scanner",
        "sentry_fail_on",
        "sentry_min_score",
        "sentry_disable_checks",
        "sentry_policy",
        "sentry_scanner_report",
        "sentry_report_dir",
        "sentry_require_scanner",
    ):
        assert f"  {key} " in text


def test_images_on_the_command_line_are_relative_to_the_invocation_dir(
    pytester: pytest.Pytester,
    plugin_images: PluginImages,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = pytester.mkdir("work")
    (work / "passing.tar").write_bytes(plugin_images.passing.read_bytes())
    (work / "failing.tar").write_bytes(plugin_images.failing.read_bytes())
    monkeypatch.chdir(work)

    got = outcomes(
        pytester.inline_run(
            "--sentry-image=passing.tar",
            "--sentry-image=failing.tar",
            "--sentry-scanner=none",
        )
    )

    assert got[f"{LABEL}::check::non-root-user"] == "passed"
    assert got["sentry/failing.tar::check::non-root-user"] == "failed"


def test_ini_images_are_a_line_list_relative_to_the_ini_file(
    pytester: pytest.Pytester,
    plugin_images: PluginImages,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    images = pytester.mkdir("images")
    (images / "passing.tar").write_bytes(plugin_images.passing.read_bytes())
    (images / "failing.tar").write_bytes(plugin_images.failing.read_bytes())
    pytester.makeini(
        "[pytest]\nsentry_images =\n    images/passing.tar\n    images/failing.tar\n"
    )
    monkeypatch.chdir(pytester.mkdir("elsewhere"))

    got = outcomes(pytester.inline_run("--sentry-scanner=none", str(pytester.path)))

    assert got[f"{LABEL}::check::non-root-user"] == "passed"
    assert got["sentry/failing.tar::check::non-root-user"] == "failed"


def test_command_line_images_replace_the_ini_list(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makeini(f"[pytest]\nsentry_images = {plugin_images.failing}\n")

    got = outcomes(
        pytester.inline_run(
            f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none"
        )
    )

    assert {nodeid.split("::")[0] for nodeid in got} == {LABEL}


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_scanner_none_audits_configuration_only(
    pytester: pytest.Pytester, plugin_images: PluginImages, where: str
) -> None:
    args = configure(pytester, where, "sentry-scanner", "none")

    result = pytester.runpytest(f"--sentry-image={plugin_images.passing}", *args)

    result.assert_outcomes(passed=3, skipped=5)
    result.stdout.fnmatch_lines(["passing.tar  PASSED  *[[]none; fail-on HIGH[]]"])


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_fail_on_sets_the_enforced_gates(
    pytester: pytest.Pytester, plugin_images: PluginImages, where: str
) -> None:
    args = configure(pytester, where, "sentry-fail-on", "medium")

    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.passing}",
        f"--sentry-scanner-report=trivy:{plugin_images.medium_report}",
        *args,
    )

    got = outcomes(recorder)
    assert got[f"{LABEL}::gate::medium"] == "failed"
    assert got[f"{LABEL}::gate::low"] == "skipped"
    assert longrepr(recorder, f"{LABEL}::gate::low") == (
        "below the fail-on threshold MEDIUM (none)"
    )


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_min_score_adds_the_score_item(
    pytester: pytest.Pytester, plugin_images: PluginImages, where: str
) -> None:
    args = configure(pytester, where, "sentry-min-score", "95")

    got = outcomes(
        pytester.inline_run(
            f"--sentry-image={plugin_images.passing}",
            f"--sentry-scanner-report=trivy:{plugin_images.medium_report}",
            *args,
        )
    )

    # 4 MEDIUM findings cost 8 points: 92 is below 95.
    assert got[f"{LABEL}::score"] == "failed"


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_disabled_checks_do_not_run(
    pytester: pytest.Pytester, plugin_images: PluginImages, where: str
) -> None:
    if where == "cli":
        args = [
            "--sentry-disable-check=health-check",
            "--sentry-disable-check=secrets-in-env",
        ]
    else:
        pytester.makeini(
            "[pytest]\nsentry_disable_checks =\n    health-check\n    secrets-in-env\n"
        )
        args = []

    got = outcomes(
        pytester.inline_run(
            f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none", *args
        )
    )

    assert [n for n in got if "::check::" in n] == [f"{LABEL}::check::non-root-user"]


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_policy_file_sets_threshold_checks_score_and_ignores(
    pytester: pytest.Pytester, plugin_images: PluginImages, where: str
) -> None:
    pytester.path.joinpath("policy.toml").write_text(
        'fail_on = "CRITICAL"\n'
        'disabled_checks = ["health-check"]\n'
        "min_score = 50\n"
        "[[ignore]]\n"
        'id = "CVE-2019-14697"\n'
        'reason = "musl is not reachable from the service"\n',
        encoding="utf-8",
    )
    args = configure(pytester, where, "sentry-policy", "policy.toml")

    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.passing}",
        f"--sentry-scanner-report=trivy:{plugin_images.critical_report}",
        *args,
    )

    got = outcomes(recorder)
    assert f"{LABEL}::check::health-check" not in got
    assert got[f"{LABEL}::gate::critical"] == "passed"
    assert longrepr(recorder, f"{LABEL}::gate::high").startswith(
        "below the fail-on threshold CRITICAL"
    )
    assert got[f"{LABEL}::score"] == "passed"


def test_options_override_the_policy_file(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.path.joinpath("policy.toml").write_text(
        'fail_on = "CRITICAL"\n', encoding="utf-8"
    )

    got = outcomes(
        pytester.inline_run(
            f"--sentry-image={plugin_images.passing}",
            f"--sentry-scanner-report=trivy:{plugin_images.medium_report}",
            "--sentry-policy=policy.toml",
            "--sentry-fail-on=MEDIUM",
        )
    )

    assert got[f"{LABEL}::gate::medium"] == "failed"


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_scanner_report_feeds_the_gates(
    pytester: pytest.Pytester, plugin_images: PluginImages, where: str
) -> None:
    report = pytester.path / "trivy.json"
    report.write_bytes(plugin_images.critical_report.read_bytes())
    args = configure(pytester, where, "sentry-scanner-report", "trivy:trivy.json")

    got = outcomes(
        pytester.inline_run(f"--sentry-image={plugin_images.passing}", *args)
    )

    assert got[f"{LABEL}::gate::critical"] == "failed"
    assert got[f"{LABEL}::gate::high"] == "passed"


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_report_dir_receives_markdown_and_json(
    pytester: pytest.Pytester, plugin_images: PluginImages, where: str
) -> None:
    args = configure(pytester, where, "sentry-report-dir", "out/sentry")

    result = pytester.runpytest(
        f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none", *args
    )

    folder = pytester.path / "out" / "sentry"
    assert sorted(p.name for p in folder.iterdir()) == [
        "passing.tar.json",
        "passing.tar.md",
    ]
    result.stdout.fnmatch_lines([f"reports: 2 files in {folder}"])


def test_no_report_files_without_a_report_dir(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    def files() -> set[Path]:
        return {p for p in pytester.path.rglob("*") if ".pytest_cache" not in p.parts}

    before = files()
    result = pytester.runpytest(
        f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none"
    )

    result.assert_outcomes(passed=3, skipped=5)
    assert files() == before


@pytest.mark.parametrize("where", ["cli", "ini"])
def test_require_scanner_makes_an_unavailable_scanner_an_error(
    pytester: pytest.Pytester,
    plugin_images: PluginImages,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    monkeypatch.delenv("SNYK_TOKEN", raising=False)
    if where == "cli":
        args = ["--sentry-require-scanner"]
    else:
        pytester.makeini("[pytest]\nsentry_require_scanner = true\n")
        args = []

    got = outcomes(
        pytester.inline_run(
            f"--sentry-image={plugin_images.passing}", "--sentry-scanner=snyk", *args
        )
    )

    assert {got[f"{LABEL}::gate::{g}"] for g in ("critical", "info")} == {"error"}


def test_scanner_credentials_come_from_the_environment(
    pytester: pytest.Pytester,
    plugin_images: PluginImages,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "snyk-token-" + "0123456789abcdef"
    image = f"--sentry-image={plugin_images.passing}"

    monkeypatch.delenv("SNYK_TOKEN", raising=False)
    without = pytester.inline_run(image, "--sentry-scanner=snyk")
    monkeypatch.setenv("SNYK_TOKEN", token)
    monkeypatch.setenv("PATH", str(pytester.path))
    with_token = pytester.runpytest(image, "--sentry-scanner=snyk", "-rs")

    assert "needs SNYK_TOKEN" in longrepr(without, f"{LABEL}::gate::high")
    output = with_token.stdout.str()
    assert "no vulnerability scan ran" in output
    assert "needs SNYK_TOKEN" not in output
    assert token not in output


def test_command_line_scanner_overrides_an_ini_report(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makeini(
        f"[pytest]\nsentry_scanner_report = trivy:{plugin_images.critical_report}\n"
    )

    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none"
    )

    assert outcomes(recorder)[f"{LABEL}::gate::critical"] == "skipped"


def test_command_line_overrides_the_ini_value(
    pytester: pytest.Pytester, plugin_images: PluginImages
) -> None:
    pytester.makeini("[pytest]\nsentry_fail_on = CRITICAL\n")

    got = outcomes(
        pytester.inline_run(
            f"--sentry-image={plugin_images.passing}",
            f"--sentry-scanner-report=trivy:{plugin_images.medium_report}",
            "--sentry-fail-on=MEDIUM",
        )
    )

    assert got[f"{LABEL}::gate::medium"] == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--sentry-fail-on=SEVERE"],
            "--sentry-fail-on: severity 'SEVERE': not one of",
        ),
        (
            ["--sentry-min-score=101"],
            "--sentry-min-score 101: must be between 0 and 100",
        ),
        (["--sentry-min-score=many"], "--sentry-min-score 'many': not a whole number"),
        (
            ["--sentry-disable-check=nope"],
            "--sentry-disable-check: unknown check 'nope'",
        ),
        (["--sentry-scanner-report=trivy"], "expected FORMAT:PATH"),
        (["--sentry-scanner-report=nessus:x.json"], "expected FORMAT:PATH"),
        (["--sentry-policy=missing.toml"], "missing.toml: no such policy file"),
        (
            ["--sentry-scanner=none", "--sentry-require-scanner"],
            "--sentry-require-scanner: contradicts scanner 'none'",
        ),
        (["--sentry-scanner=clair"], "invalid choice: 'clair'"),
    ],
)
def test_bad_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = pytester.runpytest(*args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsentry_fail_on = SEVERE\n")

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "sentry_fail_on: severity 'SEVERE': not one of" in result.stderr.str()
