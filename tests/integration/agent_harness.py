"""One attempt of a real agent CLI, run the way the engine runs it, and what to check afterwards.

The adapter tests (test_agent_*.py) differ in their fake model server and their agent's
settings; starting the attempt, collecting its events and process groups, and looking for
leaked secrets or leftover processes are the same for all of them and live here.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overseer.agents.base import Agent, AgentEvent, AgentResult, RunContext
from overseer.agents.process import ATTEMPT_ENV


@dataclass
class Attempt:
    result: AgentResult
    events: list[AgentEvent]
    pgids: list[int] = field(default_factory=list)
    attempt_id: str = ""

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.kind == kind]

    def texts(self) -> str:
        return "\n".join(str(d.get("text", "")) for d in self.of("text"))


def new_run_id() -> str:
    # Unique, so that processes of tests running at the same time never look like ours.
    return f"r-{uuid.uuid4().hex[:10]}"


def run_attempt(agent: type[Agent], config: Mapping[str, Any], workdir: Path, *, prompt: str = "do the task",
                attempt: int = 1, session_id: str | None = None, timeout: float = 60,
                run_id: str | None = None, state: Path | None = None,
                take_steers: Callable[[], str | None] | None = None, **keys: Any) -> Attempt:
    """Attempt `attempt` of task t1 in `workdir` with `agent` configured by `config`, where `keys`
    override or add settings. Its prompt and transcript go where the engine puts them (under
    `workdir`/.overseer/runs) unless `state` names another root."""
    cfg = agent.config_class.model_validate({**config, **keys})
    run_id = run_id or new_run_id()
    adir = (state or workdir / ".overseer" / "runs") / run_id / "t1" / str(attempt)
    adir.mkdir(parents=True, exist_ok=True)
    (adir / "prompt.md").write_text(prompt)
    events: list[AgentEvent] = []
    pgids: list[int] = []
    ctx = RunContext(workdir=workdir, prompt=prompt, prompt_file=adir / "prompt.md", run_id=run_id, task_id="t1",
                     attempt=attempt, timeout=timeout, transcript=adir / "transcript.jsonl",
                     on_event=events.append, on_spawn=pgids.append, session_id=session_id,
                     take_steers=take_steers)
    return Attempt(agent(cfg).run(ctx), events, pgids, f"{run_id}/t1/{attempt}")


def processes_left(a: Attempt) -> list[int]:
    """Live processes of the attempt: in one of its process groups, or carrying its attempt id
    (a helper that started a session of its own)."""
    marker = f"{ATTEMPT_ENV}={a.attempt_id}".encode()
    left = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text().rsplit(")", 1)[-1].split()
            env = (p / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat[0] != "Z" and (int(stat[2]) in a.pgids or marker in env):
            left.append(int(p.name))
    return left


def assert_no_secret(a: Attempt, secret: str) -> None:
    """The key reached the CLI, but neither the attempt's result nor any event carries it."""
    assert secret not in a.result.model_dump_json()
    assert all(secret not in e.model_dump_json() for e in a.events)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e.invalid", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout


def committed_repo(path: Path, files: Mapping[str, str]) -> Path:
    """A git repo on branch main whose first commit holds `files`."""
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "start")
    # The engine keeps its state under .overseer/, which is never part of a task's changes.
    (path / ".git" / "info" / "exclude").write_text(".overseer/\n")
    return path
