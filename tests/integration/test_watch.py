"""File activity with a real watcher (watchfiles / inotify) on a temp directory."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

from overseer.workspace.watch import FileActivity, gitignored_dirs

WAIT_S = 15.0  # upper bound for the watcher to deliver; the test ends as soon as it has


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: list[tuple[str, str]]) -> None:
        with self.lock:
            self.events.extend(batch)

    def wait_for(self, wanted: set[tuple[str, str]]) -> set[tuple[str, str]]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self.lock:
                seen = set(self.events)
            if wanted <= seen:
                return seen
            time.sleep(0.05)
        with self.lock:
            return set(self.events)


def test_reports_added_modified_deleted_and_ignores_git_and_overseer(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "old.txt").write_text("old\n")
    rec = Recorder()
    with FileActivity(tmp_path, rec, debounce_ms=50) as fa:
        assert fa.ready.is_set()
        (tmp_path / "new.txt").write_text("new\n")
        (tmp_path / "pkg" / "sub").mkdir(parents=True)
        (tmp_path / "pkg" / "sub" / "mod.py").write_text("x = 1\n")
        (tmp_path / "old.txt").unlink()
        # Noise that must not be reported.
        (tmp_path / ".git" / "noise").write_text("x\n")
        (tmp_path / ".overseer").mkdir()
        (tmp_path / ".overseer" / "state.txt").write_text("x\n")
        (tmp_path / "node_modules" / "dep").mkdir(parents=True)
        (tmp_path / "node_modules" / "dep" / "index.js").write_text("x\n")
        (tmp_path / "build" / "out.o").write_bytes(b"\0")
        seen = rec.wait_for({("added", "new.txt"), ("added", "pkg/sub/mod.py"), ("deleted", "old.txt")})
        assert {("added", "new.txt"), ("added", "pkg/sub/mod.py"), ("deleted", "old.txt")} <= seen

        with (tmp_path / "new.txt").open("a") as f:
            f.write("more\n")
        seen = rec.wait_for({("modified", "new.txt")})
        assert ("modified", "new.txt") in seen

    paths = {p for _, p in rec.events}
    assert not any(p.startswith((".git/", ".overseer", "node_modules", "build/")) for p in paths), paths
    # The block does not wait for the thread, which ends by itself within a step.
    assert fa._thread is not None
    fa._thread.join(timeout=WAIT_S)
    assert not fa._thread.is_alive()


def test_first_writes_are_seen_and_nothing_is_reported_after_the_block(tmp_path: Path) -> None:
    rec = Recorder()
    with FileActivity(tmp_path, rec, debounce_ms=50) as fa:
        assert fa.ready.is_set()
        # Written at once: seen, because the watches are in place when the block starts.
        (tmp_path / "first.txt").write_text("1\n")
        assert ("added", "first.txt") in rec.wait_for({("added", "first.txt")})
    (tmp_path / "after.txt").write_text("2\n")
    time.sleep(1.0)  # several steps and debounces: a late batch would have come by now
    assert ("added", "after.txt") not in set(rec.events)


def test_gitignored_dirs_lists_ignored_folders_only(tmp_path: Path) -> None:
    assert gitignored_dirs(tmp_path) == []  # not a repository: nothing known
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text(".venv/\n*.log\n")
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "x.py").write_text("")
    (tmp_path / "a.log").write_text("")
    assert gitignored_dirs(tmp_path) == [tmp_path / ".venv"]


def test_a_failing_callback_does_not_stop_the_watcher(tmp_path: Path) -> None:
    calls: list[list[tuple[str, str]]] = []

    def flaky(batch: list[tuple[str, str]]) -> None:
        calls.append(batch)
        if len(calls) == 1:
            raise RuntimeError("live view hiccup")

    with FileActivity(tmp_path, flaky, debounce_ms=50):
        (tmp_path / "one.txt").write_text("1\n")
        deadline = time.monotonic() + WAIT_S
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
        (tmp_path / "two.txt").write_text("2\n")
        while not any(("added", "two.txt") in b for b in calls) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert any(("added", "two.txt") in b for b in calls)
