"""Audit container images for security, as pytest results or from the CLI.

The import name is ``pytest_sentry``; the distribution is
``pytest-sentry-audit`` (``pytest-sentry`` on PyPI is an unrelated project).
"""

from pytest_sentry._builder import Scan, scan
from pytest_sentry._errors import SentryError
from pytest_sentry._image.interface import Limits
from pytest_sentry._models import (
    AuditResult,
    CheckResult,
    CheckStatus,
    GateResult,
    Rating,
    Severity,
    Verdict,
    Vulnerability,
    VulnSummary,
)
from pytest_sentry._plugin._warning import SentryWarning
from pytest_sentry._policy import Policy
from pytest_sentry._version import __version__

__all__ = [
    "AuditResult",
    "CheckResult",
    "CheckStatus",
    "GateResult",
    "Limits",
    "Policy",
    "Rating",
    "Scan",
    "SentryError",
    "SentryWarning",
    "Severity",
    "Verdict",
    "VulnSummary",
    "Vulnerability",
    "__version__",
    "scan",
]
