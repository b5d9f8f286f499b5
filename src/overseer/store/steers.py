"""Steering (`overseer steer`): a person's messages to a task that has yet to finish, queued
until the task's next prompt carries them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overseer.store import models as m
from overseer.store.base import StoreBase
from overseer.store.models import utcnow


@dataclass(frozen=True)
class SteerRecord:
    id: int
    run_id: str
    task_id: str
    message: str
    by: str | None
    created_at: datetime
    delivered_attempt: int | None
    delivered_at: datetime | None
    delivered_how: str | None = None

    @classmethod
    def of(cls, r: m.Steer) -> SteerRecord:
        return cls(r.id, r.run_id, r.task_id, r.message, r.by, r.created_at, r.delivered_attempt,
                   r.delivered_at, r.delivered_how)


class SteerMixin(StoreBase):
    def add_steer(self, run_id: str, task_id: str, message: str, by: str | None) -> SteerRecord:
        def tx(s: Session) -> SteerRecord:
            row = m.Steer(run_id=run_id, task_id=task_id, message=message, by=by)
            s.add(row)
            s.flush()
            return SteerRecord.of(row)

        return self._write(tx)

    def take_steers(self, run_id: str, task_id: str, attempt: int) -> list[SteerRecord]:
        """The messages for `attempt`'s prompt: those waiting, now marked as delivered to it,
        and those already given to it (the step ran before a crash): the same list again."""

        def tx(s: Session) -> list[SteerRecord]:
            rows = s.scalars(select(m.Steer).where(
                m.Steer.run_id == run_id, m.Steer.task_id == task_id,
                or_(m.Steer.delivered_attempt.is_(None), m.Steer.delivered_attempt == attempt),
            ).order_by(m.Steer.id)).all()
            for r in rows:
                if r.delivered_attempt is None:
                    r.delivered_attempt, r.delivered_at, r.delivered_how = attempt, utcnow(), "prompt"
            return [SteerRecord.of(r) for r in rows if r.delivered_how != "live"]

        return self._write(tx)

    def take_live_steers(self, run_id: str, task_id: str, attempt: int) -> list[SteerRecord]:
        """The messages waiting now, marked as given to `attempt`'s running session."""

        def tx(s: Session) -> list[SteerRecord]:
            rows = s.scalars(select(m.Steer).where(
                m.Steer.run_id == run_id, m.Steer.task_id == task_id, m.Steer.delivered_attempt.is_(None),
            ).order_by(m.Steer.id)).all()
            for r in rows:
                r.delivered_attempt, r.delivered_at, r.delivered_how = attempt, utcnow(), "live"
            return [SteerRecord.of(r) for r in rows]

        return self._write(tx)

    def pending_steers(self, run_id: str, task_id: str) -> int:
        def tx(s: Session) -> int:
            return len(s.scalars(select(m.Steer.id).where(
                m.Steer.run_id == run_id, m.Steer.task_id == task_id, m.Steer.delivered_attempt.is_(None),
            )).all())

        return self._read(tx)

    def list_steers(self, run_id: str, task_id: str | None = None) -> list[SteerRecord]:
        def tx(s: Session) -> list[SteerRecord]:
            q = select(m.Steer).where(m.Steer.run_id == run_id)
            if task_id is not None:
                q = q.where(m.Steer.task_id == task_id)
            return [SteerRecord.of(r) for r in s.scalars(q.order_by(m.Steer.id)).all()]

        return self._read(tx)
