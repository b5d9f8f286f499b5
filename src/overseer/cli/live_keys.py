"""The live view's keys: a pure state machine (`on_key`) and the thread that reads the terminal.

v view, a approve, r reject, t answer, p pause new work, c continue, q detach. With one open
breakpoint v/a/r/t act on it; with several they ask for its number (1-9, as listed in the view).
v shows the attempt it stopped at (`overseer show BP`) in a pager; r and t read a line of text
(Enter sends, Esc cancels)."""

from __future__ import annotations

import codecs
import os
import queue
import select
import sys
import termios
import threading
import time
import tty
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Literal, TextIO

ESC = "\x1b"
ENTER = ("\r", "\n")
BACKSPACE = ("\x7f", "\x08")
VERBS = {"v": "view", "a": "approve", "r": "reject", "t": "answer"}
TEXT_PROMPT = {"reject": "reject note (optional)", "answer": "answer"}
HELP = "v view · a approve · r reject · t answer · p pause · c continue · q detach"


@dataclass(frozen=True)
class Command:
    kind: Literal["resolve", "pause", "detach", "view"]
    action: str = ""  # approve | reject | answer, for resolve
    breakpoint: str = ""
    note: str | None = None
    paused: bool = False


@dataclass(frozen=True)
class KeyState:
    mode: Literal["normal", "choose", "text"] = "normal"
    action: str = ""
    choices: tuple[str, ...] = ()
    breakpoint: str = ""
    text: str = ""
    message: str = ""

    def prompt(self) -> str:
        """The line the view shows under the key help: a question, the text typed, or news."""
        if self.mode == "choose":
            return f"{self.action} which breakpoint? 1-{len(self.choices)} (Esc cancels)"
        if self.mode == "text":
            return f"{TEXT_PROMPT[self.action]} for {self.breakpoint}: {self.text}▏ (Enter sends, Esc cancels)"
        return self.message


def on_key(state: KeyState, key: str, open_breakpoints: tuple[str, ...]) -> tuple[KeyState, Command | None]:
    """The next state and, when a key completes one, the command to carry out."""
    if state.mode == "choose":
        if key == ESC:
            return KeyState(), None
        if key.isdigit() and 1 <= int(key) <= len(state.choices):
            return _target(state.action, state.choices[int(key) - 1])
        return state, None
    if state.mode == "text":
        if key == ESC:
            return KeyState(), None
        if key in ENTER:
            text = state.text.strip()
            if state.action == "answer" and not text:
                return state, None  # an empty answer would tell the agent nothing
            return KeyState(), Command("resolve", state.action, state.breakpoint, text or None)
        if key in BACKSPACE:
            return replace(state, text=state.text[:-1]), None
        if key.isprintable():
            return replace(state, text=state.text + key), None
        return state, None
    if key in VERBS:
        verb = VERBS[key]
        if not open_breakpoints:
            return KeyState(message=f"{key}: no open breakpoint to {verb}"), None
        if len(open_breakpoints) == 1:
            return _target(verb, open_breakpoints[0])
        return KeyState(mode="choose", action=verb, choices=open_breakpoints[:9]), None
    if key in ("p", "c"):
        return KeyState(), Command("pause", paused=key == "p")
    if key == "q":
        return KeyState(), Command("detach")
    return state, None


def _target(action: str, breakpoint: str) -> tuple[KeyState, Command | None]:
    if action == "view":
        return KeyState(), Command("view", breakpoint=breakpoint)
    if action == "approve":
        return KeyState(), Command("resolve", action, breakpoint)
    return KeyState(mode="text", action=action, breakpoint=breakpoint), None


class KeyReader:
    """Reads keys from a terminal in cbreak mode on a thread, into a queue. The terminal's
    settings are restored on exit. Escape sequences (arrow keys and the like) are dropped;
    a lone Esc is a key. Ctrl-C still interrupts: cbreak leaves signals on."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.fd = (stream or sys.stdin).fileno()
        self.keys: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._saved: list[int | list[bytes | int]] | None = None
        self._thread = threading.Thread(target=self._read, name="live-keys", daemon=True)

    def __enter__(self) -> KeyReader:
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def paused(self) -> _Paused:
        """While a pager has the terminal: no key is read from under it, and the terminal is
        back in its own mode."""
        return _Paused(self)

    def _ready(self, timeout: float) -> bool:
        return bool(select.select([self.fd], [], [], timeout)[0])

    def _read(self) -> None:
        decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        while not self._stop.is_set():
            if self._paused.is_set():
                self._stop.wait(0.05)
                continue
            if not self._ready(0.1):
                continue
            chunk = os.read(self.fd, 64)
            if not chunk:
                return  # the terminal went away
            if chunk.startswith(ESC.encode()):
                if len(chunk) == 1 and not self._ready(0.05):
                    self.keys.put(ESC)
                elif len(chunk) == 1:
                    os.read(self.fd, 64)  # the rest of an escape sequence: not a key
                continue
            for ch in decode(chunk):
                self.keys.put(ch)


class _Paused:
    def __init__(self, reader: KeyReader) -> None:
        self.reader = reader

    def __enter__(self) -> None:
        self.reader._paused.set()
        time.sleep(0.15)  # the reading thread finishes the select it is in
        if self.reader._saved is not None:
            termios.tcsetattr(self.reader.fd, termios.TCSADRAIN, self.reader._saved)

    def __exit__(self, *exc: object) -> None:
        tty.setcbreak(self.reader.fd)
        termios.tcflush(self.reader.fd, termios.TCIFLUSH)  # keys meant for the pager
        self.reader._paused.clear()
