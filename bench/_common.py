"""What both engine benchmarks measure against: DBOS's own floor, and the cost of the no-op
processes a no-op task still starts. Run from bench/ scripts (`import _common`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

FLOOR = textwrap.dedent(
    """
    import sys, time
    from dbos import DBOS
    n, db = int(sys.argv[1]), sys.argv[2]

    @DBOS.step()
    def noop(i):
        return i

    @DBOS.workflow()
    def one_step(i):
        return noop(i)

    DBOS(config={"name": "floor", "system_database_url": db, "log_level": "WARNING",
                 "application_version": "bench"})
    DBOS.launch()
    one_step(-1)  # warm up
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        one_step(i)
    print(time.perf_counter() - t0, time.process_time() - c0)
    DBOS.destroy()
    """
)


def floor(n: int, db: str) -> tuple[float, float]:
    """DBOS alone: (wall, CPU) seconds per one-step workflow."""
    out = subprocess.run([sys.executable, "-c", FLOOR, str(n), db],
                         check=True, capture_output=True, text=True).stdout
    wall, cpu = out.strip().splitlines()[-1].split()
    return float(wall) / n, float(cpu) / n


def spawn_cost(k: int = 50) -> float:
    """What two no-op processes (agent + gate) cost per task on this machine, by themselves."""
    t0 = time.perf_counter()
    for _ in range(k):
        subprocess.run(["bash", "-c", "true"], check=True)
        subprocess.run(["bash", "-c", "true"], check=True)
    return (time.perf_counter() - t0) / k
