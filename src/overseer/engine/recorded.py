"""What a run keeps of the settings it started with.

These sections are recorded with the run (`runs.config_json`) and every process that carries the
run on — `resume`, a worker, a replay after a crash — decides, schedules, retries and stops at
breakpoints by them, so one run never mixes two configurations. The rest (supervisor, agents,
gates, notifications, database, web, logging) are the settings of the process doing the work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

RECORDED_SECTIONS = ("run", "decision", "retries", "scheduling", "breakpoints", "budgets")


def differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{dotted key: (the run's value, the current value)} for recorded keys that differ now.
    `current` maps dotted keys to values as `config show` lists them."""
    out: dict[str, tuple[Any, Any]] = {}
    for section in RECORDED_SECTIONS:
        for key, was in (recorded.get(section) or {}).items():
            dotted = f"{section}.{key}"
            if dotted in current and _same(was, current[dotted]) is False:
                out[dotted] = (was, current[dotted])
    return out


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
