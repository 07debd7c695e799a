"""Run a scanner as a container in the Dagger engine.

The connection is not ours: the plugin's session opens it and hands us a
:class:`DaggerSession`. What runs is decided in two steps that can be tested
without an engine: :func:`plan_container` (pure: image, argv, environment,
mounts) and :func:`build_container` (the SDK's lazy query, nothing sent).
Only :func:`collect` talks to the engine.

- The program name leads argv: ``with_exec`` does not run the image's
  entrypoint, which is the trap the original tool fell into.
- ``expect=ReturnType.ANY`` lets us read the exit code instead of getting an
  exception, because "vulnerabilities found" is a non-zero exit for Snyk.
- Credentials travel as Dagger secrets, never as plain variables or argv.
- The scanner's database lives in a cache volume; a date variable and a
  per-runner nonce make each run a new exec, so results are never replayed
  from the engine's cache: not a previous day's, and not a failed run's.

``dagger`` is imported inside the functions that need it: the SDK is only
loaded when a scan really runs in the engine.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_sentry._image.interface import Image
from pytest_sentry._runners._archive import docker_archive_path
from pytest_sentry._runners.interface import (
    DaggerSession,
    ExecSpec,
    OutputKind,
    Runner,
    RunnerError,
    RunnerKind,
    RunOutput,
    excerpt,
    mask,
)

if TYPE_CHECKING:
    import dagger

logger = logging.getLogger(__name__)

ARCHIVE_PATH = "/sentry/input/image.tar"
OUTPUT_DIR = "/sentry/output"
CACHE_PATH = "/sentry/cache"
#: The cache-busting variables: the scan's date, and a nonce per runner.
DATE_VARIABLE = "SENTRY_SCAN_DATE"
RUN_VARIABLE = "SENTRY_SCAN_RUN"


@dataclass(frozen=True)
class ContainerPlan:
    """What the engine will run, with credential values left out."""

    image: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    secret_env: tuple[tuple[str, str], ...]
    cache_volume: str
    cache_path: str
    output_kind: OutputKind
    output_path: str
    output_pattern: str = ""


def plan_container(spec: ExecSpec, today: date, run_id: str = "") -> ContainerPlan:
    """The container run for ``spec`` on ``today``; no SDK involved.

    ``run_id`` changes per runner (per session): without it, an exec that
    failed today would be replayed from the engine's cache until tomorrow.
    """
    if spec.output.kind is OutputKind.FILE:
        output = f"{OUTPUT_DIR}/{spec.output.name or 'report.json'}"
    else:
        output = OUTPUT_DIR
    argv = spec.command(spec.container_entry, ARCHIVE_PATH, output)

    env = dict(spec.env)
    plain = {k: v for k, v in spec.credentials.items() if k not in spec.secret_names}
    env.update(plain)
    if spec.cache_dir:
        env.update(spec.cache_env)
    env[DATE_VARIABLE] = today.isoformat()
    if run_id:
        env[RUN_VARIABLE] = run_id

    secret_env = tuple(
        (name, f"sentry-{spec.tool}-{name.lower()}")
        for name in sorted(spec.credentials)
        if name in spec.secret_names
    )
    return ContainerPlan(
        image=spec.container_image,
        argv=tuple(argv),
        env=tuple(sorted(env.items())),
        secret_env=secret_env,
        cache_volume=f"pytest-sentry-{spec.tool}-db" if spec.cache_dir else "",
        cache_path=spec.cache_dir,
        output_kind=spec.output.kind,
        output_path=output,
        output_pattern=spec.output.name,
    )


def build_container(
    client: dagger.Client,
    plan: ContainerPlan,
    credentials: dict[str, str],
    archive: dagger.File,
) -> dagger.Container:
    """The lazy ``dagger.Container`` for ``plan``; nothing reaches the engine.

    ``archive`` is a ``dagger.File`` holding the image archive.
    """
    import dagger  # noqa: PLC0415 - optional SDK, loaded only for engine runs

    container = client.container().from_(plan.image)
    container = container.with_mounted_file(ARCHIVE_PATH, archive)
    container = container.with_directory(OUTPUT_DIR, client.directory())
    if plan.cache_volume:
        cache = client.cache_volume(plan.cache_volume)
        container = container.with_mounted_cache(plan.cache_path, cache)
    for name, value in plan.env:
        container = container.with_env_variable(name, value)
    for name, secret_name in plan.secret_env:
        secret = client.set_secret(secret_name, credentials[name])
        container = container.with_secret_variable(name, secret)
    return container.with_exec(list(plan.argv), expect=dagger.ReturnType.ANY)


async def collect(
    container: dagger.Container, plan: ContainerPlan
) -> tuple[int, str, str]:
    """Run the exec and return exit code, report text and stderr."""
    import dagger  # noqa: PLC0415 - optional SDK, loaded only for engine runs

    exit_code = await container.exit_code()
    stderr = await container.stderr()
    if plan.output_kind is OutputKind.STDOUT:
        return exit_code, await container.stdout(), stderr

    try:
        if plan.output_kind is OutputKind.FILE:
            report = await container.file(plan.output_path).contents()
        else:
            directory = container.directory(plan.output_path)
            matches = sorted(await directory.glob(plan.output_pattern))
            report = await directory.file(matches[-1]).contents() if matches else ""
    except dagger.QueryError:
        # A missing report file: the scan says "wrote no report" with context.
        report = ""
    return exit_code, report, stderr


class DaggerRunner(Runner):
    """Runs the scanner's container image through an open engine session."""

    kind = RunnerKind.DAGGER

    def __init__(self, session: DaggerSession, today: date | None = None) -> None:
        self.session = session
        self._today = today
        self._run_id = uuid.uuid4().hex
        self._archives: dict[Path, dagger.File] = {}

    def execute(self, spec: ExecSpec, image: Image) -> RunOutput:
        import dagger  # noqa: PLC0415 - optional SDK, loaded only for engine runs

        path = docker_archive_path(image, spec.tool)
        plan = plan_container(spec, self._today or date.today(), self._run_id)
        client = self.session.client
        logger.debug(
            "%s: running %s in %s (secrets: %s)",
            spec.tool,
            list(plan.argv),
            plan.image,
            ", ".join(name for name, _ in plan.secret_env) or "none",
        )

        try:
            container = build_container(
                client, plan, dict(spec.credentials), self._archive(client, path)
            )
            exit_code, report, stderr = self.session.run(collect(container, plan))
        except dagger.DaggerError as error:
            detail = mask(str(error), spec.secrets)
            raise RunnerError(
                f"{spec.tool}: the Dagger engine could not run {plan.image}: {detail}"
            ) from error

        logger.debug("%s: exited %s in the engine", spec.tool, exit_code)
        return RunOutput(
            data=report.encode("utf-8"),
            exit_code=exit_code,
            stderr=excerpt(stderr, spec.secrets),
            origin=f"{spec.tool} (Dagger, {plan.image})",
        )

    def _archive(self, client: dagger.Client, path: Path) -> dagger.File:
        # One upload per archive: later scans of the same image reuse it.
        if path not in self._archives:
            self._archives[path] = client.host().file(str(path))
        return self._archives[path]
