"""Values that only stand in for a secret: templates, masks and sample markers.

Decisions, written down once:

- A value that is still a template (``${DB_PASSWORD}``, ``$(cat ...)``,
  ``{{ token }}``, ``<your-token>``, ``%(password)s``) is resolved at run
  time; it is not a secret in the image.
- A mask (``xxxxxxxx``, ``****``, ``AKIAZZZZZZZZZZZZZZZZ``) is not a secret.
- Sample markers (``example``, ``sample``, ``dummy``, ``fake``,
  ``placeholder``, ``redacted``, ``changeme``, ``replace_me``,
  ``your_api_key``) are not findings. ``changeme`` in particular tells the
  operator to override it; shipping such a weak default is a different
  problem from leaking a credential, for a different check.
- Real but weak words (``password``, ``admin``, ``postgres``) *are* findings:
  services accept them.

For values under a credential name (``is_trivial``), also: empty values,
booleans and ``none``-like words, numbers below four digits (flags, ports,
counts), values without a single letter or digit, and paths (``/run/...``,
``./x``, ``~/x``, ``file:...``), which point at a secret instead of being one.
"""

from __future__ import annotations

import re
from collections import Counter

_TEMPLATE = re.compile(
    r"""^(?:\$[{(A-Za-z_]|\{\{|\{%|<%|\#\{|%\(|%[A-Za-z_][A-Za-z0-9_]*%$
        |<[^<>]*>$|\[[A-Za-z _-]*\]$)""",
    re.VERBOSE,
)
# Sample markers count in one case throughout (example, EXAMPLE, Example):
# random tokens mix cases, and "lFaKe" inside one is chance, not a marker.
_MARKER_WORDS = (
    "example",
    "sample",
    "dummy",
    "fake",
    "placeholder",
    "redacted",
    "changeme",
    "change_me",
    "change-me",
    "replaceme",
    "replace_me",
    "replace-me",
)
_MARKERS = re.compile(
    "|".join(
        re.escape(form)
        for word in _MARKER_WORDS
        for form in (word, word.upper(), word.capitalize())
    )
    + r"|(?i:your[_-]?[a-z_-]{0,12}(?:key|token|secret|password|pass))"
)
# A run like xxxx or **** masks (part of) a value: real tokens have no runs.
_MASK_RUN = re.compile(r"x{4,}|X{4,}|\*{3,}|#{4,}|•{3,}")
_MASK_CHARS = frozenset("xX*#.-_0Zz•")
_NOTHING_WORDS = frozenset(
    {
        "true", "false", "yes", "no", "on", "off", "none", "null", "nil",
        "undefined", "unset", "empty", "disabled", "enabled", "required",
        "optional", "n/a", "na", "tbd", "todo",
    }
)  # fmt: skip
_PATH_PREFIXES = ("/", "./", "../", "~/", "file:")
_QUOTES = "\"'`"


def unquote(value: str) -> str:
    """``value`` without surrounding whitespace and one pair of quotes."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in _QUOTES:
        return value[1:-1].strip()
    return value


def is_placeholder(text: str) -> bool:
    """True for templates, masks and sample markers (see module doc)."""
    text = unquote(text)
    if not text:
        return True
    if _TEMPLATE.match(text) or _MARKERS.search(text):
        return True
    return _is_mask(text)


def _is_mask(text: str) -> bool:
    if _MASK_RUN.search(text):
        return True
    counts = Counter(text)
    if len(text) >= 4 and len(counts) <= 2:
        return True
    char, count = counts.most_common(1)[0]
    if char in _MASK_CHARS:
        return count * 2 >= len(text)
    # One character filling most of a long value: AIzaaaaaaaaaaaaaaaaa...
    return len(text) >= 12 and count * 5 >= len(text) * 3


def is_trivial(value: str) -> bool:
    """True when a value under a credential name cannot be a credential."""
    text = unquote(value)
    if not any(c.isalnum() for c in text):
        return True
    if text.lower() in _NOTHING_WORDS:
        return True
    if text.isdigit() and len(text) < 4:
        return True
    if text.startswith(_PATH_PREFIXES):
        return True
    return is_placeholder(text)
