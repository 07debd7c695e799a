"""The root of every error this package raises on purpose.

Each plug point derives its own base error from :class:`SentryError`, so a
caller can catch one role (``ImageError``) or everything (``SentryError``).
Messages read "subject: problem".
"""


class SentryError(Exception):
    """Base of all pytest_sentry errors."""
