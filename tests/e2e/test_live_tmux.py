"""The live view in a real terminal: tmux runs `overseer run` / `overseer watch`, the test reads
the screen (capture-pane) and types keys (send-keys)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_helpers import clean_env, overseer_cmd
from test_breakpoints import AGENT, _plan

from realbin import missing

# The plan is the breakpoint tests' own: `first` stops after its attempt for approval, `second`
# waits for it, `side` is independent; the agent logs each prompt it gets.

# Generous: the machine running the suite may be loaded; a passing run returns much sooner.
DEADLINE_S = 240


class Tmux:
    """One private tmux server (its own socket), so tests never touch a user's sessions."""

    def __init__(self, sock: Path, env: dict[str, str]) -> None:
        self.sock, self.env = sock, env

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", str(self.sock), *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def start(self, window: str, script: Path, cwd: Path) -> None:
        # The pane's shell keeps the window open after the command, so its last screen and
        # exit code can still be read.
        cmd = f"sh {shlex.quote(str(script))}; echo EXIT=$?; sleep 3600"
        if window == "run":
            self("new-session", "-d", "-s", "t", "-n", window, "-x", "200", "-y", "60", "-c", str(cwd), cmd)
        else:
            self("new-window", "-t", "t", "-n", window, "-c", str(cwd), cmd)

    def screen(self, window: str) -> str:
        return self("capture-pane", "-p", "-t", f"t:{window}")

    def keys(self, window: str, *keys: str) -> None:
        self("send-keys", "-t", f"t:{window}", *keys)

    def wait_for(self, window: str, pattern: str, what: str) -> re.Match[str]:
        deadline = time.monotonic() + DEADLINE_S
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(window)
            found = re.search(pattern, screen)
            if found:
                return found
            time.sleep(0.3)
        raise AssertionError(f"{what}: {pattern!r} never appeared; the screen:\n{screen}")


def _script(tmp_path: Path, name: str, env: dict[str, str], *args: str) -> Path:
    """A shell script running overseer with exactly this environment (tmux's server would
    otherwise hand its panes its own)."""
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items() if k.isidentifier())
    path = tmp_path / f"{name}.sh"
    path.write_text(f"{exports}\nexec {shlex.join(overseer_cmd(*args))}\n")
    return path


@pytest.fixture
def live_repo(make_repo: Callable[[dict[str, str]], Path], tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    log = tmp_path / "agent.log"
    repo = make_repo({"tools/agent.py": AGENT})
    (repo / "plan.yaml").write_text(_plan(log))
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    env["TERM"] = "xterm-256color"
    return repo, log, env


@pytest.fixture
def tmux(tmp_path: Path, live_repo: tuple[Path, Path, dict[str, str]]) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        missing("tmux", "install it (apt-get install tmux)")
    repo, _log, env = live_repo
    t = Tmux(tmp_path / "tmux.sock", env)
    try:
        yield t
    finally:
        subprocess.run(["tmux", "-S", str(t.sock), "kill-server"], capture_output=True, check=False)
        # A run outlives its terminal by design; a failed test must not leave one parked.
        if (repo / ".overseer" / "state.db").exists() and _status(repo, env)["state"] in ("running", "waiting"):
            subprocess.run(overseer_cmd("cancel", _status(repo, env)["run_id"]), cwd=repo, env=env,
                           capture_output=True, timeout=60, check=False)


def _status(repo: Path, env: dict[str, str]) -> dict:
    res = subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _wait_state(repo: Path, env: dict[str, str], state: str) -> dict:
    deadline = time.monotonic() + DEADLINE_S
    st: dict = {}
    while time.monotonic() < deadline:
        st = _status(repo, env)
        if st["state"] == state:
            return st
        time.sleep(0.5)
    raise AssertionError(f"the run never reached {state}: {st}")


def test_approve_a_breakpoint_with_one_key(tmux, live_repo, tmp_path):
    repo, log, env = live_repo
    tmux.start("run", _script(tmp_path, "run", env, "run", "plan.yaml"), repo)

    # The view shows the waiting breakpoint, the command that resolves it, and the keys.
    bp = tmux.wait_for("run", r"overseer approve (bp-[0-9a-f]+)", "the breakpoint's command").group(1)
    screen = tmux.screen("run")
    assert "waiting for you" in screen and "a approve" in screen
    assert re.search(r"first\s+blocked", screen), screen
    # A parked task does not hold up the others.
    tmux.wait_for("run", r"side\s+completed", "the independent task finishing")

    tmux.keys("run", "a")
    tmux.wait_for("run", r"EXIT=\d+", "the run's exit")
    screen = tmux.screen("run")
    assert "EXIT=0" in screen, screen
    assert re.search(r"completed\s+3/3 tasks done", screen), screen
    st = _status(repo, env)
    assert st["state"] == "completed"
    assert [(b["id"], b["state"]) for b in st["breakpoints"]] == [(bp, "approved")]
    # Approval committed the reviewed attempt: the first task's agent ran once.
    assert [line.split()[:2] for line in log.read_text().splitlines()].count(["first", "1"]) == 1


def test_detach_leaves_the_run_going(tmux, live_repo, tmp_path):
    repo, _log, env = live_repo
    tmux.start("run", _script(tmp_path, "run", env, "run", "plan.yaml"), repo)
    bp = tmux.wait_for("run", r"overseer approve (bp-[0-9a-f]+)", "the breakpoint's command").group(1)

    tmux.keys("run", "q")
    tmux.wait_for("run", r"EXIT=\d+", "the view's exit")
    screen = tmux.screen("run")
    assert "EXIT=0" in screen and "detached" in screen and "overseer watch" in screen, screen
    # The run's process went on without the view: answered from another terminal, it finishes.
    assert _status(repo, env)["state"] in ("running", "waiting")
    ok = subprocess.run(overseer_cmd("approve", bp), cwd=repo, env=env, capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0, ok.stderr
    st = _wait_state(repo, env, "completed")
    assert {t["id"]: t["state"] for t in st["tasks"]} == {
        "first": "completed", "second": "completed", "side": "completed"}


def test_watch_from_a_second_window_rejects_with_a_note(tmux, live_repo, tmp_path):
    repo, log, env = live_repo
    tmux.start("run", _script(tmp_path, "run", env, "run", "plan.yaml", "--plain"), repo)
    tmux.wait_for("run", r"overseer approve bp-", "the plain run's breakpoint line")
    tmux.start("watch", _script(tmp_path, "watch", env, "watch"), repo)
    bp = tmux.wait_for("watch", r"overseer approve (bp-[0-9a-f]+)", "the watched breakpoint").group(1)

    tmux.keys("watch", "p")
    tmux.wait_for("watch", r"PAUSED \(no new tasks start", "the paused header")
    assert _status(repo, env)["state"] in ("running", "waiting")
    tmux.keys("watch", "c")
    tmux.wait_for("watch", r"continuing", "the continue message")
    assert "PAUSED" not in tmux.screen("watch")

    tmux.keys("watch", "r")
    tmux.wait_for("watch", r"reject note \(optional\) for " + bp, "the note prompt")
    tmux.keys("watch", "-l", "use capital letters")
    tmux.keys("watch", "Enter")
    # The rejected task runs again with the note and stops at a new breakpoint.
    tmux.wait_for("watch", rf"overseer approve (?!{bp})(bp-[0-9a-f]+)", "the second attempt's breakpoint")
    tmux.keys("watch", "a")

    tmux.wait_for("watch", r"EXIT=\d+", "watch's exit when the run finishes")
    tmux.wait_for("run", r"EXIT=\d+", "the run's exit")
    assert "EXIT=0" in tmux.screen("watch") and "EXIT=0" in tmux.screen("run")
    assert [b["state"] for b in _status(repo, env)["breakpoints"]] == ["rejected", "approved"]
    second = [line for line in log.read_text().splitlines() if line.startswith("first 2 ")]
    assert second and "use capital letters" in second[0]


def test_ctrl_c_interrupts_the_run_as_without_the_view(tmux, live_repo, tmp_path):
    repo, _log, env = live_repo
    tmux.start("run", _script(tmp_path, "run", env, "run", "plan.yaml"), repo)
    tmux.wait_for("run", r"overseer approve bp-", "the breakpoint's command")
    run_id = _status(repo, env)["run_id"]
    tmux.keys("run", "C-c")
    tmux.wait_for("run", r"EXIT=\d+", "the run's exit")
    screen = tmux.screen("run")
    assert "EXIT=130" in screen and f"overseer resume {run_id}" in screen, screen
    # The run's own process was interrupted too (it says so in its log), not left running.
    log = repo / ".overseer" / "runs" / run_id / "run.log"
    assert f"interrupted; continue with: overseer resume {run_id}" in log.read_text()


def test_approving_a_parked_run_in_watch_carries_it_on(tmux, live_repo, tmp_path):
    # Parked by `--no-wait`, no process executes the run: the key that answers also resumes it.
    repo, _log, env = live_repo
    parked = subprocess.run(overseer_cmd("run", "plan.yaml", "--no-wait"), cwd=repo, env=env,
                            capture_output=True, text=True, timeout=DEADLINE_S)
    assert parked.returncode == 3, parked.stdout + parked.stderr
    run_id = _status(repo, env)["run_id"]
    tmux.start("run", _script(tmp_path, "watch", env, "watch", run_id), repo)
    tmux.wait_for("run", r"overseer approve bp-", "the parked breakpoint")

    tmux.keys("run", "a")
    tmux.wait_for("run", r"was started", "the background resume's notice")
    tmux.wait_for("run", r"EXIT=\d+", "watch's exit when the run finishes")
    assert "EXIT=0" in tmux.screen("run"), tmux.screen("run")
    st = _status(repo, env)
    assert st["state"] == "completed" and [b["state"] for b in st["breakpoints"]] == ["approved"]


def test_v_shows_the_attempt_at_the_breakpoint_then_a_approves_it(tmux, live_repo, tmp_path):
    repo, _log, env = live_repo
    env = {**env, "PAGER": "less -R", "LESS": ""}
    tmux.start("run", _script(tmp_path, "run", env, "run", "plan.yaml"), repo)
    tmux.wait_for("run", r"overseer approve (bp-[0-9a-f]+)", "the breakpoint's command")
    assert "v view" in tmux.screen("run")

    tmux.keys("run", "v")
    # The pager holds the attempt as `overseer show` prints it: the change under review.
    tmux.wait_for("run", r"first#1", "the attempt's page in the pager")
    tmux.wait_for("run", r"Changes", "its changes")
    tmux.keys("run", "q")  # leave the pager: back in the view, which goes on
    tmux.wait_for("run", r"shown: first#1", "the view, after the pager")
    tmux.keys("run", "a")
    tmux.wait_for("run", r"EXIT=\d+", "the run's exit")
    assert "EXIT=0" in tmux.screen("run")
    assert _status(repo, env)["state"] == "completed"
