"""A checks-only audit against its baselines, all measured in one run.

Run by hand (pytest does not collect it)::

    python benchmarks/bench_audit.py             # the Debian minbase image
    python benchmarks/bench_audit.py --large     # and a ~600 MB image as well
    python benchmarks/bench_audit.py --repeat 5 --skip-cst

Images come from tests/conftest.py's ``build_debian_image`` (debootstrap,
cached under tests/.cache/; root and the Debian mirror are needed the first
time). Each image is audited as a docker-archive (one plain layer) and as an
OCI archive (one gzip layer). Four comparisons, printed as ratios:

1. ``pytest_sentry.scan(ARCHIVE).without_scanner().audit()`` against a bare
   tarfile loop over the same layers' members (stream mode, nothing else),
   and the OCI audit against ``gzip -dc LAYER | tar -t > /dev/null`` of its
   gzip layer blob (copied to a temporary file first). Targets: within 1.5x
   the bare loop; no slower than the gzip pipeline.
2. The same audit against ``container-structure-test test --driver tar``
   running the equivalent metadata (user, PATH) and file-existence tests
   (/usr/bin/curl, /usr/bin/wget, /etc/passwd). Target: 10x faster. Its tar
   driver needs no Docker daemon but reads docker-archives only (an OCI
   archive fails with "file manifest.json not found in tar"), and it unpacks
   the whole filesystem to a temporary directory.
3. Peak memory of a child process that only runs the audit: its peak RSS
   (VmHWM) above its RSS after imports, and tracemalloc's peak. Target: it
   does not grow with the image's bytes; with ``--large`` the small image's
   layer listed four times (4x the bytes, the same paths) shows bytes alone,
   and the large image shows what more files cost (the path index).
4. ``pytest -q -p no:cacheprovider --sentry-scanner=none`` on 200 generated
   tests that all take the ``audit`` fixture of one image against 200
   trivial tests. Target: the difference is about one audit.

Times are wall-clock seconds, best of ``--repeat`` runs, interleaved so that
background load hits every contender alike.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Packages added to minbase for the large image: 568 MiB as a
#: docker-archive, 194 MiB as a gzip OCI archive, 15,000 entries.
LARGE_PACKAGES = ("python3", "perl", "git", "g++", "make", "curl")
BARE_TARGET = 1.5
CST_TARGET = 10.0
TESTS_IN_RUN = 200


def _conftest() -> ModuleType:
    # The image builder lives with the test fixtures, which import neighbours.
    sys.path.insert(0, str(ROOT / "tests"))
    return importlib.import_module("conftest")


def best(rounds: int, function: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


# --- the contenders -----------------------------------------------------------


def audit(reference: str) -> Any:
    """The checks-only audit, through the public builder; it must succeed."""
    import pytest_sentry

    result = pytest_sentry.scan(reference).without_scanner().audit()
    if result.errors:
        raise SystemExit(f"{reference}: the audit failed: {result.errors}")
    return result


def layer_names(outer: tarfile.TarFile) -> list[str]:
    """The layer members of a docker-archive or a one-image OCI archive."""
    names = set(outer.getnames())
    if "manifest.json" in names:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        return [str(name) for name in manifest[0]["Layers"]]

    def blob(digest: str) -> Any:
        return json.load(outer.extractfile("blobs/sha256/" + digest[7:]))  # type: ignore[arg-type]

    index = json.load(outer.extractfile("index.json"))  # type: ignore[arg-type]
    manifest = blob(index["manifests"][0]["digest"])
    return ["blobs/sha256/" + layer["digest"][7:] for layer in manifest["layers"]]


def bare_loop(path: Path) -> int:
    """Every layer member, through tarfile's stream mode, doing nothing."""
    count = 0
    with tarfile.open(path) as outer:
        for name in layer_names(outer):
            with tarfile.open(fileobj=outer.extractfile(name), mode="r|*") as layer:
                for _member in layer:
                    count += 1
    return count


def extract_layer(path: Path, folder: Path) -> Path:
    """The (only) layer blob of an archive, copied to a file of its own."""
    with tarfile.open(path) as outer:
        (name,) = layer_names(outer)
        target = folder / "layer.blob"
        with target.open("wb") as sink:
            shutil.copyfileobj(outer.extractfile(name), sink, 1024 * 1024)  # type: ignore[misc]
    return target


def shell(command: str) -> None:
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)


# --- 2. container-structure-test ------------------------------------------------


def cst_config(built: Any, folder: Path) -> Path:
    """The metadata and file-existence tests that match the audit's checks."""
    rootfs: Path = built.rootfs
    files = [
        (
            name,
            path,
            (rootfs / path.lstrip("/")).exists()
            or rootfs.joinpath(path.lstrip("/")).is_symlink(),
        )
        for name, path in (
            ("curl", "/usr/bin/curl"),
            ("wget", "/usr/bin/wget"),
            ("passwd", "/etc/passwd"),
        )
    ]
    lines = [
        'schemaVersion: "2.0.0"',
        "metadataTest:",
        '  user: ""',
        "  envVars:",
        "    - key: PATH",
        "      value: /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "fileExistenceTests:",
    ]
    for name, path, exists in files:
        lines += [
            f"  - name: {name}",
            f"    path: {path}",
            f"    shouldExist: {'true' if exists else 'false'}",
        ]
    config = folder / "cfg.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def cst_program() -> str | None:
    found = shutil.which("container-structure-test")
    if found is None:
        beside = Path(sys.executable).parent / "container-structure-test"
        found = str(beside) if beside.is_file() else None
    return found


def run_cst(program: str, archive: Path, config: Path) -> None:
    done = subprocess.run(
        [
            program,
            *("test", "--driver", "tar", "--image", str(archive)),
            *("--config", str(config), "--no-color", "--output", "json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"container-structure-test exit {done.returncode}: "
            f"{(done.stdout + done.stderr).strip()[-600:]}"
        )


# --- 3. memory, in a child that only audits ----------------------------------------


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_memory(reference: str, trace: bool) -> None:
    import gc
    import tracemalloc

    import pytest_sentry  # noqa: F401 - imports counted in the baseline
    from pytest_sentry._image import _resolve  # noqa: F401

    gc.collect()
    # The resident set after imports, not the high-water mark: imports leave
    # freed memory behind that the audit may reuse, and ru_maxrss would hide
    # the audit's own growth in it.
    baseline = _status_kib("VmRSS")
    if trace:
        tracemalloc.start()
    audit(reference)
    traced = tracemalloc.get_traced_memory()[1] if trace else 0
    peak = _status_kib("VmHWM")
    print(json.dumps({"baseline_kib": baseline, "peak_kib": peak, "traced": traced}))


def memory(reference: str) -> dict[str, float]:
    results = {}
    for trace in (False, True):
        argv = [sys.executable, __file__, "--child-memory", reference]
        if trace:
            argv.append("--trace")
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        results[trace] = json.loads(done.stdout.strip().splitlines()[-1])
    plain = results[False]
    return {
        "baseline_mib": plain["baseline_kib"] / 1024,
        "rss_mib": max(plain["peak_kib"] - plain["baseline_kib"], 0) / 1024,
        "traced_mib": results[True]["traced"] / 1024**2,
    }


# --- 4. a pytest run sharing one audit ------------------------------------------------


def write_suites(folder: Path, archive: Path) -> tuple[Path, Path]:
    shared = folder / "shared"
    trivial = folder / "trivial"
    for suite in (shared, trivial):
        suite.mkdir()
    head = "import pytest\n\n"
    marker = f'@pytest.mark.sentry(image="docker-archive:{archive}")\n'
    shared_tests = [
        f"{marker}def test_{n:03}(audit):\n    assert audit.checks\n"
        for n in range(TESTS_IN_RUN)
    ]
    trivial_tests = [
        f"def test_{n:03}():\n    assert True\n" for n in range(TESTS_IN_RUN)
    ]
    (shared / "test_shared.py").write_text(head + "\n\n".join(shared_tests))
    (trivial / "test_trivial.py").write_text(head + "\n\n".join(trivial_tests))
    return shared, trivial


def run_pytest(folder: Path) -> None:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    # A basetemp of its own: the audit store lives there, and pytest's
    # clean-up of old numbered basetemps under /tmp would otherwise time
    # whatever other runs left behind.
    argv += ["--sentry-scanner=none", f"--basetemp={folder / 'basetemp'}"]
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0 or f"{TESTS_IN_RUN} passed" not in done.stdout:
        raise RuntimeError(f"pytest in {folder} failed:\n{done.stdout[-1500:]}")


# --- the report --------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def ratio_line(label: str, ours: float, theirs: float, target: str) -> str:
    return (
        f"  {label:54} {ours:7.2f}s vs {theirs:7.2f}s  ratio {ours / theirs:6.2f}  "
        f"({target})"
    )


def bench_image(
    label: str, built: Any, options: argparse.Namespace, folder: Path
) -> dict[str, Any]:
    rounds = options.repeat
    docker, oci = built.docker_archive, built.oci_archive
    size = docker.stat().st_size / 1024**2
    print(f"\n{label}: {built.name}")
    print(
        f"  docker-archive {size:.0f} MiB, OCI archive (gzip) "
        f"{oci.stat().st_size / 1024**2:.0f} MiB"
    )

    result = audit(f"docker-archive:{docker}")
    entries = bare_loop(docker)
    print(
        f"  {entries} layer entries; audit verdict {result.verdict.value}, "
        f"score {result.score}"
    )

    layer = extract_layer(oci, folder)
    times: dict[str, list[float]] = {}
    contenders: dict[str, Callable[[], object]] = {
        "audit docker": lambda: audit(f"docker-archive:{docker}"),
        "bare docker": lambda: bare_loop(docker),
        "audit oci": lambda: audit(f"oci-archive:{oci}"),
        "bare oci": lambda: bare_loop(oci),
        "gzip | tar": lambda: shell(f"gzip -dc '{layer}' | tar -t > /dev/null"),
        "gzip only": lambda: shell(f"gzip -dc '{layer}' > /dev/null"),
    }
    for _ in range(rounds):
        for name, function in contenders.items():
            times.setdefault(name, []).append(best(1, function))
    fastest = {name: min(values) for name, values in times.items()}
    layer.unlink()

    print("  1. checks-only audit against a bare tarfile loop and gzip | tar")
    print(
        ratio_line(
            "docker-archive: audit vs bare loop",
            fastest["audit docker"],
            fastest["bare docker"],
            f"target <= {BARE_TARGET}",
        )
    )
    print(
        ratio_line(
            "OCI gzip: audit vs bare loop",
            fastest["audit oci"],
            fastest["bare oci"],
            f"target <= {BARE_TARGET}",
        )
    )
    print(
        ratio_line(
            "OCI gzip: audit vs gzip -dc LAYER | tar -t",
            fastest["audit oci"],
            fastest["gzip | tar"],
            "target <= 1.0",
        )
    )
    print(
        ratio_line(
            "OCI gzip: audit vs gzip -dc LAYER > /dev/null",
            fastest["audit oci"],
            fastest["gzip only"],
            "reference",
        )
    )

    cst = None
    program = cst_program()
    if options.skip_cst or program is None:
        why = "skipped" if options.skip_cst else "container-structure-test not found"
        print(f"  2. container-structure-test: {why}")
    else:
        config = cst_config(built, folder)
        cst = best(options.cst_repeat, lambda: run_cst(program, docker, config))
        print("  2. against container-structure-test --driver tar (docker-archive)")
        print(
            ratio_line(
                "CST time / audit time",
                cst,
                fastest["audit docker"],
                f"target >= {CST_TARGET}",
            )
        )
        print(f"     the audit is {cst / fastest['audit docker']:.1f}x faster")

    mem_docker = memory(f"docker-archive:{docker}")
    mem_oci = memory(f"oci-archive:{oci}")
    print(
        "  3. memory of a child that only audits (peak above its RSS after "
        f"imports, {mem_docker['baseline_mib']:.0f} MiB)"
    )
    for name, mem in (("docker-archive", mem_docker), ("OCI gzip", mem_oci)):
        print(
            f"     {name:15} peak RSS +{mem['rss_mib']:6.1f} MiB, "
            f"tracemalloc peak {mem['traced_mib']:6.1f} MiB"
        )
    return {
        "fastest": fastest,
        "cst": cst,
        "memory": {"docker": mem_docker, "oci": mem_oci},
        "size_mib": size,
        "entries": entries,
    }


def repeated_layers(built: Any, copies: int) -> Path:
    """A docker-archive listing the image's one layer ``copies`` times: the
    same paths, ``copies`` times the bytes (cached beside the image)."""
    source: Path = built.docker_archive
    target = source.with_name(
        source.name.replace(".docker.tar", f".x{copies}.docker.tar")
    )
    if target.is_file():
        return target
    with tarfile.open(source) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        manifest[0]["Layers"] = manifest[0]["Layers"] * copies
        data = json.dumps(manifest).encode()
        partial = target.with_suffix(".partial")
        with tarfile.open(partial, "w") as out:
            for member in outer.getmembers():
                if member.name != "manifest.json":
                    out.addfile(member, outer.extractfile(member))
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    partial.replace(target)
    return target


def bench_repeated(built: Any, options: argparse.Namespace) -> dict[str, Any]:
    """Memory against bytes alone: four times the layer data, same paths."""
    archive = repeated_layers(built, 4)
    reference = f"docker-archive:{archive}"
    # The archive stores the layer once and lists it four times: the reader
    # reads four times the layer data of the single image.
    with tarfile.open(archive) as outer:
        read = sum(outer.getmember(name).size for name in layer_names(outer))
    size = read / 1024**2
    times: dict[str, list[float]] = {"audit": [], "bare": []}
    for _ in range(options.repeat):
        times["audit"].append(best(1, lambda: audit(reference)))
        times["bare"].append(best(1, lambda: bare_loop(archive)))
    mem = memory(reference)
    print(
        f"\nsame layer 4 times: {archive.name} ({size:.0f} MiB of layer data, "
        "the same paths)"
    )
    print(
        ratio_line(
            "docker-archive: audit vs bare loop",
            min(times["audit"]),
            min(times["bare"]),
            f"target <= {BARE_TARGET}",
        )
    )
    print(
        f"     peak RSS +{mem['rss_mib']:6.1f} MiB, "
        f"tracemalloc peak {mem['traced_mib']:6.1f} MiB"
    )
    return {"memory": mem, "size_mib": size}


def bench_pytest(built: Any, options: argparse.Namespace, folder: Path) -> None:
    shared, trivial = write_suites(folder, built.docker_archive)
    reference = f"docker-archive:{built.docker_archive}"
    one = best(options.repeat, lambda: audit(reference))
    runs: dict[str, list[float]] = {"shared": [], "trivial": []}
    for _ in range(options.repeat):
        runs["shared"].append(best(1, lambda: run_pytest(shared)))
        runs["trivial"].append(best(1, lambda: run_pytest(trivial)))
    with_audit, without = min(runs["shared"]), min(runs["trivial"])
    extra = with_audit - without
    print(
        f"\n4. pytest, {TESTS_IN_RUN} tests sharing one audit of the minbase "
        "docker-archive vs trivial tests"
    )
    print(f"  {TESTS_IN_RUN} tests with the audit fixture  {with_audit:6.2f}s")
    print(f"  {TESTS_IN_RUN} trivial tests                {without:6.2f}s")
    print(f"  difference                        {extra:6.2f}s")
    print(f"  one audit (in-process, best)      {one:6.2f}s")
    print(
        f"  difference / one audit            {extra / one:6.2f}  (target: about 1,"
        f" far from {TESTS_IN_RUN})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add the large image")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cst-repeat", type=int, default=1)
    parser.add_argument("--skip-cst", action="store_true")
    parser.add_argument("--child-memory", metavar="REF", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child_memory:
        child_memory(options.child_memory, options.trace)
        return 0

    print(f"machine: {machine()}")
    print(f"command: python benchmarks/bench_audit.py {' '.join(sys.argv[1:])}")
    conftest = _conftest()
    images = [("small image", conftest.build_debian_image())]
    if options.large:
        images.append(("large image", conftest.build_debian_image(LARGE_PACKAGES)))

    with tempfile.TemporaryDirectory(prefix="sentry-bench-") as scratch:
        folder = Path(scratch)
        results = {}
        for label, built in images:
            results[label] = bench_image(label, built, options, folder)
        if options.large:
            results["x4"] = bench_repeated(images[0][1], options)
        bench_pytest(images[0][1], options, folder)

    if options.large:
        small, large = results["small image"], results["large image"]
        print(
            "\nmemory, small -> large image "
            f"({small['size_mib']:.0f} -> {large['size_mib']:.0f} MiB, "
            f"{small['entries']} -> {large['entries']} entries):"
        )
        x4 = results["x4"]["memory"]
        print(
            f"  bytes alone ({results['x4']['size_mib']:.0f} MiB of layers, same "
            "paths as the small image): "
            f"peak RSS +{x4['rss_mib']:.1f} MiB, tracemalloc {x4['traced_mib']:.1f} MiB"
        )
        for kind in ("docker", "oci"):
            a, b = small["memory"][kind], large["memory"][kind]
            print(
                f"  {kind:7} peak RSS +{a['rss_mib']:.1f} -> +{b['rss_mib']:.1f} MiB,"
                f" tracemalloc {a['traced_mib']:.1f} -> {b['traced_mib']:.1f} MiB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
