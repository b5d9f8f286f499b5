"""Worktrees for parallel tasks against real git: create, commit, merge, conflicts, remove, reuse."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from overseer.errors import WorkspaceError
from overseer.workspace import GitWorkspace
from overseer.workspace.worktrees import (
    MergeResult,
    create_worktree,
    list_worktrees,
    merge_task,
    remove_worktree,
    task_branch,
    worktree_path,
)

RUN = "r1"


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "LC_ALL": "C", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, check=True, text=True).stdout


def files_state(root: Path) -> dict[str, tuple[int, bytes]]:
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in (".git", ".overseer")]
        for name in filenames:
            p = Path(dirpath) / name
            state[str(p.relative_to(root))] = (stat.S_IMODE(p.lstat().st_mode), p.read_bytes())
    return state


@pytest.fixture
def repo(tmp_path: Path) -> GitWorkspace:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "t")
    git(root, "config", "user.email", "t@t")
    (root / "shared.txt").write_text("line one\nline two\n")
    (root / "old.txt").write_text("to be deleted\n")
    (root / "run.sh").write_text("echo hi\n")
    (root / "mine.txt").write_text("the user's file\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return GitWorkspace.open(root)


def do_task(ws: GitWorkspace, task: str, change) -> str:  # type: ignore[no-untyped-def]
    """Run a 'task' in its own worktree: checkpoint, change files, commit; return the commit."""
    wt = create_worktree(ws, RUN, task, ws.head() or "")
    base = wt.checkpoint(f"refs/overseer/{RUN}/{task}/1")
    change(wt.root)
    sha = wt.commit_task(base, f"{task}: work", {"Overseer-Run": RUN, "Overseer-Task": task})
    assert sha is not None
    return sha


def merge(ws: GitWorkspace, task: str) -> MergeResult:
    return merge_task(ws, task_branch(RUN, task), f"merge {task}", {"Overseer-Run": RUN, "Overseer-Merge": task})


def test_three_independent_tasks_merge_and_leave_the_users_files_alone(repo: GitWorkspace) -> None:
    start = repo.head()
    # The user keeps working in the main tree during the run: an edit and an untracked file.
    (repo.root / "mine.txt").write_text("the user's file, edited\n")
    (repo.root / "notes.txt").write_text("untracked, the user's\n")

    def a(root: Path) -> None:
        (root / "pkg" / "sub").mkdir(parents=True)
        (root / "pkg" / "sub" / "new.py").write_text("x = 1\n")

    def b(root: Path) -> None:
        (root / "old.txt").unlink()
        (root / "run.sh").chmod(0o755)

    def c(root: Path) -> None:
        (root / "shared.txt").write_text("line one\nline two\nline three\n")

    for task, change in (("a", a), ("b", b), ("c", c)):
        do_task(repo, task, change)
    assert set(list_worktrees(repo, RUN)) == {"a", "b", "c"}
    # Nothing reaches the main tree before the merges.
    assert not (repo.root / "pkg").exists() and (repo.root / "old.txt").exists()

    shas = []
    for task in ("a", "b", "c"):
        res = merge(repo, task)
        assert res.conflicts == [] and res.sha is not None
        shas.append(res.sha)
        assert git(repo.root, "rev-parse", "HEAD").strip() == res.sha
        assert len(git(repo.root, "rev-list", "--parents", "-n1", res.sha).split()) == 3

    assert git(repo.root, "rev-list", "--count", f"{start}..HEAD").strip() == "6"
    assert (repo.root / "pkg" / "sub" / "new.py").read_text() == "x = 1\n"
    assert not (repo.root / "old.txt").exists()
    assert os.stat(repo.root / "run.sh").st_mode & 0o111
    assert (repo.root / "shared.txt").read_text().endswith("line three\n")
    # The user's edit and untracked file are untouched, and they are all `git status` shows.
    assert (repo.root / "mine.txt").read_text() == "the user's file, edited\n"
    assert (repo.root / "notes.txt").read_text() == "untracked, the user's\n"
    assert sorted(git(repo.root, "status", "--porcelain").splitlines()) == [" M mine.txt", "?? notes.txt"]

    for task in ("a", "b", "c"):
        assert remove_worktree(repo, RUN, task)
        assert not worktree_path(repo, RUN, task).exists()
        assert git(repo.root, "branch", "--list", task_branch(RUN, task)) == ""
    assert list_worktrees(repo, RUN) == {}


def test_conflicting_pair_names_the_file_and_changes_nothing(repo: GitWorkspace) -> None:
    do_task(repo, "left", lambda r: (r / "shared.txt").write_text("line one\nLEFT\n"))
    do_task(repo, "right", lambda r: (r / "shared.txt").write_text("line one\nRIGHT\n"))
    (repo.root / "notes.txt").write_text("untracked\n")
    first = merge(repo, "left")
    assert first.sha is not None and first.conflicts == []

    before_tree = files_state(repo.root)
    before_status = git(repo.root, "status", "--porcelain")
    before_index = git(repo.root, "ls-files", "-s")
    second = merge(repo, "right")
    assert second == MergeResult(None, ["shared.txt"])
    assert git(repo.root, "rev-parse", "HEAD").strip() == first.sha
    assert files_state(repo.root) == before_tree
    assert git(repo.root, "status", "--porcelain") == before_status
    assert git(repo.root, "ls-files", "-s") == before_index
    # Removing the clean worktree keeps the unmerged branch, for a human to resolve.
    assert remove_worktree(repo, RUN, "right")
    assert git(repo.root, "branch", "--list", task_branch(RUN, "right")).strip()


def test_merge_is_idempotent_and_finishes_an_interrupted_one(repo: GitWorkspace) -> None:
    do_task(repo, "a", lambda r: (r / "shared.txt").write_text("merged\n"))
    res = merge(repo, "a")
    assert res.sha is not None
    assert merge(repo, "a") == res
    assert git(repo.root, "rev-list", "--count", "--merges", "HEAD").strip() == "1"

    # A crash between moving the branch and writing the files: the tree and index still hold
    # the old content. The repeat finds the merge commit and finishes the job.
    (repo.root / "shared.txt").write_text("line one\nline two\n")
    old_blob = git(repo.root, "rev-parse", f"{res.sha}^1:shared.txt").strip()
    git(repo.root, "update-index", "--cacheinfo", f"100644,{old_blob},shared.txt")
    assert merge(repo, "a") == res
    assert (repo.root / "shared.txt").read_text() == "merged\n"
    assert git(repo.root, "status", "--porcelain") == ""


def test_merge_refuses_to_overwrite_the_users_edit(repo: GitWorkspace) -> None:
    do_task(repo, "a", lambda r: (r / "shared.txt").write_text("from the task\n"))
    (repo.root / "shared.txt").write_text("the user's unsaved edit\n")
    head = repo.head()
    with pytest.raises(WorkspaceError, match="shared.txt"):
        merge(repo, "a")
    assert repo.head() == head
    assert (repo.root / "shared.txt").read_text() == "the user's unsaved edit\n"


def test_branch_already_contained_merges_nothing(repo: GitWorkspace) -> None:
    create_worktree(repo, RUN, "idle", repo.head() or "")
    assert merge(repo, "idle") == MergeResult(None, [])


def test_remove_refuses_while_the_worktree_holds_uncommitted_work(repo: GitWorkspace) -> None:
    wt = create_worktree(repo, RUN, "a", repo.head() or "")
    (wt.root / "shared.txt").write_text("edited, not committed\n")
    assert remove_worktree(repo, RUN, "a") is False
    assert (wt.root / "shared.txt").read_text() == "edited, not committed\n"

    git(wt.root, "checkout", "--", "shared.txt")
    (wt.root / "untracked.txt").write_text("new\n")
    assert remove_worktree(repo, RUN, "a") is False
    assert (wt.root / "untracked.txt").exists()

    (wt.root / "untracked.txt").unlink()
    (wt.root / "build.log").write_text("ignored output\n")
    info_exclude = Path(git(repo.root, "rev-parse", "--git-path", "info/exclude").strip())
    path = info_exclude if info_exclude.is_absolute() else repo.root / info_exclude
    path.write_text(path.read_text() + "*.log\n")
    assert remove_worktree(repo, RUN, "a") is True  # ignored files are not work
    assert not wt.root.exists()


def test_unmerged_branch_survives_removal(repo: GitWorkspace) -> None:
    sha = do_task(repo, "a", lambda r: (r / "extra.txt").write_text("x\n"))
    assert remove_worktree(repo, RUN, "a") is True
    assert git(repo.root, "rev-parse", f"refs/heads/{task_branch(RUN, 'a')}").strip() == sha


def test_create_reuses_an_existing_worktree_after_a_crash(repo: GitWorkspace) -> None:
    base = repo.head() or ""
    wt = create_worktree(repo, RUN, "a", base)
    (wt.root / "half-done.txt").write_text("work in progress\n")
    again = create_worktree(repo, RUN, "a", base)
    assert again.root == wt.root
    assert (again.root / "half-done.txt").read_text() == "work in progress\n"
    assert list_worktrees(repo, RUN) == {"a": wt.root.resolve()}

    # The branch keeps its commit when the directory itself was lost: it is checked out again.
    c = wt.checkpoint("refs/overseer/r1/a/1")
    (wt.root / "committed.txt").write_text("kept\n")
    committed = wt.commit_task(c, "a: work", {"Overseer-Task": "a"})
    shutil.rmtree(wt.root)
    back = create_worktree(repo, RUN, "a", base)
    assert back.head() == committed
    assert (back.root / "committed.txt").read_text() == "kept\n"


def test_create_refuses_a_foreign_directory_in_the_way(repo: GitWorkspace) -> None:
    path = worktree_path(repo, RUN, "a")
    path.mkdir(parents=True)
    (path / "someone-elses.txt").write_text("x\n")
    with pytest.raises(WorkspaceError, match="not a git worktree"):
        create_worktree(repo, RUN, "a", repo.head() or "")
    assert (path / "someone-elses.txt").read_text() == "x\n"


def test_worktrees_made_and_removed_side_by_side_all_survive(repo: GitWorkspace) -> None:
    """64 tasks' worktrees added from 16 threads while others are removed and listed (each add
    prunes): every add must succeed and leave a usable worktree. Unserialised, git reads a
    sibling's half-made admin folder ("failed to read .git/worktrees/t7/commondir")."""
    from concurrent.futures import ThreadPoolExecutor

    from overseer.workspace.worktrees import create_worktree, list_worktrees, remove_worktree

    base = repo.head()

    def one(i: int) -> str:
        wt = create_worktree(repo, "race", f"t{i}", base)
        assert (wt.root / ".git").exists()
        list_worktrees(repo, "race")
        if i % 2:
            assert remove_worktree(repo, "race", f"t{i}")
        return str(wt.root)

    with ThreadPoolExecutor(16) as pool:
        made = list(pool.map(one, range(64)))
    assert len(set(made)) == 64
    left = [ln for ln in git(repo.root, "worktree", "list").splitlines() if "/worktrees/race/" in ln]
    assert len(left) == 32
