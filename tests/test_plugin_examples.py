"""The example project runs as its README and CI configurations say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "docker-archive:examples/images/alpine-3.10.tar.gz"


def test_example_tests_and_items_report_the_alpine_audit(tmp_path: Path) -> None:
    if not (ROOT / "examples/images/alpine-3.10.tar.gz").is_file():
        pytest.skip("examples/images/alpine-3.10.tar.gz is not in this checkout")
    env = {
        **os.environ,
        "PYTEST_ADDOPTS": "-p no:hypothesispytest -p no:anyio",
        "SENTRY_DAGGER": "off",
    }

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "examples/tests",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'basetemp'}",
            f"--sentry-image={IMAGE}",
            "--sentry-scanner-report=trivy:examples/reports/alpine-3.10.trivy.json",
            f"--sentry-report-dir={tmp_path / 'sentry'}",
            f"--junitxml={tmp_path / 'junit.xml'}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # A failed audit fails the run: what makes the CI pipelines fail.
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout
    cases = {
        f"{c.get('classname')}::{c.get('name')}": c
        for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")  # noqa: S314
    }
    failed = sorted(k for k, c in cases.items() if c.find("failure") is not None)
    assert failed == [
        "examples.tests.test_image_audit::test_runs_as_an_unprivileged_user",
        "sentry.alpine-3.10.tar.gz.check::non-root-user",
    ]
    skipped = sorted(k for k, c in cases.items() if c.find("skipped") is not None)
    assert skipped == [
        f"sentry.alpine-3.10.tar.gz.gate::{g}" for g in ("info", "low", "medium")
    ]
    assert len(cases) == 15
    documents = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((tmp_path / "sentry").glob("*.json"))
    ]
    assert sorted((d["failOn"], d["score"], d["passed"]) for d in documents) == [
        ("CRITICAL", 92, True),
        ("HIGH", 77, False),
    ]
