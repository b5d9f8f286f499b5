"""The false-done benchmark's own promise, on a sample of its corpus: integrity refuses each way
of gaming the tests, a holdout gate refuses a hard-coded answer, and true claims go through."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.realbin import missing

ROOT = Path(__file__).resolve().parents[2]
GAMING = ["stack-skip-class", "stack-assert-true", "primes-xfail", "duration-conftest-skip",
          "wrap-gate-exit-0", "roman-changed-expected"]
TRUE = ["stack-correct-more-tests", "sign-correct-fixed-test"]
NODE = ["temp-test-skip", "temp-correct-more-tests"]


def test_integrity_refuses_gaming_and_holdout_refuses_hard_coding(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        missing("node", "install Node.js 20 (make system-deps)")
    cases = [*GAMING, *TRUE, *NODE, "wrap-hardcoded"]
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "false_done.py"), "--mode", "all", "--only", ",".join(cases),
         "--json", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = {r["id"]: r for r in json.loads(out.read_text())["cases"]}
    assert set(results) == set(cases)
    for cid in [*GAMING, "temp-test-skip"]:
        r = results[cid]
        assert not r["truly_done"], cid
        assert r["modes"]["gates"]["action"] == "proceed", f"{cid}: the gates alone should be fooled"
        assert r["modes"]["integrity"]["action"] == "retry", cid
        assert r["findings"], cid
    for cid in [*TRUE, "temp-correct-more-tests"]:
        r = results[cid]
        assert r["truly_done"], cid
        assert {m["action"] for m in r["modes"].values()} == {"proceed"}, cid
    hard = results["wrap-hardcoded"]
    assert hard["modes"]["integrity"]["action"] == "proceed"
    assert hard["modes"]["holdout"]["action"] == "retry" and hard["gates"]["holdout"] is False
