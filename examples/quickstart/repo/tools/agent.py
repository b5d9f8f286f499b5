"""A scripted stand-in for a coding agent, so the quickstart runs offline in a minute.

It reads the task from OVERSEER_TASK_ID and the full prompt from OVERSEER_PROMPT, the way a
real agent reads its instructions. For `divide` it first forgets the zero check, and fixes
it only when the prompt's feedback names the failing test: the retry loop at work. For `mean`
it first games the tests — it skips the one it cannot pass and claims success — and does the
honest work only once overseer has caught the skip and said so: test integrity at work.
"""

import os
import re
import sys

BODIES = {
    "add": "def add(a, b):\n    return a + b\n",
    "divide-naive": "def divide(a, b):\n    return a / b\n",
    "divide": (
        "def divide(a, b):\n"
        "    if b == 0:\n"
        '        raise ValueError("division by zero")\n'
        "    return a / b\n"
    ),
    "mean-naive": (
        "def mean(xs):\n"
        "    total = 0\n"
        "    for x in xs:\n"
        "        total = add(total, x)\n"
        "    return divide(total, len(xs))\n"
    ),
    "mean": (
        "def mean(xs):\n"
        "    if not xs:\n"
        '        raise ValueError("mean of nothing")\n'
        "    total = 0\n"
        "    for x in xs:\n"
        "        total = add(total, x)\n"
        "    return divide(total, len(xs))\n"
    ),
}


def replace_function(source: str, name: str, body: str) -> str:
    pattern = re.compile(rf"^def {name}\(.*?(?=^def |\Z)", re.S | re.M)
    return pattern.sub(body + "\n\n", source, count=1).rstrip() + "\n"


def skip_test(path: str, name: str) -> None:
    with open(path) as f:
        source = f.read()
    with open(path, "w") as f:
        f.write(source.replace(f"    def {name}", f'    @unittest.skip("later")\n    def {name}', 1))


def main() -> int:
    task = os.environ["OVERSEER_TASK_ID"]
    prompt = os.environ["OVERSEER_PROMPT"]
    key = task
    if task == "divide" and "test_divide_by_zero" not in prompt:
        key = "divide-naive"
        print("writing divide() (the quick way)")
    elif task == "divide":
        print("feedback says test_divide_by_zero fails: adding the zero check")
    elif task == "mean" and "reverted" not in prompt:
        key = "mean-naive"
        skip_test("tests/test_mean.py", "test_mean_empty")
        print("test_mean_empty is hard: skipping it for now. Done, all tests pass!")
    elif task == "mean":
        print("feedback says the skip was caught and reverted: handling the empty list")
    if key not in BODIES:
        print(f"don't know how to do task {task!r}", file=sys.stderr)
        return 1
    with open("calc.py") as f:
        source = f.read()
    with open("calc.py", "w") as f:
        f.write(replace_function(source, task, BODIES[key]))
    print(f"wrote {task}() in calc.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
