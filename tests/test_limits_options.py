"""Reader bounds reach users: builder, CLI and pytest options all set them."""

from __future__ import annotations

from pathlib import Path

import pytest

import pytest_sentry
from conftest import PluginImages
from pluginrun import longrepr, outcomes
from pytest_sentry._cli import main
from pytest_sentry._image.interface import DEFAULT_LIMITS, override_limit

EXAMPLE = Path(__file__).parent.parent / "examples" / "images" / "alpine-3.10.tar.gz"


@pytest.mark.parametrize(
    ("spec", "field", "value"),
    [
        ("max_members=10", "max_members", 10),
        ("max-layer-bytes=4GiB", "max_layer_bytes", 4 * 1024**3),
        ("max_content_bytes=64k", "max_content_bytes", 64 * 1024),
        ("max_ratio=0", "max_ratio", 0),
    ],
)
def test_override_limit_reads_names_and_units(
    spec: str, field: str, value: int
) -> None:
    changed = override_limit(DEFAULT_LIMITS, spec)
    assert getattr(changed, field) == value
    assert changed.max_metadata_bytes == DEFAULT_LIMITS.max_metadata_bytes


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("max_members", "expected NAME=VALUE"),
        ("members=10", "expected NAME=VALUE with NAME one of max_layer_bytes"),
        ("max_members=ten", "'ten' is not a whole number"),
        ("max_members=1T", "'1T' is not a whole number"),
    ],
)
def test_override_limit_names_the_bad_spec(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        override_limit(DEFAULT_LIMITS, spec)


def test_builder_limit_makes_an_oversized_image_an_error() -> None:
    base = pytest_sentry.scan(str(EXAMPLE)).without_scanner()
    tight = base.with_limit("max_members=10").audit()

    assert base.audit().verdict is not pytest_sentry.Verdict.ERROR
    assert tight.verdict is pytest_sentry.Verdict.ERROR
    assert "more than 10 entries" in tight.errors[0]
    assert "alpine-3.10.tar.gz" in tight.errors[0]


def test_cli_limit_option(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["scan", str(EXAMPLE), "--scanner", "none", "--limit", "max_members=10"]
    )
    out = capsys.readouterr().out
    assert code == 2
    assert "more than 10 entries" in out


def test_cli_rejects_a_bad_limit(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", str(EXAMPLE), "--limit", "max_members=lots"])
    assert code == 2
    assert "limit 'max_members=lots'" in capsys.readouterr().err


@pytest.mark.usefixtures("lean_inner_runs")
@pytest.mark.parametrize("where", ["cli", "ini"])
def test_pytest_limit_option_and_ini_key(
    pytester: pytest.Pytester, plugin_images: PluginImages, where: str
) -> None:
    if where == "cli":
        args = ["--sentry-limit=max_members=1"]
    else:
        pytester.makeini("[pytest]\nsentry_limits =\n    max_members=1\n")
        args = []

    recorder = pytester.inline_run(
        f"--sentry-image={plugin_images.passing}", "--sentry-scanner=none", *args
    )
    got = outcomes(recorder)

    assert got
    assert set(got.values()) == {"error"}
    text = longrepr(recorder, "sentry/passing.tar::check::non-root-user")
    assert "more than 1 entries" in text


@pytest.mark.usefixtures("lean_inner_runs")
def test_pytest_rejects_a_bad_limit(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--sentry-limit=max_members=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--sentry-limit: limit 'max_members=lots'*"])
