"""What a security check is: an :class:`Image` in, a :class:`CheckResult` out.

A check never raises for a fact about the image (a missing ``/etc/passwd``
is a finding, not a crash); it raises :class:`CheckError` only when it could
not do its work, and the audit turns that into an ERROR result.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from pytest_sentry._errors import SentryError
from pytest_sentry._image.interface import Image
from pytest_sentry._models import CheckResult, CheckStatus, Severity


class CheckError(SentryError):
    """A check could not run to completion."""


class Check(abc.ABC):
    """One security check. Subclasses set the class attributes and ``run``."""

    #: Stable id used in node ids, CLI options and JSON: ``non-root-user``.
    id: ClassVar[str]
    #: Name shown in reports: ``Non-Root User``.
    name: ClassVar[str]
    #: How bad a FAIL is; drives the score deduction.
    severity: ClassVar[Severity]
    #: Paths whose contents the check reads; the image reader keeps only these.
    content_paths: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    def run(self, image: Image) -> CheckResult:
        """Examine ``image``; return a result whatever the image holds."""

    def result(
        self,
        status: CheckStatus,
        details: str,
        *,
        evidence: tuple[str, ...] = (),
        remediation: str = "",
    ) -> CheckResult:
        """A :class:`CheckResult` carrying this check's id, name and severity."""
        return CheckResult(
            id=self.id,
            name=self.name,
            status=status,
            severity=self.severity,
            details=details,
            evidence=evidence,
            remediation=remediation,
        )
