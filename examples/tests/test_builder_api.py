"""Ad-hoc audits with the builder, inside and outside the plugin's settings."""

import pytest_sentry

ALPINE = "docker-archive:examples/images/alpine-3.10.tar.gz"
TRIVY_REPORT = "trivy:examples/reports/alpine-3.10.trivy.json"


def test_builder_without_the_plugin():
    # pytest_sentry.scan reads paths relative to the current directory.
    result = (
        pytest_sentry.scan(ALPINE)
        .with_scanner_report(TRIVY_REPORT)
        .with_non_root_check(False)
        .fail_on("CRITICAL")
        .audit()
    )

    assert result.passed
    assert result.score == 92
    assert {v.cve_id for v in result.vulnerabilities_at_least("MEDIUM")} == {
        "CVE-2019-1549",
        "CVE-2019-1551",
    }


def test_builder_with_the_session_settings(sentry_scan):
    # sentry_scan starts from the --sentry-* options and ini keys.
    builder = sentry_scan(ALPINE).with_scanner_report(TRIVY_REPORT)

    result = builder.fail_on("MEDIUM").audit()

    assert not result.passed
    assert result.vuln_summary.medium == 4
