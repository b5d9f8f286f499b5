"""The durable shape of a run: one workflow per run, one per task (DBOS Transact).

Workflow code is deterministic: every effect is a step in engine.steps, and decide()
is a pure function, so replaying a workflow after a crash retraces the same path.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS, SetWorkflowID

from overseer.agents import AgentResult
from overseer.engine import steps
from overseer.engine.decide import AttemptEvidence, decide
from overseer.gates import GateResult

TASK_DONE = "task-done"
# A long wait between task completions is normal (agents work for hours); waking up once a
# day costs nothing and keeps a single recv from blocking forever on a lost message.
RECV_TIMEOUT_S = 24 * 3600


def task_workflow_id(run_id: str, task_id: str) -> str:
    return f"{run_id}/{task_id}"


@DBOS.workflow(name="overseer.run")
def run_workflow(run_id: str) -> dict[str, Any]:
    spec = steps.load_run(run_id)
    order = sorted(range(len(spec["tasks"])), key=lambda i: (-spec["tasks"][i]["priority"], i))
    tasks = [spec["tasks"][i] for i in order]
    by_id = {t["id"]: t for t in tasks}
    finished: dict[str, str] = {
        tid: s for tid, s in spec["states"].items() if s in ("completed", "failed", "cancelled")
    }
    running: set[str] = set()
    parallel = max(1, int(spec["parallel"]))

    while len(finished) < len(tasks):
        for t in tasks:
            tid = t["id"]
            if tid in finished or tid in running:
                continue
            bad = [d for d in t["depends_on"] if finished.get(d) in ("failed", "cancelled")]
            if bad:
                steps.cancel_task(run_id, tid, f"dependency {bad[0]} {finished[bad[0]]}")
                finished[tid] = "cancelled"
        ready = [
            t for t in tasks
            if t["id"] not in finished and t["id"] not in running
            and all(finished.get(d) == "completed" for d in t["depends_on"])
        ]
        for t in ready[: parallel - len(running)]:
            steps.mark_ready(run_id, t["id"])
            with SetWorkflowID(task_workflow_id(run_id, t["id"])):
                DBOS.start_workflow(task_workflow, run_id, by_id[t["id"]], run_id)
            running.add(t["id"])
        if not running:
            break
        msg = DBOS.recv(TASK_DONE, timeout_seconds=RECV_TIMEOUT_S)
        if msg is None:
            continue
        running.discard(msg["task"])
        finished[msg["task"]] = msg["state"]
    return steps.finish_run(run_id)


@DBOS.workflow(name="overseer.task")
def task_workflow(run_id: str, task: dict[str, Any], parent: str) -> str:
    state = _attempts(run_id, task)
    DBOS.send(parent, {"task": task["id"], "state": state}, topic=TASK_DONE)
    return state


def _attempts(run_id: str, task: dict[str, Any]) -> str:
    feedback: str | None = None
    base: str | None = None
    # A retry continues the agent's session (for agents that have one), so the agent keeps
    # its context and reads the feedback as a follow-up.
    session: str | None = None
    for n in range(1, int(task["max_attempts"]) + 1):
        prep = steps.prepare_attempt(run_id, task, n, feedback)
        base = base or prep["checkpoint"]
        result = AgentResult.model_validate(
            steps.run_agent(run_id, task, n, prep["prompt"], prep["checkpoint"], session)
        )
        session = result.session_id or session
        gates = [GateResult.model_validate(g) for g in steps.check_gates(run_id, task, n, prep["checkpoint"])]
        decision = decide(
            AttemptEvidence(attempt=n, max_attempts=int(task["max_attempts"]), agent=result, gates=gates)
        )
        steps.record_decision(run_id, task["id"], n, decision.model_dump(mode="json"))
        if decision.action == "proceed":
            steps.commit_task(run_id, task, base)
            return "completed"
        if decision.action == "abort":
            return "failed"
        feedback = decision.feedback
    return "failed"
