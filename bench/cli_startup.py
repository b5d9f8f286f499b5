"""How long the `overseer` console script takes for commands a person types all day.

A throwaway git repository gets one finished run (one no-op task); then each command below
runs as a whole process, `--repeat` times, and the median wall time is printed next to the
interpreter's own floor (`python -c pass`) measured in the same run. The heavy imports each
command pulls in are listed too (from `python -X importtime`), since that is where the time goes.

    python bench/cli_startup.py [--repeat 9]

Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

SCRIPT = Path(sys.executable).with_name("overseer")
HEAVY = ("sqlalchemy", "dbos", "alembic", "httpx", "openai", "anthropic", "llama_cpp", "fastapi",
         "uvicorn", "apprise", "asyncssh", "psycopg")
COMMANDS: list[tuple[str, list[str]]] = [
    ("--help", ["--help"]),
    ("validate plan.yaml", ["validate", "plan.yaml"]),
    ("schema plan", ["schema", "plan"]),
    ("status", ["status"]),
    ("status --json", ["status", "--json"]),
]
PLAN = """\
version: 1
name: startup
defaults: {agent: noop, gates: [noop], max_attempts: 1}
agents: {noop: {type: shell, command: 'true'}}
gates: [{name: noop, run: 'true'}]
tasks:
  - {id: one, prompt: nothing}
"""


def median_ms(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def heavy_imports(args: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    code = "import sys; from overseer.cli.main import main; sys.argv = ['overseer', *sys.argv[1:]]; main()"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    tops = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
            if line.startswith("import time:")}
    return [m for m in HEAVY if m in tops]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    a = ap.parse_args()
    env = {**_common.overseer_env(None), "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory(prefix="overseer-bench-cli-") as tmp:
        repo = _common.new_repo(Path(tmp), "repo", PLAN)
        subprocess.run([str(SCRIPT), "run", "plan.yaml", "--yes"], cwd=repo, env=env, check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)
        floor = median_ms([sys.executable, "-c", "pass"], repo, env, a.repeat)
        print(f"machine: {os.cpu_count()} cores; {a.repeat} runs each, medians")
        print(f"{'command':<22}{'ms':>8}{'floor':>8}  heavy imports")
        print(f"{'python -c pass':<22}{floor:>8.0f}{floor:>8.0f}")
        for label, args in COMMANDS:
            ms = median_ms([str(SCRIPT), *args], repo, env, a.repeat)
            heavy = ", ".join(heavy_imports(args, repo, env)) or "none"
            print(f"{label:<22}{ms:>8.0f}{floor:>8.0f}  {heavy}")


if __name__ == "__main__":
    main()
