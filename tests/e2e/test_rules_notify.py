"""A user's CEL rule parks a task; the notification hook is told the exact command to resolve it."""

from __future__ import annotations

import json


def test_user_rule_opens_breakpoint_and_hook_names_the_command(make_repo, run_overseer, tmp_path):
    inbox = tmp_path / "inbox.txt"
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        """\
version: 1
name: rules
defaults: {agent: sh, timeout: 60}
agents:
  sh: {type: shell, command: "seq 1 20 > big.txt"}
tasks:
  - {id: big, prompt: write a lot}
"""
    )
    (repo / "overseer.yaml").write_text(
        f"""\
breakpoints:
  rules:
    - name: big_change_rule
      when: "lines_changed > 10 && task.id == 'big'"
      kind: big_change
      mode: human
      message: "task {{task.id}} changed {{lines_changed}} lines"
notifications:
  command: "cat >> {inbox}; echo >> {inbox}"
"""
    )
    res = run_overseer("run", "plan.yaml", "--no-wait", cwd=repo)
    assert res.returncode == 3, res.stdout + res.stderr
    st = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    [bp] = [b for b in st["breakpoints"] if b["state"] == "open"]
    assert bp["kind"] == "big_change" and "changed 20 lines" in bp["reason"]
    assert f"overseer approve {bp['id']}" in inbox.read_text()

    assert run_overseer("approve", bp["id"], cwd=repo).returncode == 0
    res = run_overseer("resume", cwd=repo)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (repo / "big.txt").read_text().splitlines()[-1] == "20"
    assert "completed" in inbox.read_text().split(bp["id"])[-1]


def test_bad_rule_is_bad_input_before_anything_runs(make_repo, run_overseer):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        "version: 1\nname: x\nagents: {s: {type: shell, command: 'touch ran'}}\n"
        "tasks:\n  - {id: a, prompt: p, agent: s}\n"
    )
    (repo / "overseer.yaml").write_text(
        "breakpoints:\n  rules:\n    - {name: broken, when: 'lines_changed >', kind: x}\n"
    )
    res = run_overseer("run", "plan.yaml", cwd=repo)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "broken" in res.stderr and "Traceback" not in res.stderr
    assert not (repo / "ran").exists()
