"""The state store: runs, tasks, attempts and everything recorded about them."""

from overseer.store.records import (
    ArtifactRecord,
    AttemptRecord,
    BreakpointRecord,
    CheckpointRecord,
    DecisionRecord,
    EventRecord,
    RunRecord,
    TaskRecord,
)
from overseer.store.store import Store

__all__ = [
    "ArtifactRecord",
    "AttemptRecord",
    "BreakpointRecord",
    "CheckpointRecord",
    "DecisionRecord",
    "EventRecord",
    "RunRecord",
    "Store",
    "TaskRecord",
]
