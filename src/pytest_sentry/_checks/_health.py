"""Health check: can something tell whether the container is healthy?

A HEALTHCHECK in the config is the answer. Failing that, ``curl`` or
``wget`` on the image's own ``PATH`` means an orchestrator probe can be added
without rebuilding; a busybox applet (``/usr/bin/wget -> /bin/busybox``)
counts, a dangling link or a tool outside ``PATH`` does not.
"""

from __future__ import annotations

import logging
import posixpath

from pytest_sentry._checks._secret_rules import redact
from pytest_sentry._checks.interface import Check
from pytest_sentry._image.interface import FileSystem, FileType, Image
from pytest_sentry._models import CheckResult, CheckStatus, Severity

logger = logging.getLogger(__name__)

#: What Docker and most base images use when the config sets no PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROBE_TOOLS = ("curl", "wget")

_SHOWN_CHARS = 160
_REMEDIATION = (
    "Declare how to probe the service, for example "
    "`HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS "
    "http://localhost:8080/health || exit 1`, or define liveness and readiness "
    "probes where the container is deployed (Kubernetes ignores HEALTHCHECK)."
)


class HealthCheck(Check):
    """PASS with a HEALTHCHECK or a probe tool on PATH; WARN otherwise."""

    id = "health-check"
    name = "Health Check"
    severity = Severity.INFO

    def run(self, image: Image) -> CheckResult:
        config = image.config
        if config is not None and config.has_healthcheck:
            return self.result(
                CheckStatus.PASS,
                f"The image declares a HEALTHCHECK: {_describe(config.healthcheck)}.",
            )

        disabled = config is not None and config.healthcheck == ("NONE",)
        path = DEFAULT_PATH
        if config is not None:
            path = config.env_map.get("PATH", DEFAULT_PATH)
        found = find_tools(image.filesystem, path, PROBE_TOOLS)
        logger.debug("%s: probe tools on PATH: %s", image.reference, found or "none")

        lead = (
            "HEALTHCHECK NONE disables the health check"
            if disabled
            else "The image declares no HEALTHCHECK"
        )
        if found:
            where = "; ".join(f"{tool} at {at}" for tool, at in found.items())
            return self.result(
                CheckStatus.PASS,
                f"{lead}, but a probe can use {where} on the image's PATH.",
                evidence=tuple(f"{tool}: {at}" for tool, at in found.items()),
                remediation=_REMEDIATION,
            )
        return self.result(
            CheckStatus.WARN,
            f"{lead}, and neither curl nor wget is on the image's PATH, so "
            "nothing can probe whether the service is healthy.",
            evidence=(f"PATH: {path}",),
            remediation=_REMEDIATION,
        )


def find_tools(
    filesystem: FileSystem, path: str, tools: tuple[str, ...]
) -> dict[str, str]:
    """Each tool found as an executable file on ``path``: where it resolves.

    Like a shell, the first ``PATH`` directory that has the tool wins; relative
    and empty entries are skipped because their meaning depends on the working
    directory at run time.
    """
    found: dict[str, str] = {}
    directories = [d for d in path.split(":") if d.startswith("/")]
    for tool in tools:
        for directory in directories:
            candidate = posixpath.join(directory, tool)
            entry = filesystem.stat(candidate)
            if entry is None or entry.type is not FileType.FILE:
                continue
            if not entry.is_executable:
                continue
            target = filesystem.resolve(candidate) or candidate
            found[tool] = (
                candidate if target == candidate else f"{candidate} -> {target}"
            )
            break
    return found


def _describe(test: tuple[str, ...] | None) -> str:
    """The health check command, quoted, shortened and with secrets masked."""
    parts = list(test or ())
    if parts and parts[0] in ("CMD", "CMD-SHELL"):
        parts = parts[1:]
    command = redact(" ".join(parts))
    if len(command) > _SHOWN_CHARS:
        command = command[: _SHOWN_CHARS - 1] + "…"
    return f'"{command}"'
