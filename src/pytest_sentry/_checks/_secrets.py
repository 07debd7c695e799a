"""Secrets in environment: credentials baked into the image config's ``Env``.

Every value is searched with the pattern table of ``_secret_rules``; a value
under a credential-named variable (``_secret_names``) counts too when it is
not trivial (``_placeholders``). Evidence names the variable, the kind of
secret and a prefix short enough to identify, never to reuse, the value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_sentry._checks._placeholders import is_trivial
from pytest_sentry._checks._secret_names import is_aws_name, is_sensitive_name
from pytest_sentry._checks._secret_rules import FAMILIES, find
from pytest_sentry._checks.interface import Check
from pytest_sentry._image.interface import Image
from pytest_sentry._models import CheckResult, CheckStatus, Severity

logger = logging.getLogger(__name__)

#: The family id of a non-trivial value under a credential-named variable.
SENSITIVE_NAME = "sensitive-name"

_REMEDIATION = (
    "Remove the credentials from ENV and ARG in the Dockerfile and supply them "
    "at run time: a Dagger secret (dag.set_secret / with_secret_variable), a "
    "BuildKit secret mount (RUN --mount=type=secret) for build steps, or a "
    "secret mounted as a file by the runtime (Docker/Kubernetes secrets, read "
    "through a *_FILE variable). Treat every credential found here as leaked: "
    "anyone who can pull the image can read it, so rotate it."
)


@dataclass(frozen=True)
class Finding:
    """One variable that holds a secret: no part of the value is kept."""

    name: str
    family: str
    kind: str
    shown: str

    @property
    def evidence(self) -> str:
        return f"{self.name}: {self.kind} [{self.family}] ({self.shown}…)"


def shown_prefix(value: str, secret: str) -> str:
    """At most four characters, and never more than a quarter of either the
    value or the secret inside it: a 6-character secret shows one character.
    """
    keep = min(4, len(value) // 4, len(secret) // 4)
    return value[:keep]


def scan_env(env: Mapping[str, str]) -> tuple[Finding, ...]:
    """The variables of ``env`` that hold a secret, in ``env``'s order."""
    aws_context = any(
        hit.family == "aws-access-key" for value in env.values() for hit in find(value)
    )
    findings = []
    for name, value in env.items():
        finding = scan_variable(name, value, aws_context=aws_context)
        if finding is not None:
            findings.append(finding)
    return tuple(findings)


def scan_variable(
    name: str, value: str, *, aws_context: bool = False
) -> Finding | None:
    """The most specific secret in one variable, or ``None``."""
    context = aws_context or is_aws_name(name)
    for hit in find(value, aws_context=context):
        secret = value[hit.start : hit.end]
        return Finding(name, hit.family, hit.kind, shown_prefix(value, secret))

    if is_sensitive_name(name) and not is_trivial(value):
        return Finding(
            name,
            SENSITIVE_NAME,
            "value of a credential-named variable",
            shown_prefix(value, value),
        )
    return None


class SecretsInEnvCheck(Check):
    """FAIL when any environment variable of the image config holds a secret."""

    id = "secrets-in-env"
    name = "Secrets in Environment"
    severity = Severity.HIGH

    def run(self, image: Image) -> CheckResult:
        if image.config is None:
            return self.result(
                CheckStatus.SKIP,
                "The image has no config (a bare root filesystem), so it has no "
                "environment to search.",
            )

        env = image.config.env_map
        findings = scan_env(env)
        logger.debug(
            "%s: %d variables searched, %d hold secrets",
            image.reference,
            len(env),
            len(findings),
        )
        if not findings:
            return self.result(CheckStatus.PASS, _clean_summary(len(env)))

        names = ", ".join(f.name for f in findings)
        return self.result(
            CheckStatus.FAIL,
            f"{len(findings)} of {_variables(len(env))} "
            f"{'holds a credential' if len(findings) == 1 else 'hold credentials'}: "
            f"{names}.",
            evidence=tuple(f.evidence for f in findings),
            remediation=_REMEDIATION,
        )


def _variables(count: int) -> str:
    return f"{count} environment variable{'' if count == 1 else 's'}"


def _clean_summary(count: int) -> str:
    if count == 0:
        return "The image config sets no environment variables."
    if count == 1:
        return "The image's one environment variable holds no credential."
    return f"None of the image's {count} environment variables holds a credential."


def family_ids() -> Iterable[str]:
    """Every family id a finding can carry, pattern families first."""
    return (*(family.id for family in FAMILIES), SENSITIVE_NAME)
