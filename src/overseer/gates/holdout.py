"""Holdout gates: acceptance tests the agent never sees (docs/trust.md).

Their files live outside the workspace. They are copied to the gate's `to` path only while the
gate runs and removed right after; a manifest written before the copy lets the next step of any
process remove them after a crash, before an agent can start. What the gate reports back is cut
to its `reveal` setting: failing test ids, their assertion messages, or nothing — never the
tests' source, which a traceback or a JUnit report would otherwise carry into the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

from overseer.gates.failures import failures_in_output, lines_for
from overseer.gates.result import GateResult
from overseer.plan.schema import HoldoutSpec

MAX_IDS = 20
# Keeps test runners from writing caches (bytecode, pytest's lastfailed) the agent could read.
HOLDOUT_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}
NO_PYTEST_CACHE = "-p no:cacheprovider"


class HoldoutError(Exception):
    """The holdout files cannot be placed (their folder is missing, or `to` is taken)."""


def _manifest(state_dir: Path, workdir: Path) -> Path:
    key = hashlib.sha1(str(Path(workdir).resolve()).encode()).hexdigest()[:16]
    return state_dir / f"{key}.json"


@contextlib.contextmanager
def placed(spec: HoldoutSpec, workdir: Path, state_dir: Path) -> Iterator[Path]:
    """The holdout files at `workdir/spec.to` for the duration of the block."""
    src = Path(spec.from_)
    dest = Path(workdir) / spec.to
    if not src.is_dir():
        raise HoldoutError(f"holdout folder {src} does not exist")
    if dest.exists() or dest.is_symlink():
        raise HoldoutError(f"holdout path {spec.to} already exists in the workspace; the hidden "
                           "tests are never copied over files the agent may have put there")
    manifest = _manifest(state_dir, workdir)
    state_dir.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"workdir": str(workdir), "paths": [spec.to]}))
    try:
        shutil.copytree(src, dest, symlinks=False)
        yield dest
    finally:
        _remove(Path(workdir), [spec.to])
        manifest.unlink(missing_ok=True)


def clean_up(state_dir: Path) -> list[str]:
    """Remove holdout files a crashed process left in any workspace; returns what it removed."""
    removed: list[str] = []
    if not state_dir.is_dir():
        return removed
    for manifest in sorted(state_dir.glob("*.json")):
        try:
            data = json.loads(manifest.read_text())
            workdir, paths = Path(data["workdir"]), list(data["paths"])
        except (OSError, ValueError, KeyError, TypeError):
            manifest.unlink(missing_ok=True)
            continue
        removed += [str(workdir / p) for p in _remove(workdir, paths)]
        manifest.unlink(missing_ok=True)
    return removed


def _remove(workdir: Path, paths: list[str]) -> list[str]:
    gone = []
    for rel in paths:
        target = workdir / rel
        if target.is_symlink() or target.is_file():
            target.unlink(missing_ok=True)
            gone.append(rel)
        elif target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            gone.append(rel)
    return gone


def holdout_env(env: dict[str, str]) -> dict[str, str]:
    """The gate's environment with every test-runner cache off."""
    out = {**env, **HOLDOUT_ENV}
    addopts = out.get("PYTEST_ADDOPTS", "")
    if NO_PYTEST_CACHE not in addopts:
        out["PYTEST_ADDOPTS"] = f"{addopts} {NO_PYTEST_CACHE}".strip()
    return out


def reveal(result: GateResult, spec: HoldoutSpec, full_output: str) -> GateResult:
    """The result as the agent and the store may see it."""
    if result.passed:
        tail = f"[overseer] holdout gate {result.name} passed"
        if result.tests is not None:
            tail += f": {result.tests.passed} hidden test(s)"
        return result.model_copy(update={"output_tail": tail})
    found = failures_in_output(full_output, strong_only=True)
    ids = list(dict.fromkeys([*result.failing_tests, *found]))
    lines = [f"[overseer] holdout gate {result.name} failed"
             + (f" (exit {result.exit_code})" if result.exit_code is not None else "")
             + (" (timed out)" if result.timed_out else "")]
    if spec.reveal == "none":
        lines.append("(reveal: none — the hidden tests are not named)")
        return result.model_copy(update={"output_tail": "\n".join(lines), "failing_tests": []})
    lines.append(f"{len(ids)} failing hidden test(s):" if ids else "no failing test could be named")
    for tid in ids[:MAX_IDS]:
        lines.append(f"- {tid}")
        if spec.reveal == "output":
            lines.extend(f"    {m}" for m in lines_for(found, tid))
    if len(ids) > MAX_IDS:
        lines.append(f"- … and {len(ids) - MAX_IDS} more")
    return result.model_copy(update={"output_tail": "\n".join(lines), "failing_tests": ids})


def opaque(test_id: str) -> str:
    """A hidden test's id as the baseline keeps it: comparable, not readable."""
    return "holdout#" + hashlib.sha256(test_id.encode()).hexdigest()[:12]


def for_baseline(result: GateResult) -> GateResult:
    """A holdout gate's result as run-start baseline: counts and opaque ids only. The baseline
    is written before any attempt, where the agent could read it, and no failure has been
    revealed to it yet."""
    state = "passed" if result.passed else "failed"
    counts = f" ({result.tests.passed} passed, {result.tests.failed + result.tests.errors} failing)" \
        if result.tests is not None else ""
    return result.model_copy(update={
        "failing_tests": [opaque(t) for t in result.failing_tests],
        "output_tail": f"[overseer] holdout gate {result.name} {state} at the baseline{counts}",
    })
