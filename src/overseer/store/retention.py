"""Retention (`overseer prune`): which finished runs lose their transcripts and artifacts, and
removing them — the files under `.overseer/runs/<run>/` and the run's agent events in the store.

A run's summary rows stay (run, tasks, attempts, gate results, verdicts, decisions, breakpoints)
and so do each attempt's `result` event, which holds its usage summary: `status` and `export`
keep working. Each prune is recorded as an artifact of kind `pruned` (path: the directory
removed). `prune --scrub` instead masks secrets in what a run kept from before overseer
scrubbed everything it wrote.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import JSON, CursorResult, String, Text, delete, func, select, update
from sqlalchemy.orm import Session

from overseer.errors import StoreError
from overseer.lifecycle import RunState
from overseer.scrub import Scrubber
from overseer.store import models as m
from overseer.store.base import StoreBase
from overseer.store.records import RunRecord

FINISHED = frozenset({RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED})
PRUNED = "pruned"  # artifact kind recording a prune
KEPT_EVENTS = ("result",)


def choose_runs(
    runs: Sequence[RunRecord], *, now: datetime, older_than: timedelta | None, keep: int
) -> list[RunRecord]:
    """The runs to prune, oldest first: finished ones beyond the `keep` most recently finished
    that also finished at least `older_than` before `now` (None: no age qualifies)."""
    finished = sorted(
        (r for r in runs if r.state in FINISHED and r.finished_at is not None),
        key=lambda r: (r.finished_at, r.id), reverse=True,
    )
    if older_than is None:
        return []
    old = [r for r in finished[keep:] if r.finished_at and now - r.finished_at >= older_than]
    return old[::-1]


def run_dir(run: RunRecord) -> Path:
    """Where a run keeps its files (engine.context writes attempts under it)."""
    return Path(run.workspace) / ".overseer" / "runs" / run.id


@dataclass(frozen=True)
class Usage:
    files: int
    bytes: int


def measure(path: Path) -> Usage:
    """Files and bytes under `path`, not following symlinks (a link counts as itself)."""
    files = size = 0
    if not path.is_dir() or path.is_symlink():
        return Usage(0, 0)
    for root, dirs, names in os.walk(path, followlinks=False):
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(root, d)))]:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
            files += 1
    return Usage(files, size)


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        # rmtree removes symlinks inside without following them.
        shutil.rmtree(path)


class RetentionMixin(StoreBase):
    def prunable_events(self, run_id: str) -> int:
        """Agent events `prune_run` would delete."""

        def tx(s: Session) -> int:
            return s.scalar(select(func.count()).select_from(m.Event).where(
                m.Event.attempt_id.in_(select(m.Attempt.id).where(m.Attempt.run_id == run_id)),
                m.Event.kind.not_in(KEPT_EVENTS),
            )) or 0

        return self._read(tx)

    def prune_run(self, run_id: str, removed_dir: str) -> int:
        """Delete a finished run's agent events (all but `result`) and its artifact rows for
        files under `removed_dir`, and record the prune. Returns the events deleted."""

        def tx(s: Session) -> int:
            run = self._lock_run(s, run_id)
            if RunState(run.state) not in FINISHED:
                raise StoreError(
                    f"run {run_id} is {run.state}, not finished: it is not pruned",
                    hint="wait for it to finish, or `overseer cancel` it",
                )
            attempts = select(m.Attempt.id).where(m.Attempt.run_id == run_id)
            gone = cast("CursorResult[Any]", s.execute(delete(m.Event).where(
                m.Event.attempt_id.in_(attempts), m.Event.kind.not_in(KEPT_EVENTS),
            ))).rowcount
            prefix = removed_dir.rstrip("/") + "/"
            s.execute(delete(m.Artifact).where(
                m.Artifact.run_id == run_id, m.Artifact.kind != PRUNED,
                m.Artifact.path.startswith(prefix, autoescape=True),
            ))
            s.add(m.Artifact(run_id=run_id, kind=PRUNED, path=removed_dir))
            return int(gone or 0)

        return self._write(tx)


# A run's copy of its plan keeps its agents' `env` as written (see store/db.py).
_KEPT_COLUMNS = frozenset({"plan_json", "spec_json"})


class ScrubMixin(StoreBase):
    def scrub_run(self, run_id: str, scrub: Scrubber) -> int:
        """Mask secrets in every text and JSON value the store holds of `run_id` (rows written
        before the store scrubbed its writes). Returns how many rows changed."""

        def tx(s: Session) -> int:
            attempts = select(m.Attempt.id).where(m.Attempt.run_id == run_id)
            changed = 0
            for table in m.Base.metadata.sorted_tables:
                cols = table.c
                if table.name == m.Run.__tablename__:
                    where = cols["id"] == run_id
                elif "run_id" in cols:
                    where = cols["run_id"] == run_id
                elif "attempt_id" in cols:
                    where = cols["attempt_id"].in_(attempts)
                else:
                    continue
                keys = list(table.primary_key.columns)
                values = [c for c in cols if c.name not in _KEPT_COLUMNS and not c.primary_key
                          and not c.foreign_keys and isinstance(c.type, String | Text | JSON)]
                if not values:
                    continue
                for row in s.execute(select(*keys, *values).where(where)).all():
                    new = {c.name: scrub.deep(row._mapping[c.name]) for c in values}
                    new = {k: v for k, v in new.items() if v != row._mapping[k]}
                    if new:
                        s.execute(update(table).where(*(k == row._mapping[k.name] for k in keys))
                                  .values(**new))
                        changed += 1
            return changed

        return self._write(tx)
