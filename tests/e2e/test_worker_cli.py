"""`overseer worker`'s refusals: one clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import time

from e2e_helpers import clean_env, overseer_cmd


def test_worker_refuses_sqlite(make_repo, run_overseer):
    repo = make_repo({"a.txt": "a\n"})
    res = run_overseer("worker", cwd=repo, timeout=60)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "PostgreSQL" in res.stderr and "database.url" in res.stderr
    assert "Traceback" not in res.stderr


def test_worker_name_is_one_process_at_a_time(make_repo, tmp_path, postgres_url):
    repo = make_repo({"a.txt": "a\n"})
    home = tmp_path / "home"
    home.mkdir()
    env = {**clean_env(home), "OVERSEER_DATABASE__URL": postgres_url}
    first = subprocess.Popen(overseer_cmd("worker", "--id", "solo-test"), cwd=repo, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert first.stdout is not None
        line = first.stdout.readline()
        assert "worker solo-test" in line, line
        second = subprocess.run(overseer_cmd("worker", "--id", "solo-test"), cwd=repo, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "already running" in second.stderr and "--id" in second.stderr
    finally:
        first.terminate()
        deadline = time.monotonic() + 30
        while first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0
