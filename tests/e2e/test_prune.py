"""`overseer prune` through the real CLI on runs made by `overseer run`: what goes, what stays."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from overseer.cli.prune_cmd import human_bytes

PLAN = """\
version: 1
name: prune-me
defaults: {agent: sh, max_attempts: 1, timeout: 60}
agents:
  sh: {type: shell, command: "echo \\"$OVERSEER_RUN_ID\\" >> notes.txt; echo wrote notes"}
gates:
  - {name: notes, run: "test -s notes.txt"}
tasks:
  - {id: note, prompt: "Append the run id to notes.txt.", gates: [notes]}
"""
PARKED = PLAN.replace('gates: [notes]}', 'gates: [notes], breakpoint: before}')


def _usage(path: Path) -> tuple[int, int]:
    files = size = 0
    for root, _dirs, names in os.walk(path):
        for n in names:
            files += 1
            size += os.lstat(os.path.join(root, n)).st_size
    return files, size


def _events(repo: Path, run_id: str) -> list[str]:
    db = sqlite3.connect(repo / ".overseer" / "state.db")
    try:
        rows = db.execute(
            "select e.kind from events e join attempts a on a.id = e.attempt_id where a.run_id = ?",
            (run_id,)).fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


def _run(run_overseer, repo: Path, plan: str, *args: str) -> str:
    res = run_overseer("run", plan, *args, cwd=repo)
    assert res.returncode in (0, 3), res.stdout + res.stderr
    return json.loads(run_overseer("status", "--json", cwd=repo).stdout)["run_id"]


def test_prune_removes_old_finished_runs_files_and_keeps_their_summaries(make_repo, run_overseer):
    repo = make_repo({"plan.yaml": PLAN, "parked.yaml": PARKED, "notes.txt": "start\n"})
    old, older, newest = (_run(run_overseer, repo, "plan.yaml") for _ in range(3))
    parked = _run(run_overseer, repo, "parked.yaml", "--no-wait")
    runs = repo / ".overseer" / "runs"
    assert json.loads(run_overseer("status", parked, "--json", cwd=repo).stdout)["state"] == "waiting"
    before = {r: _usage(runs / r) for r in (old, older, newest, parked)}
    assert all(files > 0 for files, _ in before.values())
    events_before = {r: _events(repo, r) for r in (old, older)}
    assert all(len(k) > 1 for k in events_before.values())

    # The defaults (30 days, keep 10): these runs are young.
    res = run_overseer("prune", cwd=repo)
    assert res.returncode == 0, res.stderr
    assert "nothing to prune (kept the 10 newest finished runs and runs that finished within 30d; " \
        "1 unfinished run untouched)" in res.stdout

    # A dry run says what would go and removes nothing.
    res = run_overseer("prune", "--older-than", "0m", "--keep", "1", "--dry-run", cwd=repo)
    assert res.returncode == 0, res.stderr
    assert f"run {old} (completed" in res.stdout and f"run {older} (completed" in res.stdout
    assert newest not in res.stdout and parked not in res.stdout
    assert "would remove" in res.stdout and "would free" in res.stdout
    assert {r: _usage(runs / r) for r in before} == before
    assert _events(repo, old) == events_before[old]

    res = run_overseer("prune", "--older-than", "0m", "--keep", "1", cwd=repo)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    for r in (old, older):
        files, size = before[r]
        [line] = [ln for ln in lines if ln.startswith(f"run {r} ")]
        gone = len(events_before[r]) - events_before[r].count("result")
        assert f"removed {files} file{'s' if files != 1 else ''} ({human_bytes(size)}) under " \
            f".overseer/runs/{r} and {gone} agent event{'s' if gone != 1 else ''}" in line
        assert not (runs / r).exists()
        # Only each attempt's usage summary is left of the transcript in the store.
        assert set(_events(repo, r)) <= {"result"}
    total = before[old][1] + before[older][1]
    assert f"freed {human_bytes(total)} ({before[old][0] + before[older][0]} files) from 2 runs" in res.stdout
    assert _usage(runs / newest) == before[newest] and _usage(runs / parked) == before[parked]

    # The summaries stay: status and export of a pruned run still work.
    st = json.loads(run_overseer("status", old, "--json", cwd=repo).stdout)
    assert st["state"] == "completed" and st["tasks"][0]["state"] == "completed"
    assert st["tasks"][0]["attempts"] == 1 and st["tasks"][0]["last_decision"]["action"] == "proceed"
    exp = run_overseer("export", old, "--format", "json", cwd=repo)
    assert exp.returncode == 0, exp.stderr
    report = json.loads(exp.stdout)
    assert "Append the run id to notes.txt." in json.dumps(report)  # the prompt, from the store
    db = sqlite3.connect(repo / ".overseer" / "state.db")
    kinds = db.execute("select run_id, kind, path from artifacts where kind = 'pruned'").fetchall()
    db.close()
    assert sorted(k[0] for k in kinds) == sorted([old, older])

    # Pruned runs have nothing left to remove.
    res = run_overseer("prune", "--older-than", "0m", "--keep", "1", cwd=repo)
    assert "nothing to prune" in res.stdout

    # The retention settings are the defaults of the flags; an unfinished run is never pruned.
    (repo / "overseer.yaml").write_text("retention: {older_than: 0m, keep: 0}\n")
    res = run_overseer("prune", cwd=repo)
    assert res.returncode == 0, res.stderr
    assert f"run {newest} " in res.stdout and parked not in res.stdout
    assert not (runs / newest).exists() and _usage(runs / parked) == before[parked]


def test_bad_ages_are_one_clear_error(make_repo, run_overseer):
    repo = make_repo({"README": "x\n"})
    res = run_overseer("prune", "--older-than", "soon", cwd=repo)
    assert res.returncode == 2
    assert "error: --older-than: 'soon' is not an age" in res.stderr and "hint:" in res.stderr
    (repo / "overseer.yaml").write_text("retention: {older_than: a while}\n")
    res = run_overseer("prune", cwd=repo)
    assert res.returncode == 2 and "retention.older_than" in res.stderr
    assert "Traceback" not in res.stderr


def test_prune_scrub_masks_what_an_older_run_kept_in_clear(make_repo, run_overseer):
    """A run stored before overseer scrubbed its writes (its rows and files written here as an
    older overseer did) is masked in place by `prune --scrub`, and stays readable."""
    repo = make_repo({"plan.yaml": PLAN, "notes.txt": "start\n"})
    run_id = _run(run_overseer, repo, "plan.yaml")
    secret = "old-" + os.urandom(12).hex()
    db = sqlite3.connect(repo / ".overseer" / "state.db")
    try:
        with db:
            db.execute("update events set data = json_set(data, '$.leak', ?) where attempt_id in "
                       "(select id from attempts where run_id = ?)", (f"key {secret}", run_id))
            db.execute("update attempts set prompt = prompt || ? where run_id = ?",
                       (f"\nDEPLOY_TOKEN={secret}", run_id))
    finally:
        db.close()
    leaked = repo / ".overseer" / "runs" / run_id / "old-transcript.jsonl"
    leaked.write_text(json.dumps({"text": f"the token is {secret}"}) + "\n")

    res = run_overseer("prune", "--scrub", cwd=repo, env={"DEPLOY_TOKEN": secret})
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"run {run_id}: masked secrets in" in res.stdout and "1 file" in res.stdout
    assert secret.encode() not in (repo / ".overseer" / "state.db").read_bytes()
    assert secret not in leaked.read_text() and "***[" in leaked.read_text()
    # It is idempotent, and nothing it rewrote is lost for the readers.
    again = run_overseer("prune", "--scrub", cwd=repo, env={"DEPLOY_TOKEN": secret})
    assert "0 rows and 0 files held a secret" in again.stdout, again.stdout
    report = run_overseer("export", run_id, "-f", "md", cwd=repo)
    assert report.returncode == 0 and "DEPLOY_TOKEN=***[" in report.stdout
    assert _events(repo, run_id)

    res = run_overseer("prune", "--scrub", "--dry-run", cwd=repo)
    assert res.returncode == 2 and "on its own" in res.stderr and "Traceback" not in res.stderr
