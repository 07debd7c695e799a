"""Parse time of the largest recorded Grype and Snyk reports against json.loads.

Run by hand: ``python benchmarks/bench_parsers.py``. For each file it times
``json.loads`` of the bytes and the parser plus de-duplication (what a scan
does with a report), best of several rounds, and prints the ratio. The
target is a ratio within 2x: parsing should cost little more than decoding.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from pytest_sentry._scanners._grype import parse_grype
from pytest_sentry._scanners._normalize import finalize
from pytest_sentry._scanners._snyk import parse_snyk
from pytest_sentry._scanners._trivy import parse_trivy

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "scanners"
ROUNDS = 15


def best(function: Callable[[], object]) -> float:
    """The fastest of ROUNDS runs, in seconds."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def largest(tool: str) -> Path:
    return max((DATA / tool).glob("*.json"), key=lambda p: p.stat().st_size)


def main() -> None:
    cases = [
        ("grype", largest("grype"), parse_grype),
        ("snyk", largest("snyk"), parse_snyk),
        ("trivy", largest("trivy"), parse_trivy),
    ]
    header = f"{'file':48} {'bytes':>9} {'findings':>8} {'loads ms':>9}"
    print(f"{header} {'parse ms':>9} ratio")
    for tool, path, parser in cases:
        data = path.read_bytes()
        findings = finalize(parser(data))
        loads = best(lambda data=data: json.loads(data))
        parse = best(lambda data=data, parser=parser: finalize(parser(data)))
        print(
            f"{tool + '/' + path.name:48} {len(data):>9} {len(findings):>8} "
            f"{loads * 1000:>9.1f} {parse * 1000:>9.1f} {parse / loads:5.2f}x"
        )


if __name__ == "__main__":
    main()
