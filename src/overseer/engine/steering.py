"""Steering a task without stopping it (`overseer steer`, the web view's box). The running
attempt is never interrupted. Claude Code, run locally, takes the message into its running
session when its current turn ends (stream-json input, agents/claude_code.py): same process,
same attempt. Every other agent gets it in the task's next prompt; if the running attempt
passes, one more attempt carries it (engine/workflows.py), on top of its work. Codex and Gemini
CLI resume their session for that prompt, so they read it as a follow-up with their context;
Aider and shell agents start afresh with it in the prompt. No agent is interrupted mid-turn.
"""

from __future__ import annotations

from overseer.errors import OverseerError
from overseer.lifecycle import TERMINAL_TASK_STATES
from overseer.store import Store
from overseer.store.steers import SteerRecord

MAX_MESSAGE = 20_000
SESSION_AGENTS = frozenset({"claude-code", "codex", "gemini"})


def delivery(agent_type: str, transport: object = "local") -> str:
    """How a steer reaches this agent, in words for the person who sent it."""
    if agent_type == "claude-code" and transport == "local":
        return "into the running session when its current turn ends (the attempt goes on)"
    if agent_type in SESSION_AGENTS:
        return "in its next prompt, to the same agent session, resumed (the running attempt goes on)"
    return "in its next prompt (the running attempt goes on; the agent starts afresh with it)"


def steer(store: Store, run_id: str, task_id: str, message: str, by: str) -> tuple[SteerRecord, str]:
    """Queue `message` for the task; returns it and how it will be delivered."""
    text = message.strip()
    if not text:
        raise OverseerError("the message is empty", hint='overseer steer TASK "what to do differently"')
    if len(text) > MAX_MESSAGE:
        raise OverseerError(f"the message is {len(text)} characters; at most {MAX_MESSAGE}",
                            hint="put the details in a file in the repository and point to it")
    tasks = store.list_tasks(run_id)
    task = next((t for t in tasks if t.task_id == task_id), None)
    if task is None:
        known = ", ".join(t.task_id for t in tasks) or "none"
        raise OverseerError(f"no task {task_id!r} in run {run_id}", hint=f"tasks in this run: {known}")
    if task.state in TERMINAL_TASK_STATES:
        raise OverseerError(
            f"task {task_id} is {task.state}: a message steers a task that has yet to finish",
            hint=f"`overseer rollback {task_id}` re-opens it, then `overseer resume`")
    rec = store.add_steer(run_id, task_id, text, by)
    agent = task.spec.get("agent") or {}
    return rec, delivery(str(agent.get("type", "")), agent.get("transport", "local"))
