"""Exact checkpoints, restore, change lists and task commits on a real git repository.

Every write goes through plumbing and a temporary index, so the user's HEAD, branch, index,
stash and files are untouched unless an operation's whole point is to change them
(`restore` writes files; `commit_task` advances the branch).

The user's index and `restore`: a checkpoint also records the user's index as it was at
checkpoint time (as a tree, when it has no unresolved merge; message trailer
`Overseer-Index-Tree`, kept reachable as an extra parent). `restore` puts back, for exactly the
paths whose files it changed, the index entries recorded at checkpoint time, and leaves every
other entry alone. So when HEAD has not moved since the checkpoint, `git status` after a
restore is the same as at checkpoint time, even if the agent ran `git add` in between or a
task commit had synced those entries; entries for paths the restore did not touch (possibly
the user's own staging) are never rewritten.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from overseer.errors import WorkspaceError
from overseer.workspace.gitcmd import (
    BOT_IDENTITY,
    Entry,
    check_trailers,
    first_with_trailers,
    index_info,
    index_updates,
    out,
    parse_ls_files_stage,
    parse_ls_tree,
    parse_name_status,
    parse_numstat,
    run_git,
    split_z,
)

STATE_DIR = ".overseer"
EXCLUDE_LINE = "/.overseer/"
INDEX_TRAILER = "Overseer-Index-Tree"

ChangeStatus = Literal["A", "M", "D", "T", "R"]


@dataclass(frozen=True)
class FileChange:
    path: str
    status: ChangeStatus
    added: int
    removed: int
    old_path: str | None = None  # set for renames


class GitWorkspace:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._empty_tree: str | None = None
        self._excluded = False

    # ---- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool = False) -> GitWorkspace:
        path = Path(path).absolute()
        if create:
            path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            raise WorkspaceError(
                f"{path} is not a directory", hint="point overseer at the repository's top folder"
            )
        proc = run_git(path, ["rev-parse", "--show-toplevel"], check=False)
        if proc.returncode != 0:
            stderr = proc.stderr.decode("utf-8", errors="replace")
            if "not a git repository" not in stderr:
                raise WorkspaceError(f"git cannot use {path}: {stderr.strip()}")
            if not create:
                raise WorkspaceError(
                    f"{path} is not a git repository",
                    hint="run `git init` there, or pass --yes to let overseer do it",
                )
            run_git(path, ["init", "-q"])
            ws = cls(path)
            ws._ensure_identity()
        else:
            top = Path(out(proc))
            if top.resolve() != path.resolve():
                raise WorkspaceError(
                    f"{path} is inside the git repository at {top}, not at its top",
                    hint=f"point overseer at {top}, or run `git init` in {path} to make it a repository of its own",
                )
            ws = cls(path)
        ws.ensure_excluded()
        return ws

    def _ensure_identity(self) -> None:
        for key, value in (("user.name", "overseer"), ("user.email", "overseer@localhost")):
            if self._git("config", key, check=False).returncode != 0:
                self._git("config", "--local", key, value)

    def ensure_excluded(self) -> None:
        """Keep `.overseer/` out of `git status` via .git/info/exclude, never the user's .gitignore."""
        exclude = self._git_path("info/exclude")
        text = exclude.read_text(errors="surrogateescape") if exclude.exists() else ""
        if any(ln.strip() in {EXCLUDE_LINE, ".overseer/", "/.overseer", ".overseer"} for ln in text.splitlines()):
            self._excluded = True
            return
        exclude.parent.mkdir(parents=True, exist_ok=True)
        sep = "" if not text or text.endswith("\n") else "\n"
        with exclude.open("a", errors="surrogateescape") as fh:
            fh.write(f"{sep}# overseer's run state\n{EXCLUDE_LINE}\n")
        self._excluded = True

    # ---- plumbing helpers ------------------------------------------------------------------

    def _git(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        return run_git(self.root, args, env=env, input=input, check=check)

    def _git_path(self, name: str) -> Path:
        p = Path(out(self._git("rev-parse", "--git-path", name)))
        return p if p.is_absolute() else self.root / p

    def _rev(self, rev: str) -> str:
        proc = self._git("rev-parse", "-q", "--verify", "--end-of-options", rev, check=False)
        if proc.returncode != 0:
            raise WorkspaceError(
                f"{rev} is not a known commit or tree in {self.root}",
                hint="the checkpoint may have been deleted; `overseer status` lists the run's checkpoints",
            )
        return out(proc)

    def _tree_of(self, rev: str) -> str:
        return self._rev(f"{rev}^{{tree}}")

    @property
    def empty_tree(self) -> str:
        if self._empty_tree is None:
            self._empty_tree = out(self._git("hash-object", "-t", "tree", "--stdin", input=b""))
        return self._empty_tree

    @contextlib.contextmanager
    def _temp_index(self) -> Iterator[dict[str, str]]:
        base = self._git_path("overseer-tmp")
        base.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=base, prefix="index-") as d:
            yield {"GIT_INDEX_FILE": str(Path(d) / "index")}

    def _seed_from_user_index(self, env: Mapping[str, str]) -> None:
        # A copy of the real index carries its stat data, so `add -A` rehashes only files that
        # changed, and it keeps files the user force-added despite .gitignore. copy2 keeps the
        # file's mtime, which git's racy-entry check compares entry mtimes against.
        real = self._git_path("index")
        if real.exists():
            shutil.copy2(real, env["GIT_INDEX_FILE"])
        elif (head := self.head()) is not None:
            self._git("read-tree", head, env=env)

    def _snapshot(self, env: Mapping[str, str]) -> str:
        """Stage the exact working tree (minus ignored files and .overseer/) into the temp index."""
        if not self._excluded:
            self.ensure_excluded()  # untracked files under .overseer/ are then ignored by `add`
        # Drop .overseer/ entries first, so even a tracked state dir is left out (and not hashed).
        self._git("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", STATE_DIR, env=env)
        self._git("add", "-A", "--", ".", env=env)
        return out(self._git("write-tree", env=env))

    def _changed_paths(self, a: str, b: str) -> list[str]:
        return split_z(self._git("diff-tree", "-r", "-z", "--no-renames", "--name-only", a, b).stdout)

    def _entries(self, tree: str) -> dict[str, Entry]:
        return parse_ls_tree(self._git("ls-tree", "-r", "-z", "--full-tree", tree).stdout)

    def _sync_index(
        self,
        paths: list[str],
        desired: Mapping[str, Entry],
        stale: Mapping[str, Entry] | None = None,
    ) -> None:
        """Make the user's index entries for `paths` equal `desired` (absent → removed).

        With `stale`, only entries still equal to their stale value are rewritten: anything
        else was changed by someone else since, and is left alone.
        """
        current = parse_ls_files_stage(self._git("ls-files", "-s", "-z").stdout)
        removals, sets = index_updates(current, paths, desired, stale)
        if removals or sets:
            zero = "0" * len(self.empty_tree)
            self._git("update-index", "-z", "--index-info", input=index_info(removals, sets, zero))

    # ---- queries ---------------------------------------------------------------------------

    def head(self) -> str | None:
        proc = self._git("rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
        return out(proc) if proc.returncode == 0 else None

    def branch(self) -> str | None:
        proc = self._git("symbolic-ref", "-q", "HEAD", check=False)
        ref = out(proc) if proc.returncode == 0 else ""
        return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None

    def current_tree(self) -> str:
        with self._temp_index() as env:
            self._seed_from_user_index(env)
            return self._snapshot(env)

    def keep_tree(self, ref: str, tree: str, parent: str) -> str:
        """Keep `tree` (from current_tree) reachable as a commit at `ref`, on top of `parent`."""
        sha = out(self._git("commit-tree", tree, "-p", parent, "-m", f"overseer: tree at {ref}",
                            env=BOT_IDENTITY))
        self._git("update-ref", "-m", "overseer: attempt end", ref, sha)
        return sha

    def changes(self, since: str, now: str | None = None) -> list[FileChange]:
        """What changed from commit `since` to the working tree (or to tree `now`)."""
        base, now = self._tree_of(since), now or self.current_tree()
        names = self._git("diff-tree", "-r", "-z", "-M", "--name-status", base, now).stdout
        nums = parse_numstat(self._git("diff-tree", "-r", "-z", "-M", "--numstat", base, now).stdout)
        result = []
        for status, path, old in parse_name_status(names):
            added, removed = nums.get(path, (0, 0))
            letter: ChangeStatus = status if status in ("A", "M", "D", "T", "R") else "M"  # type: ignore[assignment]
            result.append(FileChange(path, letter, added, removed, old))
        return result

    def diff(self, since: str) -> str:
        base, now = self._tree_of(since), self.current_tree()
        proc = self._git(
            "diff-tree", "-r", "-p", "-M", "--no-color", "--no-ext-diff", "--no-textconv", base, now
        )
        return proc.stdout.decode("utf-8", errors="replace")

    def read_at(self, rev: str, paths: list[str]) -> dict[str, str | None]:
        """The text of each path in commit `rev` (None: not there), in one git process."""
        if not paths:
            return {}
        tree = self._tree_of(rev)
        query = b"".join(f"{tree}:{p}\n".encode() for p in paths)
        data = self._git("cat-file", "--batch", input=query).stdout
        found: dict[str, str | None] = {}
        pos = 0
        for p in paths:
            nl = data.index(b"\n", pos)
            header = data[pos:nl].split()
            pos = nl + 1
            if len(header) < 3:
                found[p] = None  # "<name> missing": no content follows
                continue
            size = int(header[2])
            body = data[pos:pos + size]
            pos += size + 1
            # A tree or a submodule at that path is not a file's text.
            found[p] = body.decode("utf-8", errors="replace") if header[1] == b"blob" else None
        return found

    def is_dirty_outside(self, since: str, paths_allowed: set[str]) -> list[str]:
        """Paths changed since checkpoint `since` that are not in `paths_allowed` (an entry
        ending in "/" allows everything below it)."""
        prefixes = tuple(p for p in paths_allowed if p.endswith("/"))
        changed = self._changed_paths(self._tree_of(since), self.current_tree())
        return sorted(p for p in changed if p not in paths_allowed and not p.startswith(prefixes))

    def find_commit(self, trailers: dict[str, str]) -> str | None:
        """The newest commit reachable from HEAD whose trailers include all of `trailers`."""
        check_trailers(trailers)
        head = self.head()
        if head is None:
            return None
        args = ["log", "-z", "--format=%H%n%(trailers:only,unfold)", "-F", "--all-match"]
        for key, value in trailers.items():
            args += ["--grep", f"{key}: {value}"]
        return first_with_trailers(self._git(*args, head, "--").stdout, trailers)

    # ---- checkpoints -----------------------------------------------------------------------

    def checkpoint(self, ref: str) -> str:
        """Save the exact working tree as a commit at `ref`; return its sha."""
        if not ref.startswith("refs/") or self._git("check-ref-format", ref, check=False).returncode:
            raise ValueError(f"not a valid full ref name: {ref!r}")
        head = self.head()
        with self._temp_index() as env:
            self._seed_from_user_index(env)
            proc = self._git("write-tree", env=env, check=False)  # fails while a merge is unresolved
            index_tree = out(proc) if proc.returncode == 0 else None
            tree = self._snapshot(env)
        parents = ["-p", head] if head else []
        message = f"overseer checkpoint {ref}\n"
        if index_tree is not None:
            message += f"\n{INDEX_TRAILER}: {index_tree}\n"
            head_tree = self._tree_of(head) if head else self.empty_tree
            if index_tree not in (head_tree, self.empty_tree):
                index_commit = out(
                    self._git(
                        "commit-tree", index_tree, *parents, "-m", "overseer: index at checkpoint",
                        env=BOT_IDENTITY,
                    )
                )
                parents += ["-p", index_commit]  # only to keep the index tree reachable
        sha = out(
            self._git("commit-tree", tree, *parents, "-F", "-", env=BOT_IDENTITY, input=message.encode())
        )
        self._git("update-ref", "-m", "overseer: checkpoint", ref, sha)
        return sha

    def restore(self, sha: str) -> None:
        """Bring the working tree back to checkpoint `sha`, byte for byte (see module doc).

        Ignored files are not part of a checkpoint and are never removed; "ignored" means under
        the checkpoint's own .gitignore files, which are put back first. Otherwise an agent that
        edited .gitignore would make a rollback delete, say, the user's .env or .venv.
        """
        commit = self._rev(f"{sha}^{{commit}}")
        target = self._tree_of(commit)
        now = self.current_tree()
        if now == target:
            return
        touched = self._restore_ignore_rules(now, target)
        with self._temp_index() as env:
            self._seed_from_user_index(env)
            now = self._snapshot(env)
            if now != target:
                touched.update(self._changed_paths(now, target))
                # The temp index equals the work tree, so this is a plain switch from `now` to
                # `target`; ignored files in the way may be replaced (they were not ignored at
                # checkpoint time, or they would not be in `target`).
                self._git(
                    "read-tree", "-m", "-u", "--exclude-per-directory=.gitignore", now, target, env=env
                )
            after = self._snapshot(env)
        if after != target:
            left = self._changed_paths(after, target)
            raise WorkspaceError(
                f"restore of {sha[:12]} left {len(left)} path(s) different: {', '.join(left[:10])}",
                hint="something is writing to the repository at the same time, or a path is not writable",
                context={"paths": left},
            )
        index_tree = self._index_tree_of(commit)
        if index_tree is not None:
            self._sync_index(sorted(touched), self._entries(index_tree))

    def _restore_ignore_rules(self, now: str, target: str) -> set[str]:
        rules = [p for p in self._changed_paths(now, target) if p.rsplit("/", 1)[-1] == ".gitignore"]
        if not rules:
            return set()
        wanted = self._entries(target)
        for p in rules:
            if p not in wanted and (self.root / p).is_file():
                (self.root / p).unlink()
        back = [p for p in rules if p in wanted]
        if back:
            with self._temp_index() as env:
                self._git("read-tree", target, env=env)
                # Best effort: a path blocked by a file is left to the full switch that follows.
                self._git(
                    "checkout-index", "-f", "-z", "--stdin", env=env, check=False,
                    input=b"".join(os.fsencode(p) + b"\0" for p in back),
                )
        return set(rules)

    def _index_tree_of(self, commit: str) -> str | None:
        fmt = f"--format=%(trailers:key={INDEX_TRAILER},valueonly,unfold)"
        value = out(self._git("log", "-1", fmt, commit, "--"))
        if not value:
            return None
        proc = self._git("cat-file", "-e", f"{value}^{{tree}}", check=False)
        return value if proc.returncode == 0 else None

    def delete_refs(self, prefix: str) -> int:
        """Delete every ref under `prefix` (only refs/overseer/… may be deleted); return how many."""
        if not prefix.startswith("refs/overseer/"):
            raise ValueError(f"refusing to delete refs outside refs/overseer/: {prefix!r}")
        refs = out(self._git("for-each-ref", "--format=%(refname)", prefix)).splitlines()
        if refs:
            self._git("update-ref", "--stdin", input="".join(f"delete {r}\n" for r in refs).encode())
        return len(refs)

    # ---- commits ---------------------------------------------------------------------------

    def _branch_ref(self) -> str:
        proc = self._git("symbolic-ref", "-q", "HEAD", check=False)
        if proc.returncode != 0:
            raise WorkspaceError(
                f"HEAD is detached in {self.root}; overseer commits tasks on a branch",
                hint="check out a branch first, e.g. `git switch -c overseer/work`",
            )
        return out(proc)

    def commit_task(self, since: str, message: str, trailers: dict[str, str]) -> str | None:
        """Commit on the current branch exactly the paths changed since checkpoint `since`."""
        check_trailers(trailers)
        branch_ref = self._branch_ref()
        existing = self.find_commit(trailers)
        if existing is not None:
            self._settle_after_crash(existing)
            return existing
        head = self.head()
        base = self._tree_of(since)
        now = self.current_tree()
        changed = self._changed_paths(base, now)
        if not changed:
            return None
        now_entries = self._entries(now)
        wanted = {p: now_entries[p] for p in changed if p in now_entries}
        removed = [p for p in changed if p not in now_entries]
        with self._temp_index() as env:
            if head:
                self._git("read-tree", head, env=env)
            zero = "0" * len(self.empty_tree)
            self._git("update-index", "-z", "--index-info", env=env, input=index_info(removed, wanted, zero))
            tree = out(self._git("write-tree", env=env))
        if tree == (self._tree_of(head) if head else self.empty_tree):
            return None
        full = f"{message.rstrip()}\n\n" + "".join(f"{k}: {v}\n" for k, v in trailers.items())
        identity = {} if self._git("var", "GIT_COMMITTER_IDENT", check=False).returncode == 0 else BOT_IDENTITY
        parents = ["-p", head] if head else []
        sha = out(self._git("commit-tree", tree, *parents, "-F", "-", env=identity, input=full.encode()))
        proc = self._git(
            "update-ref", "-m", "overseer: commit task", branch_ref, sha, head or "", check=False
        )
        if proc.returncode != 0:
            raise WorkspaceError(
                f"{branch_ref} moved while overseer was committing; nothing was committed",
                hint="someone committed in this repository during the run; run `overseer resume` to try again",
                context={"stderr": proc.stderr.decode("utf-8", "replace")},
            )
        self._sync_index(changed, wanted)
        return sha

    def _settle_after_crash(self, commit: str) -> None:
        # A crash between update-ref and the index sync leaves the index at the parent's
        # entries for the committed paths; finish that sync, touching only entries still stale.
        if commit != self.head():
            return
        parent_proc = self._git("rev-parse", "-q", "--verify", f"{commit}^1", check=False)
        parent_tree = self._tree_of(out(parent_proc)) if parent_proc.returncode == 0 else self.empty_tree
        tree = self._tree_of(commit)
        paths = self._changed_paths(parent_tree, tree)
        self._sync_index(paths, self._entries(tree), stale=self._entries(parent_tree))

