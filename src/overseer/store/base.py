"""Transactions for the store: one short session per call, retried when PostgreSQL picks it as
a deadlock or serialization victim, with database errors turned into StoreError."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, defer

from overseer.errors import StoreError
from overseer.store import models as m

T = TypeVar("T")

# deadlock_detected, serialization_failure: the transaction did nothing and may simply run again.
_RETRY_SQLSTATES = frozenset({"40P01", "40001"})
_RETRIES = 5


class StoreBase:
    def __init__(self, display_url: str, writer: Engine, reader: Engine) -> None:
        self._display_url = display_url  # password already masked
        self._writer = writer
        self._reader = reader
        self.dialect = writer.dialect.name

    def __repr__(self) -> str:
        return f"Store({self._display_url!r})"

    def close(self) -> None:
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()

    def _write(self, fn: Callable[[Session], T]) -> T:
        """Run fn in one write transaction, committed when fn returns."""
        for attempt in range(_RETRIES):
            try:
                with Session(self._writer, expire_on_commit=False) as s, s.begin():
                    return fn(s)
            except DBAPIError as exc:
                state = getattr(exc.orig, "sqlstate", None)
                if state in _RETRY_SQLSTATES and attempt < _RETRIES - 1:
                    time.sleep(0.02 * (attempt + 1))
                    continue
                raise self._wrap(exc) from exc
        raise AssertionError("unreachable")

    def _read(self, fn: Callable[[Session], T]) -> T:
        """Run fn in one read-only transaction: a consistent snapshot on both backends."""
        try:
            with Session(self._reader, expire_on_commit=False) as s, s.begin():
                return fn(s)
        except DBAPIError as exc:
            raise self._wrap(exc) from exc

    def _wrap(self, exc: DBAPIError) -> StoreError:
        if isinstance(exc, IntegrityError):
            return StoreError(
                f"the state database rejected a write: {exc.orig}",
                hint="a run, task or attempt it refers to is missing; this is a bug in overseer",
            )
        if isinstance(exc, OperationalError):
            return StoreError(
                f"state database error at {self._display_url}: {exc.orig}",
                hint="check that the database is reachable and the disk is not full",
            )
        return StoreError(f"state database error: {exc.orig}")

    def _insert(self, model: type[m.Base]) -> Any:
        """INSERT with ON CONFLICT support for this backend (both dialects spell it the same)."""
        return (sqlite_insert if self.dialect == "sqlite" else pg_insert)(model)

    @staticmethod
    def _lock_run(s: Session, run_id: str) -> m.Run:
        # FOR NO KEY UPDATE: exclusive among writers, but does not block the KEY SHARE locks
        # that foreign-key checks take, so inserting children never deadlocks against it.
        # The plan and config are not needed to lock and would be decoded on every write.
        run = s.scalars(
            select(m.Run).where(m.Run.id == run_id).with_for_update(key_share=True)
            .options(defer(m.Run.plan_json), defer(m.Run.config_json))
        ).one_or_none()
        if run is None:
            raise StoreError(f"no run {run_id!r} in the state database", hint="see `overseer status`")
        return run

    @staticmethod
    def _lock_task(s: Session, run_id: str, task_id: str) -> m.Task:
        task = s.scalars(
            select(m.Task)
            .where(m.Task.run_id == run_id, m.Task.task_id == task_id)
            .with_for_update(key_share=True)
        ).one_or_none()
        if task is None:
            raise StoreError(f"no task {task_id!r} in run {run_id!r}", hint="see `overseer status`")
        return task

    @staticmethod
    def _attempt(s: Session, attempt_id: str) -> m.Attempt:
        attempt = s.get(m.Attempt, attempt_id)
        if attempt is None:
            raise StoreError(f"no attempt {attempt_id!r} in the state database")
        return attempt
