"""What a run keeps of its settings, and how config show finds what a change does not reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from overseer.engine.recorded import differences
from overseer.store import known


@pytest.mark.parametrize(("recorded", "current", "expected"), [
    ({"decision": {"proceed_at": 0.8}}, {"decision.proceed_at": 0.8}, {}),
    ({"decision": {"proceed_at": 0.8}}, {"decision.proceed_at": 0.95}, {"decision.proceed_at": (0.8, 0.95)}),
    # Sections the process reads afresh are never "kept".
    ({"supervisor": {"model": "a"}}, {"supervisor.model": "b"}, {}),
    ({"breakpoints": {"rules": [{"name": "x"}]}}, {"breakpoints.rules": [{"name": "x"}]}, {}),
    ({"budgets": {"task_tokens": 5}}, {"budgets.task_tokens": None}, {"budgets.task_tokens": (5, None)}),
    ({"run": {"gone": 1}}, {}, {}),  # a key this version no longer has
])
def test_differences(recorded, current, expected):
    assert differences(recorded, current) == expected


def test_known_repositories_newest_first_once_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    known.remember(a)
    known.remember(b)
    known.remember(a)
    assert known.known() == [b, a]
    b.rmdir()  # a repository that is gone is not searched
    assert known.known() == [a]
