"""What the audit asks of a vulnerability scan, whatever runs it.

The audit holds one :class:`VulnerabilityScan` (or none) and calls ``run``
with the loaded image. Which scanner, which runner (Dagger engine, local
executable, report file) and how output is parsed are the business of the
implementations in this package and in ``pytest_sentry._runners``.
"""

from __future__ import annotations

import abc

from pytest_sentry._errors import SentryError
from pytest_sentry._image.interface import Image
from pytest_sentry._models import Vulnerability


class ScanError(SentryError):
    """A scanner could not produce findings: it failed, or its output is bad."""


class ScannerUnavailableError(ScanError):
    """No runner can execute the scanner here (no executable, no engine).

    Raised when a scan is set up, before anything runs, so that callers can
    tell "this scanner cannot run on this machine" from "it ran and failed".
    """


class VulnerabilityScan(abc.ABC):
    """One configured scan: a scanner plus the runner that executes it."""

    #: The scanner's short name as reports show it: ``trivy``, ``grype``...
    name: str

    @abc.abstractmethod
    def run(self, image: Image) -> tuple[Vulnerability, ...]:
        """Findings for ``image``, normalised; :class:`ScanError` on failure.

        An empty tuple means the scanner ran and found nothing. It must never
        stand for a scanner that could not run.
        """
