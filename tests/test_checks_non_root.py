"""Non-root user: every spelling of USER, resolved against images built here."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from imagebuilder import build_docker_archive, build_oci_archive, load_image
from pytest_sentry._checks._non_root import NonRootCheck
from pytest_sentry._checks._passwd import parse_ids
from pytest_sentry._checks.interface import CheckError
from pytest_sentry._image.interface import (
    FileEntry,
    FileSystem,
    FileType,
    Image,
    ImageConfig,
)
from pytest_sentry._models import CheckStatus, Severity

DATA = Path(__file__).parent / "data" / "checks"
CHECK = NonRootCheck()

PASSWD = """\
# /etc/passwd of a test image
root:x:0:0:root:/root:/bin/sh
toor:x:0:0:second root:/root:/bin/sh

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
broken line without colons
short:x
weird:x:abc:100::/:/bin/false
app:x:1001:1001:app:/home/app:/bin/sh
app:x:0:0:later duplicate is ignored by runtimes:/:/bin/sh
nova:x:162:162:OpenStack Nova:/var/lib/nova:/sbin/nologin
"""
GROUP = "root:x:0:\napp:x:1001:\nstaff:x:50:\n"


def _image(tmp_path: Path, user: str | None, passwd: str | None = PASSWD) -> Image:
    files: list[tuple[Any, ...]] = [("/etc", "dir"), ("/etc/group", "file", GROUP)]
    if passwd is not None:
        files.append(("/etc/passwd", "file", passwd))
    config = {} if user is None else {"User": user}
    path = build_docker_archive(tmp_path / "image.tar", [files], config)
    return load_image(path, CHECK.content_paths)


@pytest.mark.parametrize(
    ("user", "evidence"),
    [
        ("", "User: (not set)"),
        ("root", "User: root"),
        ("0", "User: 0"),
        ("0:0", "User: 0:0"),
        ("0:1000", "User: 0:1000"),
        ("root:root", "User: root:root"),
        ("root:staff", "User: root:staff"),
        (":1001", "User: :1001"),
        ("  ", "User: (not set)"),
    ],
)
def test_root_spellings_fail(tmp_path: Path, user: str, evidence: str) -> None:
    result = CHECK.run(_image(tmp_path, user))

    assert result.status is CheckStatus.FAIL
    assert result.severity is Severity.HIGH
    assert result.id == "non-root-user"
    assert result.name == "Non-Root User"
    assert "runs as root" in result.details
    assert result.evidence[0] == evidence
    assert "USER 10001" in result.remediation


@pytest.mark.parametrize("user", ["", "root", "0", "0:0", "root:root"])
def test_root_spellings_fail_as_root_without_any_passwd(
    tmp_path: Path, user: str
) -> None:
    # Distroless and scratch images have no /etc/passwd: root is still root,
    # not an unknown user.
    result = CHECK.run(_image(tmp_path, user, passwd=None))

    assert result.status is CheckStatus.FAIL
    assert "runs as root" in result.details


def test_unset_user_is_root_even_without_a_user_key(tmp_path: Path) -> None:
    result = CHECK.run(_image(tmp_path, None))

    assert result.status is CheckStatus.FAIL
    assert "no USER is set" in result.details


def test_name_mapped_to_uid_zero_fails(tmp_path: Path) -> None:
    result = CHECK.run(_image(tmp_path, "toor"))

    assert result.status is CheckStatus.FAIL
    assert "uid 0" in result.details
    assert "/etc/passwd: toor -> id 0" in result.evidence


@pytest.mark.parametrize(
    ("user", "uid", "note"),
    [
        ("1000", 1000, ""),
        ("1000:0", 1000, "with group 0"),
        ("1000:1000", 1000, ""),
        ("65534:staff", 65534, ""),
        ("1000:root", 1000, "with group 0"),
    ],
)
def test_numeric_uid_above_zero_passes(
    tmp_path: Path, user: str, uid: int, note: str
) -> None:
    result = CHECK.run(_image(tmp_path, user))

    assert result.status is CheckStatus.PASS
    assert f"uid {uid}" in result.details
    assert (note in result.details) if note else ("group 0" not in result.details)


def test_numeric_uid_needs_no_passwd(tmp_path: Path) -> None:
    result = CHECK.run(_image(tmp_path, "1000:0", passwd=None))

    assert result.status is CheckStatus.PASS


def test_name_mapped_to_1001_passes_and_names_the_uid(tmp_path: Path) -> None:
    result = CHECK.run(_image(tmp_path, "app:app"))

    assert result.status is CheckStatus.PASS
    assert "uid 1001" in result.details
    # The first line for a name wins, as in getpwnam: the later uid-0 "app"
    # line must not turn this into root.
    assert "/etc/passwd: app -> id 1001" in result.evidence


def test_unknown_name_fails_because_the_container_cannot_start(tmp_path: Path) -> None:
    result = CHECK.run(_image(tmp_path, "ghost"))

    assert result.status is CheckStatus.FAIL
    assert "'ghost' is not in the image's /etc/passwd" in result.details
    assert "fail to start" in result.details
    assert "numeric USER" in result.remediation


def test_name_without_any_passwd_fails(tmp_path: Path) -> None:
    result = CHECK.run(_image(tmp_path, "app", passwd=None))

    assert result.status is CheckStatus.FAIL
    assert "the image has no /etc/passwd" in result.details
    assert "fail to start" in result.details


def test_unknown_group_name_fails(tmp_path: Path) -> None:
    result = CHECK.run(_image(tmp_path, "1000:nogroup"))

    assert result.status is CheckStatus.FAIL
    assert "Group 'nogroup' is not in the image's /etc/group" in result.details


def test_malformed_passwd_lines_are_skipped_not_fatal(tmp_path: Path) -> None:
    # "weird" has a non-numeric uid: unresolvable, like the runtime sees it.
    result = CHECK.run(_image(tmp_path, "weird"))

    assert result.status is CheckStatus.FAIL
    assert "is not in the image's /etc/passwd" in result.details


def test_parse_ids_reads_only_well_formed_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="pytest_sentry"):
        ids = parse_ids(PASSWD, "/etc/passwd")

    assert ids == {"root": 0, "toor": 0, "daemon": 1, "app": 1001, "nova": 162}
    assert "line 6 has too few fields" in caplog.text
    assert "line 8 has a non-numeric id" in caplog.text


def test_passwd_through_a_symlink_is_followed(tmp_path: Path) -> None:
    layer = [
        ("/etc", "dir"),
        ("/usr/share/base-passwd/passwd", "file", "svc:x:4242:4242::/:/bin/sh\n"),
        ("/etc/passwd", "symlink", "../usr/share/base-passwd/passwd"),
    ]
    path = build_docker_archive(tmp_path / "link.tar", [layer], {"User": "svc"})
    content_paths = CHECK.content_paths | {"/usr/share/base-passwd/passwd"}

    result = CHECK.run(load_image(path, content_paths))

    assert result.status is CheckStatus.PASS
    assert "uid 4242" in result.details


def test_passwd_present_but_unread_is_an_error_not_a_pass(tmp_path: Path) -> None:
    path = build_docker_archive(
        tmp_path / "image.tar", [[("/etc/passwd", "file", PASSWD)]], {"User": "app"}
    )
    image = load_image(path, content_paths=frozenset())

    with pytest.raises(CheckError, match=r"^/etc/passwd: present in the image"):
        CHECK.run(image)


def test_later_layer_whiteout_of_passwd_makes_the_name_unknown(tmp_path: Path) -> None:
    layers = [
        [("/etc", "dir"), ("/etc/passwd", "file", PASSWD)],
        [("/etc/.wh.passwd", "file")],
    ]
    path = build_docker_archive(tmp_path / "image.tar", layers, {"User": "app"})

    result = CHECK.run(load_image(path, CHECK.content_paths))

    assert result.status is CheckStatus.FAIL
    assert "the image has no /etc/passwd" in result.details


def test_no_image_config_is_a_skip_with_a_reason() -> None:
    image = Image(reference="dir:rootfs", config=None, filesystem=FileSystem())

    result = CHECK.run(image)

    assert result.status is CheckStatus.SKIP
    assert "no config" in result.details
    assert result.details.endswith(".")


def test_config_user_none_in_a_config_object_is_root() -> None:
    passwd = FileEntry(FileType.FILE, content=PASSWD.encode())
    image = Image(
        reference="x",
        config=ImageConfig(user=None),
        filesystem=FileSystem(
            {"/etc": FileEntry(FileType.DIRECTORY), "/etc/passwd": passwd}
        ),
    )

    assert CHECK.run(image).status is CheckStatus.FAIL


def test_kolla_nova_config_with_passwd_entry_passes(tmp_path: Path) -> None:
    document = json.loads(
        (DATA / "cimage-rhel-kolla-nova-config-user-healthcheck.json").read_text()
    )
    layer = [("/etc", "dir"), ("/etc/passwd", "file", PASSWD)]
    path = build_oci_archive(tmp_path / "nova.tar", [layer], document=document)

    result = CHECK.run(load_image(path, CHECK.content_paths))

    assert result.status is CheckStatus.PASS
    assert "uid 162" in result.details
    assert result.evidence == ("User: nova", "/etc/passwd: nova -> id 162")


def test_dockle_scratch_image_user_without_passwd_cannot_start() -> None:
    # A real image from dockle's test data: USER scratch in a FROM scratch
    # image, which has no /etc/passwd at all.
    result = CHECK.run(load_image(DATA / "dockle-scratch.tar", CHECK.content_paths))

    assert result.status is CheckStatus.FAIL
    assert "User 'scratch' is not in /etc/passwd" in result.details


def test_bare_root_filesystem_directory_is_a_skip(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text(PASSWD)

    image = load_image(rootfs, CHECK.content_paths)
    result = CHECK.run(image)

    assert image.config is None
    assert result.status is CheckStatus.SKIP
    assert "no config" in result.details
