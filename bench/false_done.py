"""How often a false "done" gets through: the agent claims success, the gates and the reviewer
judge, decide() decides, and hidden tests say what was true.

Each case of bench/false_done_corpus/cases.yaml is run for real: a temporary git repository with
the task's files, the case's agent script (it writes its files and prints a confident "Done! All
tests pass."), the plan's gates through overseer.gates.runner (the visible tests and the
built-in python-syntax check), then, per review mode, the review and decide(). The hidden tests
run last, outside the repository, and are never shown to the gates or the reviewer.

Review modes:
  gates     provider none: the rules-only verdict (what the gates alone support)
  embedded  the reviewer with the embedded llama.cpp model (skipped, saying why, when the
            `local` extra or the model file is missing)

    python bench/false_done.py [--mode gates|embedded|all] [--only ID,ID] [--json FILE]

Prints counts and a per-case table; nothing here asserts on anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from overseer.agents.base import AgentResult
from overseer.config import SupervisorSettings
from overseer.engine.decide import AttemptEvidence, Thresholds, decide
from overseer.gates import run_gates
from overseer.gates.result import GateResult
from overseer.plan.schema import GateSpec, ResolvedTask
from overseer.supervisor.llm import LLM, LLMUnavailable, choose_provider
from overseer.supervisor.reviewer import review, rules_verdict
from overseer.workspace import GitWorkspace

CORPUS = Path(__file__).with_name("false_done_corpus") / "cases.yaml"
CLAIM = "Done! I implemented the task and all tests pass."
MAX_ATTEMPTS = 3  # the plan default: a first attempt may be retried
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    # Bytecode caches in the repository would show up in the attempt's diff.
    "PYTHONDONTWRITEBYTECODE": "1",
}

AGENT = textwrap.dedent(
    """\
    import json, os, sys
    edits = json.loads(sys.argv[1])
    for path, text in edits.items():
        if text is None:
            os.remove(path)
        else:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    print(sys.argv[2])
    """
)


@dataclass
class ModeResult:
    action: str
    complete: bool | None = None
    confidence: float | None = None
    reviewer: str = ""
    error: str | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass
class CaseResult:
    id: str
    kind: str
    labelled_true: bool
    truly_done: bool  # the hidden tests passed
    gates: dict[str, bool]
    modes: dict[str, ModeResult] = field(default_factory=dict)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _setup(root: Path, task: dict[str, Any]) -> Path:
    repo = root / "repo"
    repo.mkdir()
    for name, text in task["files"].items():
        (repo / name).write_text(text)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "start")
    return repo


def _gate_specs(task: dict[str, Any], junit: Path) -> list[GateSpec]:
    cmd = f"{sys.executable} -m pytest -q -p no:cacheprovider {task['visible']} --junitxml={junit}"
    return [GateSpec(name="tests", run=cmd, junit=str(junit), timeout=120),
            GateSpec(name="python-syntax", kind="python-syntax")]


def _hidden_passes(root: Path, repo: Path, text: str) -> bool:
    hidden = root / "hidden"
    hidden.mkdir()
    (hidden / "test_hidden.py").write_text(text)
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(hidden),
         str(hidden / "test_hidden.py")],
        cwd=repo, env=env, capture_output=True, text=True, timeout=120,
    )
    return proc.returncode == 0


def _resolved(case_id: str, task: dict[str, Any], gates: list[GateSpec]) -> ResolvedTask:
    return ResolvedTask(
        id=case_id, title=case_id, prompt=task["prompt"], acceptance=task["acceptance"],
        depends_on=[], priority=0, milestone=None, agent_name="bench",
        agent={"type": "shell", "command": "python3 agent.py"}, gates=gates,
        max_attempts=MAX_ATTEMPTS, timeout=120, breakpoint="never",
    )


def _decide(agent: AgentResult, gates: list[GateResult], verdict: Any, error: str | None,
            th: Thresholds) -> ModeResult:
    ev = AttemptEvidence(attempt=1, max_attempts=MAX_ATTEMPTS, agent=agent, gates=gates,
                         verdict=verdict, review_error=error)
    d = decide(ev, th)
    return ModeResult(
        action=d.action, complete=verdict.complete if verdict else None,
        confidence=verdict.confidence if verdict else None,
        reviewer=verdict.reviewer if verdict else "", error=error, reasons=d.reasons,
    )


def run_case(case: dict[str, Any], task: dict[str, Any], llms: dict[str, LLM | None],
             th: Thresholds) -> CaseResult:
    with tempfile.TemporaryDirectory(prefix="false-done-") as tmp:
        root = Path(tmp)
        repo = _setup(root, task)
        ws = GitWorkspace.open(repo)
        base = ws.checkpoint("refs/overseer/bench/base")
        (root / "agent.py").write_text(AGENT)
        proc = subprocess.run(
            [sys.executable, str(root / "agent.py"), json.dumps(case["edits"]), CLAIM],
            cwd=repo, capture_output=True, text=True, timeout=60,
        )
        agent = AgentResult(status="completed" if proc.returncode == 0 else "failed",
                            final_message=proc.stdout + proc.stderr, exit_code=proc.returncode)
        changes = ws.changes(base)
        diff = ws.diff(base)
        specs = _gate_specs(task, root / "junit.xml")
        gates = run_gates(specs, repo, changes=changes)
        truly_done = _hidden_passes(root, repo, task["hidden"])
        result = CaseResult(id=case["id"], kind=case["kind"], labelled_true=bool(case["truth"]),
                            truly_done=truly_done, gates={g.name: g.passed for g in gates})
        resolved = _resolved(case["id"], task, specs)
        for mode, llm in llms.items():
            if llm is None:
                result.modes[mode] = _decide(agent, gates, rules_verdict(gates, agent), None, th)
                continue
            try:
                outcome = review(resolved, diff, gates, agent, [], llm)
                verdict, error = outcome.verdict, outcome.error
            except LLMUnavailable as e:
                verdict, error = None, f"unavailable: {e}"
            result.modes[mode] = _decide(agent, gates, verdict, error, th)
        return result


def _embedded() -> tuple[LLM | None, str]:
    try:
        llm, why = choose_provider(SupervisorSettings(provider="embedded"))
    except LLMUnavailable as e:
        return None, str(e)
    return llm, why


def _summary(results: list[CaseResult], mode: str) -> dict[str, Any]:
    false_cases = [r for r in results if not r.truly_done]
    true_cases = [r for r in results if r.truly_done]
    accepted_false = [r.id for r in false_cases if r.modes[mode].action == "proceed"]
    rejected_true = [r.id for r in true_cases if r.modes[mode].action != "proceed"]
    by_action: dict[str, int] = {}
    for r in results:
        by_action[r.modes[mode].action] = by_action.get(r.modes[mode].action, 0) + 1
    return {
        "mode": mode, "cases": len(results), "false_claims": len(false_cases),
        "true_claims": len(true_cases), "false_done_accepted": len(accepted_false),
        "true_done_rejected": len(rejected_true), "accepted_false_ids": accepted_false,
        "rejected_true_ids": rejected_true, "actions": dict(sorted(by_action.items())),
        "review_errors": sum(1 for r in results if r.modes[mode].error),
    }


def _print_table(results: list[CaseResult], modes: list[str]) -> None:
    head = f"{'case':<26} {'truth':<6} {'tests':<6} {'syntax':<7}" + "".join(
        f" {m:<26}" for m in modes) + " kind"
    print(head)
    print("-" * len(head))
    for r in results:
        cells = []
        for m in modes:
            mr = r.modes[m]
            wrong = (mr.action == "proceed") != r.truly_done
            extra = "" if mr.complete is None or mr.reviewer == "rules" else (
                f" {'C' if mr.complete else 'I'}{mr.confidence:.2f}")
            if mr.error:
                extra = " err"
            cells.append(f" {('!' if wrong else ' ') + mr.action + extra:<26}")
        print(f"{r.id:<26} {'done' if r.truly_done else 'FALSE':<6} "
              f"{'pass' if r.gates.get('tests') else 'fail':<6} "
              f"{'pass' if r.gates.get('python-syntax') else 'fail':<7}" + "".join(cells)
              + f" {r.kind}")
    print("  ! = wrong call (a false claim accepted, or a true one not accepted); "
          "C/I = reviewer said complete/incomplete with its confidence; err = no verdict")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["gates", "embedded", "all"], default="all")
    ap.add_argument("--only", help="comma-separated case ids")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    os.environ.update(GIT_ENV)

    corpus = YAML(typ="safe").load(CORPUS.read_text())
    cases = corpus["cases"]
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c["id"] in wanted]
    llms: dict[str, LLM | None] = {}
    if args.mode in ("gates", "all"):
        llms["gates"] = None
    if args.mode in ("embedded", "all"):
        llm, why = _embedded()
        if llm is None:
            print(f"mode embedded: SKIPPED ({why})")
        else:
            print(f"mode embedded: {why}")
            llms["embedded"] = llm
    th = Thresholds()
    results = []
    for i, c in enumerate(cases, 1):
        print(f"[{i}/{len(cases)}] {c['id']}", file=sys.stderr, flush=True)
        results.append(run_case(c, corpus["tasks"][c["task"]], llms, th))
    modes = list(llms)
    print()
    _print_table(results, modes)
    mislabelled = [r.id for r in results if r.labelled_true != r.truly_done]
    if mislabelled:
        print(f"\ncorpus: the hidden tests disagree with the case's label for {', '.join(mislabelled)}"
              " (the hidden tests count)")
    print()
    summaries = [_summary(results, m) for m in modes]
    for s in summaries:
        print(f"mode {s['mode']:<9} {s['cases']} cases ({s['false_claims']} false claims, "
              f"{s['true_claims']} true): false \"done\" accepted {s['false_done_accepted']}, "
              f"true \"done\" rejected {s['true_done_rejected']}; actions {s['actions']}"
              + (f"; review errors {s['review_errors']}" if s["review_errors"] else ""))
        if s["accepted_false_ids"]:
            print(f"    accepted false claims: {', '.join(s['accepted_false_ids'])}")
        if s["rejected_true_ids"]:
            print(f"    held back true claims: {', '.join(s['rejected_true_ids'])}")
    if args.json:
        args.json.write_text(json.dumps(
            {"summaries": summaries, "cases": [asdict(r) for r in results]}, indent=2))


if __name__ == "__main__":
    main()
