"""Run a gate: the project's own command, with timeout, env and cwd, output captured.

The command runs in its own session (process group) so a timeout kills everything it started,
not just the shell. Processes it leaves running after it exits are stopped too: they would hold
the output pipe open, and a gate must not leave work behind in the user's machine.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from overseer.agents.ssh_spec import SshSpec
from overseer.gates.counts import counts_from_output
from overseer.gates.holdout import HoldoutError, holdout_env, placed, reveal
from overseer.gates.kinds import Change, diff_limits, python_syntax
from overseer.gates.result import GateResult, TestCounts
from overseer.plan.schema import GateSpec
from overseer.scrub import process_scrubber
from overseer.watchdog import watchdog

TAIL_MAX_BYTES = 8 * 1024
_KEEP_BYTES = 64 * 1024  # rolling buffer the tail is cut from
KILL_GRACE_S = 5.0  # between SIGTERM and SIGKILL
_DRAIN_S = 2.0  # how long to keep reading after the group was killed


def run_gate(
    spec: GateSpec,
    workdir: Path,
    *,
    changes: Sequence[Change] | None = None,
    output_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    tail_lines: int = 60,
    kill_grace: float = KILL_GRACE_S,
    holdout_state: Path | None = None,
    remote: SshSpec | None = None,
) -> GateResult:
    """Run one gate of any kind; a `where: remote` one on `remote`, the task's SSH agent host. `changes` (what the attempt changed since its checkpoint) is
    what python-syntax and diff-limits judge; None means nothing is known to have changed, as
    for a baseline run before any task. `holdout_state` is the folder for the manifests of
    placed holdout files (default: the workspace's .overseer/holdout)."""
    if spec.where == "remote":
        from overseer.gates.remote import run_remote

        return run_remote(spec, workdir, remote, output_dir=output_dir, env=env, tail_lines=tail_lines)
    if spec.holdout is not None:
        return _run_holdout(spec, workdir, output_dir=output_dir, env=env, tail_lines=tail_lines,
                            kill_grace=kill_grace, state=holdout_state)
    if spec.kind != "command":
        return _logged(_builtin(spec, workdir, changes), output_dir)
    return _run_command(spec, workdir, output_dir=output_dir, env=env, tail_lines=tail_lines,
                        kill_grace=kill_grace)


def _run_command(
    spec: GateSpec, workdir: Path, *, output_dir: Path | None, env: Mapping[str, str] | None,
    tail_lines: int, kill_grace: float, raw: list[bytes] | None = None,
) -> GateResult:
    """A command gate. `raw`, when given, receives the whole captured output buffer."""
    assert spec.run is not None  # GateSpec's validator guarantees it for commands
    cwd = Path(workdir) / (spec.cwd or "")
    junit_path = (cwd / spec.junit) if spec.junit else None
    if not cwd.is_dir():
        return GateResult(
            name=spec.name,
            required=spec.required,
            passed=False,
            output_tail=f"[overseer] gate {spec.name}: working directory {cwd} does not exist",
        )
    if junit_path is not None:
        # A report left by an earlier run must never be mistaken for this run's.
        junit_path.unlink(missing_ok=True)

    full_env = dict(os.environ)
    full_env.update(spec.env)
    if env:
        full_env.update(env)
    if spec.holdout is not None:
        full_env = holdout_env(full_env)

    log: IO[bytes] | None = None
    output_file: str | None = None
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        log_path = output_dir / f"{spec.name}.log"
        log = log_path.open("wb")
        output_file = str(log_path)

    start = time.monotonic()
    try:
        code, timed_out, tail, truncated = _run(spec.run, cwd, full_env, spec.timeout, kill_grace, log)
    finally:
        if log is not None:
            log.close()
    duration = time.monotonic() - start

    notes: list[str] = []
    if timed_out:
        notes.append(
            f"[overseer] gate {spec.name} timed out after {spec.timeout:g}s; its process group was killed"
        )
    report: JUnitReport | None = None
    if junit_path is not None and not timed_out:
        report, problem = parse_junit(junit_path, roots=(cwd, Path(workdir)))
        if problem:
            notes.append(f"[overseer] junit: {problem}")
    counts = report.counts if report is not None else None
    if counts is None and not timed_out:
        # No JUnit report: the runner's own summary line is the count integrity compares.
        counts = counts_from_output(tail.decode("utf-8", errors="replace"), truncated=truncated)

    passed = code == 0 and not timed_out
    if report is not None and (report.counts.failed or report.counts.errors):
        passed = False
    if raw is not None:
        raw.append(tail)
    return GateResult(
        name=spec.name,
        required=spec.required,
        passed=passed,
        exit_code=code,
        duration_s=round(duration, 3),
        tests=counts,
        failing_tests=report.failing if report else [],
        output_tail=_tail_text(tail, tail_lines, notes),
        output_file=output_file,
        timed_out=timed_out,
    )


def _run_holdout(
    spec: GateSpec, workdir: Path, *, output_dir: Path | None, env: Mapping[str, str] | None,
    tail_lines: int, kill_grace: float, state: Path | None,
) -> GateResult:
    """A holdout gate: its hidden files placed only while it runs; its output cut to what
    `reveal` allows, and nothing else of it kept (no full log, no JUnit file)."""
    assert spec.holdout is not None
    raw: list[bytes] = []
    try:
        with placed(spec.holdout, Path(workdir), state or Path(workdir) / ".overseer" / "holdout"):
            result = _run_command(spec, workdir, output_dir=None, env=env, tail_lines=tail_lines,
                                  kill_grace=kill_grace, raw=raw)
    except HoldoutError as e:
        result = GateResult(name=spec.name, required=spec.required, passed=False,
                            output_tail=f"[overseer] holdout gate {spec.name}: {e}")
    finally:
        if spec.junit:
            (Path(workdir) / (spec.cwd or "") / spec.junit).unlink(missing_ok=True)
    shown = reveal(result, spec.holdout, b"".join(raw).decode("utf-8", errors="replace"))
    return _logged(shown, output_dir)


def _logged(result: GateResult, output_dir: Path | None) -> GateResult:
    """A gate that has no output stream of its own (a built-in kind, or a holdout gate whose
    output is cut to what it may reveal) gets its shown text as its log file."""
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        log_path = output_dir / f"{result.name}.log"
        log_path.write_text(result.output_tail + "\n")
        result.output_file = str(log_path)
    return result


def run_gates(
    specs: Iterable[GateSpec], workdir: Path, *, changes: Sequence[Change] | None = None, **kw: Any
) -> list[GateResult]:
    """Run every gate, also after a failure: the feedback should name all that is wrong."""
    return [run_gate(spec, workdir, changes=changes, **kw) for spec in specs]


def _builtin(spec: GateSpec, workdir: Path, changes: Sequence[Change] | None) -> GateResult:
    if changes is None:
        changes = []
    if spec.kind == "python-syntax":
        paths = [c.path for c in changes if c.status != "D"]
        return python_syntax(paths, Path(workdir), name=spec.name, required=spec.required)
    if spec.kind == "diff-limits":
        return diff_limits(spec, changes)
    raise ValueError(f"unknown gate kind {spec.kind!r}")


def _run(
    command: str,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    kill_grace: float,
    log: IO[bytes] | None,
) -> tuple[int | None, bool, bytes, bool]:
    """Run `command` under bash in a new session; return (exit code, timed out, output tail,
    whether the tail is short of the whole output)."""
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # A gate started during an attempt dies with overseer too, like the agent.
    watchdog().watch(proc.pid)

    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    buf = bytearray()
    total = 0
    # Secrets are masked before the output reaches the log file or the tail (overseer.scrub).
    clean = _LineScrubber(env)

    def keep(data: bytes) -> None:
        nonlocal total
        if log is not None:
            log.write(data)
        buf.extend(data)
        total += len(data)
        if len(buf) > 2 * _KEEP_BYTES:
            del buf[:-_KEEP_BYTES]
    deadline = time.monotonic() + timeout
    timed_out = False
    term_at: float | None = None  # when the group got SIGTERM
    killed_at: float | None = None  # when it got SIGKILL
    try:
        while True:
            now = time.monotonic()
            if proc.poll() is not None and term_at is None:
                # The command is done; whatever it left in its group is stopped now.
                term_at = now
                _signal_group(proc.pid, signal.SIGTERM)
            if not timed_out and term_at is None and now >= deadline:
                timed_out = True
                term_at = now
                _signal_group(proc.pid, signal.SIGTERM)
            if term_at is not None and killed_at is None and now - term_at >= kill_grace:
                killed_at = now
                _signal_group(proc.pid, signal.SIGKILL)
            if killed_at is not None and now - killed_at >= _DRAIN_S:
                break  # something escaped the group and still holds the pipe
            wait = 0.05 if term_at is not None else max(0.0, min(0.5, deadline - now))
            if not sel.select(timeout=wait):
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            keep(clean.feed(chunk))
        keep(clean.flush())
        if term_at is None and proc.poll() is None:
            # The output closed a moment before the exit status came in (or the command closed
            # its output and went on): wait for its exit, up to its deadline, rather than
            # killing a command that is finishing normally.
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                _signal_group(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=kill_grace)
    finally:
        sel.close()
        proc.stdout.close()
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGKILL)
        code = proc.wait()
        # Leftover members that ignored SIGTERM after the command exited normally.
        if killed_at is None:
            _signal_group(proc.pid, signal.SIGKILL)
        watchdog().unwatch(proc.pid)
    return code, timed_out, bytes(buf[-_KEEP_BYTES:]), total > _KEEP_BYTES


class _LineScrubber:
    """Scrubs output a whole line at a time, so a secret split across two reads is still seen."""

    LONGEST_LINE = 1 << 16  # output without newlines is scrubbed in pieces of this size

    def __init__(self, env: Mapping[str, str]) -> None:
        self.scrub = process_scrubber()
        self.scrub.learn(env)
        self.pending = bytearray()

    def feed(self, chunk: bytes) -> bytes:
        self.pending += chunk
        cut = self.pending.rfind(b"\n") + 1
        if cut == 0 and len(self.pending) < self.LONGEST_LINE:
            return b""
        cut = cut or len(self.pending)
        done, self.pending = bytes(self.pending[:cut]), self.pending[cut:]
        return self._clean(done)

    def flush(self) -> bytes:
        done, self.pending = bytes(self.pending), bytearray()
        return self._clean(done) if done else b""

    def _clean(self, data: bytes) -> bytes:
        text = data.decode("utf-8", errors="surrogateescape")
        return self.scrub.text(text).encode("utf-8", errors="surrogateescape")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already empty


def _tail_text(data: bytes, tail_lines: int, notes: list[str]) -> str:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    tail = b"\n".join(lines[-tail_lines:]) if tail_lines > 0 else b""
    if len(tail) > TAIL_MAX_BYTES:
        tail = tail[-TAIL_MAX_BYTES:]
        # Start on a character boundary: skip UTF-8 continuation bytes (10xxxxxx).
        skip = 0
        while skip < min(3, len(tail)) and tail[skip] & 0xC0 == 0x80:
            skip += 1
        tail = tail[skip:]
    text = tail.decode("utf-8", errors="replace")
    if notes:
        text = "\n".join([text, *notes]) if text else "\n".join(notes)
    return text


# ---- JUnit XML -------------------------------------------------------------------------------


@dataclass
class JUnitReport:
    counts: TestCounts
    failing: list[str] = field(default_factory=list)


def parse_junit(path: Path, roots: Sequence[Path] = ()) -> tuple[JUnitReport | None, str | None]:
    """Counts and failing test names from a JUnit XML file; (None, why) when it is unusable.

    Names are pytest node ids (`tests/test_x.py::TestC::test_y`) when the classname maps to a
    file under one of `roots`, else `classname::name`.
    """
    from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

    if not path.is_file():
        return None, f"{path} was not written by the command"
    try:
        xml = JUnitXml.fromfile(str(path))
        # A bare <testsuite> root, or pytest's <testsuites> wrapper; a suite iterates nested suites' cases too.
        suites: list[Any] = [xml] if isinstance(xml, TestSuite) else list(xml)
        counts = TestCounts()
        failing: list[str] = []
        for suite in suites:
            for case in suite:
                results = list(case.result)
                if any(isinstance(r, Error) for r in results):
                    counts.errors += 1
                elif any(isinstance(r, Failure) for r in results):
                    counts.failed += 1
                elif any(isinstance(r, Skipped) for r in results):
                    counts.skipped += 1
                    continue
                else:
                    counts.passed += 1
                    continue
                failing.append(_test_id(case.classname or "", case.name or "", roots))
    except Exception as exc:  # junitparser raises lxml/ElementTree and attribute errors alike
        return None, f"could not parse {path}: {type(exc).__name__}: {exc}"
    return JUnitReport(counts, failing), None


def _test_id(classname: str, name: str, roots: Sequence[Path]) -> str:
    parts = [p for p in classname.split(".") if p]
    for k in range(len(parts), 0, -1):
        candidate = "/".join(parts[:k]) + ".py"
        if any((root / candidate).is_file() for root in roots):
            return "::".join([candidate, *parts[k:], name])
    return f"{classname}::{name}" if classname else name
