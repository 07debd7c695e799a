"""The Dagger runner without an engine.

The plan (image, argv, environment) is a plain value. The container is built
with the real SDK against ``dagger.dag``, which records the query lazily and
sends nothing until awaited, so the tests read the recorded selections. The
engine round trip itself (``collect``) is driven with a stand-in container
and session; running it against an engine is left to the Dagger helper.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Coroutine
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagger
import pytest
from dagger import dag
from dagger._exceptions import QueryErrorValue

from imagebuilder import build_docker_archive, load_image
from pytest_sentry._image.interface import Image
from pytest_sentry._runners._dagger import (
    ARCHIVE_PATH,
    DATE_VARIABLE,
    OUTPUT_DIR,
    DaggerRunner,
    build_container,
    collect,
    plan_container,
)
from pytest_sentry._runners.interface import OutputKind, register_dagger_session
from pytest_sentry._scanners import make_scan
from pytest_sentry._scanners._blackduck import BlackDuckScanner
from pytest_sentry._scanners._snyk import SnykScanner
from pytest_sentry._scanners._trivy import TrivyScanner
from pytest_sentry._scanners.interface import ScanError, ScannerUnavailableError

TOKEN = "snyk-Tok3n-dagger-5a4c3e"
DAY = date(2025, 3, 1)


def selections(obj: Any) -> list[tuple[str, dict[str, Any]]]:
    """The SDK's recorded query for a lazy object, as (field, args) pairs."""
    return [(f.name, dict(f.args)) for f in obj._ctx.selections]


def fields(obj: Any, name: str) -> list[dict[str, Any]]:
    return [args for field, args in selections(obj) if field == name]


@pytest.fixture
def image(tmp_path: Path) -> Image:
    path = build_docker_archive(
        tmp_path / "app.tar", [[("/etc/hostname", "file", "x\n")]]
    )
    return load_image(path)


def test_the_plan_runs_the_program_itself_with_a_dated_environment() -> None:
    spec = SnykScanner().exec_spec(credentials={"SNYK_TOKEN": TOKEN})

    plan = plan_container(spec, DAY)

    assert plan.image == "snyk/snyk:docker"
    assert plan.argv == (
        "snyk",
        "container",
        "test",
        f"docker-archive:{ARCHIVE_PATH}",
        "--json",
    )
    assert (DATE_VARIABLE, "2025-03-01") in plan.env
    assert plan.secret_env == (("SNYK_TOKEN", "sentry-snyk-snyk_token"),)
    assert TOKEN not in repr(plan)


def test_the_plan_for_trivy_keeps_its_database_in_a_cache_volume() -> None:
    plan = plan_container(TrivyScanner().exec_spec(timeout=900), DAY)

    assert plan.argv[:4] == ("trivy", "image", "--input", ARCHIVE_PATH)
    assert "900s" in plan.argv
    assert plan.cache_volume == "pytest-sentry-trivy-db"
    assert ("TRIVY_CACHE_DIR", plan.cache_path) in plan.env


def test_the_plan_for_black_duck_writes_to_the_output_directory() -> None:
    spec = BlackDuckScanner().exec_spec(
        credentials={
            "BLACKDUCK_URL": "https://bd.example",
            "BLACKDUCK_API_TOKEN": "bd-tok",
        }
    )

    plan = plan_container(spec, DAY)

    assert plan.argv[:3] == ("java", "-jar", "/detect.jar")
    assert f"--detect.output.path={OUTPUT_DIR}" in plan.argv
    assert plan.output_kind is OutputKind.DIRECTORY
    assert ("BLACKDUCK_URL", "https://bd.example") in plan.env
    assert [name for name, _ in plan.secret_env] == ["BLACKDUCK_API_TOKEN"]
    assert "bd-tok" not in repr(plan)


def test_the_container_query_built_with_the_real_sdk() -> None:
    spec = SnykScanner().exec_spec(credentials={"SNYK_TOKEN": TOKEN})
    plan = plan_container(spec, DAY)
    archive = dag.host().file("/builds/app.tar")

    container = build_container(dag, plan, {"SNYK_TOKEN": TOKEN}, archive)

    assert fields(container, "from") == [{"address": "snyk/snyk:docker"}]
    (mounted,) = fields(container, "withMountedFile")
    assert mounted["path"] == ARCHIVE_PATH
    assert fields(mounted["source"], "file") == [{"path": "/builds/app.tar"}]
    (execution,) = fields(container, "withExec")
    assert execution["args"] == list(plan.argv)
    assert execution["expect"] == "ANY"
    assert selections(container)[-1][0] == "withExec"

    env = {a["name"]: a["value"] for a in fields(container, "withEnvVariable")}
    assert env[DATE_VARIABLE] == "2025-03-01"
    assert TOKEN not in env.values()

    (secret_var,) = fields(container, "withSecretVariable")
    assert secret_var["name"] == "SNYK_TOKEN"
    # The value goes to the engine only through setSecret.
    assert fields(secret_var["secret"], "setSecret") == [
        {"name": "sentry-snyk-snyk_token", "plaintext": TOKEN}
    ]


def test_a_new_day_is_a_new_exec() -> None:
    spec = TrivyScanner().exec_spec()
    archive = dag.host().file("/builds/app.tar")

    def dated(day: date) -> str:
        container = build_container(dag, plan_container(spec, day), {}, archive)
        env = {a["name"]: a["value"] for a in fields(container, "withEnvVariable")}
        return env[DATE_VARIABLE]

    assert dated(date(2025, 3, 1)) != dated(date(2025, 3, 2))


def test_the_database_cache_is_mounted() -> None:
    plan = plan_container(TrivyScanner().exec_spec(), DAY)

    container = build_container(dag, plan, {}, dag.host().file("/a.tar"))

    (cache,) = fields(container, "withMountedCache")
    assert cache["path"] == plan.cache_path
    assert fields(cache["cache"], "cacheVolume") == [{"key": "pytest-sentry-trivy-db"}]


class StandInContainer:
    """What ``collect`` awaits on a container, with canned answers."""

    def __init__(self, exit_code: int, stdout: str, files: dict[str, str]) -> None:
        self._exit_code = exit_code
        self._stdout = stdout
        self._files = files

    async def exit_code(self) -> int:
        return self._exit_code

    async def stdout(self) -> str:
        return self._stdout

    async def stderr(self) -> str:
        return "log line\n"

    def file(self, path: str) -> Any:
        async def contents() -> str:
            if path not in self._files:
                error = QueryErrorValue(f"{path}: no such file or directory")
                raise dagger.QueryError([error], SimpleNamespace(document=None))
            return self._files[path]

        return SimpleNamespace(contents=contents)

    def directory(self, path: str) -> Any:
        async def glob(pattern: str) -> list[str]:
            return sorted(p.removeprefix(path + "/") for p in self._files)

        def file(name: str) -> Any:
            return self.file(f"{path}/{name}")

        return SimpleNamespace(glob=glob, file=file)


def test_collect_reads_stdout_a_file_or_the_newest_directory_match() -> None:
    stdout_plan = plan_container(TrivyScanner().exec_spec(), DAY)
    ctr = StandInContainer(0, '{"Results": []}', {})
    assert asyncio.run(collect(ctr, stdout_plan)) == (
        0,
        '{"Results": []}',
        "log line\n",
    )

    from pytest_sentry._scanners._wiz import WizScanner

    file_plan = plan_container(WizScanner().exec_spec(), DAY)
    ctr = StandInContainer(4, "", {file_plan.output_path: '{"result": {}}'})
    assert asyncio.run(collect(ctr, file_plan))[1] == '{"result": {}}'

    dir_plan = plan_container(BlackDuckScanner().exec_spec(), DAY)
    name = "a_BlackDuck_DeveloperMode_Result.json"
    files = {
        f"{OUTPUT_DIR}/runs/2025-03-01-10/scan/{name}": "[1]",
        f"{OUTPUT_DIR}/runs/2025-03-01-11/scan/{name}": "[2]",
    }
    assert asyncio.run(collect(StandInContainer(0, "", files), dir_plan))[1] == "[2]"


def test_collect_turns_a_missing_report_file_into_an_empty_report() -> None:
    from pytest_sentry._scanners._wiz import WizScanner

    plan = plan_container(WizScanner().exec_spec(), DAY)

    assert asyncio.run(collect(StandInContainer(1, "", {}), plan)) == (
        1,
        "",
        "log line\n",
    )


class StandInSession:
    """A session whose engine answers every exec with canned results."""

    def __init__(self, answer: tuple[int, str, str] | Exception) -> None:
        self.answer = answer
        self.client = dag
        self.runs = 0

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        coroutine.close()
        self.runs += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_engine_exit_codes_are_checked_like_local_ones(image: Image) -> None:
    session = StandInSession((1, "", "failed to load vulnerability db\n"))
    scan = make_scan("grype", runner="dagger", session=session, today=DAY)

    with pytest.raises(ScanError) as caught:
        scan.run(image)

    assert str(caught.value) == (
        "grype: failed with exit code 1; stderr:\nfailed to load vulnerability db"
    )


def test_engine_results_are_parsed(image: Image) -> None:
    report = '{"matches": [{"vulnerability": {"id": "CVE-1", "severity": "High"}, '
    report += '"artifact": {"name": "zlib", "version": "1.2"}}]}'
    session = StandInSession((0, report, ""))

    (finding,) = make_scan("grype", runner="dagger", session=session).run(image)

    assert (finding.cve_id, finding.package_name) == ("CVE-1", "zlib")


def test_engine_errors_are_scan_errors_with_the_token_masked(
    image: Image, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    value = QueryErrorValue(f"pull access denied; token {TOKEN} rejected")
    session = StandInSession(dagger.QueryError([value], SimpleNamespace(document=None)))
    scan = make_scan("snyk", runner="dagger", session=session, token=TOKEN)

    with pytest.raises(ScanError) as caught:
        scan.run(image)

    message = str(caught.value)
    assert message.startswith("snyk: the Dagger engine could not run snyk/snyk:docker:")
    assert "token **** rejected" in message
    assert TOKEN not in message
    assert "SNYK_TOKEN" in caplog.text
    assert TOKEN not in caplog.text


def test_the_archive_is_uploaded_once_per_runner(image: Image) -> None:
    session = StandInSession((0, '{"matches": []}', ""))
    runner = DaggerRunner(session, DAY)
    spec = TrivyScanner().exec_spec()

    runner.execute(spec, image)
    runner.execute(spec, image)

    assert len(runner._archives) == 1
    assert session.runs == 2


def test_auto_uses_the_engine_when_the_scanner_is_not_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    session = StandInSession((0, "[]", ""))
    register_dagger_session(lambda: session)
    try:
        scan = make_scan("trivy")
    finally:
        register_dagger_session(lambda: None)

    assert "dagger" in repr(scan)


def test_auto_without_executable_or_engine_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    def broken() -> None:
        raise RuntimeError("no container runtime to provision an engine")

    register_dagger_session(broken)
    try:
        with pytest.raises(ScannerUnavailableError) as caught:
            make_scan("grype")
    finally:
        register_dagger_session(lambda: None)

    message = str(caught.value)
    assert message.startswith("grype: 'grype' is not on PATH and no Dagger engine")
    assert "no container runtime to provision an engine" in message
    assert "install grype, read a report file instead" in message


def test_importing_the_scanners_does_not_load_the_sdk() -> None:
    code = "import sys, pytest_sentry._scanners; print('dagger' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"
