"""An SSH agent works on the supervised tree: the remote clone is brought to the attempt's
exact tree before the command, and what the agent changed there comes back after it.

Both ways travel as git bundles over the same SSH connection, so no shared disk is needed:

* before: the local working tree (untracked files included, ignored ones and .overseer/ not)
  is saved as a commit (the workspace's own checkpoint code), bundled — only what the remote
  lacks when it already has the local HEAD — and checked out, detached, in the remote clone,
  which is then cleaned of untracked files (ignored ones stay: a remote's build caches);
* after: the remote tree is committed on top of that snapshot with a private index, bundled
  back, and the local working tree is brought to exactly that tree (`GitWorkspace.restore`),
  where checkpoints, diffs, gates and commits then happen as for a local agent.

The remote clone belongs to overseer from the first sync on (a ref, refs/overseer/synced,
marks it): before that, changes overseer did not make stop the attempt with a message, since a
sync would discard them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from overseer.workspace.git import GitWorkspace
from overseer.workspace.gitcmd import out, run_git

SYNC_REF = "refs/overseer/synced"
RESULT_REF = "refs/overseer/result"
LOCAL_PREFIX = "refs/overseer/ssh/"

# Exit codes of the remote scripts.
NOT_A_CLONE = 96
FOREIGN_CHANGES = 95
FETCH_FAILED = 94
UNCHANGED = 3

# $1 workdir, $2 the local HEAD, $3 the snapshot: is it a clone overseer may reset, and which
# of the two commits does it have already?
PROBE_SCRIPT = r"""
cd "$1" 2>/dev/null || exit 97
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 96
top=$(git rev-parse --show-toplevel) && cd "$top" || exit 96
if ! git rev-parse -q --verify refs/overseer/synced >/dev/null; then
  [ -z "$(git status --porcelain --untracked-files=normal)" ] || { git status --short | head -5; exit 95; }
fi
[ -n "$2" ] && git cat-file -e "$2^{commit}" 2>/dev/null && echo head
git cat-file -e "$3^{commit}" 2>/dev/null && echo snapshot
exit 0
"""

# $1 workdir, $2 the commit the remote must end up on, $3 "1" when a bundle follows on stdin.
PUSH_SCRIPT = r"""
cd "$1" 2>/dev/null || exit 97
top=$(git rev-parse --show-toplevel) && cd "$top" || exit 96
ex="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$ex")"
grep -qxF /.overseer/ "$ex" 2>/dev/null || echo /.overseer/ >> "$ex"
if [ "$3" = 1 ]; then
  b="$(git rev-parse --git-path overseer-in.bundle)"
  cat > "$b" && git fetch -q "$b" "+refs/overseer/push:refs/overseer/incoming" >&2 || { rm -f "$b"; exit 94; }
  rm -f "$b"
fi
git update-ref refs/overseer/synced "$2" || exit 94
git -c advice.detachedHead=false checkout -q -f --detach "$2" >&2 && git clean -fdq >&2 || exit 94
"""

# $1 workdir. Prints a bundle of the remote tree as a commit on refs/overseer/synced, or exits 3.
PULL_SCRIPT = r"""
cd "$1" 2>/dev/null || exit 97
top=$(git rev-parse --show-toplevel) && cd "$top" || exit 96
idx="$(git rev-parse --git-path overseer-result-index)"
trap 'rm -f "$idx"' EXIT
export GIT_INDEX_FILE="$idx"
git read-tree refs/overseer/synced && git add -A . >&2 || exit 94
tree=$(git write-tree) || exit 94
[ "$tree" = "$(git rev-parse 'refs/overseer/synced^{tree}')" ] && exit 3
c=$(GIT_AUTHOR_NAME=overseer GIT_AUTHOR_EMAIL=overseer@localhost GIT_COMMITTER_NAME=overseer \
    GIT_COMMITTER_EMAIL=overseer@localhost git commit-tree "$tree" -p refs/overseer/synced -m "overseer: remote result") || exit 94
git update-ref refs/overseer/result "$c" || exit 94
unset GIT_INDEX_FILE
git bundle create - refs/overseer/result ^refs/overseer/synced 2>/dev/null || exit 94
"""


@dataclass(frozen=True)
class Snapshot:
    root: Path
    sha: str  # the commit whose tree the remote must hold
    head: str | None  # the local HEAD, which the remote clone most likely has


def snapshot(root: Path, tag: str) -> Snapshot:
    """The local working tree as a commit (refs/overseer/ssh/TAG)."""
    ws = GitWorkspace.open(root)
    sha = ws.checkpoint(f"{LOCAL_PREFIX}{tag}")
    return Snapshot(root, sha, ws.head())


def bundle(snap: Snapshot, tag: str, remote_has_head: bool) -> bytes:
    """A bundle of the snapshot under refs/overseer/push, without what the remote has."""
    ref = "refs/overseer/push"
    _git(snap.root, "update-ref", ref, snap.sha)
    try:
        with tempfile.TemporaryDirectory(prefix="overseer-bundle-") as tmp:
            path = Path(tmp) / f"{tag}.bundle"
            exclude = [f"^{snap.head}"] if remote_has_head and snap.head and snap.head != snap.sha else []
            _git(snap.root, "bundle", "create", "-q", str(path), ref, *exclude)
            return path.read_bytes()
    finally:
        _git(snap.root, "update-ref", "-d", ref)


def apply_result(snap: Snapshot, tag: str, data: bytes) -> str:
    """Bring the local working tree to the remote's result; returns the result commit."""
    ref = f"{LOCAL_PREFIX}{tag}-result"
    with tempfile.TemporaryDirectory(prefix="overseer-bundle-") as tmp:
        path = Path(tmp) / "result.bundle"
        path.write_bytes(data)
        _git(snap.root, "fetch", "-q", str(path), f"+{RESULT_REF}:{ref}")
    sha = _git(snap.root, "rev-parse", f"{ref}^{{commit}}").strip()
    GitWorkspace.open(snap.root).restore(sha)
    return sha


def forget(snap: Snapshot) -> None:
    GitWorkspace.open(snap.root).delete_refs(LOCAL_PREFIX)


def is_git_tree(path: Path) -> bool:
    proc = run_git(path, ["rev-parse", "--is-inside-work-tree"], check=False)
    return proc.returncode == 0 and out(proc) == "true"


def _git(root: Path, *args: str) -> str:
    return out(run_git(root, list(args)))
