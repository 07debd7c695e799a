"""mypy checks every call into the dagger-io SDK against its real, typed API.

CI runs ``mypy`` (strict) over src/. These tests make sure that check means
something for the Dagger code: the SDK's types are seen (a wrong call is
rejected, not waved through as ``Any``), and no line that calls the SDK in
pytest_sentry._dagger has an expression typed ``Any``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "src" / "pytest_sentry" / "_dagger"
# A line that calls into the SDK: a dagger name, or a method of its objects.
SDK_CALL = re.compile(
    r"\bdagger\.|\bclient\.|\bcontainer\.|\bconnection\.|"
    r"\.(from_|export|with_\w+|set_secret|image_ref|load_container_from_id)\("
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def run_mypy(cache_dir: Path, *args: str) -> tuple[str, int]:
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache_dir),
            "--no-error-summary",
            *args,
        ]
    )
    return stdout + stderr, status


def test_the_dagger_code_passes_strict_mypy_without_any_on_sdk_calls(
    cache_dir: Path,
) -> None:
    output, _ = run_mypy(cache_dir, "--disallow-any-expr", str(PACKAGE))

    # Any may appear elsewhere (JSON documents, coroutine plumbing), never on
    # a line that calls the SDK; strict errors would appear as well.
    offending = []
    for line in output.splitlines():
        match = re.match(r"(.+?):(\d+): error: (.*)", line)
        assert match, line
        path, number, message = match.groups()
        source = (ROOT / path).read_text().splitlines()[int(number) - 1]
        if "Any" not in message or SDK_CALL.search(source):
            offending.append(f"{line}\n    {source.strip()}")
    assert not offending, "\n".join(offending)


def test_a_wrong_call_into_the_sdk_is_rejected(cache_dir: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_calls.py"
    wrong.write_text(
        "import dagger\n"
        "\n"
        "async def calls(client: dagger.Client) -> None:\n"
        '    container = client.container().from_("alpine")\n'
        '    container.with_exec("trivy image")\n'
        '    await container.export("app.tar", media_types="docker")\n'
        '    client.set_secret("token")\n'
        "    code: str = await container.exit_code()\n"
    )

    output, status = run_mypy(cache_dir, "--strict", str(wrong))

    assert status == 1
    assert 'Argument 1 to "with_exec" of "Container" has incompatible type "str"' in (
        output
    )
    assert '"media_types" to "export" of "Container" has incompatible type' in output
    assert 'Missing positional argument "plaintext" in call to "set_secret"' in output
    assert 'Incompatible types in assignment (expression has type "int"' in output
