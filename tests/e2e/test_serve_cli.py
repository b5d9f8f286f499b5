"""`overseer serve` through the real entry point: refusals with their hints, and a real server
on a free port that wants the token, lists the run and stops on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
from e2e_helpers import clean_env, overseer_cmd, serving

from overseer.store import Store


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return clean_env(home)


def _repo_with_state(make_repo: Callable[[dict[str, str]], Path], run_id: str | None = None) -> Path:
    repo = make_repo({"README": "x\n"})
    store = Store.open(f"sqlite:///{repo / '.overseer' / 'state.db'}")
    try:
        if run_id:
            store.create_run(run_id, name="demo", plan_path=str(repo / "plan.yaml"),
                             workspace=str(repo), plan_json={}, config_json={}, parallel=1,
                             branch="main")
    finally:
        store.close()
    return repo


def test_outside_a_git_repository(tmp_path: Path) -> None:
    res = subprocess.run(overseer_cmd("serve"), cwd=tmp_path, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "not inside a git repository" in res.stderr and "Traceback" not in res.stderr


def test_a_repository_without_runs(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"README": "x\n"})
    res = subprocess.run(overseer_cmd("serve"), cwd=repo, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "no overseer runs in" in res.stderr and "hint: start one" in res.stderr
    assert not (repo / ".overseer").exists()


def test_a_busy_port(make_repo, tmp_path: Path) -> None:
    repo = _repo_with_state(make_repo)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        res = subprocess.run(overseer_cmd("serve", "--port", str(port)), cwd=repo,
                             env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr and "--port" in res.stderr
    assert "Traceback" not in res.stderr


def test_the_server_wants_its_token_and_stops_on_ctrl_c(make_repo, tmp_path: Path) -> None:
    repo = _repo_with_state(make_repo, "20260101-000000-cli1")
    with serving(repo, _env(tmp_path)) as s:
        assert s.url.startswith("http://127.0.0.1:")  # loopback unless told otherwise
        with httpx.Client(base_url=s.base, timeout=30) as web:
            assert web.get("/").status_code == 401
            assert web.get("/api/runs", headers={"Authorization": "Bearer nope"}).status_code == 401
            first = web.get(f"/?token={s.token}")
            assert first.status_code == 303 and first.headers["location"] == "/"
            page = web.get("/")  # the cookie the first answer set
            assert page.status_code == 200 and "20260101-000000-cli1" in page.text
            runs = web.get("/api/runs", headers={"Authorization": f"Bearer {s.token}"}).json()
            assert [r["id"] for r in runs] == ["20260101-000000-cli1"]
        s.proc.send_signal(signal.SIGINT)
        out, err = s.proc.communicate(timeout=30)
    assert s.proc.returncode == 130, err
    # The token is printed once, in the address; no access log repeats it.
    everything = "".join(s.lines) + out + err
    assert everything.count(s.token) == 1, everything
