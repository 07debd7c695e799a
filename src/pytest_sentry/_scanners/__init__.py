"""Vulnerability scanners: Trivy, Grype, Snyk, Wiz, Black Duck and custom ones.

:func:`make_scan` turns a scanner name and options into the
:class:`~pytest_sentry._scanners.interface.VulnerabilityScan` the audit runs;
:func:`parse_report_spec` reads the ``FORMAT:PATH`` spelling of a report file.
"""

from pytest_sentry._scanners._factory import make_scan, parse_report_spec

__all__ = ["make_scan", "parse_report_spec"]
