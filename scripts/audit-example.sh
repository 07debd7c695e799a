#!/usr/bin/env bash
# The main job: set up, then audit the example image archive shipped in
# examples/ with the Trivy report shipped beside it. No engine, no network
# beyond the package registries. Exits with the audit's code: 0 passed,
# 1 failed, 2 error (the example image runs as root, so expect 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p reports
set +e
.venv/bin/python -m pytest_sentry scan examples/images/alpine-3.10.tar.gz \
  --scanner-report trivy:examples/reports/alpine-3.10.trivy.json \
  --format markdown --output reports/alpine-3.10.md
code=$?
set -e
cat reports/alpine-3.10.md
echo "exit code: $code"
exit "$code"
