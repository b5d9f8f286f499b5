"""Helpers for driving the real `overseer` entry point against real git repositories."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

GIT_ID = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def overseer_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "overseer.cli.main", *args]


def wait_for(pred: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def status_json(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    """`overseer status --json` of the repository's latest run."""
    res = subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    return dict(json.loads(res.stdout))


def alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    return stat[0] != "Z"


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSEER_") or k == "OVERSEER_REQUIRE_REAL"}
    # The review path is exercised by its own tests; here a 135M local model's judgement must
    # not make the engine's behaviour depend on chance.
    env["OVERSEER_SUPERVISOR__PROVIDER"] = "none"
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_STATE_HOME"] = str(home / ".local" / "state")
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.invalid"
    return env


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A git repository with the given files committed as its starting point."""

    def make(files: dict[str, str]) -> Path:
        repo = tmp_path / "repo"
        repo.mkdir()
        for name, text in files.items():
            p = repo / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "start")
        return repo

    return make


@pytest.fixture
def run_overseer(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    home = tmp_path / "home"
    home.mkdir()

    def run(
        *args: str, cwd: Path, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            overseer_cmd(*args), cwd=cwd, env={**clean_env(home), **(env or {})},
            capture_output=True, text=True, timeout=timeout,
        )

    return run


URL_WAIT_S = 90  # the server imports the engine before it prints; slow on a loaded machine


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str  # as printed, with ?token=
    lines: list[str]

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]


@contextmanager
def serving(repo: Path, env: dict[str, str]) -> Iterator[Served]:
    """`overseer serve --port 0` in repo until the block ends, then Ctrl-C."""
    proc = subprocess.Popen(overseer_cmd("serve", "--port", "0"), cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or ()], daemon=True).start()
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=URL_WAIT_S)
            except queue.Empty:
                raise AssertionError(f"overseer serve printed no address: {seen}") from None
            seen.append(line)
            if line.startswith("open: "):
                url = line.split(" ", 1)[1].strip()
        yield Served(proc, url, seen)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def stop_all(procs: Iterable[subprocess.Popen[Any]], grace_s: float = 30) -> None:
    """SIGTERM every process still running (workers finish their step), then reap them;
    SIGKILL the ones that outstay the grace period."""
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_worker(repo: Path, env: dict[str, str], name: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`overseer worker --id NAME` in repo, its output appended to `log` (or dropped)."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(overseer_cmd("worker", "--id", name), cwd=repo, env=env, stdout=out,
                            stderr=subprocess.STDOUT)


def queue_run(repo: Path, env: dict[str, str], parallel: int = 2) -> subprocess.CompletedProcess[str]:
    """`overseer run plan.yaml --no-wait` on PostgreSQL: the run handed to the workers."""
    res = subprocess.run(overseer_cmd("run", "plan.yaml", "--parallel", str(parallel), "--no-wait"), cwd=repo,
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def parked_run(repo: Path, home: Path) -> dict[str, str]:
    """`overseer run plan.yaml --no-wait` until it parks at a breakpoint (exit 3); the
    environment it ran with, for the commands that follow."""
    home.mkdir(exist_ok=True)
    env = clean_env(home)
    res = subprocess.run(overseer_cmd("run", "plan.yaml", "--no-wait"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 3, res.stdout + res.stderr
    return env
