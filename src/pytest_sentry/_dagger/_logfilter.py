"""Keep secret values out of the GraphQL client's debug log.

The SDK sends a secret's plaintext once, as the argument of ``setSecret``,
and gql logs it at DEBUG twice: the query builder logs the arguments
(``{'name': ..., 'plaintext': '...'}``) and the transport logs the request
body (``>>> {"query": "... plaintext: \\"...\\" ..."}``). Under
``pytest --log-level=DEBUG`` those lines would land in a test report. This
filter masks the value of every ``plaintext`` argument, and every value
registered with :meth:`SecretMaskFilter.add`, before any handler sees the
record.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "****"

# The loggers that print queries, their arguments or request bodies.
_QUERY_LOGGERS = (
    "gql.dsl",
    "gql.transport.httpx",
    "gql.transport.common.base",
    "gql.client",
)
# 'plaintext': '...' (a dict's repr) and plaintext: "..." (GraphQL), the
# latter possibly JSON-escaped (plaintext: \"...\").
_PLAINTEXT = (
    re.compile(r"""(['"]plaintext['"]\s*:\s*)(['"])(?:\\.|(?!\2).)*\2""", re.S),
    re.compile(r"""(plaintext:\s*)(\\*")(?:.*?)\2""", re.S),
)


class SecretMaskFilter(logging.Filter):
    """Masks plaintext arguments and registered values in a record's message."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._values: set[str] = set()

    def add(self, value: str) -> None:
        if value:
            with self._lock:
                self._values.add(value)

    def mask(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            text = text.replace(value, MASK)
        for pattern in _PLAINTEXT:
            text = pattern.sub(rf"\g<1>\g<2>{MASK}\g<2>", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


SECRETS = SecretMaskFilter()


def install() -> None:
    """Attach the filter to the query-logging loggers (idempotent)."""
    for name in _QUERY_LOGGERS:
        logger = logging.getLogger(name)
        if SECRETS not in logger.filters:
            logger.addFilter(SECRETS)
