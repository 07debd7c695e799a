"""The warning category of checks that pass with a caveat."""

from __future__ import annotations


class SentryWarning(UserWarning):
    """A check ended in WARN: the item passes and pytest lists this warning.

    Make such checks fail with ``-W error::pytest_sentry.SentryWarning`` or
    the ``filterwarnings`` ini key.
    """
