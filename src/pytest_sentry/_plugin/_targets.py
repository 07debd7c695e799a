"""Images as users name them: resolved for reading, labelled for node ids.

A relative path means the same file whatever directory pytest runs from:
command-line images are relative to the invocation directory, ini images to
the ini file's directory, marker images to the rootdir. Reports keep showing
the image as the user wrote it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_sentry._image._resolve import SCHEMES


@dataclass(frozen=True)
class Target:
    """One image to audit."""

    #: As the user wrote it; what reports and summaries show.
    written: str
    #: What the audit reads: relative paths made absolute.
    reference: str
    #: Unique within the session; the node id part after ``sentry/``.
    label: str


def resolve(written: str, base: Path) -> str:
    """``written`` with a relative path that exists under ``base`` made absolute.

    Anything else (a registry reference, a path that does not exist) stays as
    written, so the image reader reports it in its own words.
    """
    scheme, _, rest = written.partition(":")
    if scheme in SCHEMES and rest:
        return f"{scheme}:{_absolute_prefix(rest, base)}"
    path = Path(written)
    if written and not path.is_absolute() and (base / path).exists():
        return str(base / path)
    return written


def _absolute_prefix(spec: str, base: Path) -> str:
    # After a scheme, a selector may follow the path (app.tar:myapp:1.2): the
    # longest prefix that exists is the path, as the image resolver reads it.
    cuts = [len(spec)] + [i for i in range(len(spec) - 1, 0, -1) if spec[i] == ":"]
    for cut in cuts:
        path = Path(spec[:cut])
        if path.is_absolute():
            return spec
        if (base / path).exists():
            return str(base / path) + spec[cut:]
    return spec


def make_targets(written: Sequence[str], base: Path) -> tuple[Target, ...]:
    """Targets for the session's images, duplicates dropped, labels unique."""
    unique = list(dict.fromkeys(w.strip() for w in written if w.strip()))
    return tuple(
        Target(written=w, reference=resolve(w, base), label=label)
        for w, label in zip(unique, labels(unique), strict=True)
    )


def single_target(written: str, base: Path) -> Target:
    """A target for one image outside the session's list (a marker's)."""
    return Target(
        written=written, reference=resolve(written, base), label=label(written)
    )


def label(written: str) -> str:
    return labels([written])[0]


def labels(written: Sequence[str]) -> list[str]:
    """The shortest path suffix that tells each image from the others.

    ``a/app.tar`` and ``b/app.tar`` become ``a/app.tar`` and ``b/app.tar``;
    a lone ``build/out/app.tar`` becomes ``app.tar``. Images that differ only
    in their scheme keep it.
    """
    parts = [_parts(w) for w in written]
    result = []
    for i, mine in enumerate(parts):
        size = 1
        while size < len(mine) and any(
            other[-size:] == mine[-size:] for j, other in enumerate(parts) if j != i
        ):
            size += 1
        result.append("/".join(mine[-size:]))

    counts = Counter(result)
    return [
        w if counts[text] > 1 else text for w, text in zip(written, result, strict=True)
    ]


def _parts(written: str) -> list[str]:
    scheme, _, rest = written.partition(":")
    text = rest if scheme in SCHEMES and rest else written
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    return parts or [written]
