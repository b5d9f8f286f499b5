"""What a careful user hit, each through the CLI: settings read from the right overseer.yaml,
printed commands that work where they were printed, --mode, usage from a shell agent, what
`config show` shows, and a task answered on its last attempt."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from e2e_helpers import clean_env, git, overseer_cmd

# Reports usage on stdout the way docs/agents.md says a shell agent may.
USAGE_AGENT = """echo "$OVERSEER_TASK_ID" > "$OVERSEER_TASK_ID.txt"; echo '{"input_tokens": 2000, "output_tokens": 10}'"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return clean_env(home)


def _overseer(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(overseer_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _status(cwd: Path, env: dict[str, str], *args: str) -> dict:
    res = _overseer(cwd, env, "status", "--json", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    return dict(json.loads(res.stdout))


def _plan_outside(tmp_path: Path, repo: Path, tasks: str, agent: str = USAGE_AGENT) -> Path:
    """A plan in a directory beside the repository, as a team keeps plans apart from code."""
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "plan.yaml").write_text(f"""\
version: 1
name: outside
workspace: ../{repo.name}
defaults: {{agent: sh, timeout: 60, max_attempts: 1}}
agents:
  sh: {{type: shell, command: {json.dumps(agent)}}}
tasks:
{tasks}""")
    return plans / "plan.yaml"


def test_the_repositorys_settings_apply_and_printed_commands_work_from_the_plans_directory(
        make_repo, tmp_path, env):
    repo = make_repo({"a.txt": "a\n"})
    # The repository's file wins over the one beside the plan where both set a key.
    (repo / "overseer.yaml").write_text("budgets:\n  task_tokens: 1000\n")
    plan = _plan_outside(tmp_path, repo, "  - {id: one, prompt: write one}\n")
    (plan.parent / "overseer.yaml").write_text("budgets:\n  task_tokens: 1000000\n  run_tokens: 5000000\n")

    shown = json.loads(_overseer(repo, env, "config", "show", "--json", "--plan", str(plan)).stdout)
    assert shown["budgets.task_tokens"] == {"value": 1000, "source": f"{repo}/overseer.yaml:2"}
    assert shown["budgets.run_tokens"]["source"] == f"{plan.parent}/overseer.yaml:3"

    res = _overseer(repo, env, "run", str(plan), "--no-wait")
    assert res.returncode == 3, res.stdout + res.stderr
    assert f"settings: {repo}/overseer.yaml is read over {plan.parent}/overseer.yaml" in res.stdout
    st = _status(repo, env)
    [task] = st["tasks"]
    assert (task["input_tokens"], task["output_tokens"]) == (2000, 10)  # the shell agent's usage line
    [bp] = [b for b in st["breakpoints"] if b["state"] == "open"]
    assert bp["kind"] == "budget_exceeded"
    assert f"overseer approve {bp['id']}" in res.stdout

    # Where the commands were printed: the plan's directory, outside any git repository.
    ok = _overseer(plan.parent, env, "approve", bp["id"], "--note", "worth it")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{bp['id']}: approved" in ok.stdout
    done = _overseer(plan.parent, env, "resume", st["run_id"], "--plain")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _status(plan.parent, env, st["run_id"])["state"] == "completed"
    assert "one: one" in git(repo, "log", "--format=%s")

    # An id no repository has still gets one clear message.
    lost = _overseer(plan.parent, env, "approve", "bp-nothere")
    assert lost.returncode == 2 and "no breakpoint 'bp-nothere'" in lost.stderr
    assert "Traceback" not in lost.stderr


def test_mode_copilot_as_a_flag_and_an_answer_on_the_last_attempt_closes_the_task(make_repo, tmp_path, env):
    repo = make_repo({"a.txt": "a\n"})
    plan = repo / "plan.yaml"
    plan.write_text("""\
version: 1
name: copilot
defaults: {agent: sh, timeout: 60, max_attempts: 1}
agents:
  sh: {type: shell, command: "echo one > one.txt"}
tasks:
  - {id: one, prompt: write one}
""")
    res = _overseer(repo, env, "run", "plan.yaml", "--mode", "copilot", "--no-wait", "--plain")
    assert res.returncode == 3, res.stdout + res.stderr
    st = _status(repo, env)
    [bp] = st["breakpoints"]
    assert bp["kind"] == "copilot_review" and bp["state"] == "open"

    # The run keeps the settings it started with; config show says which changes do not reach it.
    (repo / "overseer.yaml").write_text("decision:\n  proceed_at: 0.95\n")
    shown = _overseer(repo, env, "config", "show")
    assert f"run {st['run_id']} (waiting) keeps" in shown.stdout
    assert "decision.proceed_at:" in shown.stdout and "(now 0.95)" in shown.stdout

    ans = _overseer(repo, env, "answer", bp["id"], "also write two.txt")
    assert ans.returncode == 0, ans.stdout + ans.stderr
    end = _overseer(repo, env, "resume", "--plain")
    assert end.returncode == 1, end.stdout + end.stderr
    st = _status(repo, env)
    [task] = st["tasks"]
    # Never left "running": failed, with the answer and the reason nothing more will happen.
    assert task["state"] == "failed"
    assert "also write two.txt" in task["reason"] and "max_attempts 1" in task["reason"]
    assert st["state"] == "failed"


def test_config_show_scrubs_every_value_and_shows_flags(make_repo, env):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "overseer.yaml").write_text(
        "notifications:\n  command: \"curl -H 'Authorization: Bearer tok-4f9a8b7c6d5e' https://hooks.example\"\n"
        "supervisor:\n  api_key_env: MY_REVIEW_KEY\n")
    env = {**env, "OVERSEER_SUPERVISOR__API_KEY_ENV": "ANTHROPIC_API_KEY", "COLUMNS": "80"}
    res = _overseer(repo, env, "config", "show", "--json", "--parallel", "3", "--mode", "copilot")
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert "tok-4f9a8b7c6d5e" not in res.stdout
    assert "Bearer ***" in shown["notifications.command"]["value"]
    # A variable's name is not a secret.
    assert shown["supervisor.api_key_env"]["value"] == "ANTHROPIC_API_KEY"
    assert shown["run.parallel"] == {"value": 3, "source": "flag --parallel"}
    assert shown["run.mode"] == {"value": "copilot", "source": "flag --mode"}

    table = _overseer(repo, env, "config", "show")
    assert table.returncode == 0, table.stderr
    assert "tok-4f9a8b7c6d5e" not in table.stdout
    lines = table.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    # The source column stays readable at 80 columns: the project file, relative to here.
    row = next(line for line in lines if line.startswith("notifications.command"))
    assert row.rstrip().endswith("./overseer.yaml:2"), table.stdout


def test_doctor_suggests_the_agent_type_validate_would(make_repo, env):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text("""\
version: 1
name: typo
agents:
  coder: {type: shel, command: "true"}
tasks:
  - {id: one, prompt: p, agent: coder}
""")
    doc = _overseer(repo, {**env, "COLUMNS": "200"}, "doctor", "--plan", "plan.yaml")
    assert "unknown agent type 'shel'" in doc.stdout and "did you mean 'shell'?" in doc.stdout, doc.stdout
    val = _overseer(repo, env, "validate", "plan.yaml")
    assert "did you mean 'shell'?" in val.stderr


def test_resume_mode_changes_the_mode_the_run_keeps(make_repo, env):
    repo = make_repo({"a.txt": "a\n"})
    (repo / "plan.yaml").write_text("""\
version: 1
name: modes
defaults: {agent: sh, timeout: 60}
agents:
  sh: {type: shell, command: "echo $OVERSEER_TASK_ID > $OVERSEER_TASK_ID.txt"}
tasks:
  - {id: one, prompt: write one}
  - {id: two, prompt: write two, depends_on: [one]}
""")
    res = _overseer(repo, env, "run", "plan.yaml", "--mode", "copilot", "--no-wait")
    assert res.returncode == 3, res.stdout + res.stderr
    [bp] = _status(repo, env)["breakpoints"]
    assert (bp["task"], bp["kind"]) == ("one", "copilot_review")
    assert _overseer(repo, env, "approve", bp["id"]).returncode == 0

    bad = _overseer(repo, env, "resume", "--mode", "pilot")
    assert bad.returncode == 2 and "run.mode" in bad.stderr and "Traceback" not in bad.stderr
    res = _overseer(repo, env, "resume", "--mode", "autopilot", "--plain")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "mode is now autopilot" in res.stdout
    st = _status(repo, env)
    # Task two went through without a person: the run followed the mode it was resumed with.
    assert st["state"] == "completed" and [b["task"] for b in st["breakpoints"]] == ["one"]
