"""Command-line options and their ini twins, read into the session's settings.

Every option has an ini key of the same meaning under
``[tool.pytest.ini_options]``; the command line wins. Paths on the command
line are relative to the directory pytest was started in, paths in the ini
file to the ini file's directory. Scanner credentials are read from the
environment by the scanners, never from options, so they stay out of argv.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from pytest_sentry._checks import check_ids
from pytest_sentry._errors import SentryError
from pytest_sentry._plugin._settings import (
    SCANNERS,
    AuditSettings,
    SettingsError,
    parse_checks,
    parse_fail_on,
    parse_limits,
    parse_min_score,
    parse_scanner,
    parse_scanner_report,
)
from pytest_sentry._plugin._targets import Target, make_targets


@dataclass(frozen=True)
class SessionOptions:
    """What the options ask of this session."""

    #: Images that get generated test items.
    images: tuple[Target, ...]
    settings: AuditSettings
    #: Where Markdown and JSON reports go; ``None`` writes none.
    report_dir: Path | None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sentry", "container image audit (pytest_sentry)")
    group.addoption(
        "--sentry-image",
        action="append",
        dest="sentry_images",
        default=[],
        metavar="IMAGE",
        help="audit IMAGE and add its checks and gates as test items "
        "(repeatable): an archive path, docker-archive:PATH, oci-archive:PATH, "
        "oci:DIR, dir:ROOTFS or a registry reference",
    )
    group.addoption(
        "--sentry-scanner",
        choices=SCANNERS,
        default=None,
        help="vulnerability scanner (default: trivy when it can run here, else "
        "no scan and the gate items are skipped)",
    )
    group.addoption(
        "--sentry-fail-on",
        default=None,
        metavar="SEVERITY",
        help="lowest severity whose findings fail the audit (default: HIGH)",
    )
    group.addoption(
        "--sentry-min-score",
        default=None,
        metavar="N",
        help="fail the audit when its score is below N (0-100)",
    )
    group.addoption(
        "--sentry-disable-check",
        action="append",
        dest="sentry_disable_checks",
        default=[],
        metavar="CHECK",
        help="do not run CHECK (repeatable), e.g. health-check",
    )
    group.addoption(
        "--sentry-policy",
        default=None,
        metavar="FILE",
        help="policy file (TOML): threshold, minimum score, ignores, scanner",
    )
    group.addoption(
        "--sentry-scanner-report",
        default=None,
        metavar="FORMAT:PATH",
        help="read findings from a scanner report already on disk, e.g. "
        "trivy:trivy.json, instead of running a scanner",
    )
    group.addoption(
        "--sentry-report-dir",
        default=None,
        metavar="DIR",
        help="write a Markdown and a JSON report per audited image to DIR",
    )
    group.addoption(
        "--sentry-limit",
        action="append",
        dest="sentry_limits",
        default=[],
        metavar="NAME=VALUE",
        help="change a safety bound of the image reader (repeatable), e.g. "
        "max_layer_bytes=4GiB; 0 turns a bound off",
    )
    group.addoption(
        "--sentry-require-scanner",
        action="store_true",
        default=None,
        help="a scanner that cannot run here is an error, not a skip",
    )

    parser.addini("sentry_images", "images to audit, one a line", type="linelist")
    parser.addini("sentry_scanner", "default for --sentry-scanner", default="")
    parser.addini("sentry_fail_on", "default for --sentry-fail-on", default="")
    parser.addini("sentry_min_score", "default for --sentry-min-score", default="")
    parser.addini(
        "sentry_disable_checks", "checks not to run, one a line", type="linelist"
    )
    parser.addini("sentry_policy", "default for --sentry-policy", default="")
    parser.addini(
        "sentry_scanner_report", "default for --sentry-scanner-report", default=""
    )
    parser.addini("sentry_report_dir", "default for --sentry-report-dir", default="")
    parser.addini(
        "sentry_limits", "image reader bounds, NAME=VALUE a line", type="linelist"
    )
    parser.addini(
        "sentry_require_scanner",
        "default for --sentry-require-scanner",
        type="bool",
        default=False,
    )


#: Settings read as they are written: ini or option name -> field, parser.
_PLAIN: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "sentry_scanner": ("scanner", parse_scanner),
    "sentry_fail_on": ("fail_on", parse_fail_on),
    "sentry_min_score": ("min_score", parse_min_score),
}


def read_options(config: pytest.Config) -> SessionOptions:
    """The session's options; :class:`pytest.UsageError` for a bad value."""
    try:
        return _read(config)
    except SettingsError as error:
        raise pytest.UsageError(str(error)) from error


def _read(config: pytest.Config) -> SessionOptions:
    cli_base = config.invocation_params.dir
    ini_base = config.inipath.parent if config.inipath else config.rootpath

    images: list[str] = config.getoption("sentry_images")
    image_base = cli_base
    if not images:
        images, image_base = list(config.getini("sentry_images")), ini_base

    settings = AuditSettings(
        require_scanner=bool(_value(config, "sentry_require_scanner")[0])
    )
    policy, where = _value(config, "sentry_policy")
    if policy:
        path = _path(policy, where, cli_base, ini_base)
        settings = _with_policy_file(settings, path, _subject("sentry_policy", where))

    for name, (field, parse) in _PLAIN.items():
        value, where = _value(config, name)
        if value:
            parsed = parse(value, _subject(name, where))
            settings = replace(settings, **{field: parsed})

    report, where = _value(config, "sentry_scanner_report")
    # A scanner named on the command line beats a report named in the ini
    # file, as any option beats any ini key.
    if where == "ini" and config.getoption("sentry_scanner"):
        report = ""
    if report:
        subject = _subject("sentry_scanner_report", where)
        fmt, report_path = parse_scanner_report(report, subject)
        absolute = _path(report_path, where, cli_base, ini_base)
        settings = replace(settings, scanner_report=f"{fmt}:{absolute}")

    disabled, where = _value(config, "sentry_disable_checks")
    if disabled:
        subject = _subject("sentry_disable_checks", where)
        ids = parse_checks(list(disabled), check_ids(), subject)
        settings = replace(settings, disabled_checks=settings.disabled_checks | ids)

    limits, where = _value(config, "sentry_limits")
    if limits:
        subject = _subject("sentry_limits", where)
        settings = replace(settings, limits=parse_limits(limits, subject))

    report_dir, where = _value(config, "sentry_report_dir")
    return SessionOptions(
        images=make_targets(images, image_base),
        settings=settings.validate(),
        report_dir=_path(report_dir, where, cli_base, ini_base) if report_dir else None,
    )


def _value(config: pytest.Config, name: str) -> tuple[Any, str]:
    """The option's value if given, else the ini key's; and which it was."""
    value = config.getoption(name)
    if value not in (None, "", []):
        return value, "cli"
    return config.getini(name), "ini"


def _subject(name: str, where: str) -> str:
    """How the user spelled the setting: ``--sentry-fail-on`` or its ini key."""
    if where == "ini":
        return name
    plural = name.endswith(("_checks", "_limits"))
    option = name.removesuffix("s") if plural else name
    return "--" + option.replace("_", "-")


def _path(value: str, where: str, cli_base: Path, ini_base: Path) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    return (cli_base if where == "cli" else ini_base) / path


def _with_policy_file(
    settings: AuditSettings, path: Path, subject: str
) -> AuditSettings:
    # The loader is optional at import time: sessions without a policy file
    # never pay for the TOML parsing and its validation.
    from pytest_sentry._policy_file import load_policy_file  # noqa: PLC0415

    try:
        loaded = load_policy_file(path)
    except (SentryError, OSError, ValueError) as error:
        raise SettingsError(f"{subject}: {error}") from error
    return replace(
        settings,
        policy=loaded.policy,
        policy_scanner=loaded.scanner or None,
        policy_scanner_options=dict(loaded.scanner_options),
    )
