"""The live view's keys: which key sequences lead to which command (or none)."""

from __future__ import annotations

import pytest

from overseer.cli.live_keys import ESC, Command, KeyState, on_key


def press(keys: list[str], open_bps: tuple[str, ...]) -> tuple[KeyState, list[Command]]:
    state, done = KeyState(), []
    for k in keys:
        state, cmd = on_key(state, k, open_bps)
        if cmd is not None:
            done.append(cmd)
    return state, done


ONE = ("bp-1",)
THREE = ("bp-1", "bp-2", "bp-3")


@pytest.mark.parametrize(("keys", "open_bps", "commands"), [
    (["a"], ONE, [Command("resolve", "approve", "bp-1")]),
    (["v"], ONE, [Command("view", breakpoint="bp-1")]),
    (["v", "3"], THREE, [Command("view", breakpoint="bp-3")]),
    (["v"], (), []),
    (["a", "2"], THREE, [Command("resolve", "approve", "bp-2")]),
    (["a", "7", "3"], THREE, [Command("resolve", "approve", "bp-3")]),  # out of range: still asking
    (["a", ESC, "a"], THREE, []),  # Esc cancels the question; a asks again
    (["a"], (), []),
    (["r", "n", "o", "\n"], ONE, [Command("resolve", "reject", "bp-1", "no")]),
    (["r", "\n"], ONE, [Command("resolve", "reject", "bp-1", None)]),  # the note is optional
    (["r", "3", "x", "y", "\x7f", "\r"], THREE, [Command("resolve", "reject", "bp-3", "x")]),
    (["t", "\n"], ONE, []),  # an empty answer is not sent
    (["t", " ", "4", "2", " ", "\n"], ONE, [Command("resolve", "answer", "bp-1", "42")]),
    (["t", "h", "i", ESC], ONE, []),
    (["t", "q", "p", "\n"], ONE, [Command("resolve", "answer", "bp-1", "qp")]),  # text, not keys
    (["p"], (), [Command("pause", paused=True)]),
    (["c"], (), [Command("pause", paused=False)]),
    (["q"], ONE, [Command("detach")]),
    (["x", "\n", ESC], ONE, []),
])
def test_key_sequences(keys: list[str], open_bps: tuple[str, ...], commands: list[Command]) -> None:
    assert press(keys, open_bps)[1] == commands


def test_prompts_say_what_is_asked() -> None:
    state, _ = press(["a"], THREE)
    assert state.prompt() == "approve which breakpoint? 1-3 (Esc cancels)"
    state, _ = press(["t", "o", "k"], ONE)
    assert state.prompt().startswith("answer for bp-1: ok")
    state, _ = press(["r"], ())
    assert state.prompt() == "r: no open breakpoint to reject"
    assert press(["a"], ONE)[0].prompt() == ""


def test_more_than_nine_breakpoints_offer_the_first_nine() -> None:
    many = tuple(f"bp-{i}" for i in range(12))
    state, _ = press(["a"], many)
    assert state.choices == many[:9]
    assert press(["a", "9"], many)[1] == [Command("resolve", "approve", "bp-8")]
