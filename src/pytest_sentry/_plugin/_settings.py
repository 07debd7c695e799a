"""How the plugin audits an image, whatever the image: scanner, policy, checks.

Options and ini keys give the session's settings; a ``sentry`` marker may
override them for one test. Settings turn into a builder (:class:`Scan`) for
one image, and the builder into the key under which its audit is shared by
every test and every xdist worker of the session.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel

from pytest_sentry._builder import Scan, scan
from pytest_sentry._checks import check_ids
from pytest_sentry._errors import SentryError
from pytest_sentry._image.interface import DEFAULT_LIMITS, override_limit
from pytest_sentry._models import Severity
from pytest_sentry._policy import Policy
from pytest_sentry._version import __version__

#: Scanners the options accept; ``none`` audits configuration only.
SCANNERS = ("trivy", "grype", "snyk", "wiz", "blackduck", "none")
#: Report formats ``--sentry-scanner-report`` reads.
REPORT_FORMATS = ("trivy", "grype", "snyk", "wiz", "blackduck")


class SettingsError(SentryError):
    """An option, ini key or marker argument has a value the plugin cannot use."""


@dataclass(frozen=True)
class AuditSettings:
    """Everything but the image. ``None`` leaves the policy file's or the
    builder's default in place; options and markers override, never merge."""

    scanner: str | None = None
    scanner_report: str | None = None
    fail_on: Severity | None = None
    min_score: int | None = None
    disabled_checks: frozenset[str] = frozenset()
    #: When set (by a marker's ``checks=``), exactly these checks run.
    only_checks: frozenset[str] | None = None
    policy: Policy | None = None
    #: The policy file's scanner and its options (a custom scanner's image,
    #: arguments...); used unless an option or marker names another.
    policy_scanner: str | None = None
    policy_scanner_options: Mapping[str, Any] = field(default_factory=dict)
    require_scanner: bool = False
    #: Reader bounds as ``NAME=VALUE``, applied in order.
    limits: tuple[str, ...] = ()

    def builder(self, reference: str) -> Scan:
        """The builder auditing ``reference`` with these settings."""
        builder = scan(reference)
        if self.policy is not None:
            builder = builder.with_policy(self.policy)

        scanner = self.scanner or self.policy_scanner
        if self.scanner_report:
            builder = builder.with_scanner_report(self.scanner_report)
        elif scanner == "none":
            builder = builder.without_scanner()
        elif scanner:
            options = dict(self.policy_scanner_options) if not self.scanner else {}
            runner = str(options.pop("runner", "auto"))
            builder = builder.with_scanner(
                scanner, runner=runner, required=self.require_scanner, **options
            )
        elif self.require_scanner and builder.scanner is not None:
            # The default scanner degrades to "no scan" when it cannot run;
            # asked to require a scanner, it must run or the audit errors.
            builder = builder.with_scanner(
                builder.scanner.name, runner=builder.scanner.runner, required=True
            )

        if self.fail_on is not None:
            builder = builder.fail_on(self.fail_on)
        if self.min_score is not None:
            builder = builder.min_score(self.min_score)
        for spec in self.limits:
            builder = builder.with_limit(spec)
        for check_id in sorted(self.disabled_checks):
            builder = builder.with_check(check_id, enable=False)
        if self.only_checks is not None:
            for check_id in check_ids():
                builder = builder.with_check(check_id, check_id in self.only_checks)
        return builder

    def validate(self) -> AuditSettings:
        """These settings, or :class:`SettingsError` naming what contradicts."""
        scanner = self.scanner or self.policy_scanner
        if self.require_scanner and scanner == "none" and not self.scanner_report:
            raise SettingsError(
                "--sentry-require-scanner: contradicts scanner 'none'; choose a "
                "scanner or drop the requirement"
            )
        return self


def parse_scanner(value: str, subject: str) -> str:
    name = value.strip().lower()
    if name not in SCANNERS:
        raise SettingsError(f"{subject} {value!r}: not one of {', '.join(SCANNERS)}")
    return name


def parse_fail_on(value: str | Severity, subject: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as error:
        raise SettingsError(f"{subject}: {error}") from error


def parse_min_score(value: str | int, subject: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{subject} {value!r}: not a whole number") from error
    if not 0 <= number <= 100:
        raise SettingsError(f"{subject} {number}: must be between 0 and 100")
    return number


def parse_checks(values: object, known: tuple[str, ...], subject: str) -> set[str]:
    """Check ids from a list (or one string), each one a known check."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple | set | frozenset):
        raise SettingsError(f"{subject}: expected a list of check ids")
    ids = {str(value).strip() for value in values}
    unknown = sorted(ids - set(known))
    if unknown:
        raise SettingsError(
            f"{subject}: unknown check {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(known)})"
        )
    return ids


def parse_scanner_report(value: str, subject: str) -> tuple[str, str]:
    """``FORMAT:PATH`` split in two, the format checked."""
    fmt, _, path = value.partition(":")
    if not path or fmt.strip().lower() not in REPORT_FORMATS:
        raise SettingsError(
            f"{subject} {value!r}: expected FORMAT:PATH with FORMAT one of "
            f"{', '.join(REPORT_FORMATS)}, e.g. trivy:reports/app.json"
        )
    return fmt.strip().lower(), path


def parse_limits(values: object, subject: str) -> tuple[str, ...]:
    """``NAME=VALUE`` bounds, each checked against the reader's limits."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple):
        raise SettingsError(f"{subject}: expected NAME=VALUE entries")
    specs = [str(value) for value in values]
    for spec in specs:
        try:
            override_limit(DEFAULT_LIMITS, spec)
        except ValueError as error:
            raise SettingsError(f"{subject}: {error}") from error
    return tuple(specs)


def audit_key(builder: Scan) -> str:
    """A stable hash of what decides an audit's outcome: image and settings.

    Stable across processes (xdist workers hash strings differently), so
    the canonical form sorts sets instead of trusting their iteration order.
    Scanner options are keyed by name only: they may hold credentials.
    """
    choice = builder.scanner
    document = {
        "version": __version__,
        "image": builder.image,
        "scanner": None
        if choice is None
        else {
            "name": choice.name,
            "runner": choice.runner,
            "required": choice.explicit,
            "report": choice.report_path,
            "options": sorted(choice.options),
        },
        "policy": _canonical(builder.policy),
        "limits": _canonical(builder.limits),
    }
    text = json.dumps(document, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, date):
        value = value.isoformat()

    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    plain = value is None or isinstance(value, str | int | float)
    return value if plain else str(value)
