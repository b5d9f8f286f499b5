"""Start a run from a plan, or continue one: the engine's entry points for the CLI."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbos import DBOS, SetWorkflowID
from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError

from overseer.agents import agent_types
from overseer.agents.process import kill_all_live_groups, kill_leftovers
from overseer.config import Settings, redact_value
from overseer.engine import queues, runtime
from overseer.engine.builtin_rules import compile_settings
from overseer.engine.context import EngineContext, set_context
from overseer.engine.generations import generation, next_generation, run_workflow_id
from overseer.engine.run_lock import executing
from overseer.errors import EXIT_INTERNAL, OverseerError
from overseer.events import Event, publish, subscribe
from overseer.lifecycle import RunState
from overseer.plan import Plan, resolve_task
from overseer.plan.load import load_plan
from overseer.store import Store
from overseer.store.known import remember
from overseer.workspace import GitWorkspace


@dataclass
class Prepared:
    run_id: str
    repo: Path
    store: Store
    plan: Plan


def agent_configs() -> dict[str, Any]:
    return {name: cls.config_class for name, cls in agent_types().items()}


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _redacted(settings: Settings) -> dict[str, Any]:
    data = settings.model_dump(mode="json")
    return {
        section: {k: redact_value(f"{section}.{k}", v) for k, v in values.items()}
        for section, values in data.items()
    }


def open_store(settings: Settings, repo: Path) -> Store:
    return Store.open(settings.database_url_for(repo))


def prepare_run(
    plan_path: Path,
    settings: Settings,
    *,
    create_repo: bool,
    agent_override: str | None = None,
) -> Prepared:
    """Validate the plan, open the workspace and store, and record a new run with its tasks."""
    plan = load_plan(plan_path, agent_configs())
    # A bad breakpoint rule stops the run here, before anything has run.
    compile_settings(settings)
    repo_dir = (plan_path.parent / (plan.workspace or ".")).resolve()
    ws = GitWorkspace.open(repo_dir, create=create_repo)
    wanted, on = settings.run.branch, ws.branch()
    if wanted and wanted != on:
        raise OverseerError(
            f"run.branch is {wanted!r} but {ws.root} is on {on or 'a detached HEAD'!r}",
            hint=f"check out {wanted} first (git switch {wanted}), or unset run.branch",
        )
    if agent_override:
        if agent_override not in plan.agents:
            known = ", ".join(sorted(plan.agents)) or "none"
            raise OverseerError(
                f"--agent {agent_override}: no such agent in {plan_path}",
                hint=f"agents defined in the plan: {known}",
            )
        plan = plan.model_copy(update={"tasks": [t.model_copy(update={"agent": agent_override}) for t in plan.tasks]})
    resolved = [resolve_task(plan, t, plan_path.resolve().parent) for t in plan.tasks]
    store = open_store(settings, ws.root)
    remember(ws.root)  # so the commands printed for this run work from any directory
    plan_json = {
        "plan": plan.model_dump(mode="json"),
        "resolved_tasks": [t.model_dump(mode="json") for t in resolved],
    }
    unfinished = find_unfinished_run(store, str(ws.root), str(plan_path.resolve()), plan_json)
    if unfinished is not None:
        return Prepared(run_id=unfinished, repo=ws.root, store=store, plan=plan)
    run_id = new_run_id()
    store.create_run(
        run_id,
        name=plan.name,
        plan_path=str(plan_path.resolve()),
        workspace=str(ws.root),
        plan_json=plan_json,
        config_json=_redacted(settings),
        parallel=settings.run.parallel,
        branch=ws.branch(),
    )
    store.add_tasks(run_id, resolved)
    if store.dialect == "postgresql":
        store.set_run_dispatch(run_id, "queue")
    return Prepared(run_id=run_id, repo=ws.root, store=store, plan=plan)


def find_unfinished_run(store: Store, workspace: str, plan_path: str, plan_json: dict[str, Any]) -> str | None:
    """The newest run of this very plan here that has not finished — one a crash (or a
    `--no-wait` exit) left behind — so running the plan again continues it instead of doing
    its completed tasks a second time. A plan edited since is a new run."""
    for rec in store.list_runs(workspace):
        if rec.plan_path == plan_path and rec.state in (RunState.RUNNING, RunState.WAITING):
            return rec.id if rec.plan_json == plan_json else None
    return None


# The run's own end wakes the wait at once; this poll only notices what another process does
# (a cancel) or a run parked for a person, so it can be slow: each look costs queries while
# agents work.
STATUS_POLL_S = 1.0


def _reopened(store: Store, run_id: str) -> bool:
    return any(t.state == "pending" for t in store.list_tasks(run_id))


def parked(store: Store, run_id: str) -> bool:
    """True when nothing can move without a person: every unfinished task waits at a
    breakpoint, or waits for a dependency that is not completed."""
    tasks = store.list_tasks(run_id)
    state = {t.task_id: t.state for t in tasks}
    run = store.get_run(run_id)
    if run is not None and run.paused and not any(t.state in ("running", "ready", "retrying") for t in tasks):
        return True
    # A blocked task whose breakpoint was just answered is about to go on: not parked.
    waiting = {b.task_id for b in store.list_breakpoints(run_id, state="open")}
    unfinished = [t for t in tasks if t.state not in ("completed", "failed", "cancelled")]
    if not any(t.state == "blocked" for t in unfinished):
        return False
    return all(
        (t.state == "blocked" and t.task_id in waiting)
        or (t.state == "pending" and any(state.get(d) != "completed" for d in t.depends_on))
        for t in unfinished
    )


def execute(
    run_id: str, repo: Path, store: Store, settings: Settings, *, no_wait: bool = False
) -> dict[str, Any]:
    """Run (or continue) the run's workflow in this process until it finishes — or, with
    no_wait, until it is parked waiting for a person ({"state": "waiting"}). Refused while
    another live process executes the run (engine/run_lock.py)."""
    with executing(repo, run_id):
        return _execute(run_id, repo, store, settings, no_wait=no_wait)


def _execute(
    run_id: str, repo: Path, store: Store, settings: Settings, *, no_wait: bool
) -> dict[str, Any]:
    rec = store.get_run(run_id)
    queued = rec is not None and rec.dispatch == "queue"
    # Under the run's lock, so the agents killed here are a dead process's, never a live one's.
    # Not for a queued run: a live `overseer worker` may own its open attempts (a worker that
    # restarts kills its own leftovers when it takes an interrupted attempt up again).
    for aid, _pgid in [] if queued else store.open_attempts_with_pgid(run_id):
        kill_leftovers(aid)
    ctx = EngineContext(store=store, settings=settings)
    set_context(ctx)
    _llm, why = ctx.reviewer()
    publish(Event(type="notice", run_id=run_id, data={"message": f"supervisor: {why}"}))
    # A queued run's tasks come back through its own queue; this process takes only those.
    listen = [queues.task_queue_name(run_id)] if queued else []
    runtime.launch(runtime.system_database_url(settings.database_url_for(repo), repo),
                   executor_id=run_id, queues=listen)
    try:
        from overseer.engine.workflows import run_workflow

        g = generation(store, run_id)
        status = DBOS.get_workflow_status(run_workflow_id(run_id, g))
        if status is not None and status.status == "SUCCESS" and _reopened(store, run_id):
            # Finished, then rolled back: the re-opened tasks run in a new generation.
            g, status = next_generation(store, run_id), None
        wf = run_workflow_id(run_id, g)
        if status is None:
            with SetWorkflowID(wf):
                handle = DBOS.start_workflow(run_workflow, run_id, g)
        else:
            # DBOS's recovery at launch has already resumed it if it was unfinished.
            handle = DBOS.retrieve_workflow(wf)
            publish(Event(type="notice", run_id=run_id, data={"message": f"continuing run {run_id} where it stopped"}))
        try:
            # Watch the durable status rather than block on the handle: a cancel from another
            # process must end this wait even while the workflow's thread sits in a recv.
            streak = 0
            finished = threading.Event()
            # This process's own workflow says when it ends; the poll is for what another
            # process does (cancel) or for a run parked at a breakpoint.
            stop_listening = subscribe(lambda ev: finished.set() if ev.type == "run_finished" else None)
            try:
                while handle.get_status().status in ("PENDING", "ENQUEUED"):
                    if store.run_state(run_id) == "cancelled":
                        return {"state": "cancelled"}
                    # Two consecutive parked readings: a task between two steps is not parked.
                    streak = streak + 1 if no_wait and parked(store, run_id) else 0
                    if streak >= 2:
                        return {"state": "waiting"}
                    finished.wait(STATUS_POLL_S)
                    if finished.is_set():
                        # The finish step has run; its result is recorded a moment later.
                        time.sleep(0.02)
            finally:
                stop_listening()
            if handle.get_status().status == "CANCELLED":
                return {"state": "cancelled"}
            result: dict[str, Any] = handle.get_result()
        except OverseerError:
            raise
        except (DBOSWorkflowCancelledError, DBOSAwaitedWorkflowCancelledError):
            return {"state": "cancelled"}
        except Exception as exc:
            raise OverseerError(
                f"run {run_id} stopped on an internal error: {type(exc).__name__}: {exc}",
                hint="the run's state is saved; fix the cause and `overseer resume` it",
                exit_code=EXIT_INTERNAL,
            ) from exc
        return result
    finally:
        kill_all_live_groups()
        runtime.shutdown()
        set_context(None)


def enqueue(run_id: str, repo: Path, store: Store, settings: Settings) -> None:
    """Hand a run to the `overseer worker` processes (PostgreSQL only) and return at once."""
    store_url = settings.database_url_for(repo)
    if not runtime.is_postgres(store_url):
        raise OverseerError(
            "only a PostgreSQL database can hand a run to workers",
            hint="set database.url to postgresql+psycopg://…, or run without --no-wait",
        )
    g = generation(store, run_id)
    # Launching DBOS (rather than a bare client) also creates its tables on a new database.
    # Not the run's own executor id: launching under it would recover (and at once abandon)
    # whatever an earlier `overseer run` of this run left unfinished.
    runtime.launch(runtime.system_database_url(store_url, repo), executor_id=f"enqueue-{run_id}", queues=[])
    try:
        queues.enqueue_run(run_workflow_id(run_id, g), run_id, g)
    finally:
        runtime.shutdown()
