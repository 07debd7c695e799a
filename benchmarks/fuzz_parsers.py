"""Coverage-guided fuzzing of the scanner report parsers with atheris.

Run by hand (``pip install atheris`` first)::

    python benchmarks/fuzz_parsers.py -max_total_time=300
    python benchmarks/fuzz_parsers.py -max_total_time=300 -dict=none CORPUS_DIR

The first byte of each input picks the parser (Trivy, Grype, Snyk, Wiz,
Black Duck); the rest is the report. Every recorded report under
tests/data/scanners/ seeds the corpus, so mutations start from real shapes.
A parser must return findings or raise a ScanError whose message starts
with the scanner's name; anything else is a crash, written by libFuzzer to
``crash-<sha1>`` in the artifact directory printed first.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["pytest_sentry"]):
    from pytest_sentry._scanners._blackduck import parse_blackduck
    from pytest_sentry._scanners._grype import parse_grype
    from pytest_sentry._scanners._normalize import finalize
    from pytest_sentry._scanners._snyk import parse_snyk
    from pytest_sentry._scanners._trivy import parse_trivy
    from pytest_sentry._scanners._wiz import parse_wiz
    from pytest_sentry._scanners.interface import ScanError

PARSERS = (
    ("trivy", parse_trivy),
    ("grype", parse_grype),
    ("snyk", parse_snyk),
    ("wiz", parse_wiz),
    ("blackduck", parse_blackduck),
)
DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "scanners"
SEED_BYTES = 64 * 1024


def test_one_input(data: bytes) -> None:
    if not data:
        return
    tool, parse = PARSERS[data[0] % len(PARSERS)]
    try:
        finalize(parse(data[1:]))
    except ScanError as error:
        if not str(error).startswith(f"{tool}: "):
            raise AssertionError(f"message does not name {tool}: {error}") from error


def seed_corpus() -> Path:
    """The recorded reports, each prefixed with its parser's byte."""
    corpus = Path(tempfile.mkdtemp(prefix="sentry-fuzz-parsers-corpus-"))
    for number, (tool, _parse) in enumerate(PARSERS):
        for report in sorted((DATA / tool).glob("*.json")):
            if report.stat().st_size <= SEED_BYTES:
                (corpus / f"{tool}-{report.name}").write_bytes(
                    bytes([number]) + report.read_bytes()
                )
    return corpus


def main() -> None:
    argv = list(sys.argv)
    if not any(a.startswith("-artifact_prefix=") for a in argv):
        artifacts = Path(tempfile.mkdtemp(prefix="sentry-fuzz-artifacts-"))
        argv.append(f"-artifact_prefix={artifacts}/")
        print(f"artifacts go to {artifacts}/", flush=True)
    if not any(a.startswith("-timeout=") for a in argv):
        argv.append("-timeout=10")
    if not any(not a.startswith("-") for a in argv[1:]):
        # libFuzzer adds what it finds to this folder; it is kept for reuse.
        corpus = seed_corpus()
        argv.append(str(corpus))
        print(f"corpus: {corpus}", flush=True)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
