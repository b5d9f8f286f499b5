"""A step that raises (a bug, a full disk) fails its task with the error named; the run goes on
and ends instead of waiting forever for that task."""

from __future__ import annotations

import json


def test_a_failing_step_fails_its_task_not_the_run(make_repo, run_overseer):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text(
        """\
version: 1
name: faults
agents:
  quick: {type: shell, command: "echo x >> x.txt"}
tasks:
  - {id: one, prompt: write x, agent: quick}
  - {id: two, prompt: write x again, agent: quick, depends_on: [one]}
  - {id: three, prompt: independent, agent: quick}
"""
    )
    res = run_overseer("run", "plan.yaml", cwd=repo, env={"OVERSEER_FAIL_AT": "after_agent"}, timeout=180)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    st = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    assert {t["id"]: t["state"] for t in st["tasks"]} == {"one": "failed", "two": "cancelled", "three": "failed"}
    report = json.dumps(json.loads(run_overseer("export", "--format", "json", cwd=repo).stdout))
    assert "internal error: InjectedFault: injected fault at after_agent" in report


SSH_KEY_MISSING = """\
version: 1
name: sshconf
agents:
  remote:
    type: shell
    command: "echo x >> x.txt"
    transport: {ssh: {host: 127.0.0.1, port: 1, workdir: /tmp, key: /nonexistent/id_ed25519}}
tasks:
  - {id: one, prompt: write x, agent: remote}
"""


def test_a_configuration_problem_fails_the_task_with_its_fix_not_as_a_bug(make_repo, run_overseer):
    # An SSH key file that is not there: no retry would help, and it is not overseer's bug.
    repo = make_repo({"plan.yaml": SSH_KEY_MISSING})
    res = run_overseer("run", "plan.yaml", cwd=repo, timeout=180)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    st = json.loads(run_overseer("status", "--json", cwd=repo).stdout)
    assert [t["state"] for t in st["tasks"]] == ["failed"]
    report = json.dumps(json.loads(run_overseer("export", "--format", "json", cwd=repo).stdout))
    assert "ssh key file not found: /nonexistent/id_ed25519 (fix: set `key:`" in report
    assert "internal error" not in report
