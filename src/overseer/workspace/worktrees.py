"""One git worktree per running task (`--parallel N`), merged back without touching the user's files.

Layout: the worktree of task T in run R lives at `<repo>/.overseer/worktrees/R/T` on branch
`overseer/R/T`. `.overseer/` is excluded from the main repository's status, so the worktrees
never show up there.

Merging never runs `git merge` in the user's work tree: `git merge-tree --write-tree` computes
the merged tree (or the conflicting files) from commits alone, the merge commit is written
with `commit-tree`, the branch moves by compare-and-swap, and only then are exactly the paths
the merge changed written to the main work tree and index. A path the user changed since HEAD
stops the merge before anything is written (WorkspaceError naming it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from overseer.errors import WorkspaceError
from overseer.workspace.git import STATE_DIR, GitWorkspace
from overseer.workspace.gitcmd import (
    BOT_IDENTITY,
    Entry,
    check_trailers,
    index_info,
    index_updates,
    out,
    parse_ls_files_stage,
    parse_ls_tree,
    run_git,
    split_z,
)

WORKTREES_DIR = f"{STATE_DIR}/worktrees"


@dataclass(frozen=True)
class MergeResult:
    """`sha` is the merge commit (None when nothing was merged); `conflicts` names the files
    git could not merge (then nothing was changed)."""

    sha: str | None
    conflicts: list[str] = field(default_factory=list)


def task_branch(run_id: str, task_id: str) -> str:
    return f"overseer/{run_id}/{task_id}"


def worktree_path(ws: GitWorkspace, run_id: str, task_id: str) -> Path:
    return ws.root / WORKTREES_DIR / run_id / task_id


# ---- create, list, remove -----------------------------------------------------------------


_admin_lock = threading.Lock()


@contextlib.contextmanager
def _worktree_admin(ws: GitWorkspace) -> Iterator[None]:
    """One worktree add/prune/remove at a time per repository, across threads and processes
    (workers): a concurrent `worktree prune` drops a worktree another `add` is still making,
    and removing the run's emptied folder races a sibling's add into it."""
    lock_file = ws.root / STATE_DIR / "worktrees.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with _admin_lock, lock_file.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def create_worktree(ws: GitWorkspace, run_id: str, task_id: str, base: str) -> GitWorkspace:
    with _worktree_admin(ws):
        return _create_worktree(ws, run_id, task_id, base)


def _create_worktree(ws: GitWorkspace, run_id: str, task_id: str, base: str) -> GitWorkspace:
    """The task's worktree, on branch overseer/<run>/<task> made from commit `base`.

    Idempotent: an existing worktree is reused exactly as it is (after a crash it may hold the
    task's uncommitted work), and an existing branch is checked out rather than re-made.
    """
    path = worktree_path(ws, run_id, task_id)
    branch = task_branch(run_id, task_id)
    # A worktree whose directory was deleted by hand is still registered; forget it first.
    _git(ws, "worktree", "prune")
    if path.resolve() in _registered(ws):
        return GitWorkspace.open(path)
    if path.exists() and any(path.iterdir()):
        raise WorkspaceError(
            f"{path} exists but is not a git worktree; overseer will not overwrite it",
            hint="move its contents away if you need them, then delete the directory and resume",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if _ref_exists(ws, f"refs/heads/{branch}"):
        _git(ws, "worktree", "add", "--quiet", str(path), branch)
    else:
        commit = _rev(ws, f"{base}^{{commit}}")
        _git(ws, "worktree", "add", "--quiet", "-b", branch, str(path), commit)
    return GitWorkspace.open(path)


def list_worktrees(ws: GitWorkspace, run_id: str) -> dict[str, Path]:
    """task id → path of every worktree of the run that still exists on disk (for resume)."""
    top = (ws.root / WORKTREES_DIR / run_id).resolve()
    found: dict[str, Path] = {}
    with _worktree_admin(ws):
        registered = _registered(ws)
    for p in registered:
        if p.parent == top and p.is_dir():
            found[p.name] = p
    return dict(sorted(found.items()))


def remove_worktree(ws: GitWorkspace, run_id: str, task_id: str) -> bool:
    """Remove the task's worktree, and its branch if the current branch contains it.

    Returns False, changing nothing, while the worktree holds uncommitted work (modified,
    staged, deleted or untracked files; ignored files do not count).
    """
    with _worktree_admin(ws):
        return _remove_worktree(ws, run_id, task_id)


def _remove_worktree(ws: GitWorkspace, run_id: str, task_id: str) -> bool:
    path = worktree_path(ws, run_id, task_id)
    _git(ws, "worktree", "prune")
    if path.resolve() in _registered(ws):
        status = run_git(
            path, ["status", "--porcelain", "-z", "--untracked-files=all", "--ignore-submodules=none"]
        ).stdout
        if status.strip(b"\0"):
            return False
        # Without --force, git re-checks cleanliness itself: a file written since our check
        # makes it refuse instead of deleting work.
        if run_git(ws.root, ["worktree", "remove", str(path)], check=False).returncode != 0:
            return False
    elif path.exists() and any(path.iterdir()):
        return False  # not ours to delete
    with contextlib.suppress(OSError):
        path.rmdir()
        path.parent.rmdir()  # the run's folder, once its last worktree is gone
    _delete_branch_if_merged(ws, task_branch(run_id, task_id))
    return True


def _delete_branch_if_merged(ws: GitWorkspace, branch: str) -> None:
    ref = f"refs/heads/{branch}"
    proc = _git(ws, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
    head = ws.head()
    if proc.returncode != 0 or head is None:
        return
    tip = out(proc)
    if _git(ws, "merge-base", "--is-ancestor", tip, head, check=False).returncode == 0:
        _git(ws, "update-ref", "-m", "overseer: task merged", "-d", ref, tip)


def _registered(ws: GitWorkspace) -> set[Path]:
    data = _git(ws, "worktree", "list", "--porcelain", "-z").stdout
    return {
        Path(rec.removeprefix("worktree ")).resolve()
        for rec in split_z(data)
        if rec.startswith("worktree ")
    }


# ---- merge ---------------------------------------------------------------------------------


def merge_task(
    ws: GitWorkspace, task_branch: str, message: str, trailers: dict[str, str]
) -> MergeResult:
    """Merge `task_branch` into the main workspace's current branch (see module doc).

    Idempotent through `trailers`: when a commit carrying them is already reachable from HEAD
    (a repeat after a crash), it is returned and any work-tree update the crash cut short is
    finished. A branch that HEAD already contains gives MergeResult(None, []).
    """
    check_trailers(trailers)
    branch_ref = _branch_ref(ws)
    existing = ws.find_commit(trailers)
    if existing is not None:
        if existing == ws.head():
            _apply(ws, out(_git(ws, "rev-parse", f"{existing}^1")), existing)
        return MergeResult(existing)
    head = ws.head()
    if head is None:
        raise WorkspaceError(
            f"the branch in {ws.root} has no commits to merge {task_branch} into",
            hint="a parallel run starts from a commit; commit something first",
        )
    tip = _rev(ws, f"refs/heads/{task_branch}^{{commit}}")
    if _git(ws, "merge-base", "--is-ancestor", tip, head, check=False).returncode == 0:
        return MergeResult(None)
    proc = _git(
        ws, "merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", head, tip, check=False
    )
    if proc.returncode not in (0, 1):
        raise WorkspaceError(
            f"git merge-tree could not merge {task_branch}: {proc.stderr.decode('utf-8', 'replace').strip()}",
            hint="check the repository with `git fsck`",
        )
    tree, *conflicts = split_z(proc.stdout)
    if proc.returncode == 1:
        return MergeResult(None, sorted(set(conflicts)))

    blocked = _locally_changed(ws, head, tree)
    if blocked:
        raise WorkspaceError(
            f"merging {task_branch} would overwrite uncommitted changes to: {', '.join(blocked[:10])}",
            hint="commit or stash those changes in the main work tree, then resume the run",
            context={"paths": blocked},
        )
    full = f"{message.rstrip()}\n\n" + "".join(f"{k}: {v}\n" for k, v in trailers.items())
    has_identity = _git(ws, "var", "GIT_COMMITTER_IDENT", check=False).returncode == 0
    sha = out(
        _git(ws, "commit-tree", tree, "-p", head, "-p", tip, "-F", "-",
             env=None if has_identity else BOT_IDENTITY, input=full.encode())
    )
    cas = _git(ws, "update-ref", "-m", f"overseer: merge {task_branch}", branch_ref, sha, head, check=False)
    if cas.returncode != 0:
        raise WorkspaceError(
            f"{branch_ref} moved while overseer was merging {task_branch}; nothing was merged",
            hint="someone committed in this repository during the run; run `overseer resume` to try again",
        )
    _apply(ws, head, sha)
    return MergeResult(sha)


def _apply(ws: GitWorkspace, old: str, new: str) -> None:
    """Bring the paths that differ between commits `old` and `new` from `old`'s content to
    `new`'s in the work tree and index; a path holding anything else is left alone."""
    old_e, new_e = _entries(ws, old), _entries(ws, new)
    paths = split_z(_git(ws, "diff-tree", "-r", "-z", "--no-renames", "--name-only", old, new).stdout)
    if not paths:
        return
    current = _worktree_entries(ws, paths)
    stale = [p for p in paths if current[p] == old_e.get(p)]
    gone = [p for p in stale if p not in new_e]
    for p in gone:
        (ws.root / p).unlink(missing_ok=True)
        _prune_empty_dirs(ws.root, p)
    write = [p for p in stale if p in new_e]
    if write:
        with _temp_index(ws) as env:
            _git(ws, "read-tree", new, env=env)
            _git(ws, "checkout-index", "-f", "-z", "--stdin", env=env,
                 input=b"".join(os.fsencode(p) + b"\0" for p in write))
    # Index entries still at `old`'s value follow; anything staged by the user stays.
    index = parse_ls_files_stage(_git(ws, "ls-files", "-s", "-z").stdout)
    removals, sets = index_updates(index, paths, new_e, stale=old_e)
    if removals or sets:
        zero = "0" * len(ws.empty_tree)
        _git(ws, "update-index", "-z", "--index-info", input=index_info(removals, sets, zero))


def _locally_changed(ws: GitWorkspace, head: str, merged_tree: str) -> list[str]:
    """Paths the merge changes whose file in the work tree is neither HEAD's nor the merge's
    (a file at the merge's content is a write a crash interrupted, not the user's work)."""
    head_e, new_e = _entries(ws, head), _entries(ws, merged_tree)
    paths = split_z(_git(ws, "diff-tree", "-r", "-z", "--no-renames", "--name-only", head, merged_tree).stdout)
    current = _worktree_entries(ws, paths)
    return sorted(p for p in paths if current[p] not in (head_e.get(p), new_e.get(p)))


def _worktree_entries(ws: GitWorkspace, paths: list[str]) -> dict[str, Entry | None]:
    """What git would record for each path as it is on disk now (None: absent, or a folder)."""
    result: dict[str, Entry | None] = {}
    files: list[tuple[str, str]] = []
    for p in paths:
        try:
            st = os.lstat(ws.root / p)
        except (FileNotFoundError, NotADirectoryError):
            result[p] = None
            continue
        if stat.S_ISLNK(st.st_mode):
            target = os.fsencode(os.readlink(ws.root / p))
            sha = out(_git(ws, "hash-object", "--stdin", input=target))
            result[p] = Entry("120000", sha)
        elif stat.S_ISREG(st.st_mode):
            files.append((p, "100755" if st.st_mode & 0o100 else "100644"))
        else:
            result[p] = None
    if files:
        # --stdin-paths applies the path's clean filters, as `git add` would.
        data = "".join(f"{p}\n" for p, _ in files).encode("utf-8", "surrogateescape")
        shas = out(_git(ws, "hash-object", "--stdin-paths", input=data)).splitlines()
        for (p, mode), sha in zip(files, shas, strict=True):
            result[p] = Entry(mode, sha)
    return result


def _prune_empty_dirs(root: Path, rel: str) -> None:
    parent = (root / rel).parent
    while parent != root and root in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


# ---- small git helpers -----------------------------------------------------------------------


def _git(
    ws: GitWorkspace,
    *args: str,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    return run_git(ws.root, args, env=env, input=input, check=check)


def _rev(ws: GitWorkspace, rev: str) -> str:
    proc = _git(ws, "rev-parse", "-q", "--verify", "--end-of-options", rev, check=False)
    if proc.returncode != 0:
        raise WorkspaceError(f"{rev} is not a known commit in {ws.root}")
    return out(proc)


def _ref_exists(ws: GitWorkspace, ref: str) -> bool:
    return _git(ws, "show-ref", "--verify", "-q", ref, check=False).returncode == 0


def _branch_ref(ws: GitWorkspace) -> str:
    proc = _git(ws, "symbolic-ref", "-q", "HEAD", check=False)
    if proc.returncode != 0:
        raise WorkspaceError(
            f"HEAD is detached in {ws.root}; overseer merges tasks into a branch",
            hint="check out a branch first, e.g. `git switch -c overseer/work`",
        )
    return out(proc)


def _entries(ws: GitWorkspace, rev: str) -> dict[str, Entry]:
    return parse_ls_tree(_git(ws, "ls-tree", "-r", "-z", "--full-tree", rev).stdout)


@contextlib.contextmanager
def _temp_index(ws: GitWorkspace) -> Iterator[dict[str, str]]:
    base = Path(out(_git(ws, "rev-parse", "--absolute-git-dir"))) / "overseer-tmp"
    base.mkdir(parents=True, exist_ok=True)
    d = tempfile.mkdtemp(dir=base, prefix="merge-index-")
    try:
        yield {"GIT_INDEX_FILE": str(Path(d) / "index")}
    finally:
        shutil.rmtree(d, ignore_errors=True)
