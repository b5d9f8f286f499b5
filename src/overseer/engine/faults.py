"""Crash injection: a named point in the engine where a test can make the process die.

Crash recovery (issue #6 item 7) is only believable if it is tested at the moments that are
hard to recover from — between an effect and the record of it. A test sets
`OVERSEER_CRASH_AT=<point>` (or `<point>:<N>` for the N-th time the point is reached, e.g.
during the second task) on an `overseer run`, and `crash_point` SIGKILLs the whole process
there: no `finally`, no atexit, no flush — exactly what `kill -9` or a power cut does. Left
unset (always, outside tests), a crash point costs two environment lookups.
"""

from __future__ import annotations

import os
import signal
import threading

CRASH_ENV = "OVERSEER_CRASH_AT"
# The same points can instead raise, as a step whose code fails (a bug, a full disk) does.
FAIL_ENV = "OVERSEER_FAIL_AT"

# Where steps.py calls crash_point; a test names one of these.
POINTS = ("before_agent", "after_agent", "during_gates", "during_review", "during_commit", "during_merge")

_reached: dict[str, int] = {}
_lock = threading.Lock()


class InjectedFault(RuntimeError):
    pass


def crash_point(name: str) -> None:
    """SIGKILL this process if OVERSEER_CRASH_AT names this point (and this is its N-th time);
    raise InjectedFault if OVERSEER_FAIL_AT names it."""
    if os.environ.get(FAIL_ENV) == name:
        raise InjectedFault(f"injected fault at {name}")
    wanted = os.environ.get(CRASH_ENV)
    if not wanted or wanted.partition(":")[0] != name:
        return
    _, _, nth = wanted.partition(":")
    with _lock:
        _reached[name] = _reached.get(name, 0) + 1
        count = _reached[name]
    if count == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
