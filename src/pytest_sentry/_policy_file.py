"""The policy file: what fails an audit, written down once per project.

A TOML file (read with :mod:`tomllib`)::

    fail_on = "HIGH"              # lowest severity that fails the audit
    min_score = 80                # optional
    disabled_checks = ["health-check"]
    only_fixed = true             # findings without a fix are suppressed
    scanner = "grype"             # or a table, below

    [[ignore]]
    id = "CVE-2023-4039"
    package = "libgcc-s1"         # optional
    reason = "not reachable: no untrusted input reaches gcc"
    expires = 2025-06-30          # TOML date or "YYYY-MM-DD"; optional

A custom scanner is a table: ``[scanner]`` with ``name = "custom"``,
``image``, ``args`` (program first, with ``{archive}``), ``output_format``
and ``success_codes``. Credentials never go in this file (it is committed
with the code): scanners read them from the environment (``SNYK_TOKEN``...).
Unknown keys are errors, so a typo cannot silently weaken a policy.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pytest_sentry._errors import SentryError
from pytest_sentry._ignores import Ignore
from pytest_sentry._models import Severity
from pytest_sentry._policy import Policy

_TOP_KEYS = frozenset(
    {"fail_on", "min_score", "disabled_checks", "only_fixed", "scanner", "ignore"}
)
_SCANNER_KEYS = frozenset(
    {"name", "runner", "image", "args", "output_format", "success_codes", "timeout"}
)
_CREDENTIAL_KEYS = frozenset({"token", "client_id", "client_secret", "api_token"})


class PolicyFileError(SentryError):
    """A policy file could not be read or says something invalid."""


@dataclass(frozen=True)
class PolicySettings:
    """What a policy file says: the policy, and which scanner to use if any."""

    policy: Policy
    scanner: str = ""
    scanner_options: Mapping[str, Any] = field(default_factory=dict)


def load_policy_file(path: str | Path) -> PolicySettings:
    """Read and check a policy file; :class:`PolicyFileError` names the problem."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except FileNotFoundError as error:
        raise PolicyFileError(f"{path}: no such policy file") from error
    except OSError as error:
        raise PolicyFileError(f"{path}: cannot read: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise PolicyFileError(f"{path}: not valid TOML: {error}") from error
    return parse_policy(document, str(path))


def parse_policy(document: Mapping[str, Any], source: str = "policy") -> PolicySettings:
    """The settings in an already-decoded policy document."""
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        known = ", ".join(sorted(_TOP_KEYS))
        raise PolicyFileError(f"{source}: unknown key {unknown[0]!r} (known: {known})")

    try:
        policy = Policy(
            fail_on=Severity.parse(_typed(document, "fail_on", str, source, "HIGH")),
            min_score=_min_score(document, source),
            disabled_checks=frozenset(_strings(document, "disabled_checks", source)),
            ignores=tuple(_ignores(document.get("ignore", []), source)),
            only_fixed=_typed(document, "only_fixed", bool, source, False),
        )
    except ValueError as error:
        raise PolicyFileError(f"{source}: {error}") from error

    scanner, options = _scanner(document.get("scanner"), source)
    return PolicySettings(policy=policy, scanner=scanner, scanner_options=options)


def _typed(
    document: Mapping[str, Any], key: str, kind: type, source: str, default: Any
) -> Any:
    value = document.get(key, default)
    if not isinstance(value, kind):
        raise PolicyFileError(f"{source}: {key} must be a {kind.__name__}")
    return value


def _min_score(document: Mapping[str, Any], source: str) -> int | None:
    value = document.get("min_score")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyFileError(f"{source}: min_score must be an integer from 0 to 100")
    return value


def _strings(document: Mapping[str, Any], key: str, source: str) -> list[str]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyFileError(f"{source}: {key} must be a list of strings")
    return value


def _ignores(entries: object, source: str) -> list[Ignore]:
    if not isinstance(entries, list):
        raise PolicyFileError(
            f"{source}: ignore must be an array of tables ([[ignore]])"
        )

    ignores = []
    for index, entry in enumerate(entries, start=1):
        where = f"{source}: ignore #{index}"
        if not isinstance(entry, dict):
            raise PolicyFileError(f"{where}: must be a table with id and reason")
        values = dict(entry)
        if isinstance(values.get("expires"), str):
            values["expires"] = _date(values["expires"], where)
        try:
            ignores.append(Ignore(**values))
        except ValidationError as error:
            problem = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                for e in error.errors()
            )
            raise PolicyFileError(f"{where}: {problem}") from error
    return ignores


def _date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise PolicyFileError(
            f"{where}: expires {value!r} is not a YYYY-MM-DD date"
        ) from error


def _scanner(value: object, source: str) -> tuple[str, dict[str, Any]]:
    if value is None:
        return "", {}
    if isinstance(value, str):
        return value, {}
    if not isinstance(value, dict):
        raise PolicyFileError(f"{source}: scanner must be a name or a table")

    secrets = sorted(set(value) & _CREDENTIAL_KEYS)
    if secrets:
        raise PolicyFileError(
            f"{source}: scanner.{secrets[0]}: credentials do not belong in a policy "
            "file; set them in the environment (SNYK_TOKEN, WIZ_CLIENT_ID...)"
        )
    unknown = sorted(set(value) - _SCANNER_KEYS)
    if unknown:
        raise PolicyFileError(f"{source}: unknown key scanner.{unknown[0]}")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise PolicyFileError(f"{source}: scanner.name is required")
    options = {k: v for k, v in value.items() if k != "name"}
    return name, options
