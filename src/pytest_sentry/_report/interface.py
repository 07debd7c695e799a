"""Report formats: each renders one :class:`AuditResult` to text."""

from __future__ import annotations

import abc
import enum

from pytest_sentry._errors import SentryError
from pytest_sentry._models import AuditResult


class ReportError(SentryError):
    """A report could not be rendered or written."""


class ReportFormat(enum.Enum):
    MARKDOWN = "markdown"
    JSON = "json"
    SARIF = "sarif"

    @property
    def suffix(self) -> str:
        return {"markdown": ".md", "json": ".json", "sarif": ".sarif"}[self.value]


class Renderer(abc.ABC):
    """Turns an audit result into one report format."""

    format: ReportFormat

    @abc.abstractmethod
    def render(self, result: AuditResult) -> str:
        """The whole report as text, ending with a newline."""
