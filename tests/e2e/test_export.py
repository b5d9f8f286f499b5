"""`overseer export` on a real run's data: every section, totals equal to `status --json`,
planted secrets absent, HTML self-contained, -o writes the file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import clean_env, git, overseer_cmd

# Secrets the run sees, each reaching the record by a different road: the process env (agent
# and gate print it; the gate output becomes the retry prompt), the plan's agent env (the
# exporting shell never has it), a header and a key=value line that no env var names, and a
# person's approval note.
ENV_KEY = "sk-test-PLANTED123456789"
PLAN_TOKEN = "plantedplantoken-4711"
BEARER = "plantedbearer-98765432"
APIKEY = "plantedapikey-24680"
NOTE_KEY = "sk-notekey-PLANTED55555"
SECRETS = [ENV_KEY, "PLANTED123456789", PLAN_TOKEN, BEARER, APIKEY, NOTE_KEY]

AGENT = """\
import os
n = os.environ["OVERSEER_ATTEMPT"]
print("agent key", os.environ["OPENAI_API_KEY"])
print("service token", os.environ["SERVICE_TOKEN"])
print("Authorization: Bearer %s" % os.environ["BEARER_VALUE"])
print("config api_key=%s" % os.environ["APIKEY_VALUE"])
body = "return abs(x) * 2" if n == "1" else "return x * 2"
open("mathx.py", "w").write("def double(x):\\n    " + body + "\\n")
print("did double attempt", n)
"""

TESTS = """\
import os
from mathx import double

def test_double():
    assert double(2) == 4

def test_double_negative():
    print("gate sees", os.environ.get("OPENAI_API_KEY"))
    assert double(-2) == -4
"""


def _plan(junit: Path) -> str:
    return f"""\
version: 1
name: export-e2e
defaults: {{agent: py, max_attempts: 3, timeout: 60}}
agents:
  py:
    type: shell
    command: "python3 tools/agent.py"
    env: {{SERVICE_TOKEN: "{PLAN_TOKEN}", BEARER_VALUE: "{BEARER}", APIKEY_VALUE: "{APIKEY}"}}
gates:
  - {{name: unit, run: "{sys.executable} -m pytest -q -s -p no:cacheprovider --junitxml={junit} test_mathx.py", junit: "{junit}", timeout: 60}}
tasks:
  - id: double
    title: Write double()
    prompt: Write double(x) in mathx.py.
    acceptance: ["test_mathx passes"]
    gates: [unit]
    breakpoint: after
"""


class Run:
    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.repo, self.env = repo, env

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(overseer_cmd(*args), cwd=self.repo, env=env or self.env,
                              capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One real run: attempt 1 fails its gate, attempt 2 passes, a person approves with a note."""
    base = tmp_path_factory.mktemp("export")
    home = base / "home"
    home.mkdir()
    repo = base / "repo"
    (repo / "tools").mkdir(parents=True)
    (repo / "tools" / "agent.py").write_text(AGENT)
    (repo / "test_mathx.py").write_text(TESTS)
    (repo / "mathx.py").write_text("")
    (repo / "plan.yaml").write_text(_plan(base / "junit.xml"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    run = Run(repo, {**clean_env(home), "OPENAI_API_KEY": ENV_KEY})

    res = run.cli("run", "plan.yaml", "--no-wait")
    # Besides the plan's `breakpoint: after`, built-in rules may stop the run (a test that
    # passed at baseline now failing): a person approves whatever it stops at.
    for _ in range(5):
        assert res.returncode in (0, 3), res.stdout + res.stderr
        if res.returncode == 0:
            return run
        status = json.loads(run.cli("status", "--json").stdout)
        for bp in status["breakpoints"]:
            if bp["state"] == "open":
                ok = run.cli("approve", bp["id"], "--note", f"looks right; pasted {NOTE_KEY} by mistake")
                assert ok.returncode == 0, ok.stdout + ok.stderr
        res = run.cli("resume", "--no-wait")
    raise AssertionError("the run did not finish: " + res.stdout + res.stderr)


def _export(run: Run, fmt: str, env: dict[str, str] | None = None) -> str:
    res = run.cli("export", "--format", fmt, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout


def _no_secrets(text: str) -> None:
    for s in SECRETS:
        assert s not in text


def test_json_holds_every_fact_and_matches_status(finished_run: Run) -> None:
    report: dict[str, Any] = json.loads(_export(finished_run, "json"))
    status = json.loads(finished_run.cli("status", "--json").stdout)
    assert set(report) >= {"run", "totals", "tasks", "breakpoints", "timeline"}
    assert report["run"]["id"] == status["run_id"] and report["run"]["state"] == "completed"
    assert report["run"]["plan_name"] == "export-e2e"
    for key in ("cost_usd", "tokens", "duration_s"):
        assert report["totals"][key] == status["totals"][key]
    assert report["totals"]["attempts"] == sum(t["attempts"] for t in status["tasks"])
    assert report["totals"]["tasks_by_state"] == {"completed": 1}

    [task] = report["tasks"]
    assert task["id"] == "double" and task["state"] == "completed" and task["commit_sha"]
    first, second = task["attempts"]
    assert (first["n"], second["n"]) == (1, 2)
    for a in (first, second):
        assert a["agent"] == "py" and a["agent_type"] == "shell"
        assert a["turns"] == 1 and a["status"] == "completed"
        assert set(a) >= {"prompt", "model", "tokens", "cost_usd", "cost_estimated", "duration_s"}
        assert a["diff"]["files"][0]["path"] == "mathx.py"
        assert a["verdict"] is not None and a["decision"]["reasons"]
    assert first["prompt"].startswith("Write double(x) in mathx.py.")
    assert "test_double_negative" in second["prompt"]  # the retry carried the gate's feedback

    [gate1], [gate2] = first["gates"], second["gates"]
    assert gate1["name"] == "unit" and not gate1["passed"] and gate1["required"]
    assert gate1["tests"] == {"passed": 1, "failed": 1, "skipped": 0, "errors": 0}
    assert any("test_double_negative" in f for f in gate1["failing_tests"])
    assert "gate sees" in gate1["output_tail"]
    assert gate2["passed"] and gate2["tests"]["failed"] == 0
    assert first["decision"]["action"] == "retry" and second["decision"]["action"] == "proceed"

    bps = report["breakpoints"]
    assert [b["id"] for b in bps] == [b["id"] for b in status["breakpoints"]]
    for bp in bps:
        assert bp["task"] == "double" and bp["state"] == "approved"
        assert bp["resolved_by"] and bp["resolved_at"] and bp["note"].startswith("looks right")
    [after] = [b for b in bps if b["kind"] == "after_task"]
    assert after["attempt"] == 2 and after in second["breakpoints"]

    kinds = [e["kind"] for e in report["timeline"]]
    assert kinds[0] == "run" and kinds[-1] == "run"
    assert kinds.count("decision") == 2 and kinds.count("breakpoint") == 2 * len(bps)
    times = [e["at"] for e in report["timeline"]]
    assert times == sorted(times)


def test_markdown_has_every_section(finished_run: Run) -> None:
    md = _export(finished_run, "md")
    for heading in ("# Run report: export-e2e", "## Summary", "## Totals", "## Tasks",
                    "### Task `double`", "#### Attempt 1: completed", "#### Attempt 2: completed",
                    "##### Prompt", "##### Diff stat", "##### Gates", "##### Verdict",
                    "##### Decision", "##### Breakpoints", "## Breakpoints", "## Timeline"):
        assert heading in md, heading
    assert "**retry**" in md and "**proceed**" in md
    assert "`mathx.py`" in md and "test_double_negative" in md
    assert "looks right" in md and "approved" in md


def test_html_is_one_self_contained_file(finished_run: Run) -> None:
    html = _export(finished_run, "html")
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for section in ("summary", "totals", "tasks", "breakpoints", "timeline"):
        assert f'<section id="{section}">' in html, section
    assert "<details" in html and "<style>" in html
    assert "Attempt 1" in html and "test_double_negative" in html and "looks right" in html
    # Nothing to fetch: no remote URL at all, no external stylesheet, script, image or import.
    assert not re.search(r"https?://", html)
    assert not re.search(r"<link\b|<script\b|<img\b|<iframe\b|@import|url\(", html, re.I)


def test_planted_secrets_appear_nowhere(finished_run: Run) -> None:
    outputs = {fmt: _export(finished_run, fmt) for fmt in ("md", "json", "html")}
    # Also from a shell that never had the key: patterns and the plan's env still catch it.
    without = {k: v for k, v in finished_run.env.items() if k != "OPENAI_API_KEY"}
    outputs["json-no-env"] = _export(finished_run, "json", env=without)
    for text in outputs.values():
        _no_secrets(text)
        assert "***" in text
    report = json.loads(outputs["json-no-env"])
    assert "agent key sk-***[" in report["tasks"][0]["attempts"][0]["final_message"]
    # The record itself was masked when it was written (no secret at rest), with the same mask.
    run_dir = next((finished_run.repo / ".overseer" / "runs").iterdir())
    transcript = (run_dir / "double" / "1" / "transcript.jsonl").read_text()
    assert ENV_KEY not in transcript and "agent key sk-***[" in transcript


def test_output_file(finished_run: Run, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    res = finished_run.cli("export", "--format", "html", "-o", str(target))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert str(target) in res.stderr
    assert target.read_text().startswith("<!DOCTYPE html>")
    _no_secrets(target.read_text())


def test_unknown_format_is_bad_input(finished_run: Run) -> None:
    res = finished_run.cli("export", "--format", "pdf")
    assert res.returncode == 2
    assert "unknown format" in res.stderr and "Traceback" not in res.stderr
