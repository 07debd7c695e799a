"""Ignores (with reason and expiry), only-fixed, and the TOML policy file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from pytest_sentry._ignores import NO_FIX_REASON, Ignore, apply_ignores
from pytest_sentry._models import ExpiredIgnore, Severity, Vulnerability
from pytest_sentry._policy_file import PolicyFileError, load_policy_file, parse_policy
from pytest_sentry._scanners._snyk import parse_snyk
from scannerdata import read

TODAY = date(2025, 3, 1)


def finding(cve: str, package: str, fixed: str = "", **more: object) -> Vulnerability:
    return Vulnerability.model_validate(
        {
            "cve_id": cve,
            "package_name": package,
            "installed_version": "1.0",
            "fixed_version": fixed,
            "severity": Severity.HIGH,
            **more,
        }
    )


def test_a_live_ignore_suppresses_and_keeps_the_finding_visible() -> None:
    vulns = [finding("CVE-1", "openssl"), finding("CVE-2", "zlib")]
    ignores = [Ignore(id="cve-1", reason="not reachable", expires=date(2025, 3, 1))]

    kept, expired = apply_ignores(vulns, ignores, TODAY)

    assert [v.cve_id for v in kept] == ["CVE-1", "CVE-2"]
    assert kept[0].suppressed
    assert kept[0].suppression_reason == "not reachable"
    assert not kept[1].suppressed
    assert expired == []


def test_an_expired_ignore_stops_working_and_is_reported() -> None:
    vulns = [finding("CVE-1", "openssl")]
    entry = Ignore(
        id="CVE-1", package="openssl", reason="waiting", expires=date(2025, 2, 28)
    )

    kept, expired = apply_ignores(vulns, [entry], TODAY)

    assert not kept[0].suppressed
    assert expired == [
        ExpiredIgnore(
            id="CVE-1", package="openssl", reason="waiting", expires=date(2025, 2, 28)
        )
    ]


def test_package_narrows_the_ignore() -> None:
    vulns = [finding("CVE-1", "openssl"), finding("CVE-1", "libssl3")]

    kept, _ = apply_ignores(
        vulns, [Ignore(id="CVE-1", package="libssl3", reason="r")], TODAY
    )

    assert [v.suppressed for v in kept] == [False, True]


def test_an_alias_ignores_the_finding_a_scanner_reported_as_a_cve() -> None:
    # Snyk's own id still works after the parser preferred the CVE.
    vulns = parse_snyk(read("snyk", "snykcli-docker-fixable-vulns.json"))
    ignore = Ignore(id="SNYK-LINUX-EXPAT-450908", reason="accepted risk")

    kept, _ = apply_ignores(vulns, [ignore], TODAY)

    suppressed = [v for v in kept if v.suppressed]
    assert {v.cve_id for v in suppressed} == {"CVE-2018-20843"}
    assert len(kept) == len(vulns)


def test_only_fixed_suppresses_unfixable_findings() -> None:
    vulns = [
        finding("CVE-1", "a", fixed="1.1"),
        finding("CVE-2", "b"),
        finding("CVE-3", "c"),
    ]
    ignore = Ignore(id="CVE-3", reason="vendor says not affected")

    kept, _ = apply_ignores(vulns, [ignore], TODAY, only_fixed=True)

    assert [(v.suppressed, v.suppression_reason) for v in kept] == [
        (False, ""),
        (True, NO_FIX_REASON),
        (True, "vendor says not affected"),
    ]


def test_an_ignore_needs_an_id_and_a_reason() -> None:
    with pytest.raises(ValidationError):
        Ignore(id="CVE-1", reason="  ")
    with pytest.raises(ValidationError):
        Ignore(id="", reason="r")
    with pytest.raises(ValidationError):
        Ignore(id="CVE-1")  # type: ignore[call-arg]


POLICY = """
fail_on = "critical"
min_score = 80
disabled_checks = ["health-check"]
only_fixed = true
scanner = "grype"

[[ignore]]
id = "CVE-2023-4039"
package = "libgcc-s1"
reason = "no untrusted input reaches gcc"
expires = 2025-06-30

[[ignore]]
id = "GHSA-78wr-2p64-hpwj"
reason = "XmlStreamReader unused"
expires = "2024-01-31"
"""


def test_a_policy_file_gives_policy_and_scanner(tmp_path: Path) -> None:
    path = tmp_path / "sentry.toml"
    path.write_text(POLICY, encoding="utf-8")

    settings = load_policy_file(path)

    policy = settings.policy
    assert policy.fail_on is Severity.CRITICAL
    assert policy.min_score == 80
    assert policy.disabled_checks == frozenset({"health-check"})
    assert policy.only_fixed is True
    assert settings.scanner == "grype"
    assert policy.ignores[0] == Ignore(
        id="CVE-2023-4039",
        package="libgcc-s1",
        reason="no untrusted input reaches gcc",
        expires=date(2025, 6, 30),
    )
    assert policy.ignores[1].expires == date(2024, 1, 31)

    _, expired = apply_ignores([], policy.ignores, TODAY)
    assert [e.id for e in expired] == ["GHSA-78wr-2p64-hpwj"]


def test_a_custom_scanner_table(tmp_path: Path) -> None:
    path = tmp_path / "sentry.toml"
    path.write_text(
        '[scanner]\nname = "custom"\nimage = "registry.example/scan:1"\n'
        'args = ["scan", "{archive}"]\noutput_format = "grype"\n'
        "success_codes = [0, 1]\n",
        encoding="utf-8",
    )

    settings = load_policy_file(path)

    assert settings.scanner == "custom"
    assert settings.scanner_options == {
        "image": "registry.example/scan:1",
        "args": ["scan", "{archive}"],
        "output_format": "grype",
        "success_codes": [0, 1],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fail_on = 'HIGH'\nfial_on = 'LOW'\n", "unknown key 'fial_on'"),
        ("fail_on = 'SEVERE'\n", "severity 'SEVERE': not one of"),
        ("min_score = 120\n", "min_score 120: must be between 0 and 100"),
        ("min_score = true\n", "min_score must be an integer"),
        ("only_fixed = 'yes'\n", "only_fixed must be a bool"),
        (
            "disabled_checks = 'health-check'\n",
            "disabled_checks must be a list of strings",
        ),
        ("[[ignore]]\nid = 'CVE-1'\n", "ignore #1: reason: Field required"),
        (
            "[[ignore]]\nid = 'CVE-1'\nreason = 'r'\nexpires = 'soon'\n",
            "'soon' is not a YYYY",
        ),
        (
            "[[ignore]]\nid = 'CVE-1'\nreason = 'r'\nuntil = 2025-01-01\n",
            "until: Extra inputs",
        ),
        ("ignore = 'CVE-1'\n", "ignore must be an array of tables"),
        ("[scanner]\nname = 'snyk'\ntoken = 'abc'\n", "credentials do not belong"),
        ("[scanner]\nimage = 'x'\n", "scanner.name is required"),
        ("fail_on = \n", "not valid TOML"),
    ],
)
def test_bad_policy_files_name_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "sentry.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(PolicyFileError) as caught:
        load_policy_file(path)

    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_a_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="no such policy file"):
        load_policy_file(tmp_path / "absent.toml")


def test_an_empty_policy_is_the_default() -> None:
    settings = parse_policy({})

    assert settings.policy.fail_on is Severity.HIGH
    assert settings.policy.ignores == ()
    assert settings.scanner == ""
