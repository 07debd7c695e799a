"""Image labels for node ids, path resolution and the shared-audit key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_sentry._plugin._settings import AuditSettings, audit_key
from pytest_sentry._plugin._targets import labels, make_targets, resolve
from pytest_sentry._policy import Policy


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (["build/out/app.tar"], ["app.tar"]),
        (["a/app.tar", "b/app.tar"], ["a/app.tar", "b/app.tar"]),
        (
            ["x/a/app.tar", "y/a/app.tar", "c.tar"],
            ["x/a/app.tar", "y/a/app.tar", "c.tar"],
        ),
        (["a/app.tar", "app.tar"], ["a/app.tar", "app.tar"]),
        (
            ["docker-archive:x.tar", "oci-archive:x.tar"],
            ["docker-archive:x.tar", "oci-archive:x.tar"],
        ),
        (["docker-archive:build/app.tar:myapp:1.2"], ["app.tar:myapp:1.2"]),
        (["ghcr.io/org/app:1.0", "app.tar"], ["app:1.0", "app.tar"]),
    ],
)
def test_labels_are_the_shortest_unique_suffix(
    written: list[str], expected: list[str]
) -> None:
    assert labels(written) == expected


def test_duplicate_images_are_audited_once(tmp_path: Path) -> None:
    targets = make_targets(["app.tar", " app.tar ", "", "other.tar"], tmp_path)

    assert [t.written for t in targets] == ["app.tar", "other.tar"]


def test_relative_paths_resolve_against_the_base_when_they_exist(
    tmp_path: Path,
) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "app.tar").write_bytes(b"")

    assert resolve("build/app.tar", tmp_path) == str(tmp_path / "build/app.tar")
    assert resolve("docker-archive:build/app.tar:myapp:1.2", tmp_path) == (
        f"docker-archive:{tmp_path / 'build/app.tar'}:myapp:1.2"
    )
    assert resolve("missing.tar", tmp_path) == "missing.tar"
    assert resolve("alpine:3.10", tmp_path) == "alpine:3.10"
    assert resolve("/abs/app.tar", tmp_path) == "/abs/app.tar"


def test_audit_key_follows_what_decides_the_outcome() -> None:
    base = AuditSettings(scanner="none").builder("app.tar")

    same = AuditSettings(scanner="none", fail_on=None).builder("app.tar")
    stricter = AuditSettings(scanner="none", min_score=80).builder("app.tar")
    other_image = AuditSettings(scanner="none").builder("other.tar")
    scanned = AuditSettings(scanner="grype").builder("app.tar")

    assert audit_key(base) == audit_key(same)
    assert len({audit_key(b) for b in (base, stricter, other_image, scanned)}) == 4


def test_audit_key_is_the_same_in_every_process() -> None:
    # xdist workers hash strings with different seeds; sets must not leak
    # their iteration order into the key.
    policy = Policy(disabled_checks=frozenset({"health-check", "secrets-in-env"}))
    key = audit_key(AuditSettings(policy=policy).builder("app.tar"))
    code = (
        "from pytest_sentry._plugin._settings import AuditSettings, audit_key\n"
        "from pytest_sentry._policy import Policy\n"
        "p = Policy(disabled_checks=frozenset({'health-check', 'secrets-in-env'}))\n"
        "print(audit_key(AuditSettings(policy=p).builder('app.tar')))\n"
    )

    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }

    assert keys == {key}


def test_audit_key_never_holds_credential_values() -> None:
    one = AuditSettings().builder("app.tar").with_snyk("token-one")
    two = AuditSettings().builder("app.tar").with_snyk("token-two")

    assert audit_key(one) == audit_key(two)
