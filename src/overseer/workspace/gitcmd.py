"""The one way overseer runs git: plumbing via subprocess, no prompts, errors as WorkspaceError."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from overseer.errors import WorkspaceError

# Variables that would point git at some other repository or index than the one we name
# (set, for instance, when overseer itself runs inside a git hook).
_REPO_LOCATING_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_NAMESPACE",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
)

# Identity for overseer's own bookkeeping commits (checkpoints): they must never fail on a
# machine without user.name/email, and they are not the user's work.
BOT_IDENTITY = {
    "GIT_AUTHOR_NAME": "overseer",
    "GIT_AUTHOR_EMAIL": "overseer@localhost",
    "GIT_COMMITTER_NAME": "overseer",
    "GIT_COMMITTER_EMAIL": "overseer@localhost",
}


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATING_VARS}
    env.update(
        LC_ALL="C",
        LANGUAGE="C",
        GIT_TERMINAL_PROMPT="0",
        # Read-only commands (status, diff) must not rewrite the user's index behind their back.
        GIT_OPTIONAL_LOCKS="0",
        GIT_EDITOR="true",
        GIT_PAGER="cat",
    )
    if extra:
        env.update(extra)
    return env


def run_git(
    cwd: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git <args>` in `cwd`; a non-zero exit raises WorkspaceError carrying git's stderr."""
    cmd = ["git", "-c", "core.quotepath=off", "-c", "advice.addEmbeddedRepo=false", *args]
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=git_env(env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise WorkspaceError(
            "git is not installed or not on PATH",
            hint="install git (Debian: `apt-get install git`) and try again",
        ) from exc
    if check and proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", errors="replace").strip()
        raise WorkspaceError(
            f"git {args[0] if args else ''} failed in {cwd}: {stderr or f'exit code {proc.returncode}'}",
            hint="see git's message above; `overseer doctor` checks the repository",
            context={"command": cmd, "exit_code": proc.returncode, "stderr": stderr},
        )
    return proc


def out(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stdout.decode("utf-8", errors="surrogateescape").strip()


@dataclass(frozen=True)
class Entry:
    """One index or tree entry: what git stores for a path."""

    mode: str
    sha: str
    stage: int = 0


def split_z(data: bytes) -> list[str]:
    return [os.fsdecode(p) for p in data.split(b"\0") if p]


def parse_ls_tree(data: bytes) -> dict[str, Entry]:
    """`git ls-tree -r -z` output → path → entry."""
    entries: dict[str, Entry] = {}
    for rec in data.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, _type, sha = meta.decode().split(" ")
        entries[os.fsdecode(path)] = Entry(mode, sha)
    return entries


def parse_ls_files_stage(data: bytes) -> dict[str, list[Entry]]:
    """`git ls-files -s -z` output → path → entries (several while a merge is unresolved)."""
    entries: dict[str, list[Entry]] = {}
    for rec in data.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, sha, stage = meta.decode().split(" ")
        entries.setdefault(os.fsdecode(path), []).append(Entry(mode, sha, int(stage)))
    return entries


def index_info(removals: Sequence[str], sets: Mapping[str, Entry], zero: str) -> bytes:
    """Input for `git update-index -z --index-info`: removals first, so a path can change
    between file and directory in one call."""
    chunks = [b"0 " + zero.encode() + b"\t" + os.fsencode(p) + b"\0" for p in removals]
    chunks += [
        f"{e.mode} {e.sha}\t".encode() + os.fsencode(p) + b"\0" for p, e in sorted(sets.items())
    ]
    return b"".join(chunks)


def index_updates(
    current: Mapping[str, list[Entry]],
    paths: Sequence[str],
    desired: Mapping[str, Entry],
    stale: Mapping[str, Entry] | None = None,
) -> tuple[list[str], dict[str, Entry]]:
    """(removals, entries to set) that make `current` equal `desired` for `paths`; with
    `stale`, only paths whose current entry still equals its stale value are changed."""
    removals: list[str] = []
    sets: dict[str, Entry] = {}
    for p in paths:
        have, want = current.get(p), desired.get(p)
        if stale is not None and have != ([stale[p]] if p in stale else None):
            continue
        if want is None:
            if have:
                removals.append(p)
        elif have != [want]:
            if have and any(e.stage for e in have):
                removals.append(p)  # unmerged stages must go before a stage-0 entry
            sets[p] = want
    return removals, sets


def parse_name_status(data: bytes) -> list[tuple[str, str, str | None]]:
    """`git diff-tree -r -z --name-status [-M]` → (status letter, path, old path for renames)."""
    fields = data.split(b"\0")
    result: list[tuple[str, str, str | None]] = []
    i = 0
    while i < len(fields):
        status = fields[i].decode()
        if not status:
            i += 1
            continue
        letter = status[0]
        if letter in "RC":
            old, new = os.fsdecode(fields[i + 1]), os.fsdecode(fields[i + 2])
            result.append((letter, new, old))
            i += 3
        else:
            result.append((letter, os.fsdecode(fields[i + 1]), None))
            i += 2
    return result


def parse_numstat(data: bytes) -> dict[str, tuple[int, int]]:
    """`git diff-tree -r -z --numstat [-M]` → new path → (added, removed); binary is 0/0."""
    fields = data.split(b"\0")
    result: dict[str, tuple[int, int]] = {}
    i = 0
    while i < len(fields):
        rec = fields[i]
        if not rec:
            i += 1
            continue
        added, removed, path = rec.split(b"\t", 2)
        if path:
            name = os.fsdecode(path)
            i += 1
        else:  # a rename: old and new path follow as their own fields
            name = os.fsdecode(fields[i + 2])
            i += 3
        result[name] = (
            int(added) if added != b"-" else 0,
            int(removed) if removed != b"-" else 0,
        )
    return result


_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


def check_trailers(trailers: Mapping[str, str]) -> None:
    if not trailers:
        raise ValueError("a task commit needs at least one trailer to be found again")
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key) or not value or "\n" in value or value != value.strip():
            raise ValueError(f"bad trailer {key!r}: {value!r}")


def first_with_trailers(log: bytes, trailers: Mapping[str, str]) -> str | None:
    """From `git log -z --format=%H%n%(trailers:only,unfold)`, the first commit carrying all
    of `trailers` (a commit may carry more)."""
    for record in log.decode("utf-8", "replace").split("\0"):
        sha, _, body = record.strip("\n").partition("\n")
        found: dict[str, set[str]] = {}
        for line in body.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                found.setdefault(key.strip(), set()).add(value.strip())
        if sha and all(v in found.get(k, ()) for k, v in trailers.items()):
            return sha
    return None
