"""The shell agent's usage lines (docs/agents.md): exactly a JSON object of usage keys."""

from __future__ import annotations

import pytest

from overseer.agents.shell import Usage


@pytest.mark.parametrize(("lines", "expected"), [
    (['{"input_tokens": 10, "output_tokens": 2, "cost_usd": 0.5}'], (10, 2, 0.5)),
    (['{"input_tokens": 10}', '  {"output_tokens": 3, "cost_usd": 1}  ', '{"cost_usd": 0.25}'], (10, 3, 1.25)),
    (['{"output_tokens": 4}'], (0, 4, None)),  # no cost reported: unknown, not zero
    (['{"input_tokens": 10, "model": "x"}'], (0, 0, None)),  # another key: ordinary output
    (['{"input_tokens": -1}', '{"input_tokens": 1.5}', '{"input_tokens": true}'], (0, 0, None)),
    (['{"cost_usd": "0.1"}', '{"cost_usd": -0.1}', "{}", "{not json}", "[1, 2]"], (0, 0, None)),
    (['tokens: {"input_tokens": 10}'], (0, 0, None)),  # only a whole line counts
])
def test_usage_lines(lines, expected):
    u = Usage()
    for line in lines:
        u.read(line)
    assert (u.input_tokens, u.output_tokens, u.cost_usd) == expected
