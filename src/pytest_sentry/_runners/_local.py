"""Run a scanner as a local executable.

The archive path goes on the command line; credentials go only into the
child's environment, never into argv (other users can read a process's argv)
nor into any log line. Output is written to temporary files rather than pipes
so that a scanner printing megabytes on stderr cannot deadlock us, and a
grandchild that keeps a pipe open cannot hang us after a timeout.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import IO

from pytest_sentry._image.interface import Image
from pytest_sentry._runners._archive import docker_archive_path
from pytest_sentry._runners.interface import (
    ExecSpec,
    OutputKind,
    Runner,
    RunnerError,
    RunnerKind,
    RunOutput,
    excerpt,
)

logger = logging.getLogger(__name__)

# Bytes of stderr read back for messages; the rest stays unread on disk.
_STDERR_READ = 64 * 1024


def find_executable(program: str) -> str | None:
    """The program's path if ``program`` is a path to an executable or on PATH."""
    if os.sep in program:
        return program if os.access(program, os.X_OK) else None
    return shutil.which(program)


class LocalRunner(Runner):
    """Runs the scanner's own executable on this machine."""

    kind = RunnerKind.LOCAL

    def __init__(self, executable: str | None = None) -> None:
        self._executable = executable

    def execute(self, spec: ExecSpec, image: Image) -> RunOutput:
        program = self._executable or spec.program
        path = find_executable(program)
        if path is None:
            raise RunnerError(f"{spec.tool}: executable {program!r} not found on PATH")
        archive = docker_archive_path(image, spec.tool)

        with tempfile.TemporaryDirectory(prefix="sentry-scan-") as workdir:
            output = Path(workdir) / "output"
            if spec.output.kind is OutputKind.FILE:
                output = output.with_name(spec.output.name or "report.json")
            elif spec.output.kind is OutputKind.DIRECTORY:
                output.mkdir()
            argv = spec.command((path,), str(archive), str(output))
            return self._run(spec, argv, output, workdir)

    def _run(
        self, spec: ExecSpec, argv: list[str], output: Path, workdir: str
    ) -> RunOutput:
        env = {**os.environ, **spec.env, **spec.credentials}
        logger.debug(
            "%s: running %s (credentials in environment: %s)",
            spec.tool,
            argv,
            ", ".join(sorted(spec.credentials)) or "none",
        )

        with (
            tempfile.TemporaryFile(dir=workdir) as stdout,
            tempfile.TemporaryFile(dir=workdir) as stderr,
        ):
            exit_code = self._wait(spec, argv, env, stdout, stderr, workdir)
            head = _read_head(stderr)
            stdout.seek(0)
            data = stdout.read() if spec.output.kind is OutputKind.STDOUT else b""

        logger.debug("%s: exited %s", spec.tool, exit_code)
        if spec.output.kind is OutputKind.FILE:
            data = output.read_bytes() if output.is_file() else b""
        elif spec.output.kind is OutputKind.DIRECTORY:
            data = _newest_match(output, spec.output.name)

        return RunOutput(
            data=data,
            exit_code=exit_code,
            stderr=excerpt(head, spec.secrets),
            origin=f"{spec.tool} (local {argv[0]})",
        )

    def _wait(
        self,
        spec: ExecSpec,
        argv: list[str],
        env: dict[str, str],
        stdout: IO[bytes],
        stderr: IO[bytes],
        workdir: str,
    ) -> int:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=workdir,
                start_new_session=True,
            )
        except OSError as error:
            raise RunnerError(
                f"{spec.tool}: cannot start {argv[0]}: {error}"
            ) from error

        try:
            return process.wait(timeout=spec.timeout)
        except subprocess.TimeoutExpired as error:
            # The scanner may have started helpers; end its whole session.
            _kill_group(process)
            head = excerpt(_read_head(stderr), spec.secrets)
            detail = f"; stderr:\n{head}" if head else ""
            raise RunnerError(
                f"{spec.tool}: timed out after {spec.timeout:g} s and was stopped"
                f"{detail}"
            ) from error


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def _read_head(stream: IO[bytes]) -> bytes:
    stream.seek(0)
    head = stream.read(_STDERR_READ)
    if len(head) == _STDERR_READ and b"\n" in head:
        # Drop the cut-off last line: it could end inside a secret.
        head = head[: head.rindex(b"\n")]
    return head


def _newest_match(directory: Path, pattern: str) -> bytes:
    matches = [p for p in directory.glob(pattern or "*") if p.is_file()]
    if not matches:
        return b""
    return max(matches, key=lambda p: p.stat().st_mtime).read_bytes()
