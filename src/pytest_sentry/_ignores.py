"""Ignores: known findings suppressed with a reason, until they expire.

Suppressed findings stay in the results with ``suppressed=True`` and their
reason, so reports still show them; they just stop counting. An entry whose
expiry date has passed stops suppressing and is returned as an
:class:`~pytest_sentry._models.ExpiredIgnore`, so the report can say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict, field_validator

from pytest_sentry._models import ExpiredIgnore, Vulnerability

NO_FIX_REASON = "no fix available"


class Ignore(BaseModel):
    """One ignore entry: a vulnerability id, optionally in one package.

    ``id`` matches a finding's id or any of its aliases (a GHSA or SNYK id
    ignores the CVE the scanner reported it as), case-insensitively.
    ``expires`` is the last day the entry applies; ``None`` never expires.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    package: str = ""
    reason: str
    expires: date | None = None

    @field_validator("id", "reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    def expired(self, today: date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, finding: Vulnerability) -> bool:
        wanted = self.id.casefold()
        ids = (finding.cve_id, *finding.aliases)
        if not any(i.casefold() == wanted for i in ids):
            return False
        return not self.package or self.package.casefold() == (
            finding.package_name.casefold()
        )


def apply_ignores(
    vulns: Iterable[Vulnerability],
    ignores: Sequence[Ignore],
    today: date,
    *,
    only_fixed: bool = False,
) -> tuple[list[Vulnerability], list[ExpiredIgnore]]:
    """Mark suppressed findings; return them all and the expired entries.

    The first live entry that matches a finding gives its reason. With
    ``only_fixed``, findings without a fixed version that no entry covers
    are suppressed with the reason ``"no fix available"``.
    """
    live = [entry for entry in ignores if not entry.expired(today)]
    expired = [
        ExpiredIgnore(
            id=entry.id,
            package=entry.package,
            reason=entry.reason,
            expires=entry.expires,
        )
        for entry in ignores
        if entry.expired(today) and entry.expires is not None
    ]

    results = []
    for finding in vulns:
        reason = next((e.reason for e in live if e.matches(finding)), "")
        if not reason and only_fixed and not finding.has_fix:
            reason = NO_FIX_REASON
        if reason:
            update = {"suppressed": True, "suppression_reason": reason}
            results.append(finding.model_copy(update=update))
        else:
            results.append(finding)
    return results, expired
