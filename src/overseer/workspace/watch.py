"""File activity during an attempt, for the live view (watchfiles, in a thread).

This is a hint of what the agent is doing right now. The authoritative change list is always
`git diff` against the attempt's checkpoint: a watcher can miss events (overflowing queues,
files changed and changed back) and sees ignored files git does not care about.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from watchfiles import Change, DefaultFilter
from watchfiles._rust_notify import RustNotify

from overseer.workspace.gitcmd import run_git, split_z

log = logging.getLogger(__name__)

# Directory names never reported, wherever they are: VCS and overseer state, environments,
# caches and dependency folders. Events inside them are frequent and say nothing about the task.
IGNORE_DIRS: tuple[str, ...] = (
    *DefaultFilter.ignore_dirs,
    ".overseer",
    "venv",
    ".ruff_cache",
    ".nox",
    ".cache",
    ".gradle",
    "target",
)

# How often the watcher looks at the stop event while nothing happens: 5 wake-ups a second.
STEP_MS = 200

OnChange = Callable[[list[tuple[str, str]]], None]
_KIND = {Change.added: "added", Change.modified: "modified", Change.deleted: "deleted"}


def gitignored_dirs(root: Path) -> list[Path]:
    """Folders git ignores in `root` (`.venv/`, `build/` …), found once, cheaply: git lists an
    ignored folder as one entry without walking into it. Empty when root is not a repository."""
    proc = run_git(
        root, ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"], check=False
    )
    if proc.returncode != 0:
        return []
    return [root / p.rstrip("/") for p in split_z(proc.stdout) if p.endswith("/")]


def watch_files(
    root: Path,
    on_change: OnChange,
    stop: threading.Event,
    *,
    ready: threading.Event | None = None,
    debounce_ms: int = 200,
    ignore_paths: Sequence[Path] | None = None,
) -> None:
    """Report batches of (kind, path relative to root) until `stop` is set; kind is `added`,
    `modified` or `deleted`. Blocks: run it in a thread (FileActivity does). `ready` is set
    once the watcher is in place, so changes from then on are seen."""
    root = Path(root).absolute()
    # watchfiles' own watcher, the one `watchfiles.watch` drives, used directly: its watches
    # are in place when it is constructed, so `ready` is set then — `watch()` would say so
    # only with its first batch, a step later, and every attempt would wait that long.
    polling = bool(os.environ.get("WATCHFILES_FORCE_POLLING"))
    with RustNotify([str(root)], False, polling, 300, True, True) as watcher:
        if ready is not None:
            ready.set()
        # After the watches are up (what happens meanwhile waits in the watcher): listing what
        # git ignores is a git command the attempt need not wait for.
        ignore = list(ignore_paths) if ignore_paths is not None else gitignored_dirs(root)
        keep = DefaultFilter(ignore_dirs=IGNORE_DIRS, ignore_paths=[str(p) for p in ignore])
        while True:
            raw = watcher.watch(debounce_ms, STEP_MS, 0, stop)
            if isinstance(raw, str):  # "stop", or "signal" (never in a thread), or "timeout"
                if raw == "timeout":
                    continue
                return
            batch = [(Change(kind), path) for kind, path in raw if keep(Change(kind), path)]
            if batch:
                _deliver(root, batch, ignore, on_change)


def _deliver(
    root: Path, batch: list[tuple[Change, str]], ignore: Sequence[Path], on_change: OnChange
) -> None:
    found = {(_KIND[kind], _relative(root, path)) for kind, path in batch if kind in _KIND}
    # Files written into a folder the moment it is created come before inotify watches
    # that folder; list what a new folder holds so they are not lost.
    for kind, path in batch:
        if kind == Change.added and os.path.isdir(path):
            found |= {("added", _relative(root, f)) for f in _files_below(Path(path), ignore)}
    if not found:
        return
    try:
        on_change(sorted(found, key=lambda e: (e[1], e[0])))
    except Exception:  # the live view must never take the watcher (or the attempt) down
        log.exception("file activity callback failed")


def _files_below(folder: Path, ignore: Sequence[Path]) -> list[str]:
    skip = {str(p) for p in ignore}
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in IGNORE_DIRS and os.path.join(dirpath, d) not in skip]
        files += [os.path.join(dirpath, f) for f in filenames]
    return files


def _relative(root: Path, path: str) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(path, root)).as_posix()


class FileActivity:
    """`with FileActivity(root, on_change):` — watch `root` in a thread for the block's duration.
    on_change is never called once the block has ended."""

    def __init__(self, root: Path, on_change: OnChange, *, debounce_ms: int = 200, ready_timeout: float = 5.0) -> None:
        self.root = Path(root)
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self.ready_timeout = ready_timeout
        self.stop = threading.Event()
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._open = True
        self._lock = threading.Lock()

    def __enter__(self) -> FileActivity:
        self._thread = threading.Thread(
            target=self._run, name=f"overseer-watch:{self.root.name}", daemon=True
        )
        self._thread.start()
        # Wait for the watcher, so the agent's first writes are not missed; a slow start only
        # costs a few early events, never the attempt.
        self.ready.wait(self.ready_timeout)
        return self

    def _run(self) -> None:
        try:
            watch_files(self.root, self._report, self.stop, ready=self.ready, debounce_ms=self.debounce_ms)
        except Exception:
            log.exception("file watcher for %s stopped", self.root)
        finally:
            self.ready.set()

    def _report(self, events: list[tuple[str, str]]) -> None:
        with self._lock:
            if self._open:
                self.on_change(events)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Not joined: the thread sees the stop within a step and ends by itself; closing the
        # callback is what the caller needs, and waiting for that step would cost every attempt.
        self.stop.set()
        with self._lock:
            self._open = False
