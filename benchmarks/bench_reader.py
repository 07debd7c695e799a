"""Time and memory of the image reader against a bare tarfile loop.

Run by hand (pytest does not collect it)::

    python benchmarks/bench_reader.py            # minbase, minbase x4, bigger
    python benchmarks/bench_reader.py --quick    # minbase only
    python benchmarks/bench_reader.py --repeat 5

Images come from tests/conftest.py's ``build_debian_image`` (debootstrap,
cached under tests/.cache/; needs root and the Debian mirror the first time):

- ``minbase``: Debian bookworm minbase as a docker-archive with one plain layer
  and as an OCI archive with one gzip layer;
- ``minbase-x4``: the same layer listed four times in one docker-archive, so
  four times the bytes with the same set of paths;
- ``bigger``: minbase with python3, perl and git, as both archives.

Each measurement runs in a fresh child process: the reader loads the image
with the checks' content paths (DEFAULT_CONTENT_PATHS); the bare loop opens the
same archive with tarfile, reads its manifest and iterates every layer's
members in stream mode (``r|*``), doing nothing with them. Reported: wall
time (best of ``--repeat``), peak RSS above the child's RSS after imports,
and tracemalloc's peak (Python allocations only, separate run).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import resource
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5


def _conftest() -> ModuleType:
    # The builder lives with the test fixtures, which import their neighbours.
    sys.path.insert(0, str(ROOT / "tests"))
    return importlib.import_module("conftest")


# --- what runs in the child -----------------------------------------------------


def _layer_names(outer: tarfile.TarFile) -> list[str]:
    names = set(outer.getnames())
    if "manifest.json" in names:
        handle = outer.extractfile("manifest.json")
        assert handle is not None
        return [str(name) for name in json.load(handle)[0]["Layers"]]

    def blob(digest: str) -> dict[str, object]:
        handle = outer.extractfile("blobs/sha256/" + digest.split(":")[1])
        assert handle is not None
        document: dict[str, object] = json.load(handle)
        return document

    index = json.load(outer.extractfile("index.json"))  # type: ignore[arg-type]
    manifest = blob(index["manifests"][0]["digest"])
    layers = manifest["layers"]
    assert isinstance(layers, list)
    return ["blobs/sha256/" + layer["digest"].split(":")[1] for layer in layers]


def bare_loop(path: Path) -> int:
    """Iterate every layer member with tarfile's stream mode; count them."""
    count = 0
    with tarfile.open(path) as outer:
        for name in _layer_names(outer):
            blob = outer.extractfile(name)
            with tarfile.open(fileobj=blob, mode="r|*") as layer:
                for _member in layer:
                    count += 1
    return count


def reader(path: Path) -> int:
    from pytest_sentry._image._resolve import resolve
    from pytest_sentry._image.interface import DEFAULT_CONTENT_PATHS

    image = resolve(str(path)).load(content_paths=DEFAULT_CONTENT_PATHS)
    assert image.filesystem.read("/etc/passwd")
    return len(image.filesystem)


def child(mode: str, path: Path, trace: bool) -> None:
    import tracemalloc

    import pytest_sentry._image._resolve  # noqa: F401 - same imports for both modes

    work = {"bare": bare_loop, "reader": reader}[mode]
    before = resource.getrusage(resource.RUSAGE_SELF)
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    count = work(path)
    elapsed = time.perf_counter() - started
    peak_traced = tracemalloc.get_traced_memory()[1] if trace else 0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu": cpu,
                "rss_kib": after.ru_maxrss - before.ru_maxrss,
                "traced_bytes": peak_traced,
                "count": count,
            }
        )
    )


# --- the parent -------------------------------------------------------------------


def _run_child(mode: str, path: Path, trace: bool) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", mode, str(path)]
    if trace:
        argv.append("--trace")
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(path: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Both modes, runs interleaved so that load on the machine hits both."""
    runs: dict[str, list[dict[str, float]]] = {"bare": [], "reader": []}
    for _ in range(repeat):
        for mode, done in runs.items():
            done.append(_run_child(mode, path, trace=False))

    results = {}
    for mode, done in runs.items():
        results[mode] = {
            "seconds": min(r["seconds"] for r in done),
            "cpu": min(r["cpu"] for r in done),
            "rss_mib": max(r["rss_kib"] for r in done) / 1024,
            "traced_mib": _run_child(mode, path, trace=True)["traced_bytes"] / 1024**2,
            "count": done[0]["count"],
        }
    return results


def duplicated(built: Any, copies: int) -> Path:
    """A docker-archive listing the image's one layer ``copies`` times."""
    source: Path = built.docker_archive
    target = source.with_name(
        source.name.replace(".docker.tar", f".x{copies}.docker.tar")
    )
    if target.is_file():
        return target

    with tarfile.open(source) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        manifest[0]["Layers"] = manifest[0]["Layers"] * copies
        manifest[0]["RepoTags"] = [f"sentry-bench/minbase-x{copies}:latest"]
        data = json.dumps(manifest).encode()
        partial = target.with_suffix(".partial")
        with tarfile.open(partial, "w") as out:
            for member in outer.getmembers():
                if member.name == "manifest.json":
                    continue
                out.addfile(member, outer.extractfile(member))
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    partial.replace(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="minbase only")
    parser.add_argument(
        "--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS
    )
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child:
        child(options.child[0], Path(options.child[1]), options.trace)
        return 0

    conftest = _conftest()
    minbase = conftest.build_debian_image()
    cases = [
        ("minbase docker-archive (plain)", minbase.docker_archive),
        ("minbase OCI archive (gzip)", minbase.oci_archive),
    ]
    if not options.quick:
        cases.append(("minbase x4 layers (plain)", duplicated(minbase, 4)))
        bigger = conftest.build_debian_image(include=("python3", "perl", "git"))
        cases += [
            ("bigger docker-archive (plain)", bigger.docker_archive),
            ("bigger OCI archive (gzip)", bigger.oci_archive),
        ]

    header = (
        f"{'image':30} {'MB':>5} {'entries':>7} | {'bare':>5} {'reader':>6} "
        f"{'ratio':>5} | {'bare':>5} {'reader':>6} {'ratio':>5} | "
        f"{'bare':>6} {'reader':>6} | {'bare':>6} {'reader':>6}"
    )
    columns = "| wall s (best)       | CPU s (best)        | RSS +MiB      | traced MiB"
    print(f"{'':45}{columns}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for label, path in cases:
        result = measure(path, options.repeat)
        bare, read = result["bare"], result["reader"]
        wall = read["seconds"] / bare["seconds"]
        cpu = read["cpu"] / bare["cpu"]
        worst = max(worst, cpu)
        print(
            f"{label:30} {path.stat().st_size / 1024**2:5.0f} {read['count']:7.0f} | "
            f"{bare['seconds']:5.2f} {read['seconds']:6.2f} {wall:5.2f} | "
            f"{bare['cpu']:5.2f} {read['cpu']:6.2f} {cpu:5.2f} | "
            f"{bare['rss_mib']:6.1f} {read['rss_mib']:6.1f} | "
            f"{bare['traced_mib']:6.1f} {read['traced_mib']:6.1f}"
        )
    verdict = "within" if worst <= TARGET_RATIO else "OVER"
    print(f"\nworst CPU-time ratio {worst:.2f}: {verdict} the {TARGET_RATIO}x target")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
