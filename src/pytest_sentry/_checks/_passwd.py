"""Read ``/etc/passwd`` and ``/etc/group`` the way a container runtime does.

runc and crun resolve a ``USER name`` by scanning these files for the first
line whose first field is the name; a line they cannot parse is skipped, not
fatal. The same forgiving reading is used here, so a comment, a blank line, a
short line or a non-numeric id never hides the entries around it.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def parse_ids(text: str, subject: str) -> dict[str, int]:
    """Names to ids from passwd or group text; the first line for a name wins.

    Both files keep the name in field 1 and the numeric id in field 3, so one
    reader serves both. Malformed lines are logged at debug level and skipped.
    """
    ids: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue

        fields = line.split(":")
        if len(fields) < 3 or not fields[0]:
            logger.debug("%s: line %d has too few fields; skipped", subject, number)
            continue
        if not (fields[2].isascii() and fields[2].isdigit()):
            logger.debug("%s: line %d has a non-numeric id; skipped", subject, number)
            continue

        ids.setdefault(fields[0], int(fields[2]))
    return ids
