"""`overseer doctor` through the installed console script, in a scratch project."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import clean_env

OVERSEER = Path(sys.executable).parent / "overseer"


def _doctor(cwd: Path, home: Path, *args: str, env_extra: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    exe = str(OVERSEER) if OVERSEER.exists() else shutil.which("overseer")
    if exe is None:
        pytest.fail("the overseer console script is not installed (pip install -e .)")
    env = {**clean_env(home), **(env_extra or {})}
    env["COLUMNS"] = "200"  # keep table rows on one line each, so the assertions can read them
    return subprocess.run([exe, "doctor", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _plan(tmp_path: Path, agents: str) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\nname: doctor check\n"
        f"agents:\n{agents}"
        "tasks:\n  - id: one\n    prompt: do it\n    agent: main\n"
    )
    return plan


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def test_shell_agent_whose_command_exists_is_ok(tmp_path: Path, home: Path) -> None:
    _plan(tmp_path, "  main:\n    type: shell\n    command: python3 -c 'print(1)'\n")
    done = _doctor(tmp_path, home)  # plan.yaml in cwd is picked up without --plan
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if "agent main (shell)" in line)
    assert " ok " in row and "command " in row and "python3" in row and "(local)" in row
    assert "git version" in done.stdout
    # How agents die with overseer, measured on this machine.
    row = next(line for line in done.stdout.splitlines() if "agent watchdog" in line)
    assert " ok " in row and "kill -9" in row and re.search(r"measured: \d+ ms", row), row
    assert "everything needed is in place" in done.stdout
    assert not (tmp_path / ".overseer").exists()  # doctor reports; it creates no state


def test_missing_binary_is_a_problem_with_a_fix(tmp_path: Path, home: Path) -> None:
    # claude-code when it is installed; else another type with a `binary` key. Either way the
    # binary is what is missing.
    probe = subprocess.run(
        [sys.executable, "-c", "from overseer.agents.registry import agent_types; "
         "print(' '.join(agent_types()))"], capture_output=True, text=True, check=True,
    )
    kind = "claude-code" if "claude-code" in probe.stdout.split() else "codex"
    plan = _plan(tmp_path / "", f"  main:\n    type: {kind}\n    binary: /nonexistent/claude\n")
    other = tmp_path / "elsewhere"
    other.mkdir()
    done = _doctor(other, home, "--plan", str(plan))
    assert done.returncode == 1, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if f"agent main ({kind})" in line)
    assert "problem" in row and "/nonexistent/claude not found (local)" in row
    assert "set the agent's `binary:` to its path" in row
    assert "some checks failed" in done.stdout
    assert "Traceback" not in done.stderr


def test_json_output_shape(tmp_path: Path, home: Path) -> None:
    plan = _plan(tmp_path, "  main:\n    type: shell\n    command: definitely-not-a-program-xyz\n")
    done = _doctor(tmp_path, home, "--plan", str(plan), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"ok", "checks"} and report["ok"] is False
    for check in report["checks"]:
        assert set(check) == {"name", "status", "detail", "fix", "required"}
        assert check["status"] in {"ok", "problem", "note"}
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["git"]["status"] == "ok"
    assert by_name["database"]["status"] == "ok"
    assert by_name["supervisor LLM"]["status"] == "note"
    agent = by_name["agent main (shell)"]
    assert agent["status"] == "problem" and agent["required"] is True
    assert "definitely-not-a-program-xyz not found" in agent["detail"] and agent["fix"]


def test_invalid_plan_and_bad_config_are_reported(tmp_path: Path, home: Path) -> None:
    (tmp_path / "plan.yaml").write_text("version: 1\nname: x\ntasks: []\n")
    (tmp_path / "overseer.yaml").write_text("run:\n  parallel: 0\n")
    done = _doctor(tmp_path, home, "--json")
    assert done.returncode == 1
    by_name = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert by_name["plan"]["status"] == "problem" and "overseer validate" in by_name["plan"]["fix"]
    assert by_name["config"]["status"] == "problem"
    assert os.path.exists(tmp_path / "plan.yaml")


def _supervisor_row(tmp_path: Path, home: Path, env: dict[str, str]) -> dict[str, str]:
    done = _doctor(tmp_path, home, "--json", env_extra=env)
    assert "Traceback" not in done.stderr
    return dict({c["name"]: c for c in json.loads(done.stdout)["checks"]}["supervisor LLM"])


def test_supervisor_endpoint_that_answers_is_ok(tmp_path: Path, home: Path) -> None:
    from tests.fakes.openai_chat import FakeOpenAIChat

    with FakeOpenAIChat([]) as server:
        row = _supervisor_row(tmp_path, home, {"OVERSEER_SUPERVISOR__PROVIDER": "openai-compatible",
                                               "OVERSEER_SUPERVISOR__BASE_URL": server.base_url})
        assert any(r.path.endswith("/models") for r in server.requests)
    assert row["status"] == "ok" and "openai-compatible" in row["detail"], row


def test_supervisor_endpoint_that_is_down_is_a_problem_with_a_fix(tmp_path: Path, home: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    row = _supervisor_row(tmp_path, home, {"OVERSEER_SUPERVISOR__PROVIDER": "openai-compatible",
                                           "OVERSEER_SUPERVISOR__BASE_URL": f"http://127.0.0.1:{port}/v1"})
    assert row["status"] == "problem" and "does not answer" in row["detail"], row
    assert "supervisor.base_url" in row["fix"]


def test_web_port_in_use_is_reported(tmp_path: Path, home: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _doctor(tmp_path, home, "--json", env_extra={"OVERSEER_WEB__PORT": str(port)})
    row = {c["name"]: c for c in json.loads(done.stdout)["checks"]}["web port"]
    assert row["status"] == "note" and str(port) in row["detail"] and "web.port" in row["fix"], row
    free = _doctor(tmp_path, home, "--json", env_extra={"OVERSEER_WEB__PORT": str(port)})
    assert {c["name"]: c for c in json.loads(free.stdout)["checks"]}["web port"]["status"] == "ok"
