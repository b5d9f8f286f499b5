"""`overseer stats breakpoints` through the installed console script, on a store filled directly."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from overseer.engine.breakpoint_stats import breakpoint_stats
from overseer.store import BreakpointRecord, Store

T0 = datetime(2026, 1, 5, 9, 0, 0)


def _overseer() -> list[str]:
    exe = Path(sys.executable).parent / "overseer"
    return [str(exe)] if exe.exists() else [shutil.which("overseer") or "overseer"]


def _cli(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSEER_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), COLUMNS="200")
    return subprocess.run([*_overseer(), *args], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=120)


# (run, id, kind, resolution or None, seconds to resolve)
BREAKPOINTS: list[tuple[str, str, str, str | None, int]] = [
    ("run-1", "bp-a1", "breaking_test_failure", "approved", 600),
    ("run-1", "bp-a2", "breaking_test_failure", "rejected", 1800),
    ("run-1", "bp-a3", "rate_limit_hit", "auto", 0),
    ("run-1", "bp-a4", "rate_limit_hit", "auto", 0),
    ("run-1", "bp-a5", "after_task", None, 0),
    ("run-2", "bp-b1", "breaking_test_failure", "answered", 3000),
    ("run-2", "bp-b2", "merge_conflict", "approved", 60),
]


def fill(db: Path, repo: Path) -> None:
    store = Store.open(f"sqlite:///{db}")
    try:
        for run in ("run-1", "run-2"):
            store.create_run(run, name=run, plan_path="plan.yaml", workspace=str(repo),
                             plan_json={}, config_json={}, parallel=1, branch=None)
        for run, bp, kind, resolution, _ in BREAKPOINTS:
            store.open_breakpoint(run, kind, f"{kind} happened", task_id="t1",
                                  severity="auto" if resolution == "auto" else "human",
                                  breakpoint_id=bp)
            if resolution is not None:
                store.resolve_breakpoint(bp, resolution, note="n", resolved_by="me@host")
    finally:
        store.close()
    # Fixed times, so the mean time to resolve does not depend on how fast this test runs.
    with sqlite3.connect(db) as con:
        for _run, bp, _kind, resolution, seconds in BREAKPOINTS:
            con.execute("UPDATE breakpoints SET created_at = ?, resolved_at = ? WHERE id = ?",
                        (T0.isoformat(sep=" "),
                         (T0 + timedelta(seconds=seconds)).isoformat(sep=" ") if resolution else None,
                         bp))


def test_stats_breakpoints_command(tmp_path: Path) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    res = _cli(repo, home, "stats", "breakpoints")
    assert res.returncode == 2 and "no runs yet" in res.stderr and "Traceback" not in res.stderr

    fill(repo / ".overseer" / "state.db", repo)

    res = _cli(repo, home, "stats", "breakpoints", "--json", "run-1")
    assert res.returncode == 0, res.stderr
    st: dict[str, Any] = json.loads(res.stdout)
    assert st["runs"] == ["run-1"]
    assert {k: st[k] for k in ("triggered", "resolved", "auto_resolved", "open", "approved",
                               "rejected", "answered")} == {
        "triggered": 5, "resolved": 4, "auto_resolved": 2, "open": 1, "approved": 1,
        "rejected": 1, "answered": 0}
    assert st["mean_time_to_resolve_s"] == 1200.0  # (600 + 1800) / 2: people only
    assert st["by_kind"]["rate_limit_hit"]["auto_resolved"] == 2
    assert st["by_kind"]["rate_limit_hit"]["mean_time_to_resolve_s"] is None
    assert st["by_kind"]["after_task"]["open"] == 1

    res = _cli(repo, home, "stats", "breakpoints", "--all", "--json")
    assert res.returncode == 0, res.stderr
    st = json.loads(res.stdout)
    assert sorted(st["runs"]) == ["run-1", "run-2"] and st["triggered"] == 7
    assert st["by_kind"]["breaking_test_failure"]["triggered"] == 3
    assert st["by_kind"]["breaking_test_failure"]["mean_time_to_resolve_s"] == 1800.0
    assert st["by_kind"]["merge_conflict"]["approved"] == 1

    res = _cli(repo, home, "stats", "breakpoints", "run-2")
    assert res.returncode == 0, res.stderr
    assert "2 triggered, 2 resolved (0 automatically, 0 by a cancel), 0 open" in res.stdout
    assert "mean time to resolve (people): 25.5m" in res.stdout  # (3000 + 60) / 2 s
    assert "merge_conflict" in res.stdout and "breaking_test_failure" in res.stdout

    res = _cli(repo, home, "stats", "breakpoints", "run-1", "--all")
    assert res.returncode == 2 and "not both" in res.stderr
    res = _cli(repo, home, "stats", "run-1", "extra")
    assert res.returncode == 2 and "unexpected argument 'extra'" in res.stderr


def test_breakpoint_stats_of_nothing() -> None:
    st = breakpoint_stats([], ["run-x"])
    assert st["triggered"] == 0 and st["mean_time_to_resolve_s"] is None and st["by_kind"] == {}


def test_an_unresolved_timestamp_is_not_counted_as_resolved() -> None:
    rec = BreakpointRecord(id="bp-1", run_id="r", task_id="t", attempt_id=None, kind="k",
                           message="m", severity="human", state="approved", resolution=None,
                           resolved_by=None, created_at=T0, resolved_at=None)
    st = breakpoint_stats([rec], ["r"])
    assert st["resolved"] == 1 and st["mean_time_to_resolve_s"] is None
