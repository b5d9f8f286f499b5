"""`overseer show` and `overseer diff` through the real CLI: an attempt as a pull request —
its exact diff against its checkpoint (kept after a retry put the tree back), its gates, the
decision, the prompt — and a person's note on the next attempt's page."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import jsonschema
from e2e_helpers import clean_env, git, overseer_cmd, serving

DOCS = Path(__file__).resolve().parents[2] / "docs"

AGENT = """\
import os
n = int(os.environ["OVERSEER_ATTEMPT"])
body = "return a + b" if n >= 2 else "return a - b  # attempt one"
open("calc.py", "w").write(f"def add(a, b):\\n    {body}\\n")
print(f"wrote attempt {n}")
"""

TEST = """\
import unittest
from calc import add

class T(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)
"""

PLAN = """\
version: 1
name: show-me
defaults: {agent: py, timeout: 60, max_attempts: 3}
agents:
  py: {type: shell, command: "python3 tools/agent.py"}
gates:
  - {name: unit, run: "python3 -m unittest -v test_calc"}
tasks:
  - {id: add, title: Add numbers, prompt: implement add, gates: [unit], breakpoint: after}
"""


def _cli(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(overseer_cmd(*args), cwd=repo, env=env, capture_output=True, text=True, timeout=120)


def test_show_and_diff_of_each_attempt(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"tools/agent.py": AGENT, "test_calc.py": TEST, "calc.py": "def add(a, b):\n    raise NotImplementedError\n",
                      "plan.yaml": PLAN})
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    res = _cli(repo, env, "run", "plan.yaml", "--no-wait")
    assert res.returncode == 3, res.stdout + res.stderr  # attempt 2 passed and waits at `after`
    st = json.loads(_cli(repo, env, "status", "--json").stdout)
    [bp] = [b for b in st["breakpoints"] if b["state"] == "open"]

    # Attempt 1: its own diff, though the retry has long put the tree back.
    first = _cli(repo, env, "diff", "add#1")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("diff --git a/calc.py b/calc.py")
    assert "+    return a - b  # attempt one" in first.stdout and "a + b" not in first.stdout
    assert "-    raise NotImplementedError" in first.stdout

    shown = _cli(repo, env, "show", "add#1")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "add#1  Add numbers" in text and "attempt 1 of 2: completed" in text
    assert "✗ unit  exit 1" in text and "tests: 1 failed" in text and "AssertionError: -1 != 5" in text
    assert "decision: retry" in text
    assert "implement add" in text  # the prompt
    assert "return a - b  # attempt one" in text  # the diff
    assert "1 file, +1 −1" in text and "M calc.py" in text

    # A breakpoint id shows the attempt it stopped at.
    at_bp = _cli(repo, env, "show", bp["id"], "--json")
    assert at_bp.returncode == 0, at_bp.stderr
    view = json.loads(at_bp.stdout)
    # It is what docs/schemas/show.json documents, and that file is what `schema show` prints.
    documented = json.loads((DOCS / "schemas" / "show.json").read_text())
    assert json.loads(_cli(repo, env, "schema", "show").stdout) == documented
    jsonschema.validate(view, documented)
    assert view["task"] == "add" and view["attempt"]["n"] == 2 and view["attempts"] == 2
    assert "+    return a + b" in view["diff"] and view["diff_source"] == "the tree the attempt left"
    assert [g["passed"] for g in view["attempt"]["gates"]] == [True]
    assert [b["id"] for b in view["attempt"]["breakpoints"]] == [bp["id"]]

    _web_pages(repo, env, st["run_id"], bp["id"])

    # A person's note on attempt 2 is on attempt 3's page, verbatim.
    rej = _cli(repo, env, "reject", bp["id"], "--note", "name the test case too, please")
    assert rej.returncode == 0, rej.stdout + rej.stderr
    res = _cli(repo, env, "resume", "--no-wait")
    assert res.returncode == 3, res.stdout + res.stderr
    third = _cli(repo, env, "show", "add")
    assert "attempt 3 of 3" in third.stdout
    assert f"rejected at {bp['id']}" in third.stdout and "name the test case too, please" in third.stdout
    third_page = json.loads(_cli(repo, env, "show", "add#3", "--json").stdout)
    assert "name the test case too, please" in third_page["attempt"]["prompt"]
    assert "> keep add() pure" in third_page["attempt"]["prompt"]  # the web box's message, too
    assert [(s["message"], s["how"]) for s in third_page["steers"]] == [("keep add() pure", "prompt")]

    # Bad targets: one message, a hint, no traceback.
    for args, words in ((("show", "nope"), "no task 'nope'"), (("show", "add#9"), "has no attempt 9"),
                        (("diff", "add#x"), "TASK#ATTEMPT")):
        bad = _cli(repo, env, *args)
        assert bad.returncode == 2 and words in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    st = json.loads(_cli(repo, env, "status", "--json").stdout)
    [bp3] = [b for b in st["breakpoints"] if b["state"] == "open"]
    assert _cli(repo, env, "approve", bp3["id"]).returncode == 0
    assert _cli(repo, env, "resume").returncode == 0
    assert "+    return a + b" in git(repo, "show", "--format=", "HEAD")
    assert git(repo, "status", "--porcelain") == ""


def _web_pages(repo: Path, env: dict[str, str], run_id: str, bp_id: str) -> None:
    """The same attempt in `overseer serve`: linked from the task row and the breakpoint card."""
    with serving(repo, env) as s, httpx.Client(base_url=s.base, follow_redirects=True, timeout=30) as web:
        run_page = web.get(f"/runs/{run_id}?token={s.token}").text
        assert f'href="/runs/{run_id}/tasks/add"' in run_page  # the task row
        card = run_page.split(f'data-breakpoint="{bp_id}"', 1)[1].split("</form>", 1)[0]
        assert "1 file" in card and "+1" in card and "−1" in card and "✓ unit" in card
        assert f'href="/runs/{run_id}/tasks/add/attempts/2">review the change' in card

        first = web.get(f"/runs/{run_id}/tasks/add/attempts/1")
        assert first.status_code == 200
        page = first.text
        assert 'name="viewport"' in page  # phone width
        assert '<span class="del">-    raise NotImplementedError</span>' in page
        assert '<span class="add">+    return a - b  # attempt one</span>' in page
        assert 'data-gate="unit"' in page and "AssertionError: -1 != 5" in page and ">failed<" in page
        assert "decision: <span class=\"state retry\">retry</span>" in page
        assert "implement add" in page  # the prompt, behind a toggle

        last = web.get(f"/runs/{run_id}/tasks/add").text
        assert "<code>add#2</code>" in last and "answer it" in last
        data = web.get(f"/api/runs/{run_id}/tasks/add/attempts/2").json()
        assert data["attempt"]["n"] == 2 and "+    return a + b" in data["diff"]
        missing = web.get(f"/runs/{run_id}/tasks/nope")
        assert missing.status_code == 404 and "no task" in missing.text

        # The task's page has the steering box; a message sent there waits for the next prompt.
        csrf = re.search(r'id="steer".*?name="csrf" value="([0-9a-f]+)"', last, re.S)
        assert csrf, last
        no_proof = web.post(f"/runs/{run_id}/tasks/add/steer", data={"message": "x"})
        assert no_proof.status_code == 403
        sent = web.post(f"/runs/{run_id}/tasks/add/steer", data={"csrf": csrf.group(1),
                                                                  "message": "keep add() pure"})
        assert sent.status_code == 200 and "waiting for the next prompt" in sent.text and "keep add() pure" in sent.text
