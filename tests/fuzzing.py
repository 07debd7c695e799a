"""What the fuzz tests share: settings, a time bound, and a side-effect guard.

Every ``tests/test_fuzz_*.py`` example runs the code under test inside
:func:`contained`, which fails the example if it

- takes longer than ``HANG_SECONDS`` (SIGALRM interrupts it, so a real hang
  fails the test instead of stalling the run; hypothesis' deadline only
  judges examples that finish);
- writes, creates, renames, deletes or links any file, anywhere, or starts a
  process (seen through a :func:`sys.addaudithook` hook, which sees every
  ``open`` for writing and every ``os.mkdir``/``os.symlink``/``subprocess``
  call, whatever the path);
- changes the listing of the working directory's parent or of a canary
  directory under the system temporary directory (hostile member names aim
  at both).

Example counts are kept modest: the fuzz suite takes about 30 s on one core,
20 s with ``-n 2``. ``SENTRY_FUZZ_EXAMPLES=3000 pytest tests/test_fuzz_*.py``
sets every fuzz test to that many examples, for a longer hunt by hand.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

T = TypeVar("T")

#: A single example taking longer than this has hung.
HANG_SECONDS = 20

PROFILE = "sentry-fuzz"
settings.register_profile(
    PROFILE,
    # Far above what an example takes (milliseconds), so a loaded CI machine
    # does not turn slowness into flakiness; real hangs are HANG_SECONDS.
    deadline=timedelta(seconds=5),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        # The sandbox and tmp_path are shared by all examples on purpose:
        # each example overwrites its input file and is checked on its own.
        HealthCheck.function_scoped_fixture,
    ],
    print_blob=True,
)


def fuzz_settings(examples: int) -> settings:
    """The fuzz profile with ``examples`` examples, or SENTRY_FUZZ_EXAMPLES."""
    wanted = os.environ.get("SENTRY_FUZZ_EXAMPLES", "").strip()
    count = int(wanted) if wanted else examples
    return settings(settings.get_profile(PROFILE), max_examples=count)


# --- side effects --------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CHANGING_EVENTS = frozenset(
    {
        "os.mkdir",
        "os.symlink",
        "os.link",
        "os.rename",
        "os.remove",
        "os.rmdir",
        "os.chmod",
        "os.chown",
        "os.utime",
        "os.truncate",
        "os.mknod",
        "os.chdir",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.rmtree",
        "shutil.move",
        "shutil.unpack_archive",
        "tarfile.extractall",
    }
)
_PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "pty.spawn",
        "ctypes.dlopen",
    }
)

_watch: dict[str, Any] = {"thread": None, "seen": []}


def _hook(event: str, args: tuple[Any, ...]) -> None:
    # Only the thread being watched counts: pytest and hypothesis write
    # their own files from elsewhere between examples.
    if _watch["thread"] is not threading.get_ident():
        return
    if event == "open":
        _path, mode, flags = (*args, None, None)[:3]
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writes:
            _watch["seen"].append(f"open for writing: {args!r}")
    elif event in _CHANGING_EVENTS or event in _PROCESS_EVENTS:
        _watch["seen"].append(f"{event}: {args!r}")


sys.addaudithook(_hook)


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


@contextmanager
def _time_bound(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum: int, _frame: object) -> None:
        raise AssertionError(f"the example hung for over {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Sandbox:
    """A working directory with watched surroundings; see the module doc.

    ``work`` is the current directory while an example runs; ``canary`` is
    a directory under the system temporary directory that must stay as it
    is. Hostile names use both as targets.
    """

    def __init__(self, root: Path) -> None:
        self.work = root / "work"
        self.work.mkdir()
        self.canary = Path(tempfile.mkdtemp(prefix="sentry-fuzz-canary-"))
        (self.canary / "keep").write_text("untouched\n")

    def close(self) -> None:
        (self.canary / "keep").unlink(missing_ok=True)
        self.canary.rmdir()

    def run(self, action: Callable[[], T]) -> T:
        """``action()`` under the time bound and the side-effect guard."""
        parent_before = _listing(self.work.parent)
        canary_before = _listing(self.canary)
        here = Path.cwd()
        os.chdir(self.work)
        _watch["seen"] = []
        _watch["thread"] = threading.get_ident()
        try:
            with _time_bound(HANG_SECONDS):
                return action()
        finally:
            _watch["thread"] = None
            os.chdir(here)
            seen = list(_watch["seen"])
            assert seen == [], f"side effects: {seen}"
            assert _listing(self.work) == []
            assert _listing(self.work.parent) == parent_before
            assert _listing(self.canary) == canary_before
            assert (self.canary / "keep").read_text() == "untouched\n"


# --- JSON of any shape ---------------------------------------------------------

#: Any JSON value, NaN and integers past 64 bits included.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


def field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The right kind of value, or anything at all."""
    return st.one_of(good, good, json_values)


def shaped(good: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """An object with any subset of the known keys (each value well-typed or
    not), sometimes with extra keys, or any JSON value instead."""
    fixed = st.fixed_dictionaries({}, optional={k: field(v) for k, v in good.items()})
    extra = st.dictionaries(st.text(max_size=6), json_values, max_size=2)
    combined = st.tuples(fixed, extra).map(lambda pair: {**pair[1], **pair[0]})
    return st.one_of(combined, combined, combined, json_values)


def _places(document: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value in a decoded JSON document, root excluded."""
    if isinstance(document, dict):
        items: Any = document.items()
    elif isinstance(document, list):
        items = enumerate(document)
    else:
        return
    for key, value in items:
        yield (*here, key)
        yield from _places(value, (*here, key))


_DELETE = object()


@st.composite
def mutated(draw: st.DrawFn, document: Any, places: list[tuple[Any, ...]]) -> Any:
    """``document`` (a real report or config) with a few values replaced by
    values of another type, set to null, or removed."""
    copy = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 4))):
        place = draw(st.sampled_from(places))
        value = draw(st.one_of(st.none(), st.just(_DELETE), json_values))
        parent = copy
        try:
            for key in place[:-1]:
                parent = parent[key]
            if value is _DELETE:
                del parent[place[-1]]
            else:
                parent[place[-1]] = value
        except (KeyError, IndexError, TypeError):
            # An earlier change removed or replaced this place.
            continue
    return copy


def places(document: Any) -> list[tuple[Any, ...]]:
    return list(_places(document))
