"""A task's optional `deadline`: the forms YAML gives, and a clear error for the rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from overseer.errors import PlanError
from overseer.plan import parse_plan, resolve_task

PLAN = """\
version: 1
name: d
defaults: {{agent: {{type: anything}}}}
tasks:
  - {{id: a, prompt: p, deadline: {value}}}
"""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T17:00:00Z", datetime(2026, 12, 1, 17, tzinfo=UTC)),
        ("2026-12-01T19:00:00+02:00", datetime(2026, 12, 1, 17, tzinfo=UTC)),
        ('"2026-12-01T17:00:00Z"', datetime(2026, 12, 1, 17, tzinfo=UTC)),
        ("2026-12-01 17:00", datetime(2026, 12, 1, 17, tzinfo=UTC)),  # naive: UTC
        ("2026-12-01", datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=UTC)),  # a date: its end
        ("null", None),
    ],
)
def test_deadline_forms(value, expected):
    plan = parse_plan(PLAN.format(value=value), "p.yaml", None)
    assert plan.tasks[0].deadline == expected
    resolved = resolve_task(plan, plan.tasks[0])
    assert resolved.deadline == expected
    # Recorded with the run as JSON, read back the same.
    again = type(resolved).model_validate(resolved.model_dump(mode="json"))
    assert again.deadline == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("next week", "deadline: 'next week' is not an ISO 8601 date or time"),
        ("5", "deadline: input should be a valid datetime"),
    ],
)
def test_bad_deadline_is_reported_at_its_line(value, message):
    with pytest.raises(PlanError) as err:
        parse_plan(PLAN.format(value=value), "p.yaml", None)
    lines = [str(d) for d in err.value.diagnostics]
    assert len(lines) == 1 and lines[0].startswith("p.yaml:5:") and message in lines[0], lines
