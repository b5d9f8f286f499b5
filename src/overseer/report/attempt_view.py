"""One attempt as a reviewer of a pull request wants it: the diff against its checkpoint, each
gate with its exit code, duration, failing tests and output, the findings, the reviewer's
verdict, the prompt the agent got and its final message, cost and tokens. `overseer show`,
`overseer diff` and the web view's attempt page read it from here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pydantic import BaseModel

from overseer.errors import OverseerError
from overseer.report.collect import collect
from overseer.report.model import AttemptReport, BreakpointInfo
from overseer.scrub import Scrubber
from overseer.store import Store
from overseer.store.steers import SteerRecord
from overseer.workspace.refs import end_ref

_TARGET = re.compile(r"^(?P<task>[^#\s]+)(?:#(?P<n>[1-9][0-9]*))?$")


class SteerInfo(BaseModel):
    message: str
    by: str | None
    sent_at: str
    # "prompt": the attempt's prompt carried it; "live": its running session took it at the end
    # of a turn; None: still waiting.
    how: str | None = None


class AttemptView(BaseModel):
    run_id: str
    task: str
    title: str
    task_state: str
    attempts: int  # how many the task has had
    attempt: AttemptReport
    diff: str
    # Where the diff's "after" side comes from: the tree the attempt left, or (while it runs)
    # the working tree now.
    diff_source: str
    # Notes a person gave on the breakpoints before this attempt (its prompt carries them).
    notes_before: list[BreakpointInfo] = []
    # Messages a person sent with `overseer steer`: those this attempt's prompt carried, and
    # those still waiting for the task's next prompt.
    steers: list[SteerInfo] = []
    steers_waiting: list[SteerInfo] = []



def parse_target(text: str) -> tuple[str, int | None]:
    """TASK or TASK#N."""
    m = _TARGET.match(text.strip())
    if m is None:
        raise OverseerError(f"cannot read {text!r} as TASK or TASK#ATTEMPT",
                            hint="for example `overseer show add` or `overseer show add#2`")
    return m["task"], int(m["n"]) if m["n"] else None


def attempt_view(store: Store, run_id: str, repo: Path, task_id: str, n: int | None) -> AttemptView:
    report = collect(store, run_id, repo)
    task = next((t for t in report.tasks if t.id == task_id), None)
    if task is None:
        known = ", ".join(t.id for t in report.tasks) or "none"
        raise OverseerError(f"no task {task_id!r} in run {run_id}", hint=f"tasks in this run: {known}")
    if not task.attempts:
        raise OverseerError(f"task {task_id} has no attempt yet ({task.state})",
                            hint="`overseer status` shows where the run is")
    if n is None:
        attempt = task.attempts[-1]
    else:
        found = next((a for a in task.attempts if a.n == n), None)
        if found is None:
            raise OverseerError(f"task {task_id} has no attempt {n}",
                                hint=f"its attempts: {', '.join(str(a.n) for a in task.attempts)}")
        attempt = found
    diff, source = attempt_diff(repo, run_id, task_id, attempt)
    run = store.get_run(run_id)
    scrub = Scrubber.for_run(run.plan_json if run else None)
    before = [b for b in task.breakpoints if b.note] + [
        b for a in task.attempts if a.n < attempt.n for b in a.breakpoints if b.note]
    steers = store.list_steers(run_id, task_id)

    def info(s_: SteerRecord) -> SteerInfo:
        return SteerInfo(message=scrub.text(s_.message), by=s_.by, sent_at=s_.created_at.isoformat(),
                         how=s_.delivered_how)

    return AttemptView(run_id=run_id, task=task.id, title=task.title, task_state=task.state,
                       attempts=len(task.attempts), attempt=attempt, diff=scrub.text(diff),
                       diff_source=source, notes_before=before,
                       steers=[info(s_) for s_ in steers if s_.delivered_attempt == attempt.n],
                       steers_waiting=[info(s_) for s_ in steers if s_.delivered_attempt is None])


def attempt_diff(repo: Path, run_id: str, task_id: str, attempt: AttemptReport) -> tuple[str, str]:
    """The attempt's change against its checkpoint, as `git diff` prints it."""
    if attempt.checkpoint_sha is None:
        return "", "no checkpoint was recorded for this attempt"
    end = end_ref(run_id, task_id, attempt.n)
    has_end = _git(repo, "rev-parse", "-q", "--verify", f"{end}^{{commit}}").returncode == 0
    if has_end:
        proc = _git(repo, "diff", "--no-color", "--find-renames", attempt.checkpoint_sha, end)
        return proc.stdout, "the tree the attempt left"
    if attempt.finished_at is None:
        from overseer.workspace.git import GitWorkspace

        return GitWorkspace.open(repo).diff(attempt.checkpoint_sha), "the working tree now (the attempt is running)"
    return "", "not kept: this attempt ran before overseer kept the tree each attempt left"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False,
                          errors="replace")
