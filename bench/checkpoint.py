"""Checkpoint and restore times on repositories of 1k and 10k files, next to `git stash`.

For each size a repository is generated in a temp dir (nested folders, ~5% binary files),
committed, then made dirty the way a user's tree is (edits, untracked files, a deletion). On
that same tree:

- checkpoint: GitWorkspace.checkpoint (exact tree, untracked included, user index untouched);
- restore: an "agent" changes 1% of files, adds and deletes some; GitWorkspace.restore puts
  the checkpoint back;
- stash: `git stash push -u` then `git stash pop`, the closest thing git offers (and which,
  unlike a checkpoint, empties the work tree in between).

    python bench/checkpoint.py [--sizes 1000 10000] [--repeat 3]

Prints medians and ratios; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from overseer.workspace import GitWorkspace  # noqa: E402

ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
       "GIT_COMMITTER_EMAIL": "b@b"}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env=ENV, check=True, capture_output=True)


def make_repo(root: Path, n: int, rng: random.Random) -> list[Path]:
    files = []
    for i in range(n):
        d = root / f"pkg{i % 17}" / f"mod{i % 5}" / (f"deep{i % 3}" if i % 2 else "")
        d.mkdir(parents=True, exist_ok=True)
        if i % 20 == 0:
            p = d / f"asset{i}.bin"
            p.write_bytes(rng.randbytes(4096))
        else:
            p = d / f"file{i}.py"
            p.write_text("".join(f"value_{i}_{k} = {rng.random()!r}\n" for k in range(12)))
        files.append(p)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "generated")
    return files


def dirty_like_a_user(root: Path, files: list[Path], rng: random.Random) -> None:
    for p in rng.sample(files, max(1, len(files) // 200)):
        if p.exists():
            with p.open("a") as f:
                f.write("# user's edit\n")
    for i in range(max(1, len(files) // 200)):
        (root / f"untracked{i}.txt").write_text("notes\n")
    victim = files[1]
    if victim.exists():
        victim.unlink()


def agent_changes(root: Path, files: list[Path], rng: random.Random) -> None:
    for p in rng.sample(files, max(1, len(files) // 100)):
        if p.exists():
            p.write_bytes(p.read_bytes() + b"# agent\n")
    (root / "agent_new" / "x").mkdir(parents=True, exist_ok=True)
    for i in range(max(1, len(files) // 500)):
        (root / "agent_new" / "x" / f"n{i}.py").write_text("y = 2\n")
    for p in rng.sample(files, 3):
        if p.exists():
            p.unlink()
    os.chmod(files[2], 0o755)


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench(n: int, repeat: int) -> dict[str, float]:
    rng = random.Random(n)
    results: dict[str, list[float]] = {k: [] for k in ("checkpoint", "restore", "stash push -u", "stash pop")}
    with tempfile.TemporaryDirectory(prefix=f"overseer-bench-{n}-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        files = make_repo(root, n, rng)
        dirty_like_a_user(root, files, rng)
        ws = GitWorkspace.open(root)
        ws.checkpoint("refs/overseer/bench/warmup/0")  # first `add -A` refreshes the stat cache
        for r in range(repeat):
            t = time.perf_counter()
            sha = ws.checkpoint(f"refs/overseer/bench/t/{r}")
            results["checkpoint"].append(time.perf_counter() - t)
            agent_changes(root, files, rng)
            t = time.perf_counter()
            ws.restore(sha)
            results["restore"].append(time.perf_counter() - t)
            results["stash push -u"].append(timed(lambda: git(root, "stash", "push", "-u", "-q")))
            results["stash pop"].append(timed(lambda: git(root, "stash", "pop", "-q")))
        shutil.rmtree(root / ".git" / "overseer-tmp", ignore_errors=True)
    return {k: statistics.median(v) for k, v in results.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"git {subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.split()[-1]}, "
          f"median of {args.repeat}, seconds")
    print(f"{'files':>7} {'checkpoint':>11} {'restore':>9} {'stash push':>11} {'stash pop':>10}"
          f" {'ckpt/push':>10} {'restore/pop':>12} {'ckpt+restore / push+pop':>24}")
    for n in args.sizes:
        m = bench(n, args.repeat)
        push, pop = m["stash push -u"], m["stash pop"]
        print(
            f"{n:>7} {m['checkpoint']:>11.3f} {m['restore']:>9.3f} {push:>11.3f} {pop:>10.3f}"
            f" {m['checkpoint'] / push:>10.2f} {m['restore'] / pop:>12.2f}"
            f" {(m['checkpoint'] + m['restore']) / (push + pop):>24.2f}"
        )


if __name__ == "__main__":
    main()
