#!/usr/bin/env bash
# Set up a fresh machine for pytest_sentry: system tools (when root), a
# virtualenv in .venv and the package with its test extras. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the slower tests use for real images, containers and the browser
# check of the HTML report. Tests that need one skip with a reason when it
# is missing, so a machine without root still gets a meaningful run.
packages=(debootstrap umoci skopeo chromium tar gzip)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: not root; tests needing ${missing[*]} will be skipped" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
