"""Health check: HEALTHCHECK in the config, else curl/wget on the image's PATH."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from imagebuilder import build_docker_archive, build_oci_archive, load_image
from pytest_sentry._checks._health import DEFAULT_PATH, HealthCheck, find_tools
from pytest_sentry._image.interface import FileEntry, FileSystem, FileType, Image
from pytest_sentry._models import CheckStatus, Severity

ROOT = Path(__file__).parent
DATA = ROOT / "data" / "checks"
ALPINE = ROOT.parent / "examples" / "images" / "alpine-3.10.tar.gz"
CHECK = HealthCheck()

BUSYBOX = ("/bin/busybox", "file", b"\x7fELF busybox", 0o755)
BASE: list[tuple[Any, ...]] = [
    ("/bin", "dir"),
    ("/usr", "dir"),
    ("/usr/bin", "dir"),
    ("/opt/tools", "dir"),
]


def _run(tmp_path: Path, files: list[tuple[Any, ...]], config: dict[str, Any]) -> Any:
    path = build_docker_archive(tmp_path / "image.tar", [[*BASE, *files]], config)
    return CHECK.run(load_image(path))


def test_declared_healthcheck_passes_and_quotes_the_command(tmp_path: Path) -> None:
    config = {"Healthcheck": {"Test": ["CMD", "/app/healthz", "--port", "8080"]}}

    result = _run(tmp_path, [], config)

    assert result.status is CheckStatus.PASS
    assert result.severity is Severity.INFO
    assert result.id == "health-check"
    assert result.name == "Health Check"
    assert '"/app/healthz --port 8080"' in result.details


def test_healthcheck_none_is_not_a_healthcheck(tmp_path: Path) -> None:
    result = _run(tmp_path, [], {"Healthcheck": {"Test": ["NONE"]}})

    assert result.status is CheckStatus.WARN
    assert "HEALTHCHECK NONE disables" in result.details
    assert "HEALTHCHECK" in result.remediation


def test_healthcheck_none_with_curl_on_path_passes_with_note(tmp_path: Path) -> None:
    files = [("/usr/bin/curl", "file", b"curl", 0o755)]

    result = _run(tmp_path, files, {"Healthcheck": {"Test": ["NONE"]}})

    assert result.status is CheckStatus.PASS
    assert "HEALTHCHECK NONE disables" in result.details
    assert result.evidence == ("curl: /usr/bin/curl",)


def test_no_healthcheck_and_no_tools_warns(tmp_path: Path) -> None:
    result = _run(tmp_path, [BUSYBOX], {})

    assert result.status is CheckStatus.WARN
    assert "neither curl nor wget" in result.details
    assert result.evidence == (f"PATH: {DEFAULT_PATH}",)
    assert "HEALTHCHECK" in result.remediation


def test_busybox_curl_symlink_on_path_counts(tmp_path: Path) -> None:
    files = [BUSYBOX, ("/usr/bin/curl", "symlink", "/bin/busybox")]

    result = _run(tmp_path, files, {})

    assert result.status is CheckStatus.PASS
    assert "curl at /usr/bin/curl -> /bin/busybox" in result.details


def test_relative_busybox_wget_symlink_counts(tmp_path: Path) -> None:
    files = [BUSYBOX, ("/usr/bin/wget", "symlink", "../../bin/busybox")]

    result = _run(tmp_path, files, {})

    assert result.status is CheckStatus.PASS
    assert result.evidence == ("wget: /usr/bin/wget -> /bin/busybox",)


def test_wget_outside_path_does_not_count(tmp_path: Path) -> None:
    files = [("/opt/tools/wget", "file", b"wget", 0o755)]

    result = _run(tmp_path, files, {})

    assert result.status is CheckStatus.WARN


def test_the_images_own_path_is_used(tmp_path: Path) -> None:
    files = [("/opt/tools/wget", "file", b"wget", 0o755)]
    config = {"Env": ["PATH=/opt/tools:/usr/bin"]}

    result = _run(tmp_path, files, config)

    assert result.status is CheckStatus.PASS
    assert result.evidence == ("wget: /opt/tools/wget",)


def test_a_path_without_the_tools_directory_hides_them(tmp_path: Path) -> None:
    files = [("/usr/bin/curl", "file", b"curl", 0o755)]

    result = _run(tmp_path, files, {"Env": ["PATH=/opt/tools"]})

    assert result.status is CheckStatus.WARN
    assert result.evidence == ("PATH: /opt/tools",)


def test_dangling_symlink_does_not_count(tmp_path: Path) -> None:
    files = [("/usr/bin/wget", "symlink", "/bin/busybox")]

    result = _run(tmp_path, files, {})

    assert result.status is CheckStatus.WARN


def test_non_executable_file_does_not_count(tmp_path: Path) -> None:
    files = [("/usr/bin/curl", "file", b"#!/bin/sh", 0o644)]

    result = _run(tmp_path, files, {})

    assert result.status is CheckStatus.WARN


def test_directory_named_curl_does_not_count(tmp_path: Path) -> None:
    result = _run(tmp_path, [("/usr/bin/curl", "dir")], {})

    assert result.status is CheckStatus.WARN


def test_later_layer_whiteout_removes_the_tool(tmp_path: Path) -> None:
    layers = [
        [*BASE, ("/usr/bin/curl", "file", b"curl", 0o755)],
        [("/usr/bin/.wh.curl",)],
    ]
    path = build_oci_archive(tmp_path / "image.tar", layers, {})

    result = CHECK.run(load_image(path))

    assert result.status is CheckStatus.WARN


def test_first_executable_on_path_wins(tmp_path: Path) -> None:
    files = [
        ("/usr/local/bin", "dir"),
        ("/usr/local/bin/curl", "file", b"not executable", 0o644),
        ("/usr/bin/curl", "file", b"curl", 0o755),
    ]

    result = _run(tmp_path, files, {})

    assert result.evidence == ("curl: /usr/bin/curl",)


def test_secret_in_healthcheck_command_is_masked(tmp_path: Path) -> None:
    token = "ghp_" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    command = f"curl -fsS -H 'Authorization: token {token}' http://localhost/"
    config = {"Healthcheck": {"Test": ["CMD-SHELL", command]}}

    result = _run(tmp_path, [], config)

    assert result.status is CheckStatus.PASS
    assert token not in result.model_dump_json()
    assert "token ghp_***'" in result.details


def test_no_config_uses_the_default_path() -> None:
    entries = {
        "/bin": FileEntry(FileType.DIRECTORY),
        "/bin/busybox": FileEntry(FileType.FILE, mode=0o755),
        "/usr": FileEntry(FileType.DIRECTORY),
        "/usr/bin": FileEntry(FileType.DIRECTORY),
        "/usr/bin/wget": FileEntry(FileType.SYMLINK, link_target="/bin/busybox"),
    }
    image = Image(reference="dir:rootfs", config=None, filesystem=FileSystem(entries))

    result = CHECK.run(image)

    assert result.status is CheckStatus.PASS
    assert result.evidence == ("wget: /usr/bin/wget -> /bin/busybox",)


def test_find_tools_skips_relative_and_empty_path_entries() -> None:
    entries = {"/curl": FileEntry(FileType.FILE, mode=0o755)}

    assert find_tools(FileSystem(entries), ":.:bin", ("curl",)) == {}
    assert find_tools(FileSystem(entries), "/", ("curl",)) == {"curl": "/curl"}


def test_kolla_nova_config_declares_a_healthcheck(tmp_path: Path) -> None:
    document = json.loads(
        (DATA / "cimage-rhel-kolla-nova-config-user-healthcheck.json").read_text()
    )
    path = build_oci_archive(tmp_path / "nova.tar", [BASE], document=document)

    result = CHECK.run(load_image(path))

    assert result.status is CheckStatus.PASS
    assert '"/openstack/healthcheck"' in result.details


def test_alpine_example_has_busybox_wget() -> None:
    # The real alpine:3.10 archive: no HEALTHCHECK, wget is a busybox applet.
    result = CHECK.run(load_image(ALPINE))

    assert result.status is CheckStatus.PASS
    assert "wget: /usr/bin/wget -> /bin/busybox" in result.evidence


@pytest.mark.slow
def test_debian_minbase_has_no_probe_tool(debian_image: Any) -> None:
    image = load_image(debian_image.docker_archive)

    result = CHECK.run(image)

    assert image.filesystem.stat("/usr/bin/apt-get") is not None
    assert result.status is CheckStatus.WARN


def test_bare_root_filesystem_directory_uses_the_default_path(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "usr" / "bin").mkdir(parents=True)
    busybox = rootfs / "bin" / "busybox"
    busybox.write_bytes(b"\x7fELF")
    busybox.chmod(0o755)
    (rootfs / "usr" / "bin" / "wget").symlink_to("/bin/busybox")

    image = load_image(rootfs)
    result = CHECK.run(image)

    assert image.config is None
    assert result.status is CheckStatus.PASS
    assert result.evidence == ("wget: /usr/bin/wget -> /bin/busybox",)
