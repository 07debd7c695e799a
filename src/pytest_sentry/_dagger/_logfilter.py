"""Keep secret values out of the GraphQL client's debug log.

The SDK sends a secret's plaintext once, as the argument of ``setSecret``,
and gql logs every request body at DEBUG (``>>> {"query": ...}``). Under
``pytest --log-level=DEBUG`` that line would land in the captured log of a
test report. This filter masks every value the engine turned into a secret
before any handler sees the record.
"""

from __future__ import annotations

import logging
import threading

MASK = "****"

# The loggers that print request or response bodies.
_BODY_LOGGERS = ("gql.transport.httpx", "gql.transport.common.base", "gql.client")


class SecretMaskFilter(logging.Filter):
    """Replaces registered secret values in a record's final message."""

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
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._values:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


SECRETS = SecretMaskFilter()


def install() -> None:
    """Attach the filter to the body-logging loggers (idempotent)."""
    for name in _BODY_LOGGERS:
        logger = logging.getLogger(name)
        if SECRETS not in logger.filters:
            logger.addFilter(SECRETS)
