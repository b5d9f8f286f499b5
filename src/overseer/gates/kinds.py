"""Built-in gate kinds that need no command: `python-syntax` and `diff-limits`.

Both judge only what the attempt changed (the change list comes from `git diff` against the
attempt's checkpoint), so a file that was already broken before the task is not blamed on it.
The change type is a Protocol: gates never import the workspace package (ARCHITECTURE.md).
"""

from __future__ import annotations

import functools
import re
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from overseer.gates.result import GateResult, TestCounts
from overseer.plan.schema import GateSpec

MAX_LISTED = 20  # violations spelled out in the output tail; the rest are counted


class Change(Protocol):
    """What a gate needs of one changed file (workspace.FileChange has these)."""

    @property
    def path(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def added(self) -> int: ...
    @property
    def removed(self) -> int: ...
    @property
    def old_path(self) -> str | None: ...


def python_syntax(
    changed_paths: Iterable[str], workdir: Path, *, name: str = "python-syntax", required: bool = True
) -> GateResult:
    """Each changed .py file that still exists compiles. compile() only parses and generates
    bytecode; nothing in the file runs."""
    start = time.monotonic()
    ok, failing, details = 0, [], []
    for rel in sorted(set(changed_paths)):
        path = Path(workdir) / rel
        if not rel.endswith(".py") or not path.is_file():
            continue
        try:
            source = path.read_bytes()
            with warnings.catch_warnings():
                # SyntaxWarnings (say, an invalid escape) are style, not a broken file.
                warnings.simplefilter("ignore")
                compile(source, rel, "exec", dont_inherit=True)
        except SyntaxError as exc:
            line = exc.lineno or 0
            failing.append(f"{rel}:{line}")
            text = (exc.text or "").rstrip("\n")
            caret = f"\n    {' ' * max((exc.offset or 1) - 1, 0)}^" if text and exc.offset else ""
            details.append(f"{rel}:{line}: {type(exc).__name__}: {exc.msg}" + (f"\n    {text}{caret}" if text else ""))
        except (ValueError, OSError) as exc:  # NUL bytes in the source; unreadable file
            failing.append(f"{rel}:0")
            details.append(f"{rel}: {type(exc).__name__}: {exc}")
        else:
            ok += 1
    summary = (
        f"[overseer] python-syntax: {ok} changed .py file(s) compile, {len(failing)} do not"
        if ok or failing
        else "[overseer] python-syntax: no changed .py files to check"
    )
    return GateResult(
        name=name,
        required=required,
        passed=not failing,
        duration_s=round(time.monotonic() - start, 3),
        tests=TestCounts(passed=ok, failed=len(failing)),
        failing_tests=failing,
        output_tail=_tail(details, summary),
    )


def diff_limits(spec: GateSpec, changes: Sequence[Change]) -> GateResult:
    """The attempt's change list against the spec's max_files, max_lines and forbidden globs."""
    start = time.monotonic()
    violations: list[str] = []
    details: list[str] = []
    files = len(changes)
    lines = sum(c.added + c.removed for c in changes)
    if spec.max_files is not None and files > spec.max_files:
        violations.append("max_files")
        details.append(f"{files} files changed; the limit is {spec.max_files}")
    if spec.max_lines is not None and lines > spec.max_lines:
        violations.append("max_lines")
        details.append(f"{lines} lines changed (added + removed); the limit is {spec.max_lines}")
    for c in changes:
        for p in dict.fromkeys(x for x in (c.old_path, c.path) if x):
            glob = next((g for g in spec.forbidden if path_matches(p, g)), None)
            if glob is not None:
                violations.append(f"forbidden:{p}")
                details.append(f"{p} is forbidden (matches {glob!r}) but was {_verb(c.status)}")
    summary = f"[overseer] diff-limits: {files} file(s), {lines} line(s) changed"
    if violations:
        summary += f"; {len(violations)} limit(s) broken"
    return GateResult(
        name=spec.name,
        required=spec.required,
        passed=not violations,
        duration_s=round(time.monotonic() - start, 3),
        failing_tests=violations,
        output_tail=_tail(details, summary),
    )


def path_matches(path: str, glob: str) -> bool:
    """.gitignore semantics for a changed file's path: a pattern matches the path or any
    folder above it (so `secrets/*` covers everything below secrets/); `*` and `?` stay within
    one path segment, `**` crosses them; a trailing `/` matches folders only; a pattern with a
    `/` at its start or middle is anchored at the repository root, one without matches a name
    at any depth (`*.pem`)."""
    dir_only = glob.endswith("/")
    body = glob.strip("/")
    anchored = glob.startswith("/") or "/" in body
    rx = _glob_regex(body)
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts))]
    if not dir_only:
        candidates.append(path)
    if anchored:
        return any(rx.fullmatch(c) for c in candidates)
    return any(rx.fullmatch(c.rsplit("/", 1)[-1]) for c in candidates)


@functools.lru_cache(maxsize=256)
def _glob_regex(glob: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and (end := glob.find("]", i + 2)) != -1:
            chars = glob[i + 1 : end]
            chars = "^" + chars[1:] if chars.startswith("!") else chars
            out.append("[" + chars.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))


def _verb(status: str) -> str:
    return {"A": "added", "D": "deleted", "R": "renamed", "T": "changed in type"}.get(status, "modified")


def _tail(details: list[str], summary: str) -> str:
    shown = details[:MAX_LISTED]
    if len(details) > MAX_LISTED:
        shown.append(f"... and {len(details) - MAX_LISTED} more")
    return "\n".join([*shown, summary])
