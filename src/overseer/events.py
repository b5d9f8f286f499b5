"""Typed engine events and their in-process subscribers (CLI printer, live view, notifiers).

The store is the durable record; these events are the live feed of the same facts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

EventType = Literal[
    "run_started",
    "run_finished",
    "task_state",
    "attempt_started",
    "agent_event",
    "agent_finished",
    "gate_result",
    "finding",
    "verdict",
    "decision",
    "commit",
    "breakpoint",
    "breakpoint_resolved",
    "notice",
]


class Event(BaseModel):
    type: EventType
    run_id: str
    task_id: str | None = None
    attempt: int | None = None
    ts: float = Field(default_factory=time.time)
    data: dict[str, Any] = Field(default_factory=dict)


Subscriber = Callable[[Event], None]
_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(fn: Subscriber) -> Callable[[], None]:
    with _lock:
        _subscribers.append(fn)

    def unsubscribe() -> None:
        with _lock:
            if fn in _subscribers:
                _subscribers.remove(fn)

    return unsubscribe


def publish(event: Event) -> None:
    with _lock:
        subs = list(_subscribers)
    for fn in subs:
        try:
            fn(event)
        except Exception:  # noqa: S110 - a broken view must never stop a run
            pass
