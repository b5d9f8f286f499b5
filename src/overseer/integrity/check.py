"""Compare what an attempt did to the tests and the gates' files with its checkpoint.

Adding tests is fine. Refused (major findings): deleting or renaming away an existing test,
adding skip/xfail/only markers, removing, changing or neutralising an existing test's
assertions, editing a gate's scripts or configuration, and any change after which a gate runs
fewer tests or skips more than at the run's baseline. With `may_edit_tests` the same findings
are recorded as information for the reviewer instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from overseer.findings import Finding, Severity
from overseer.gates.kinds import Change
from overseer.gates.result import GateResult
from overseer.integrity import generic, python
from overseer.integrity.facts import TestFacts
from overseer.integrity.protected import (
    config_sections,
    gate_scripts,
    is_config_file,
    is_shared_config,
    is_test_file,
)
from overseer.plan.schema import GateSpec

Reader = Callable[[str], str | None]
MAX_PER_TEST = 3  # changed assertions named per test; the rest are counted


@dataclass(frozen=True)
class IntegrityPolicy:
    test_patterns: tuple[str, ...] = ()
    may_edit_tests: bool = False


def facts_of(path: str, text: str) -> TestFacts | None:
    if path.endswith(".py"):
        return python.facts(path, text)
    return generic.facts(path, text)


def check_integrity(
    *,
    root: Path,
    before: Reader,
    changes: Sequence[Change],
    specs: Sequence[GateSpec],
    results: Sequence[GateResult],
    baseline: Mapping[str, GateResult | None],
    policy: IntegrityPolicy = IntegrityPolicy(),
) -> list[Finding]:
    """`before(path)` is the file's text at the checkpoint (None: absent); the attempt's
    version is read from `root`. `baseline` maps a gate's name to its result at run start."""
    severity: Severity = "info" if policy.may_edit_tests else "major"
    out: list[Finding] = []
    scripts = gate_scripts(specs)

    def after(path: str) -> str | None:
        p = root / path
        try:
            return p.read_text(encoding="utf-8", errors="replace") if p.is_file() else None
        except OSError:
            return None

    def add(kind: str, message: str, path: str | None, line: int | None, fix: str) -> None:
        out.append(Finding(source="integrity", kind=kind, severity=severity, message=message,
                           path=path, line=line, fix=fix))

    for c in changes:
        old = c.old_path or c.path
        for p in dict.fromkeys((old, c.path)):
            # A script the gate runs counts once it exists at the checkpoint; one the task
            # creates is its work. Test configuration counts even when added (a new
            # conftest.py can skip every test).
            script = p in scripts and before(p) is not None
            if script or is_config_file(p):
                add("gate_file_edited", f"{p} is run or read by a gate and was {_verb(c, p)}",
                    p, None, f"restore {p} as it was; change the code, not the checks")
            elif is_shared_config(p):
                was, now = before(old) if p == old else None, after(p) if p == c.path else None
                if config_sections(p, was) != config_sections(p, now):
                    add("gate_file_edited", f"the test configuration in {p} was changed",
                        p, None, f"restore the test sections of {p}; change the code, not the checks")
        if is_test_file(old, policy.test_patterns) and not is_config_file(old):
            _compare_tests(c, before, after, policy, add)

    out.extend(_count_findings(results, baseline, severity))
    return out


def _compare_tests(c: Change, before: Reader, after: Reader, policy: IntegrityPolicy,
                   add: Callable[[str, str, str | None, int | None, str], None]) -> None:
    old = c.old_path or c.path
    was_text = before(old)
    if was_text is None:
        return  # a new test file: adding tests is fine
    was = facts_of(old, was_text)
    if was is None or not was.tests and not was.markers:
        return
    gone = c.status == "D" or (c.path != old and not is_test_file(c.path, policy.test_patterns))
    now_text = None if gone else after(c.path)
    if now_text is None:
        names = ", ".join(list(was.tests)[:5]) + (" …" if len(was.tests) > 5 else "")
        how = "deleted" if c.status == "D" else f"renamed to {c.path}, where no test runner looks"
        add("test_deleted", f"test file with {len(was.tests)} test(s) was {how} ({names})", old, None,
            f"restore {old} and make the code pass its tests")
        return
    now = facts_of(c.path, now_text)
    if now is None:
        add("test_unparsable", "the test file no longer parses", c.path, None,
            f"restore {c.path}; change the code, not the tests")
        return
    for tid, line in was.tests.items():
        if tid not in now.tests:
            add("test_deleted", f"test {tid} was deleted (it was at {old}:{line})", c.path, None,
                f"restore the test {tid} in {c.path} and make the code pass it")
    added = Counter((m.kind, m.text) for m in now.markers) - Counter((m.kind, m.text) for m in was.markers)
    for m in now.markers:
        if added[(m.kind, m.text)] > 0:
            added[(m.kind, m.text)] -= 1
            what = {"skip": "a skip marker", "xfail": "an expected-failure marker",
                    "only": "an `only` marker that hides the other tests"}[m.kind]
            add(f"{m.kind}_added", f"{what} was added: {m.text}", c.path, m.line,
                f"remove it from {c.path}:{m.line} and make the code pass the tests")
    for tid, asserted in was.assertions.items():
        if tid not in now.tests:
            continue
        lost = list((Counter(asserted) - Counter(now.assertions.get(tid, []))).elements())
        line = now.tests[tid]
        for text in lost[:MAX_PER_TEST]:
            add("assertion_changed", f"in {tid}, the assertion `{_short(text)}` was removed, changed "
                "or made unreachable", c.path, line,
                f"restore that assertion in {c.path}:{line} with its expected value, and make the code pass it")
        if len(lost) > MAX_PER_TEST:
            add("assertion_changed", f"in {tid}, {len(lost) - MAX_PER_TEST} more assertions were "
                "removed or changed", c.path, line, f"restore the test {tid} as it was")
    trivial = Counter(t for _l, t in now.trivial) - Counter(t for _l, t in was.trivial)
    for ln, text in now.trivial:
        if trivial[text] > 0:
            trivial[text] -= 1
            add("assertion_neutralised", f"an assertion that cannot fail was added: `{_short(text)}`",
                c.path, ln, f"replace it in {c.path}:{ln} with a real check of the behaviour")


def _count_findings(results: Sequence[GateResult], baseline: Mapping[str, GateResult | None],
                    severity: Severity) -> list[Finding]:
    out = []
    for r in results:
        base = baseline.get(r.name)
        if base is None or r.tests is None or base.tests is None or r.timed_out or base.timed_out:
            continue
        ran = r.tests.passed + r.tests.failed + r.tests.errors
        ran_before = base.tests.passed + base.tests.failed + base.tests.errors
        if ran < ran_before:
            out.append(Finding(
                source="integrity", kind="fewer_tests", severity=severity,
                message=f"gate {r.name} ran {ran} test(s); it ran {ran_before} at the run's baseline",
                fix="bring back the tests that no longer run and make the code pass them"))
        if r.tests.skipped > base.tests.skipped:
            out.append(Finding(
                source="integrity", kind="more_skipped", severity=severity,
                message=f"gate {r.name} skipped {r.tests.skipped} test(s); it skipped "
                        f"{base.tests.skipped} at the run's baseline",
                fix="remove what makes them skip and make the code pass them"))
    return out


def _verb(c: Change, path: str) -> str:
    if c.status == "D":
        return "deleted"
    if c.status == "A":
        return "added"
    if c.old_path and c.old_path != c.path:
        return f"renamed {'from ' + c.old_path if path == c.path else 'to ' + c.path}"
    return "modified"


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
