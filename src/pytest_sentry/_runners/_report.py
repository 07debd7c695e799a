"""Use a scanner report that is already on disk (``trivy:report.json``).

Nothing runs: the report was produced earlier, for example by a CI step that
has the scanner installed. A directory is accepted where the scanner writes
a directory (Black Duck Detect's output folder); the newest file matching the
scanner's pattern inside it is read.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pytest_sentry._image.interface import Image
from pytest_sentry._runners.interface import (
    ExecSpec,
    OutputKind,
    Runner,
    RunnerError,
    RunnerKind,
    RunOutput,
)

logger = logging.getLogger(__name__)


class ReportRunner(Runner):
    """Reads a report file instead of running the scanner."""

    kind = RunnerKind.REPORT

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def execute(self, spec: ExecSpec, image: Image) -> RunOutput:
        path = self.path
        if path.is_dir():
            path = self._find_in(path, spec)

        logger.debug("%s: reading report %s for %s", spec.tool, path, image.reference)
        try:
            data = path.read_bytes()
        except FileNotFoundError as error:
            raise RunnerError(f"{spec.tool}: report {path}: no such file") from error
        except OSError as error:
            raise RunnerError(f"{spec.tool}: report {path}: {error}") from error

        return RunOutput(data=data, exit_code=None, origin=f"report {path}")

    def _find_in(self, directory: Path, spec: ExecSpec) -> Path:
        if spec.output.kind is not OutputKind.DIRECTORY:
            raise RunnerError(
                f"{spec.tool}: report {directory} is a directory; give the report file"
            )
        matches = [p for p in directory.glob(spec.output.name) if p.is_file()]
        if not matches:
            raise RunnerError(
                f"{spec.tool}: report directory {directory} holds no file "
                f"matching {spec.output.name}"
            )
        return max(matches, key=lambda p: p.stat().st_mtime)
