"""Retention's pure parts: which finished runs `overseer prune` chooses, and ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from overseer.config import parse_age
from overseer.lifecycle import RunState
from overseer.store.records import RunRecord
from overseer.store.retention import choose_runs

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def run(rid: str, state: str, ended_days_ago: float | None) -> RunRecord:
    finished = None if ended_days_ago is None else NOW - timedelta(days=ended_days_ago)
    return RunRecord(
        id=rid, name=rid, plan_path="p", workspace="/w", plan_json={}, config_json={},
        state=RunState(state), parallel=1, branch=None, created_at=NOW - 100 * DAY,
        finished_at=finished, error=None, cost_usd=None, input_tokens=0, output_tokens=0,
    )


RUNS = [
    run("a", "completed", 90), run("b", "failed", 60), run("c", "cancelled", 40),
    run("d", "completed", 10), run("e", "completed", 1),
    run("parked", "waiting", None), run("live", "running", None),
]


@pytest.mark.parametrize(
    ("older_than", "keep", "expected"),
    [
        (30 * DAY, 0, ["a", "b", "c"]),  # oldest first
        (30 * DAY, 2, ["a", "b", "c"]),  # the two kept are young anyway
        (30 * DAY, 3, ["a", "b"]),  # keep reaches c
        (30 * DAY, 10, []),
        (timedelta(0), 1, ["a", "b", "c", "d"]),
        (timedelta(0), 0, ["a", "b", "c", "d", "e"]),  # never an unfinished one
        (40 * DAY, 0, ["a", "b", "c"]),  # exactly the age counts
        (100 * DAY, 0, []),
        (None, 0, []),  # never
    ],
)
def test_choose_runs(older_than, keep, expected):
    got = choose_runs(RUNS, now=NOW, older_than=older_than, keep=keep)
    assert [r.id for r in got] == expected


def test_a_finished_state_without_an_end_time_is_left_alone():
    odd = run("odd", "completed", None)
    assert choose_runs([odd], now=NOW, older_than=timedelta(0), keep=0) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("12h", 43200), ("2w", 14 * 86400), ("90m", 5400), ("1.5d", 129600),
     (" 7D ", 7 * 86400), ("0m", 0), ("never", None), ("Never", None)],
)
def test_parse_age(text, seconds):
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["30", "soon", "-1d", "3 days", "", "1y"])
def test_bad_ages_say_what_an_age_is(text):
    with pytest.raises(ValueError, match="is not an age: give a number and a unit"):
        parse_age(text)
