"""Security checks: one module per check, registered here by id."""

from __future__ import annotations

from pytest_sentry._checks.interface import Check, CheckError

__all__ = ["Check", "CheckError", "all_checks", "check_ids"]


def all_checks() -> tuple[Check, ...]:
    """One instance of every built-in check, in report order."""
    from pytest_sentry._checks._health import HealthCheck  # noqa: PLC0415
    from pytest_sentry._checks._non_root import NonRootCheck  # noqa: PLC0415
    from pytest_sentry._checks._secrets import SecretsInEnvCheck  # noqa: PLC0415

    return (NonRootCheck(), SecretsInEnvCheck(), HealthCheck())


def check_ids() -> tuple[str, ...]:
    return tuple(check.id for check in all_checks())
