"""Non-root user: who the container runs as, read from the config, not guessed.

The original ran ``id`` inside the container, so images without ``id``
(distroless) passed and ``USER 1000`` with gid 0 failed. Here the answer
comes from the image config's ``User`` and, for names, from the image's own
``/etc/passwd``, exactly as a runtime would resolve it at start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pytest_sentry._checks._passwd import parse_ids
from pytest_sentry._checks.interface import Check, CheckError
from pytest_sentry._image.interface import FileSystem, Image
from pytest_sentry._models import CheckResult, CheckStatus, Severity

logger = logging.getLogger(__name__)

_PASSWD = "/etc/passwd"  # noqa: S105 - a path, not a password
_GROUP = "/etc/group"

_REMEDIATION_ROOT = (
    "Create an unprivileged user and switch to it by number, for example "
    "`RUN useradd --uid 10001 --no-create-home app` then `USER 10001:10001`. "
    "A numeric USER lets Kubernetes' runAsNonRoot verify it without reading "
    "/etc/passwd."
)
_REMEDIATION_UNKNOWN = (
    "Add the user to the image's /etc/passwd (useradd or adduser in the "
    "Dockerfile), or use a numeric USER such as `USER 10001`, which needs no "
    "passwd entry."
)


@dataclass(frozen=True)
class _Lookup:
    """A name resolved against an id file: its id, or why it has none."""

    id: int | None
    evidence: str
    missing: str = ""


class NonRootCheck(Check):
    """FAIL when the container would run as uid 0 or could not start at all."""

    id = "non-root-user"
    name = "Non-Root User"
    severity = Severity.HIGH
    content_paths = frozenset({_PASSWD, _GROUP})

    def run(self, image: Image) -> CheckResult:
        if image.config is None:
            return self.result(
                CheckStatus.SKIP,
                "The image has no config (a bare root filesystem), so nothing "
                "says which user its container would run as.",
            )

        spec = (image.config.user or "").strip()
        user, _, group = spec.partition(":")
        shown = f"User: {spec}" if spec else "User: (not set)"

        if not user:
            reason = "no USER is set" if not spec else f"USER {spec!r} names no user"
            return self._root(
                f"{reason}, so the runtime's default, root, applies", shown
            )

        found = _lookup(user, image.filesystem, _PASSWD)
        evidence = (shown, found.evidence) if found.evidence else (shown,)
        if found.id is None:
            return self._unknown(f"User {user!r}", found.missing, evidence)
        if found.id == 0:
            return self._root(f"USER {spec!r} is uid 0", *evidence)

        group_note = ""
        if group:
            gid = _lookup(group, image.filesystem, _GROUP)
            if gid.id is None:
                return self._unknown(f"Group {group!r}", gid.missing, evidence)
            if gid.id == 0:
                group_note = " with group 0, which grants no root privileges"
        return self.result(
            CheckStatus.PASS,
            f"The container runs as uid {found.id}{group_note}.",
            evidence=evidence,
        )

    def _root(self, reason: str, *evidence: str) -> CheckResult:
        return self.result(
            CheckStatus.FAIL,
            f"The container runs as root: {reason}.",
            evidence=evidence,
            remediation=_REMEDIATION_ROOT,
        )

    def _unknown(
        self, what: str, missing: str, evidence: tuple[str, ...]
    ) -> CheckResult:
        return self.result(
            CheckStatus.FAIL,
            f"{what} is not in {missing}; container runtimes refuse "
            "to start a container whose user or group they cannot resolve, so "
            "this image would fail to start.",
            evidence=evidence,
            remediation=_REMEDIATION_UNKNOWN,
        )


def _lookup(name: str, filesystem: FileSystem, path: str) -> _Lookup:
    """Resolve a numeric id, ``root``, or a name listed in ``path``."""
    if name.isascii() and name.isdigit():
        return _Lookup(int(name), "")
    if name == "root":
        return _Lookup(0, "")

    if filesystem.stat(path) is None:
        return _Lookup(None, "", f"{path}, because the image has no {path}")
    text = filesystem.read_text(path)
    if text is None:
        # The file exists but its contents were not kept (over the content
        # bound, or a caller left it out of content_paths): an honest answer
        # is impossible, which is an error, never a pass.
        raise CheckError(f"{path}: present in the image but its contents were not read")

    ids = parse_ids(text, path)
    logger.debug("%s: %d entries", path, len(ids))
    if name not in ids:
        return _Lookup(None, "", f"the image's {path}")
    return _Lookup(ids[name], f"{path}: {name} -> id {ids[name]}")
