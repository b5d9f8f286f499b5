"""`overseer bench reviewer`: the corpus against a reviewer on a fake OpenAI-compatible server;
its figures are printed and stored where decide() and `auto` read them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.openai_chat import FakeOpenAIChat, completion
from tests.fakes.server import Request, Response

from overseer.supervisor import reliability


def _verdict(complete: bool) -> str:
    return json.dumps({"issues": [] if complete else [{"severity": "major", "description": "tests skipped"}],
                       "unmet_criteria": [], "complete": complete, "score": 0.9 if complete else 0.1,
                       "confidence": 0.9, "follow_up": ""})


def _judge(req: Request) -> Response:
    # Says "incomplete" exactly when the attempt skipped tests: a reviewer with perfect signal here.
    prompt = json.dumps(req.json()["messages"])
    return completion(_verdict("unittest.skip" not in prompt))


def _overseer(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "overseer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env})


def test_bench_reviewer_measures_and_saves_figures(tmp_path: Path, reviewer_figures: Path) -> None:
    with FakeOpenAIChat([_judge] * 10) as server:
        env = {"OVERSEER_SUPERVISOR__PROVIDER": "openai-compatible",
               "OVERSEER_SUPERVISOR__BASE_URL": server.base_url, "OVERSEER_SUPERVISOR__MODEL": "fake-model"}
        proc = _overseer(["bench", "reviewer", "--only", "stack-skip-class,stack-correct"], tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "caught 1 of 1 false claims, held back 0 of 1 true ones" in proc.stdout
    fig = reliability.load("openai-compatible:fake-model", reviewer_figures)
    assert fig is not None and (fig.false_claims, fig.false_caught, fig.true_held_back) == (1, 1, 0)
    assert reliability.weight(fig) == 1.0


def test_bench_reviewer_without_a_reviewer_says_how_to_get_one(tmp_path: Path) -> None:
    proc = _overseer(["bench", "reviewer"], tmp_path, {"OVERSEER_SUPERVISOR__PROVIDER": "none"})
    assert proc.returncode == 2
    assert "no reviewer to measure" in proc.stderr and "--provider embedded" in proc.stderr
    assert "Traceback" not in proc.stderr
