"""``python -m pytest_sentry``."""

import sys

from pytest_sentry._cli import main

sys.exit(main())
