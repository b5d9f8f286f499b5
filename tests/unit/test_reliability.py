"""A reviewer's weight follows its measured figures; the figures survive a save and a load."""

from __future__ import annotations

import pytest

from overseer.supervisor.reliability import PRIOR_WEIGHT, Figures, describe, load, save, weight


def fig(caught: int, held: int, false: int = 20, true: int = 20) -> Figures:
    return Figures("embedded:x", 40, false, caught, true, held, 12.5, "2026-12-07")


@pytest.mark.parametrize(("figures", "expected"), [
    (None, PRIOR_WEIGHT),
    (fig(20, 0), 1.0),
    (fig(10, 0), 0.5),
    (fig(20, 20), 0.0),   # says "incomplete" to everything: no signal
    (fig(2, 14), 0.0),    # worse than chance: clipped to no signal
    (fig(0, 0, false=0, true=0), 0.0),
])
def test_weight(figures, expected):
    assert weight(figures) == expected


def test_save_and_load_keep_each_reviewer(tmp_path):
    path = tmp_path / "r.json"
    save(fig(10, 1), path)
    save(Figures("claude-code:m", 60, 30, 28, 30, 1, 4.0, "2026-12-07"), path)
    assert load("embedded:x", path) == fig(10, 1)
    assert load("claude-code:m", path).false_caught == 28
    assert load("nobody", path) is None
    assert "caught 10 of 20" in describe(fig(10, 1))
    assert "not measured" in describe(None, "embedded:x")
