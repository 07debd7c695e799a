"""The pytest plugin; pytest loads ``plugin.py`` (entry point ``sentry_audit``)."""
