"""`overseer init` through the real CLI: the plan it writes fits the project and the agents the
user has, and validates as written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml
from e2e_helpers import clean_env, overseer_cmd


def _init(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(overseer_cmd("init"), cwd=repo, env=env, capture_output=True, text=True, timeout=60)


def test_init_in_a_go_repository_with_claude_logged_in(tmp_path: Path) -> None:
    repo = tmp_path / "billing-api"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "go.mod").write_text("module example.com/billing\n")
    (repo / ".golangci.yml").write_text("linters: {}\n")
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / ".credentials.json").write_text("{}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("claude", "gemini"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        os.chmod(bin_dir / name, 0o755)
    env = {**clean_env(home), "PATH": str(bin_dir)}
    env.pop("GEMINI_API_KEY", None)

    res = _init(repo, env)
    assert res.returncode == 0, res.stderr
    plan = yaml.safe_load((repo / "plan.yaml").read_text())
    assert plan["name"] == "billing-api"
    assert [(g["name"], g["run"]) for g in plan["gates"]] == [
        ("tests", "go test ./..."), ("vet", "go vet ./..."), ("lint", "golangci-lint run")]
    assert list(plan["agents"]) == ["claude", "gemini"] and plan["defaults"]["agent"] == "claude"
    assert plan["agents"]["claude"]["type"] == "claude-code"
    assert "python3 -m pytest" not in (repo / "plan.yaml").read_text()
    assert "gate tests: go test ./...  (from go.mod)" in res.stdout
    assert "agent claude (claude-code)" in res.stdout and "logged in" in res.stdout
    valid = subprocess.run(overseer_cmd("validate", "plan.yaml"), cwd=repo, env=env, capture_output=True,
                           text=True, timeout=60)
    assert valid.returncode == 0, valid.stdout + valid.stderr


def test_init_with_nothing_to_find_says_so_and_still_validates(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    home = tmp_path / "home"
    home.mkdir()
    env = {**clean_env(home), "PATH": str(tmp_path / "no-bin")}  # no agent CLI anywhere on it
    res = _init(repo, env)
    assert res.returncode == 0, res.stderr
    assert "no test command found" in res.stdout and "no agent CLI found on PATH" in res.stdout
    plan = yaml.safe_load((repo / "plan.yaml").read_text())
    assert plan["agents"]["coder"]["type"] == "shell" and "gates" not in plan
    valid = subprocess.run(overseer_cmd("validate", "plan.yaml"), cwd=repo, env=env, capture_output=True,
                           text=True, timeout=60)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    again = _init(repo, env)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
