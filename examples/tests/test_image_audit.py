"""Security audits of a container image, written as ordinary tests.

Run from the repository root (paths in markers are relative to the rootdir):

    pytest examples/tests \
        --sentry-scanner-report=trivy:examples/reports/alpine-3.10.trivy.json

``alpine:3.10`` runs as root, so ``test_runs_as_an_unprivileged_user`` fails:
that failure is the audit doing its job, and it fails the pipeline in CI.
"""

import pytest

from pytest_sentry import CheckStatus

ALPINE = "docker-archive:examples/images/alpine-3.10.tar.gz"

# Every test in this module audits the same image; pytest_sentry audits it
# once per session and hands the same result to each test.
pytestmark = pytest.mark.sentry(image=ALPINE)


def test_no_high_or_critical_vulnerabilities(audit):
    # Skipped, not passed, when no vulnerability scan ran.
    found = audit.vulnerabilities_at_least("HIGH")
    assert not found, [f"{v.cve_id} in {v.package_name}" for v in found]


def test_score_is_at_least_good(audit):
    assert audit.score >= 70, f"score {audit.score} ({audit.rating.value})"


def test_no_secrets_in_the_environment(audit):
    check = audit.check("secrets-in-env")
    assert check.status is CheckStatus.PASS, check.details


def test_runs_as_an_unprivileged_user(audit):
    check = audit.check("non-root-user")
    assert check.status is CheckStatus.PASS, check.details


@pytest.mark.sentry(fail_on="CRITICAL", checks=["secrets-in-env", "health-check"])
def test_meets_the_policy_for_base_images(audit):
    # The closest marker wins per keyword: same image, its own policy.
    assert audit.passed, audit.verdict.value
