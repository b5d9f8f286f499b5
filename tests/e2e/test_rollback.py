"""`overseer rollback` through the real console script, after real runs with shell agents."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from e2e_helpers import git

AGENT = """\
import os, pathlib, sys
task, attempt = os.environ["OVERSEER_TASK_ID"], int(os.environ["OVERSEER_ATTEMPT"])
p = pathlib.Path
if task == "write":
    p("new.txt").write_text("new file\\n")
    p("a.txt").write_text("a, rewritten\\n")
    p("data/x").mkdir(parents=True, exist_ok=True)
    p("data/x/blob.bin").write_bytes(bytes(range(256)) * 4)
    p("empty.txt").write_text("")
    if attempt == 1 and os.environ.get("TWO_ATTEMPTS"):
        p("draft.txt").write_text("first try\\n")
    else:
        p("ok.flag").write_text("ok\\n")
elif task == "modify":
    p("new.txt").write_text("new file, modified\\n")
    p("old.txt").unlink()
    os.chmod("script.sh", 0o755)
elif task == "delete":
    p("b.txt").unlink()
    p("data/x/blob.bin").unlink()
    p("c.txt").write_text("c\\n")
"""

PLAN = """\
version: 1
name: rollback-e2e
defaults: {agent: py, max_attempts: 2, timeout: 60}
agents:
  py: {type: shell, command: "python3 tools/agent.py"}
tasks:
  - id: write
    title: Write files
    prompt: write
    gates: [{name: flag, run: "test -f ok.flag"}]
  - id: modify
    title: Modify files
    prompt: modify
    depends_on: [write]
  - id: delete
    title: Delete files
    prompt: delete
    depends_on: [modify]
"""


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file below root except .git and .overseer: path → (mode, content)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in (".git", ".overseer")]
        for name in filenames:
            p = Path(dirpath) / name
            state[str(p.relative_to(root))] = (stat.S_IMODE(p.lstat().st_mode), p.read_bytes())
    return state


def completed_run(make_repo, run_overseer):  # type: ignore[no-untyped-def]
    repo = make_repo({
        "tools/agent.py": AGENT, "plan.yaml": PLAN, "a.txt": "a\n", "b.txt": "b\n",
        "old.txt": "old\n", "script.sh": "echo hi\n",
    })
    (repo / "untracked-by-user.txt").write_text("mine\n")  # present before the run, never committed
    before = tree(repo)
    start = git(repo, "rev-parse", "HEAD").strip()
    status_before = git(repo, "status", "--porcelain")
    res = run_overseer("run", "plan.yaml", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    assert tree(repo) != before
    assert git(repo, "rev-list", "--count", f"{start}..HEAD").strip() == "3"
    return repo, before, start, status_before


def status(run_overseer, repo):  # type: ignore[no-untyped-def]
    res = run_overseer("status", "--json", cwd=repo)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_rollback_first_task_restores_the_tree_before_the_run(make_repo, run_overseer):
    repo, before, start, status_before = completed_run(make_repo, run_overseer)
    dropped = git(repo, "log", "--format=%H", f"{start}..HEAD").split()

    res = run_overseer("rollback", "write", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    assert tree(repo) == before
    assert git(repo, "rev-parse", "HEAD").strip() == start
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(repo, "status", "--porcelain") == status_before

    st = status(run_overseer, repo)
    assert {t["id"]: t["state"] for t in st["tasks"]} == {"write": "pending", "modify": "pending", "delete": "pending"}

    # The dropped commits stay reachable, are printed, and the rollback is on record.
    run_id = st["run_id"]
    saved = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", f"refs/overseer/{run_id}/rolled-back/")
    assert saved.split()[1] == dropped[0]
    for sha in dropped:
        assert sha[:12] in res.stdout, res.stdout
    assert f"overseer resume {run_id}" in res.stdout
    records = list((repo / ".overseer" / "runs" / run_id / "rollbacks").glob("*.json"))
    assert len(records) == 1
    rec = json.loads(records[0].read_text())
    assert rec["task_id"] == "write" and rec["attempt"] == 1 and rec["to_head"] == start
    assert rec["from_head"] == dropped[0] and rec["reset_tasks"] == ["write", "modify", "delete"]
    assert [c["task"] for c in rec["dropped"]] == ["delete", "modify", "write"]
    assert rec["by"] and rec["at"] and rec["forced"] is False


def test_rollback_of_a_later_task_keeps_the_earlier_ones(make_repo, run_overseer):
    repo, _before, start, _ = completed_run(make_repo, run_overseer)
    first = git(repo, "rev-parse", "HEAD~2").strip()
    res = run_overseer("rollback", "modify", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    assert git(repo, "rev-parse", "HEAD").strip() == first
    assert (repo / "old.txt").read_text() == "old\n"
    assert not os.stat(repo / "script.sh").st_mode & 0o111
    assert (repo / "new.txt").read_text() == "new file\n"
    assert (repo / "data/x/blob.bin").exists() and not (repo / "c.txt").exists()
    states = {t["id"]: t["state"] for t in status(run_overseer, repo)["tasks"]}
    assert states == {"write": "completed", "modify": "pending", "delete": "pending"}
    assert git(repo, "status", "--porcelain") == "?? untracked-by-user.txt\n"


def test_rollback_refuses_a_dirty_tree_and_force_saves_it(make_repo, run_overseer):
    repo, before, start, _ = completed_run(make_repo, run_overseer)
    head = git(repo, "rev-parse", "HEAD").strip()
    (repo / "a.txt").write_text("the user's edit after the run\n")
    (repo / "later.txt").write_text("the user's new file\n")
    dirty = tree(repo)

    res = run_overseer("rollback", "write", cwd=repo)
    assert res.returncode == 2
    assert "uncommitted changes" in res.stderr and "a.txt" in res.stderr and "later.txt" in res.stderr
    assert "--force" in res.stderr and "Traceback" not in res.stderr
    assert "untracked-by-user.txt" not in res.stderr  # there before the run: not the user's new work
    assert tree(repo) == dirty
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert {t["state"] for t in status(run_overseer, repo)["tasks"]} == {"completed"}

    res = run_overseer("rollback", "write", "--force", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    assert tree(repo) == before
    assert git(repo, "rev-parse", "HEAD").strip() == start
    run_id = status(run_overseer, repo)["run_id"]
    refs = git(repo, "for-each-ref", "--format=%(refname)", f"refs/overseer/{run_id}/rolled-back/").split()
    tree_ref = next(r for r in refs if r.endswith("-tree"))
    assert git(repo, "show", f"{tree_ref}:a.txt") == "the user's edit after the run\n"
    assert git(repo, "show", f"{tree_ref}:later.txt") == "the user's new file\n"


def test_rollback_to_before_attempt_2(make_repo, run_overseer, monkeypatch):
    monkeypatch.setenv("TWO_ATTEMPTS", "1")  # the first task's first attempt fails its gate
    repo, before, start, _ = completed_run(make_repo, run_overseer)
    st = status(run_overseer, repo)
    assert {t["id"]: t["attempts"] for t in st["tasks"]}["write"] == 2

    res = run_overseer("rollback", "write", "--attempt", "2", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    # Exactly the tree attempt 1 left behind: its files on top of the starting tree.
    expected = dict(before)
    expected.update({
        "a.txt": (0o644, b"a, rewritten\n"),
        "new.txt": (0o644, b"new file\n"),
        "data/x/blob.bin": (0o644, bytes(range(256)) * 4),
        "empty.txt": (0o644, b""),
        "draft.txt": (0o644, b"first try\n"),
    })
    assert tree(repo) == expected
    assert git(repo, "rev-parse", "HEAD").strip() == start
    assert {t["state"] for t in status(run_overseer, repo)["tasks"]} == {"pending"}

    bad = run_overseer("rollback", "write", "--attempt", "7", cwd=repo)
    assert bad.returncode == 2 and "no attempt 7" in bad.stderr
