"""What the DBOS steps of this process share: the store, the settings, each run's workspace.

Steps are module-level functions (DBOS registers them by name), so they reach their
collaborators through this one object, set up before DBOS launches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from overseer.config import Settings
from overseer.engine.builtin_rules import compile_settings
from overseer.engine.rules import CompiledRules
from overseer.store import Store
from overseer.supervisor.llm import LLM, LLMUnavailable, NoLLM, choose_provider
from overseer.workspace import GitWorkspace
from overseer.workspace.worktrees import worktree_path


@dataclass
class EngineContext:
    store: Store
    settings: Settings
    _workspaces: dict[str, GitWorkspace] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reviewer: tuple[LLM, str] | None = None
    _rules: dict[str, CompiledRules] = field(default_factory=dict)
    # Merges into the run's branch happen one at a time; the branch update is also a
    # compare-and-swap, which catches writers outside this process.
    merge_lock: threading.Lock = field(default_factory=threading.Lock)

    def rules(self, run_id: str | None = None) -> CompiledRules:
        """The run's breakpoint rules, compiled once per run (native programs, not step data):
        from the breakpoints and budgets the run recorded when it started — a run keeps its
        settings, whichever process or worker carries it on — else this process's."""
        key = run_id or ""
        with self._lock:
            if key not in self._rules:
                self._rules[key] = compile_settings(self._recorded(run_id))
            return self._rules[key]

    def _recorded(self, run_id: str | None) -> Settings:
        run = self.store.get_run(run_id) if run_id else None
        config = (run.config_json if run else None) or {}
        sections = {k: config[k] for k in ("breakpoints", "budgets") if k in config}
        return self.settings.model_copy(update={
            k: type(getattr(self.settings, k)).model_validate(v) for k, v in sections.items()})

    def reviewer(self) -> tuple[LLM, str]:
        """The supervisor LLM, chosen once per process (loading a model is not per attempt)."""
        with self._lock:
            if self._reviewer is None:
                try:
                    self._reviewer = choose_provider(self.settings.supervisor)
                except LLMUnavailable as e:
                    self._reviewer = (NoLLM(str(e)), f"rules-only review: {e}")
            return self._reviewer

    def reviewer_weight(self) -> float:
        """How much the reviewer's verdicts may count, from its figures measured by
        `overseer bench reviewer` (supervisor.reliability)."""
        llm, _why = self.reviewer()
        if isinstance(llm, NoLLM):
            return 1.0  # a rules-only verdict is derived from the gates and never counted
        from overseer.supervisor import reliability

        return reliability.weight(reliability.load(llm.name))

    def workspace(self, run_id: str) -> GitWorkspace:
        with self._lock:
            if run_id not in self._workspaces:
                run = self.store.get_run(run_id)
                if run is None:
                    raise KeyError(run_id)
                self._workspaces[run_id] = GitWorkspace.open(Path(run.workspace))
            return self._workspaces[run_id]

    def task_workspace(self, run_id: str, task_id: str) -> GitWorkspace:
        """Where a task works: its own worktree when the run is parallel, else the repository."""
        main = self.workspace(run_id)
        path = worktree_path(main, run_id, task_id)
        key = f"{run_id}/{task_id}"
        with self._lock:
            if key not in self._workspaces and path.is_dir():
                self._workspaces[key] = GitWorkspace(path)
            return self._workspaces.get(key, main)

    def forget_workspace(self, run_id: str, task_id: str) -> None:
        """The task's worktree is gone: later steps work in the repository again."""
        with self._lock:
            self._workspaces.pop(f"{run_id}/{task_id}", None)

    def holdout_state(self, run_id: str) -> Path:
        """Where the manifests of placed holdout files live: the repository's .overseer/, so
        the next step of any process finds and removes what a crash left behind."""
        return self.workspace(run_id).root / ".overseer" / "holdout"

    def attempt_dir(self, run_id: str, task_id: str, attempt: int) -> Path:
        d = self.workspace(run_id).root / ".overseer" / "runs" / run_id / task_id / str(attempt)
        d.mkdir(parents=True, exist_ok=True)
        return d


_current: EngineContext | None = None


def set_context(ctx: EngineContext | None) -> None:
    global _current
    _current = ctx


def current() -> EngineContext:
    if _current is None:
        raise RuntimeError("engine context not set: call engine.runtime.start() first")
    return _current
