"""Roll a run back to the checkpoint taken before one of its tasks (or one attempt of it).

What a rollback does, in this order, so that a failure part-way leaves nothing lost:
1. checks: the checkpoint exists, the run's branch is checked out and contains the commit that
   was HEAD at checkpoint time, no task to re-open is still running, and the work tree holds
   no change the run cannot account for (unless forced);
2. keeps the commits it drops reachable at `refs/overseer/<run>/rolled-back/<stamp>` and, when
   forced over uncommitted changes, the tree as it was at `refs/overseer/<run>/rolled-back/<stamp>-tree`;
3. moves the branch back to the checkpoint's HEAD (compare-and-swap), restores the tree byte
   for byte, and brings the index entries the dropped commits had set back to that HEAD;
4. marks the task, every task whose commit was dropped and every finished dependent pending,
   and writes a JSON record under `.overseer/runs/<run>/rollbacks/` (artifact kind "rollback").

"Changes the run cannot account for": a path differing both from HEAD (what the run
committed) and from the run's latest checkpoint (what the tree held before the last attempt
started) was changed by someone else, or by an attempt that never got committed.
"""

from __future__ import annotations

import getpass
import json
import socket
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from overseer.errors import OverseerError, WorkspaceError
from overseer.lifecycle import TERMINAL_TASK_STATES, RunState, TaskState
from overseer.store import Store
from overseer.store.records import CheckpointRecord, TaskRecord
from overseer.workspace.git import STATE_DIR, GitWorkspace
from overseer.workspace.gitcmd import (
    index_info,
    index_updates,
    out,
    parse_ls_files_stage,
    parse_ls_tree,
    run_git,
    split_z,
)

TASK_TRAILER = "Overseer-Task"
RUN_TRAILER = "Overseer-Run"


@dataclass(frozen=True)
class DroppedCommit:
    sha: str
    subject: str
    task: str | None  # from its Overseer-Task trailer, when the run made it


@dataclass
class RollbackResult:
    run_id: str
    task_id: str
    attempt: int
    checkpoint_ref: str
    checkpoint_sha: str
    branch: str
    from_head: str
    to_head: str
    dropped: list[DroppedCommit]
    saved_ref: str | None  # keeps `dropped` reachable
    saved_tree_ref: str | None  # the tree before a forced rollback
    reset_tasks: list[str]
    forced: bool
    overwritten: list[str]  # uncommitted paths a forced rollback replaced (saved at saved_tree_ref)
    by: str
    at: str
    record_path: str = ""
    notes: list[str] = field(default_factory=list)


def rollback(
    ws: GitWorkspace,
    store: Store,
    run_id: str,
    task_id: str,
    *,
    attempt: int | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> RollbackResult:
    run = store.get_run(run_id)
    if run is None:
        raise OverseerError(f"no run {run_id!r}", hint="`overseer status` shows the latest run")
    tasks = {t.task_id: t for t in store.list_tasks(run_id)}
    if task_id not in tasks:
        raise OverseerError(
            f"run {run_id} has no task {task_id!r}",
            hint=f"its tasks: {', '.join(tasks) or 'none'}",
        )
    cp = _pick_checkpoint(store.checkpoints(run_id, task_id), task_id, attempt)
    branch = ws.branch()
    if branch is None or (run.branch is not None and branch != run.branch):
        raise WorkspaceError(
            f"run {run_id} committed to branch {run.branch or '(detached HEAD)'}, but "
            f"{'a detached HEAD' if branch is None else branch} is checked out",
            hint=f"`git switch {run.branch}` first" if run.branch else "check out the run's branch first",
        )
    head = ws.head()
    if _git(ws, "cat-file", "-e", f"{cp.sha}^{{commit}}", check=False) != 0:
        raise WorkspaceError(
            f"checkpoint {cp.ref} ({cp.sha[:12]}) is gone from the repository",
            hint="it may have been deleted with its refs; nothing can be restored from it",
        )
    base = _checkpoint_head(ws, cp.sha)
    if head is None or base is None or not _is_ancestor(ws, base, head):
        raise WorkspaceError(
            f"the commit that was HEAD before {task_id} ran ({(base or 'none')[:12]}) is not in "
            f"the history of {branch}",
            hint="the branch was rewritten since; roll back by hand with `git reset` if you must",
        )
    dropped = _commits(ws, base, head)
    reset = _tasks_to_reset(tasks, task_id, dropped, run_id)
    busy = [t for t in reset if tasks[t].state not in TERMINAL_TASK_STATES | {TaskState.PENDING}]
    if busy:
        raise OverseerError(
            f"task {busy[0]} is {tasks[busy[0]].state.value}; a rollback cannot re-open a task that is still going",
            hint=f"wait for the run to stop, or `overseer cancel {run_id}`, then roll back",
        )

    dirty = _unaccounted_changes(ws, store, run_id, head)
    if dirty and not force:
        listed = "\n".join(f"  {p}" for p in dirty[:20]) + (f"\n  ... and {len(dirty) - 20} more" if len(dirty) > 20 else "")
        raise WorkspaceError(
            f"the working tree has uncommitted changes that run {run_id} did not make:\n{listed}",
            hint="commit or stash them first, or pass --force to roll back anyway "
            "(the current tree is then saved under refs/overseer/<run>/rolled-back/)",
            context={"paths": dirty},
        )

    when = now or datetime.now(UTC)
    stamp = _unique_stamp(ws, run_id, when)
    saved_ref = f"refs/overseer/{run_id}/rolled-back/{stamp}" if dropped else None
    saved_tree_ref = f"refs/overseer/{run_id}/rolled-back/{stamp}-tree" if dirty else None
    if saved_ref:
        _git(ws, "update-ref", "-m", "overseer: rollback keeps dropped commits", saved_ref, head, "")
    if saved_tree_ref:
        ws.checkpoint(saved_tree_ref)

    branch_ref = f"refs/heads/{branch}"
    if head != base and _git(ws, "update-ref", "-m", f"overseer: roll back {task_id}", branch_ref, base, head, check=False):
        raise WorkspaceError(
            f"{branch} moved while overseer was rolling back; nothing was changed",
            hint="try again once nothing else is committing",
        )
    ws.restore(cp.sha)
    _reset_index(ws, head, base)

    for t in reset:
        if tasks[t].state != TaskState.PENDING:
            store.set_task_state(run_id, t, TaskState.PENDING, f"rolled back to {cp.ref}")
    if reset:
        # A finished run with pending tasks again is resumable; `overseer resume` picks it up.
        store.set_run_state(run_id, RunState.RUNNING)

    result = RollbackResult(
        run_id=run_id, task_id=task_id, attempt=cp.attempt, checkpoint_ref=cp.ref,
        checkpoint_sha=cp.sha, branch=branch, from_head=head, to_head=base, dropped=dropped,
        saved_ref=saved_ref, saved_tree_ref=saved_tree_ref, reset_tasks=reset, forced=force,
        overwritten=dirty, by=_who(ws), at=when.isoformat(timespec="seconds"),
    )
    result.record_path = str(_record(ws, result, stamp))
    store.add_artifact(run_id, "rollback", result.record_path)
    return result


# ---- pieces ----------------------------------------------------------------------------------


def _pick_checkpoint(cps: list[CheckpointRecord], task_id: str, attempt: int | None) -> CheckpointRecord:
    if not cps:
        raise OverseerError(
            f"task {task_id} has no checkpoint: it never started, so there is nothing to roll back",
            hint="`overseer status` shows which tasks ran",
        )
    if attempt is None:
        return min(cps, key=lambda c: c.attempt)
    for c in cps:
        if c.attempt == attempt:
            return c
    raise OverseerError(
        f"task {task_id} has no attempt {attempt}",
        hint=f"its checkpoints are before attempt {', '.join(str(c.attempt) for c in cps)}",
    )


def _checkpoint_head(ws: GitWorkspace, sha: str) -> str | None:
    """The commit that was HEAD when checkpoint `sha` was taken: its first parent."""
    proc = run_git(ws.root, ["rev-parse", "-q", "--verify", f"{sha}^1"], check=False)
    return out(proc) if proc.returncode == 0 else None


def _is_ancestor(ws: GitWorkspace, a: str, b: str) -> bool:
    return _git(ws, "merge-base", "--is-ancestor", a, b, check=False) == 0


def _commits(ws: GitWorkspace, base: str, head: str) -> list[DroppedCommit]:
    # Unit and record separators: a subject never holds them, and `log -z` would add its own NULs.
    fmt = f"--format=%H%x1f%s%x1f%(trailers:key={TASK_TRAILER},valueonly,separator=%x2C)%x1e"
    data = run_git(ws.root, ["log", fmt, f"{base}..{head}", "--"]).stdout.decode("utf-8", "replace")
    result = []
    for record in data.split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) == 3 and parts[0]:
            result.append(DroppedCommit(parts[0], parts[1], parts[2].split(",")[0].strip() or None))
    return result


def _tasks_to_reset(
    tasks: dict[str, TaskRecord], task_id: str, dropped: list[DroppedCommit], run_id: str
) -> list[str]:
    shas = {c.sha for c in dropped}
    chosen = {task_id}
    chosen |= {c.task for c in dropped if c.task in tasks}
    chosen |= {t.task_id for t in tasks.values() if t.commit_sha in shas}
    # Dependents (transitively) built on work that is gone, or were cancelled because of it.
    grew = True
    while grew:
        more = {t.task_id for t in tasks.values() if t.task_id not in chosen and chosen & set(t.depends_on)}
        chosen |= more
        grew = bool(more)
    order = list(tasks)
    return sorted((t for t in chosen if tasks[t].state != TaskState.PENDING or t == task_id), key=order.index)


def _unaccounted_changes(ws: GitWorkspace, store: Store, run_id: str, head: str) -> list[str]:
    changed_vs_head = set(ws.is_dirty_outside(head, set()))
    if not changed_vs_head:
        return []
    cps = store.checkpoints(run_id)
    if not cps:
        return sorted(changed_vs_head)
    latest = max(cps, key=lambda c: (c.created_at, c.attempt))
    if _git(ws, "cat-file", "-e", f"{latest.sha}^{{commit}}", check=False) != 0:
        return sorted(changed_vs_head)
    return sorted(changed_vs_head & set(ws.is_dirty_outside(latest.sha, set())))


def _reset_index(ws: GitWorkspace, old: str, new: str) -> None:
    """Index entries the dropped commits set (still at `old`'s value) go back to `new`'s;
    entries the user staged otherwise are left alone."""
    if old == new:
        return
    paths = split_z(run_git(ws.root, ["diff-tree", "-r", "-z", "--no-renames", "--name-only", old, new]).stdout)
    old_e = parse_ls_tree(run_git(ws.root, ["ls-tree", "-r", "-z", "--full-tree", old]).stdout)
    new_e = parse_ls_tree(run_git(ws.root, ["ls-tree", "-r", "-z", "--full-tree", new]).stdout)
    current = parse_ls_files_stage(run_git(ws.root, ["ls-files", "-s", "-z"]).stdout)
    removals, sets = index_updates(current, paths, new_e, stale=old_e)
    if removals or sets:
        zero = "0" * len(ws.empty_tree)
        run_git(ws.root, ["update-index", "-z", "--index-info"], input=index_info(removals, sets, zero))


def _unique_stamp(ws: GitWorkspace, run_id: str, when: datetime) -> str:
    base = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    stamp, n = base, 1
    while _git(ws, "show-ref", "-q", "--verify", f"refs/overseer/{run_id}/rolled-back/{stamp}", check=False) == 0 \
            or (ws.root / STATE_DIR / "runs" / run_id / "rollbacks" / f"{stamp}.json").exists():
        n += 1
        stamp = f"{base}-{n}"
    return stamp


def _who(ws: GitWorkspace) -> str:
    name = out(run_git(ws.root, ["config", "user.name"], check=False))
    email = out(run_git(ws.root, ["config", "user.email"], check=False))
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    person = f"{name} <{email}>" if name else login
    return f"{person} ({login}@{socket.gethostname()})"


def _record(ws: GitWorkspace, result: RollbackResult, stamp: str) -> Path:
    d = ws.root / STATE_DIR / "runs" / result.run_id / "rollbacks"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{stamp}.json"
    data = asdict(result)
    data.pop("record_path")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path


def _git(ws: GitWorkspace, *args: str, check: bool = True) -> int:
    return run_git(ws.root, args, check=check).returncode
