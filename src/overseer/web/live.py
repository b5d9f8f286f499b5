"""Live updates of one run for one viewer: a poll of the store that says what changed.

Each poll reads the run page's state (three small queries) and the run's events after the last
event id seen; only when either changed does it read the activity lines, so an idle run costs
a few indexed reads per poll whatever its history. The first poll starts at the run's last
ACTIVITY_SHOWN events, so opening a page costs the same for a run with a long history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from overseer.report.stream import LogReader
from overseer.store import Store
from overseer.store.store import TERMINAL_RUN_STATES
from overseer.web.view import activity_line, run_view

ACTIVITY_SHOWN = 50


@dataclass(frozen=True)
class Update:
    view: dict[str, Any]
    activity: list[dict[str, Any]]  # new lines, oldest first
    reset: bool  # the first update: the viewer replaces what it shows instead of adding
    finished: bool  # the run ended: nothing more will change


class LiveFeed:
    def __init__(self, store: Store, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        self.reader = LogReader(store, run_id)
        self._view: dict[str, Any] | None = None
        self._after_id = 0

    def poll(self) -> Update | None:
        """What changed since the last poll (everything, the first time), or None."""
        run = self.store.get_run(self.run_id)
        if run is None:
            raise LookupError(self.run_id)
        # The state is read before the lines: a run seen finished has written all it will.
        finished = run.state in TERMINAL_RUN_STATES
        view = run_view(self.store, run, self.reader.scrubber)
        first = self._view is None
        if first:
            # A page shows the latest lines only: a long run's history is not read at all.
            self._after_id = self.store.events_start_for_last(self.run_id, ACTIVITY_SHOWN)
            self.reader.start_after(self._after_id)
        events = self.store.list_events(run_id=self.run_id, after_id=self._after_id)
        if events:
            self._after_id = events[-1].id
        if not first and not events and view == self._view:
            return None
        lines = self.reader.poll()
        if not first and not lines and view == self._view:
            return None  # the events were ones the previous poll's lines already had
        if first:
            lines = lines[-ACTIVITY_SHOWN:]
        self._view = view
        return Update(view, [activity_line(x) for x in lines], first, finished)
