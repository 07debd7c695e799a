"""What every parser shares: severities, ids, fixed versions, de-duplication.

- Five severities. Each scanner's own string is kept in ``scanner_severity``;
  Grype's Negligible, "Unknown" and any value we do not recognise become INFO.
- A CVE id is preferred where the scanner also gives its own id (Snyk's
  ``SNYK-...`` with ``identifiers.CVE``, a GHSA with a CVE alias); the other
  ids go into ``aliases`` so ignores can still name them.
- Findings are de-duplicated on (id, package, installed version), keeping the
  most severe and merging fixed versions and aliases.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from pytest_sentry._models import Severity, Vulnerability

logger = logging.getLogger(__name__)

_SEVERITIES = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "IMPORTANT": Severity.HIGH,
    "MEDIUM": Severity.MEDIUM,
    "MODERATE": Severity.MEDIUM,
    "LOW": Severity.LOW,
    "MINOR": Severity.LOW,
}
# Values scanners use for "no rating"; they are INFO without a warning.
_KNOWN_UNRATED = frozenset(
    {"", "NEGLIGIBLE", "UNKNOWN", "INFO", "INFORMATIONAL", "NONE", "UNSPECIFIED"}
)
_warned: set[str] = set()
# A hostile report could name endless distinct severities; warn about the
# first few only, so the set cannot grow without bound.
_MAX_WARNED = 64

_TITLE_CHARS = 160


def severity(value: object) -> Severity:
    """The five-level severity for a scanner's string; unknown values are INFO."""
    text = value.strip().upper() if isinstance(value, str) else ""
    found = _SEVERITIES.get(text)
    if found is not None:
        return found
    if (
        text not in _KNOWN_UNRATED
        and text not in _warned
        and len(_warned) < _MAX_WARNED
    ):
        _warned.add(text)
        logger.warning("severity %r: not a known level, counted as INFO", value)
    return Severity.INFO


def prefer_cve(own_id: str, related: Iterable[str] = ()) -> tuple[str, tuple[str, ...]]:
    """The id to report and the aliases: a CVE wins over a scanner's own id."""
    ids = _unique([own_id, *related])
    chosen = own_id
    if not own_id.upper().startswith("CVE-"):
        chosen = next((i for i in ids if i.upper().startswith("CVE-")), own_id)
    return chosen, tuple(i for i in ids if i != chosen)


def short(text: object) -> str:
    """A one-line title from a possibly long description."""
    if not isinstance(text, str):
        return ""
    line = text.strip().split("\n", 1)[0].strip()
    if len(line) > _TITLE_CHARS:
        line = line[: _TITLE_CHARS - 3].rstrip() + "..."
    return line


def join_versions(versions: Iterable[object]) -> str:
    """Fixed versions as one string: ``"1.2.1, 2.0.3"``, duplicates dropped."""
    return ", ".join(_unique(str(v) for v in versions if v))


def finding(
    *,
    cve_id: str,
    package_name: str,
    installed_version: str,
    severity: Severity,
    scanner_severity: str,
    fixed_version: str = "",
    title: str = "",
    url: str = "",
    aliases: tuple[str, ...] = (),
    package_type: str = "",
) -> Vulnerability:
    """A finding from fields the parsers have already checked and typed."""
    return Vulnerability(
        cve_id=cve_id,
        package_name=package_name,
        installed_version=installed_version,
        fixed_version=fixed_version,
        severity=severity,
        scanner_severity=scanner_severity,
        title=title,
        url=url,
        aliases=aliases,
        package_type=package_type,
    )


def finalize(findings: Sequence[Vulnerability]) -> list[Vulnerability]:
    """De-duplicated findings in first-seen order."""
    merged: dict[tuple[str, str, str], Vulnerability] = {}
    for item in findings:
        key = item.key
        seen = merged.get(key)
        merged[key] = item if seen is None else _merge(seen, item)
    return list(merged.values())


def _merge(first: Vulnerability, second: Vulnerability) -> Vulnerability:
    if first == second:
        # The common case: one finding reported once per dependency path.
        return first
    keep, other = (
        (second, first) if second.severity > first.severity else (first, second)
    )
    fixed = join_versions(
        [*keep.fixed_version.split(", "), *other.fixed_version.split(", ")]
    )
    aliases = tuple(
        a for a in _unique([*keep.aliases, *other.aliases]) if a != keep.cve_id
    )
    return keep.model_copy(
        update={
            "fixed_version": fixed,
            "aliases": aliases,
            "title": keep.title or other.title,
            "url": keep.url or other.url,
            "package_type": keep.package_type or other.package_type,
        }
    )


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(filter(None, values)))
