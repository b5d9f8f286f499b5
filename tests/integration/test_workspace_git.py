"""GitWorkspace against real git: checkpoints, restore, change lists and task commits."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overseer.errors import WorkspaceError
from overseer.workspace import FileChange, GitWorkspace

TRAILERS = {"Overseer-Run": "run1", "Overseer-Task": "t1"}


def git(root: Path, *args: str, input: bytes | None = None) -> str:
    env = {**os.environ, "LC_ALL": "C"}
    proc = subprocess.run(
        ["git", *args], cwd=root, env=env, input=input, capture_output=True, check=True
    )
    return proc.stdout.decode("utf-8", "surrogateescape")


def write(root: Path, rel: str, data: bytes | str, mode: int = 0o644) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(p, mode)


def files_state(root: Path, skip: tuple[str, ...] = (".git", ".overseer")) -> dict[str, tuple]:
    """Every file and symlink below root: path → (kind, mode, content or link target)."""
    state: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in [*filenames, *dirnames]:
            p = Path(dirpath) / name
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st_ = p.lstat()
            if stat.S_ISLNK(st_.st_mode):
                state[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st_.st_mode):
                state[rel] = ("file", stat.S_IMODE(st_.st_mode), p.read_bytes())
    return state


def user_view(root: Path) -> dict[str, str]:
    """What the user sees of the repository besides the files themselves."""
    head = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=root, capture_output=True, text=True)
    return {
        "head": head.stdout.strip(),
        "symref": git(root, "symbolic-ref", "-q", "HEAD"),
        "index": git(root, "ls-files", "-s"),
        "stash": git(root, "stash", "list"),
        "status": git(root, "status", "--porcelain=v1", "--untracked-files=all"),
        "branches": git(root, "for-each-ref", "refs/heads", "refs/stash"),
    }


@pytest.fixture(autouse=True)
def _umask() -> Iterator[None]:
    # Restored files get modes from the umask, as every git checkout does.
    old = os.umask(0o022)
    yield
    os.umask(old)


def make_repo(root: Path, *, commit: bool = True) -> None:
    """A repository with the user's work in progress of every kind."""
    git(root, "init", "-q", "-b", "main")
    write(root, ".gitignore", "*.log\nbuild/\n")
    write(root, "README.md", "# demo\n")
    write(root, "src/app.py", "print('app')\n")
    write(root, "src/pkg/mod.py", "X = 1\n")
    write(root, "bin/run.sh", "#!/bin/sh\necho run\n", 0o755)
    write(root, "data/blob.bin", bytes(range(256)) * 4)
    write(root, "empty.txt", b"")
    write(root, "keep/x.txt", "keep\n")
    os.symlink("README.md", root / "link")
    os.symlink("src", root / "dir_link")
    if commit:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
        write(root, "README.md", "# demo, edited\n")  # unstaged change
        write(root, "src/app.py", "print('staged')\n")
        git(root, "add", "src/app.py")  # staged change...
        write(root, "src/app.py", "print('staged, then edited')\n")  # ...plus unstaged on top
        (root / "keep/x.txt").unlink()  # unstaged deletion
    else:
        git(root, "add", "src/app.py", "README.md")  # staged in an unborn branch
    write(root, "notes.txt", "user's untracked notes\n")
    write(root, "newdir/a.txt", "untracked in a new dir\n")
    write(root, "debug.log", "ignored\n")
    write(root, "build/out.o", b"\x7fELF")
    write(root, ".overseer/state.db", b"db")


_TEMPLATES: dict[bool, Path] = {}


def fresh_repo(dest: Path, *, commit: bool = True) -> Path:
    if commit not in _TEMPLATES:
        tpl = Path(tempfile.mkdtemp(prefix="overseer-tpl-")) / "repo"
        tpl.mkdir()
        make_repo(tpl, commit=commit)
        _TEMPLATES[commit] = tpl
    shutil.copytree(_TEMPLATES[commit], dest, symlinks=True)
    return dest


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return fresh_repo(tmp_path / "repo")


# ---- the property: checkpoint → mutate → restore is the identity ------------------------------

NAMES = ["a", "b", "src", "deep", "x.py", "n1"]
CONTENTS = st.one_of(
    st.just(b""),
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda s: s.encode()),
)


def _blocked(root: Path, rel: str) -> bool:
    """True when some ancestor of rel is not a real directory (a file or a symlink)."""
    parts = Path(rel).parts
    for i in range(1, len(parts)):
        p = root.joinpath(*parts[:i])
        if p.is_symlink() or (p.exists() and not p.is_dir()):
            return True
    return False


# Ignored at checkpoint time, so not in it: mutations leave them alone, as they could not
# come back. (.gitignore itself may be edited or deleted.)
IGNORED = {"debug.log", "build/out.o"}


def mutate(root: Path, data: st.DataObject) -> list[str]:
    log: list[str] = []
    for _ in range(data.draw(st.integers(1, 12), label="n_ops")):
        state = files_state(root)
        files = sorted(k for k, v in state.items() if v[0] == "file" and k not in IGNORED)
        entries = sorted(k for k in state if k not in IGNORED)
        dirs = sorted(
            rel
            for d, _, _ in os.walk(root)
            if (rel := os.path.relpath(d, root)) != "."
            and Path(rel).parts[0] not in {".git", ".overseer", "build"}
        )
        op = data.draw(
            st.sampled_from(["add", "edit", "delete", "chmod", "file2dir", "dir2file", "symlink", "state"])
        )
        if op == "add":
            rel = "/".join(data.draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4)))
            if _blocked(root, rel) or (root / rel).is_dir() or (root / rel).is_symlink():
                continue
            write(root, rel, data.draw(CONTENTS), data.draw(st.sampled_from([0o644, 0o755])))
        elif op == "edit" and files:
            rel = data.draw(st.sampled_from(files))
            (root / rel).write_bytes(data.draw(CONTENTS))
        elif op == "delete" and entries:
            rel = data.draw(st.sampled_from(entries))
            (root / rel).unlink()
        elif op == "chmod" and files:
            rel = data.draw(st.sampled_from(files))
            mode = stat.S_IMODE((root / rel).stat().st_mode)
            os.chmod(root / rel, 0o644 if mode & 0o100 else 0o755)
        elif op == "file2dir" and files:
            rel = data.draw(st.sampled_from(files))
            (root / rel).unlink()
            write(root, f"{rel}/{data.draw(st.sampled_from(NAMES))}", data.draw(CONTENTS))
        elif op == "dir2file" and dirs:
            rel = data.draw(st.sampled_from(dirs))
            shutil.rmtree(root / rel)
            write(root, rel, data.draw(CONTENTS))
        elif op == "symlink":
            rel = data.draw(st.sampled_from(NAMES))
            if (root / rel).exists() or (root / rel).is_symlink():
                continue
            os.symlink(data.draw(st.sampled_from(["README.md", "src", "missing", "../out"])), root / rel)
        elif op == "state":
            write(root, ".overseer/state.db", data.draw(CONTENTS))
        else:
            continue
        log.append(op)
    return log


def ignored(root: Path, paths: dict[str, tuple]) -> set[str]:
    """Paths git ignores now (tracked ones never are)."""
    proc = subprocess.run(
        ["git", "check-ignore", "-z", "--stdin"],
        cwd=root,
        input=b"".join(os.fsencode(p) + b"\0" for p in paths),
        capture_output=True,
    )
    return {os.fsdecode(p) for p in proc.stdout.split(b"\0") if p}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), committed=st.booleans())
def test_restore_is_exact_and_leaves_user_state_alone(data: st.DataObject, committed: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="overseer-prop-") as tmp:
        root = fresh_repo(Path(tmp) / "repo", commit=committed)
        ws = GitWorkspace.open(root)
        before, view = files_state(root), user_view(root)
        index_bytes = (root / ".git" / "index").read_bytes()

        sha = ws.checkpoint("refs/overseer/run1/t1/1")
        assert files_state(root) == before
        assert user_view(root) == view
        assert (root / ".git" / "index").read_bytes() == index_bytes
        assert ws.current_tree() == git(root, "rev-parse", f"{sha}^{{tree}}").strip()

        mutate(root, data)
        mutated = files_state(root)
        overseer_state = files_state(root / ".overseer", skip=())
        ignored_now = ignored(root, mutated)
        changed = {
            p
            for p in before.keys() | mutated.keys()
            if (None if p in IGNORED else before.get(p))
            != (None if p in ignored_now else mutated.get(p))
        }
        found = ws.changes(sha)
        reported = {c.path for c in found} | {c.old_path for c in found if c.old_path}
        assert reported == changed

        ws.restore(sha)
        assert files_state(root) == before
        assert user_view(root) == view
        assert files_state(root / ".overseer", skip=()) == overseer_state  # untouched
        assert ws.changes(sha) == []


# ---- checkpoints ------------------------------------------------------------------------------


def test_checkpoint_records_exact_tree(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    sha = ws.checkpoint("refs/overseer/r/t/1")
    assert git(repo, "rev-parse", "refs/overseer/r/t/1").strip() == sha
    assert git(repo, "rev-parse", f"{sha}^1").strip() == head
    listing = git(repo, "ls-tree", "-r", sha)
    paths = {ln.split("\t", 1)[1] for ln in listing.splitlines()}
    assert "notes.txt" in paths and "newdir/a.txt" in paths  # untracked included
    assert "keep/x.txt" not in paths  # deleted stays deleted
    assert not {"debug.log", "build/out.o", ".overseer/state.db"} & paths
    modes = {ln.split("\t", 1)[1]: ln.split()[0] for ln in listing.splitlines()}
    assert modes["bin/run.sh"] == "100755" and modes["link"] == "120000"
    assert git(repo, "show", f"{sha}:README.md") == "# demo, edited\n"
    assert git(repo, "show", f"{sha}:src/app.py") == "print('staged, then edited')\n"


def test_checkpoint_same_ref_overwrites(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    first = ws.checkpoint("refs/overseer/r/t/1")
    write(repo, "more.txt", "more")
    second = ws.checkpoint("refs/overseer/r/t/1")
    assert first != second
    assert git(repo, "for-each-ref", "--format=%(objectname)", "refs/overseer/").split() == [second]


def test_checkpoint_rejects_bad_ref(repo: Path) -> None:
    with pytest.raises(ValueError):
        GitWorkspace.open(repo).checkpoint("overseer/no-refs-prefix")


def test_restore_brings_back_index_entries_the_agent_staged(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    view = user_view(repo)
    sha = ws.checkpoint("refs/overseer/r/t/1")
    write(repo, "src/app.py", "agent\n")
    write(repo, "agent_new.py", "x = 1\n")
    git(repo, "add", "src/app.py", "agent_new.py")
    ws.restore(sha)
    assert user_view(repo) == view


def test_restore_keeps_ignored_files_and_replaces_newly_ignored_ones(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/r/t/1")
    write(repo, "fresh.log", "made by the agent, ignored")
    write(repo, "build/new.o", b"obj")
    # notes.txt was untracked at checkpoint time; the agent ignores it, then changes it.
    write(repo, ".gitignore", "*.log\nbuild/\nnotes.txt\n")
    write(repo, "notes.txt", "agent's version")
    ws.restore(sha)
    assert (repo / "fresh.log").read_text() == "made by the agent, ignored"
    assert (repo / "build/new.o").exists() and (repo / "debug.log").exists()
    assert (repo / "notes.txt").read_text() == "user's untracked notes\n"
    assert (repo / ".gitignore").read_text() == "*.log\nbuild/\n"


def test_restore_unknown_sha_is_a_workspace_error(repo: Path) -> None:
    with pytest.raises(WorkspaceError):
        GitWorkspace.open(repo).restore("0" * 40)


# ---- changes and diff -------------------------------------------------------------------------


def test_changes_and_diff(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/r/t/1")
    write(repo, "README.md", "# demo, edited\nline two\nline three\n")
    write(repo, "added.py", "a = 1\nb = 2\n")
    (repo / "empty.txt").unlink()
    write(repo, "data/blob.bin", bytes(range(255, -1, -1)) * 4)
    (repo / "link").unlink()
    write(repo, "link", "now a file\n")
    big = "".join(f"line {i}\n" for i in range(50))
    write(repo, "src/pkg/mod.py", big)
    ws.checkpoint("refs/overseer/r/t/base2")
    base2 = git(repo, "rev-parse", "refs/overseer/r/t/base2").strip()
    (repo / "src/pkg/mod.py").rename(repo / "src/pkg/moved.py")

    by_path = {c.path: c for c in ws.changes(sha)}
    assert by_path["README.md"] == FileChange("README.md", "M", 2, 0)
    assert by_path["added.py"] == FileChange("added.py", "A", 2, 0)
    assert by_path["empty.txt"].status == "D"
    assert by_path["data/blob.bin"] == FileChange("data/blob.bin", "M", 0, 0)  # binary
    assert by_path["link"].status == "T"
    renamed = {c.path: c for c in ws.changes(base2)}["src/pkg/moved.py"]
    assert (renamed.status, renamed.old_path, renamed.added, renamed.removed) == ("R", "src/pkg/mod.py", 0, 0)

    text = ws.diff(sha)
    assert "+++ b/added.py" in text and "+line two" in text and "Binary files" in text


def test_is_dirty_outside(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/r/t/1")
    assert ws.is_dirty_outside(sha, set()) == []
    write(repo, "task.py", "x")
    write(repo, "gen/a.py", "x")
    write(repo, "README.md", "user edit\n")
    write(repo, "more.log", "ignored")
    assert ws.is_dirty_outside(sha, {"task.py", "gen/"}) == ["README.md"]


def test_delete_refs(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    for ref in ("refs/overseer/r1/a/1", "refs/overseer/r1/a/2", "refs/overseer/r2/a/1"):
        ws.checkpoint(ref)
    assert ws.delete_refs("refs/overseer/r1/") == 2
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/overseer/").split() == ["refs/overseer/r2/a/1"]
    with pytest.raises(ValueError):
        ws.delete_refs("refs/heads/")


# ---- task commits -----------------------------------------------------------------------------


def _do_task(repo: Path) -> None:
    write(repo, "src/pkg/mod.py", "X = 2\n")
    write(repo, "task_new.py", "print('new')\n")
    (repo / "empty.txt").unlink()
    os.chmod(repo / "bin/run.sh", 0o644)
    write(repo, ".overseer/log.jsonl", "{}")


def test_commit_task_commits_exactly_the_task_paths(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/run1/t1/1")
    head = git(repo, "rev-parse", "HEAD").strip()
    staged_before = git(repo, "ls-files", "-s", "src/app.py")
    _do_task(repo)

    commit = ws.commit_task(sha, "t1: Do the thing", TRAILERS)
    assert commit is not None
    assert git(repo, "rev-parse", "HEAD").strip() == commit
    assert git(repo, "rev-parse", f"{commit}^").strip() == head
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    stat_ = git(repo, "diff-tree", "-r", "--name-status", "--no-commit-id", commit)
    assert sorted(stat_.splitlines()) == ["A\ttask_new.py", "D\tempty.txt", "M\tbin/run.sh", "M\tsrc/pkg/mod.py"]
    message = git(repo, "log", "-1", "--format=%B", commit)
    assert message.startswith("t1: Do the thing\n\n")
    assert "Overseer-Run: run1\nOverseer-Task: t1\n" in message

    status = git(repo, "status", "--porcelain=v1", "--untracked-files=all").splitlines()
    assert "MM src/app.py" in status  # the user's staged change: still staged, not committed
    assert "?? notes.txt" in status  # the user's untracked file: still untracked
    assert " M README.md" in status and " D keep/x.txt" in status
    assert not any(p in ln for ln in status for p in ("task_new.py", "empty.txt", "run.sh", "mod.py", ".overseer"))
    assert git(repo, "ls-files", "-s", "src/app.py") == staged_before

    # Idempotent: a repeated step (after a crash) finds the commit and makes no second one.
    assert ws.commit_task(sha, "t1: Do the thing", TRAILERS) == commit
    assert git(repo, "rev-parse", "HEAD").strip() == commit
    assert ws.find_commit(TRAILERS) == commit
    assert ws.find_commit({"Overseer-Run": "run1", "Overseer-Task": "t2"}) is None


def test_commit_task_finishes_index_sync_after_a_crash(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/run1/t1/1")
    _do_task(repo)
    commit = ws.commit_task(sha, "t1", TRAILERS)
    # Simulate a crash between update-ref and the index sync: index back at the parent.
    git(repo, "reset", "-q", f"{commit}^", "--", "task_new.py", "empty.txt", "bin/run.sh", "src/pkg/mod.py")
    assert ws.commit_task(sha, "t1", TRAILERS) == commit
    status = git(repo, "status", "--porcelain=v1")
    assert not any(p in status for p in ("task_new.py", "empty.txt", "run.sh", "mod.py"))


def test_commit_task_includes_untracked_file_the_task_touched(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/run1/t1/1")
    write(repo, "notes.txt", "the task edited the user's notes\n")
    commit = ws.commit_task(sha, "t1", TRAILERS)
    assert commit is not None
    assert git(repo, "diff-tree", "-r", "--name-only", "--no-commit-id", commit).split() == ["notes.txt"]


def test_commit_task_without_changes_makes_no_commit(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/run1/t1/1")
    head = git(repo, "rev-parse", "HEAD")
    write(repo, ".overseer/only-state", "x")
    write(repo, "other.log", "ignored")
    assert ws.commit_task(sha, "t1", TRAILERS) is None
    assert git(repo, "rev-parse", "HEAD") == head


def test_commit_task_on_unborn_branch(tmp_path: Path) -> None:
    root = fresh_repo(tmp_path / "repo", commit=False)
    ws = GitWorkspace.open(root)
    assert ws.head() is None and ws.branch() == "main"
    sha = ws.checkpoint("refs/overseer/run1/t1/1")
    # No HEAD to be the parent: the only parent keeps the user's staged index reachable.
    assert git(root, "rev-parse", f"{sha}^1^{{tree}}") == git(root, "write-tree")
    write(root, "first.py", "print(1)\n")
    write(root, "README.md", "# by the task\n")
    commit = ws.commit_task(sha, "t1: first", TRAILERS)
    assert commit is not None and ws.head() == commit
    assert sorted(git(root, "ls-tree", "-r", "--name-only", commit).split()) == ["README.md", "first.py"]
    assert ws.commit_task(sha, "t1: first", TRAILERS) == commit
    status = git(root, "status", "--porcelain=v1", "--untracked-files=all").splitlines()
    assert "A  src/app.py" in status and "?? notes.txt" in status
    assert not any("first.py" in ln or "README.md" in ln for ln in status)


def test_commit_task_detached_head_is_refused(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/run1/t1/1")
    write(repo, "x.py", "x")
    with pytest.raises(WorkspaceError) as info:
        ws.commit_task(sha, "t1", TRAILERS)
    assert "detached" in info.value.message and info.value.hint
    assert ws.branch() is None


def test_commit_task_refuses_when_branch_moved(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = GitWorkspace.open(repo)
    sha = ws.checkpoint("refs/overseer/run1/t1/1")
    stale = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-q", "--allow-empty", "-m", "user commits meanwhile")
    moved = git(repo, "rev-parse", "HEAD").strip()
    write(repo, "x.py", "x")
    monkeypatch.setattr(ws, "head", lambda: stale)
    with pytest.raises(WorkspaceError, match="moved"):
        ws.commit_task(sha, "t1", TRAILERS)
    assert git(repo, "rev-parse", "HEAD").strip() == moved


def test_rollback_after_commit_restores_tree_and_index_entries(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    before = files_state(repo)
    index_before = git(repo, "ls-files", "-s")
    sha = ws.checkpoint("refs/overseer/run1/t1/1")
    _do_task(repo)
    ws.commit_task(sha, "t1", TRAILERS)
    ws.restore(sha)
    assert files_state(repo) == before
    assert git(repo, "ls-files", "-s") == index_before


# ---- opening ----------------------------------------------------------------------------------


def test_open_refuses_non_repo_with_hint(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError) as info:
        GitWorkspace.open(tmp_path)
    assert "is not a git repository" in info.value.message
    assert info.value.hint and "git init" in info.value.hint and "--yes" in info.value.hint


def test_open_refuses_subdirectory(repo: Path) -> None:
    with pytest.raises(WorkspaceError, match="not at its top"):
        GitWorkspace.open(repo / "src")


def test_open_excludes_state_dir_without_touching_gitignore(repo: Path) -> None:
    gitignore = (repo / ".gitignore").read_text()
    GitWorkspace.open(repo)
    GitWorkspace.open(repo)
    exclude = (repo / ".git/info/exclude").read_text()
    assert exclude.count("/.overseer/") == 1
    assert (repo / ".gitignore").read_text() == gitignore
    assert ".overseer" not in git(repo, "status", "--porcelain", "--untracked-files=all")


def test_open_create_on_fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_AUTHOR_NAME", raising=False)
    monkeypatch.delenv("GIT_COMMITTER_NAME", raising=False)
    monkeypatch.delenv("EMAIL", raising=False)
    root = tmp_path / "new"
    ws = GitWorkspace.open(root, create=True)
    assert (root / ".git").is_dir()
    assert git(root, "config", "--local", "user.name").strip() == "overseer"
    sha = ws.checkpoint("refs/overseer/r/t/1")
    write(root, "a.txt", "a")
    assert ws.commit_task(sha, "t1", TRAILERS) is not None


def test_open_create_keeps_configured_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Someone\n\temail = someone@example.com\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = tmp_path / "new"
    GitWorkspace.open(root, create=True)
    local = subprocess.run(["git", "config", "--local", "user.name"], cwd=root, capture_output=True)
    assert local.returncode == 1  # nothing written: the user's identity applies


def test_restore_after_agent_deleted_gitignore_keeps_ignored_files(repo: Path) -> None:
    ws = GitWorkspace.open(repo)
    before = files_state(repo)
    sha = ws.checkpoint("refs/overseer/r/t/1")
    (repo / ".gitignore").unlink()  # debug.log and build/out.o are no longer ignored...
    ws.restore(sha)  # ...yet they were ignored at checkpoint time: a rollback keeps them
    assert files_state(repo) == before
