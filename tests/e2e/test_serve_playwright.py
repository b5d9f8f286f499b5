"""The web view in a real browser: Debian's chromium driven by Playwright approves a breakpoint
that `overseer run --no-wait` parked; with no process executing the run, the server resumes it
in the background, and the open page shows the tasks completing through its live updates,
without reloading and without anybody typing a command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import git, overseer_cmd, parked_run
from test_serve_cli import serving

from realbin import missing

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SECRET = "sk-live-webview0123456789abcdef"
UPDATE_WAIT_MS = 60_000

AGENT = f"""\
import os
task = os.environ["OVERSEER_TASK_ID"]
open(f"{{task}}.txt", "w").write(task + "\\n")
print("wrote", task, "with key {SECRET}")
"""

PLAN = """\
version: 1
name: web
defaults: {agent: py, timeout: 60, max_attempts: 2}
agents:
  py: {type: shell, command: "python3 tools/agent.py"}
tasks:
  - {id: first, prompt: write first, breakpoint: after}
  - {id: second, prompt: write second, depends_on: [first]}
"""


def _chromium() -> str:
    path = os.environ.get("OVERSEER_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        missing("Debian chromium", "make system-deps (apt-get install chromium)")
    return path


@pytest.fixture
def page() -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package", "pip install -e '.[dev]'")
    with sync_playwright() as p:
        # Debian's browser, never one Playwright would download.
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(UPDATE_WAIT_MS)  # actions on a loaded machine
            yield page
        finally:
            browser.close()


def _status(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    res = subprocess.run(overseer_cmd("status", "--json"), cwd=repo, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def test_approve_in_the_browser_and_watch_the_task_finish(make_repo, tmp_path: Path, page: Any) -> None:
    from playwright.sync_api import expect

    repo = make_repo({"tools/agent.py": AGENT, "plan.yaml": PLAN})
    env = parked_run(repo, tmp_path / "home")
    st = _status(repo, env)
    [bp] = [b["id"] for b in st["breakpoints"] if b["state"] == "open"]
    run_id = st["run_id"]

    with serving(repo, env) as server:
        page.goto(server.url)
        # The token left the address for a cookie.
        assert page.url == server.base + "/"
        page.click(f"a[href='/runs/{run_id}']")
        form = page.locator(f"form[data-breakpoint='{bp}']")
        expect(form).to_contain_text("after_task")
        expect(page.locator("tr[data-task='first'] [data-state]")).to_have_text("blocked")
        expect(page.locator("#activity")).to_contain_text("wrote first with key sk-***[")
        assert "first: first" not in git(repo, "log", "--format=%s")
        assert SECRET not in page.content()

        form.get_by_role("button", name="Approve").click()
        # Answering wakes DBOS through its client: slower than a page on a loaded machine.
        expect(page.locator("#notice")).to_contain_text(f"{bp} approved", timeout=UPDATE_WAIT_MS)
        expect(page.locator("#notice")).to_contain_text(
            f"no process was executing run {run_id}, so `overseer resume {run_id} --no-wait` was started")
        expect(page.locator("#no-open")).to_be_visible()
        assert [b["state"] for b in _status(repo, env)["breakpoints"]] == ["approved"]

        # From here on the page must change by itself: a reload would lose this mark.
        page.evaluate("window.__not_reloaded = true")
        expect(page.locator("tr[data-task='first'] [data-state]")).to_have_text(
            "completed", timeout=UPDATE_WAIT_MS)
        expect(page.locator("tr[data-task='second'] [data-state]")).to_have_text(
            "completed", timeout=UPDATE_WAIT_MS)
        expect(page.locator("#run-state")).to_have_text("completed", timeout=UPDATE_WAIT_MS)
        expect(page.locator("#live-status")).to_have_text("run finished", timeout=UPDATE_WAIT_MS)
        expect(page.locator("#part-resolved")).to_contain_text("approved")
        assert page.evaluate("window.__not_reloaded") is True
        assert SECRET not in page.content()

    assert sorted(git(repo, "log", "--format=%s").splitlines()) == [
        "first: first", "second: second", "start"]
    # The background resume wrote where the notice said, and finished the run.
    log = (repo / ".overseer" / "runs" / run_id / "run.log").read_text()
    assert f"run {run_id}: resuming" in log and SECRET not in log


REVIEW_AGENT = """\
import os
n = os.environ["OVERSEER_ATTEMPT"]
body = "    # TODO: negative numbers\\n    return a + b\\n" if n == "1" else "    return a + b\\n"
open("calc.py", "w").write("def add(a, b):\\n" + body)
print("attempt", n, "prompt:", os.environ["OVERSEER_PROMPT"].replace("\\n", " | "))
"""

REVIEW_PLAN = """\
version: 1
name: review-on-a-phone
defaults: {agent: py, timeout: 60, max_attempts: 3}
agents:
  py: {type: shell, command: "python3 tools/agent.py"}
tasks:
  - id: add
    title: Add numbers
    prompt: implement add
    breakpoint: after
    gates: [{name: unit, run: "python3 -m unittest -v test_calc"}]
"""

REVIEW_TEST = """\
import unittest
from calc import add

class T(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)
"""

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("device", sorted(VIEWPORTS))
def test_review_and_reject_from_the_notification_link(make_repo, tmp_path: Path, page: Any, device: str) -> None:
    """From the link a notification carries, on a desktop and at a phone's width: the diff, the
    gates and the findings are there; a rejection with a note reaches the next prompt."""
    from urllib.parse import urlsplit

    from playwright.sync_api import expect

    inbox = tmp_path / "urls.txt"
    repo = make_repo({"tools/agent.py": REVIEW_AGENT, "plan.yaml": REVIEW_PLAN, "test_calc.py": REVIEW_TEST,
                      "calc.py": "def add(a, b):\n    raise NotImplementedError\n"})
    (repo / "overseer.yaml").write_text(
        f"notifications:\n  command: 'printf \"%s\\\\n\" \"$OVERSEER_URL\" >> {inbox}'\n  events: [breakpoint]\n")
    env = parked_run(repo, tmp_path / "home")
    [bp] = [b["id"] for b in _status(repo, env)["breakpoints"] if b["state"] == "open"]
    link = urlsplit(inbox.read_text().split()[0])
    page.set_viewport_size(VIEWPORTS[device])

    with serving(repo, env) as server:
        page.goto(f"{server.base}{link.path}?{link.query}")
        form = page.locator(f"form[data-breakpoint='{bp}']")
        expect(form).to_contain_text("after_task")
        expect(page.locator("pre.diff .add").first).to_contain_text("+")
        expect(page.locator("pre.diff")).to_contain_text("return a + b")
        expect(page.locator("tr[data-gate='unit']")).to_contain_text("passed")
        expect(page.locator("#findings")).to_contain_text("TODO")
        # At a phone's width nothing forces a sideways scroll of the page itself.
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[device]["width"] + 1
        shots = os.environ.get("OVERSEER_SCREENSHOTS")
        if shots:
            page.screenshot(path=str(Path(shots) / f"attempt-page-{device}.png"), full_page=True)

        form.locator("textarea[name=note]").fill("handle negative numbers, then drop the TODO")
        form.get_by_role("button", name="Reject").click()
        expect(page.locator("#notice")).to_contain_text("rejected", timeout=UPDATE_WAIT_MS)

        # The parked run goes on by itself; the next attempt's prompt carries the note.
        def second_prompt() -> str:
            res = subprocess.run(overseer_cmd("show", "add#2", "--json"), cwd=repo, env=env,
                                 capture_output=True, text=True, timeout=60)
            return str(json.loads(res.stdout)["attempt"]["prompt"]) if res.returncode == 0 else ""

        deadline = time.monotonic() + UPDATE_WAIT_MS / 1000
        while "handle negative numbers" not in second_prompt() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "handle negative numbers, then drop the TODO" in second_prompt()
        if shots:
            page.goto(f"{server.url.split('/?')[0]}/runs/{_status(repo, env)['run_id']}?token={server.token}")
            expect(page.locator("#activity")).to_contain_text("rejected")
            page.screenshot(path=str(Path(shots) / f"run-timeline-{device}.png"), full_page=True)
