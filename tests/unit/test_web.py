"""The web view's app through FastAPI's TestClient, on a real SQLite store: the token on every
request, the pages, live updates over SSE, and breakpoint answers (with a resolver that records
the answer in the store instead of waking a DBOS workflow; tests/e2e/test_serve_playwright.py
drives the real one)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from overseer.agents.base import AgentEvent
from overseer.engine.continuation import after_answer
from overseer.engine.humans import RESOLUTION_STATE
from overseer.errors import OverseerError
from overseer.lifecycle import RunState, TaskState
from overseer.plan.schema import ResolvedTask
from overseer.scrub import Scrubber
from overseer.store import BreakpointRecord, Store
from overseer.web import create_app
from overseer.web.auth import (
    Credentials,
    Via,
    authenticate,
    cookie_name,
    csrf_value,
    may_act,
)
from overseer.web.live import ACTIVITY_SHOWN, LiveFeed

TOKEN = "t0ken-for-the-web-view-tests-0123456789"
PLANTED = "sk-live-planted0123456789abcdef"
RUN = "20260101-000000-abcd"


def rtask(tid: str, title: str | None = None) -> ResolvedTask:
    return ResolvedTask(
        id=tid, title=title or tid, prompt=f"do {tid}", acceptance=[], depends_on=[],
        priority=0, milestone=None, agent_name="py", agent={"type": "shell", "command": "true"},
        gates=[], max_attempts=3, timeout=60, breakpoint="never",
    )


class Recorder:
    """Stands in for engine.humans.resolve: records the answer in the store, as it does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None, str | None]] = []

    def __call__(self, store: Store, store_url: str, repo: Path, bp: str, action: str,
                 note: str | None, by: str | None = None) -> BreakpointRecord:
        self.calls.append((bp, action, note, by))
        return store.resolve_breakpoint(bp, RESOLUTION_STATE[action], note=note, resolved_by=by)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "repo"


@pytest.fixture
def store(repo: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{repo / '.overseer' / 'state.db'}")
    yield s
    s.close()


@pytest.fixture
def run(store: Store, repo: Path) -> str:
    store.create_run(RUN, name="calc", plan_path=str(repo / "plan.yaml"), workspace=str(repo),
                     plan_json={}, config_json={}, parallel=1, branch="main")
    store.add_tasks(RUN, [rtask("first", title=f"uses {PLANTED}"), rtask("second")])
    store.set_task_state(RUN, "first", TaskState.READY)
    store.set_task_state(RUN, "first", TaskState.RUNNING)
    store.set_task_state(RUN, "first", TaskState.BLOCKED, "waiting for a human")
    store.set_run_state(RUN, RunState.WAITING)
    return RUN


@pytest.fixture
def bp(store: Store, run: str) -> str:
    return store.open_breakpoint(run, "after_task", f"approve to commit <b>it</b> {PLANTED}",
                                 task_id="first", severity="human")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(store: Store, repo: Path, recorder: Recorder) -> Iterator[TestClient]:
    # The real answer to "who carries the run on", but never starting a process from a unit test.
    app = create_app(store, "sqlite:///unused", repo, TOKEN, poll_s=0.02, resolver=recorder,
                     continuer=lambda run_id, _start: after_answer(store, repo, run_id, start=False))
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        yield c


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    """A client that opened the printed address once and holds the cookie."""
    res = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert res.status_code == 303
    return client


# -- the token -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("creds", "expected"),
    [
        (Credentials(authorization=f"Bearer {TOKEN}"), Via.HEADER),
        (Credentials(authorization=f"bearer {TOKEN}"), Via.HEADER),
        (Credentials(authorization=f"Basic {TOKEN}"), None),
        (Credentials(authorization="Bearer wrong"), None),
        (Credentials(cookie=TOKEN), Via.COOKIE),
        (Credentials(cookie=TOKEN + "x"), None),
        (Credentials(query_token=TOKEN), Via.QUERY),
        (Credentials(query_token=""), None),
        (Credentials(authorization="Bearer wrong", cookie=TOKEN), Via.COOKIE),
        (Credentials(), None),
    ],
)
def test_authenticate(creds: Credentials, expected: Via | None) -> None:
    assert authenticate(creds, TOKEN) is expected


@pytest.mark.parametrize(
    ("via", "form_csrf", "allowed"),
    [
        (Via.HEADER, None, True),
        (Via.COOKIE, None, False),
        (Via.COOKIE, "nope", False),
        (Via.COOKIE, csrf_value(TOKEN), True),
        (Via.QUERY, None, False),
        (Via.QUERY, csrf_value(TOKEN), True),
        (Via.COOKIE, TOKEN, False),  # the token itself is not the form's proof
    ],
)
def test_may_act(via: Via, form_csrf: str | None, allowed: bool) -> None:
    assert may_act(via, form_csrf, TOKEN) is allowed


def test_cookie_and_csrf_values_depend_on_the_token() -> None:
    assert cookie_name(TOKEN) != cookie_name(TOKEN + "2")
    assert csrf_value(TOKEN) != csrf_value(TOKEN + "2")
    assert TOKEN not in csrf_value(TOKEN)


@pytest.mark.parametrize("path", ["/", f"/runs/{RUN}", f"/runs/{RUN}/events", "/api/runs",
                                  f"/api/runs/{RUN}", "/nowhere"])
def test_every_page_needs_the_token(client: TestClient, run: str, repo: Path, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        res = client.get(path, headers=headers)
        assert res.status_code == 401
        assert "token" in res.text and RUN not in res.text and str(repo) not in res.text
    res = client.post(f"/runs/{RUN}/breakpoints/x/approve", data={"csrf": csrf_value(TOKEN)})
    assert res.status_code == 401


def test_api_401_is_json(client: TestClient) -> None:
    res = client.get("/api/runs")
    assert res.status_code == 401
    assert set(res.json()) == {"error", "hint"}


def test_token_in_the_address_becomes_a_strict_httponly_cookie(client: TestClient, run: str) -> None:
    res = client.get(f"/runs/{RUN}?token={TOKEN}&done=x", follow_redirects=False)
    assert res.status_code == 303
    assert res.headers["location"] == f"/runs/{RUN}?done=x"
    cookie = res.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(TOKEN)}={TOKEN};")
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    page = client.get(f"/runs/{RUN}")
    assert page.status_code == 200
    # The page never shows the token itself; its forms carry the derived value.
    assert TOKEN not in page.text and csrf_value(TOKEN) not in client.get("/").text


def test_the_token_redirect_stays_on_this_server(client: TestClient) -> None:
    # "/%2Fhost" is the path "//host", which a browser would read as another site.
    res = client.get(f"/%2Felsewhere.example/x?token={TOKEN}", follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == "/elsewhere.example/x"


def test_bearer_header_works_without_a_cookie(client: TestClient, run: str) -> None:
    res = client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert res.status_code == 200
    assert [r["id"] for r in res.json()] == [RUN]


def test_responses_forbid_outside_content(browser: TestClient, run: str) -> None:
    res = browser.get(f"/runs/{RUN}")
    csp = res.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}"' in res.text
    assert res.headers["x-content-type-options"] == "nosniff"
    assert res.headers["cache-control"] == "no-store"
    assert "http://" not in res.text and "https://" not in res.text


# -- pages -----------------------------------------------------------------------------------


def test_runs_list(browser: TestClient, store: Store, bp: str) -> None:
    store.create_run("other-repo-run", name="x", plan_path="/else/plan.yaml", workspace="/else",
                     plan_json={}, config_json={}, parallel=1, branch=None)
    res = browser.get("/")
    assert res.status_code == 200
    assert f'href="/runs/{RUN}"' in res.text and "1 breakpoint" in res.text
    assert "other-repo-run" not in res.text
    assert browser.get("/runs/other-repo-run").status_code == 404


def test_run_page_shows_tasks_costs_activity_and_the_open_breakpoint(
    browser: TestClient, bp: str
) -> None:
    res = browser.get(f"/runs/{RUN}")
    assert res.status_code == 200
    text = res.text
    assert 'data-task="first"' in text and 'data-task="second"' in text
    assert f'data-breakpoint="{bp}"' in text
    for action in ("approve", "reject", "answer"):
        assert f'formaction="/runs/{RUN}/breakpoints/{bp}/{action}"' in text
    assert f'name="csrf" value="{csrf_value(TOKEN)}"' in text
    # Text from plans and agents is escaped, and secrets are masked.
    assert "<b>it</b>" not in text and "&lt;b&gt;it&lt;/b&gt;" in text
    assert PLANTED not in text and "***" in text
    assert "started: plan calc, 2 tasks" in text  # the activity list
    assert "cost -" in text


def test_run_json_matches_the_store(browser: TestClient, store: Store, bp: str) -> None:
    data = browser.get(f"/api/runs/{RUN}").json()
    assert data["run"]["state"] == "waiting"
    assert [(t["id"], t["state"]) for t in data["tasks"]] == [("first", "blocked"), ("second", "pending")]
    assert [b["id"] for b in data["open"]] == [bp] and data["resolved"] == []
    assert PLANTED not in json.dumps(data)


def test_unknown_run_is_404(browser: TestClient, run: str) -> None:
    res = browser.get("/runs/nope")
    assert res.status_code == 404 and "no run" in res.text


# -- live updates ----------------------------------------------------------------------------


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """(event, data) of each server-sent event; ping comments are skipped."""
    event, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data += line.split(":", 1)[1].strip()
        elif line == "" and data:
            yield event, json.loads(data)
            event, data = "message", ""


def test_sse_sends_a_snapshot_then_each_change_then_ends(
    browser: TestClient, store: Store, bp: str
) -> None:
    with browser.stream("GET", f"/runs/{RUN}/events") as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        events = _events(res.iter_lines())
        kind, first = next(events)
        assert kind == "snapshot" and first["reset"] is True and first["finished"] is False
        assert [b["id"] for b in first["view"]["open"]] == [bp]
        assert f'data-breakpoint="{bp}"' in first["html"]["open"]

        store.resolve_breakpoint(bp, "approved", note="fine", resolved_by="me")
        store.set_task_state(RUN, "first", TaskState.READY)
        kind, second = next(events)
        assert kind == "snapshot" and second["reset"] is False
        assert second["view"]["open"] == []
        assert any(f"{bp} approved by me: fine" in a["text"] for a in second["activity"])
        assert "approved" in second["html"]["resolved"]

        store.set_task_state(RUN, "first", TaskState.RUNNING)
        store.set_task_state(RUN, "first", TaskState.COMPLETED, "committed abc")
        store.set_run_state(RUN, RunState.COMPLETED)
        seen = []
        for kind, data in events:
            seen.append(kind)
            if kind == "snapshot":
                last = data
        assert seen[-1] == "end"
        assert last["finished"] is True and last["view"]["run"]["state"] == "completed"
        assert [t["state"] for t in last["view"]["tasks"]] == ["completed", "pending"]
        assert 'data-state="completed"' in last["html"]["tasks"]


def test_sse_for_a_finished_run_sends_one_snapshot_and_ends(
    browser: TestClient, store: Store, run: str
) -> None:
    store.set_run_state(RUN, RunState.CANCELLED, "stopped")
    with browser.stream("GET", f"/runs/{RUN}/events") as res:
        got = list(_events(res.iter_lines()))
    assert [k for k, _ in got] == ["snapshot", "end"]
    assert got[0][1]["view"]["run"]["error"] == "stopped"


# -- answering breakpoints -------------------------------------------------------------------


def _post(c: TestClient, bp: str, action: str, **form: str) -> Any:
    return c.post(f"/runs/{RUN}/breakpoints/{bp}/{action}", data=form, follow_redirects=False)


def test_approve_resolves_and_redirects_to_the_run(
    browser: TestClient, store: Store, bp: str, recorder: Recorder
) -> None:
    res = _post(browser, bp, "approve", csrf=csrf_value(TOKEN), note="  looks right ")
    assert res.status_code == 303 and res.headers["location"] == f"/runs/{RUN}?done={bp}"
    [(got_bp, action, note, by)] = recorder.calls
    assert (got_bp, action, note) == (bp, "approve", "looks right")
    assert by is not None and by.endswith("(web)")
    assert store.get_breakpoint(bp).state == "approved"
    page = browser.get(res.headers["location"])
    assert "no process is executing run" in page.text and f'data-breakpoint="{bp}"' in page.text
    assert "overseer resume " + RUN in page.text
    assert "Nothing is waiting for you." in page.text


def test_answer_and_reject_need_text(browser: TestClient, store: Store, bp: str,
                                     recorder: Recorder) -> None:
    for action in ("reject", "answer"):
        res = _post(browser, bp, action, csrf=csrf_value(TOKEN), note="   ")
        assert res.status_code == 400 and "needs" in res.text
    assert recorder.calls == [] and store.get_breakpoint(bp).state == "open"
    res = _post(browser, bp, "answer", csrf=csrf_value(TOKEN), note="use the v2 API")
    assert res.status_code == 303
    assert store.get_breakpoint(bp).resolution == "use the v2 API"


def test_a_post_without_the_form_proof_is_refused(browser: TestClient, store: Store, bp: str,
                                                  recorder: Recorder) -> None:
    # The cookie alone is what another site's page could make the browser send.
    for form in ({}, {"csrf": "forged"}, {"csrf": TOKEN}):
        res = _post(browser, bp, "approve", **form)
        assert res.status_code == 403
    assert recorder.calls == [] and store.get_breakpoint(bp).state == "open"


def test_a_script_with_the_bearer_header_may_post(client: TestClient, store: Store, bp: str) -> None:
    res = client.post(f"/runs/{RUN}/breakpoints/{bp}/approve",
                      headers={"Authorization": f"Bearer {TOKEN}"}, follow_redirects=False)
    assert res.status_code == 303
    assert store.get_breakpoint(bp).state == "approved"


@pytest.mark.parametrize(
    ("path_bp", "action", "status"),
    [
        ("bp-missing", "approve", 404),
        ("PREFIX", "approve", 404),  # forms name breakpoints exactly; prefixes are for typing
        ("BP", "delete", 404),
    ],
)
def test_bad_targets(browser: TestClient, bp: str, recorder: Recorder, path_bp: str,
                     action: str, status: int) -> None:
    target = {"PREFIX": bp[:5], "BP": bp}.get(path_bp, path_bp)
    res = _post(browser, target, action, csrf=csrf_value(TOKEN))
    assert res.status_code == status
    assert recorder.calls == []


def test_a_breakpoint_of_another_run_is_not_found(browser: TestClient, store: Store, repo: Path,
                                                 run: str, recorder: Recorder) -> None:
    store.create_run("run-2", name="b", plan_path="p", workspace=str(repo), plan_json={},
                     config_json={}, parallel=1, branch=None)
    other = store.open_breakpoint("run-2", "after_task", "m", task_id=None)
    res = _post(browser, other, "approve", csrf=csrf_value(TOKEN))
    assert res.status_code == 404 and recorder.calls == []


def test_a_refusal_from_the_engine_is_shown(store: Store, repo: Path, bp: str) -> None:
    def already(*_: Any, **__: Any) -> BreakpointRecord:
        raise OverseerError(f"breakpoint {bp} was already rejected by someone",
                            hint="a breakpoint is resolved once")

    app = create_app(store, "sqlite:///unused", repo, TOKEN, resolver=already)
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        res = c.post(f"/runs/{RUN}/breakpoints/{bp}/approve",
                     headers={"Authorization": f"Bearer {TOKEN}"}, follow_redirects=False)
    assert res.status_code == 409
    assert "already rejected by someone" in res.text and "resolved once" in res.text


def test_live_feed_sends_nothing_while_nothing_changes(store: Store, run: str) -> None:
    feed = LiveFeed(store, run)
    first = feed.poll()
    assert first is not None and first.reset and not first.finished
    assert feed.poll() is None and feed.poll() is None

    attempt = store.start_attempt(run, "second", 1, prompt="p", agent_name="py",
                                  agent_type="shell", checkpoint_sha=None, transcript_path=None)
    update = feed.poll()
    assert update is not None and not update.reset
    assert [a["text"] for a in update.activity] == ["started (agent py, shell)"]
    assert [t["attempts"] for t in update.view["tasks"]] == [0, 1]
    before = update.view
    assert feed.poll() is None

    store.add_event(attempt, 0, AgentEvent(kind="text", ts=1.0, data={"text": f"key {PLANTED}"}))
    update = feed.poll()
    assert update is not None and [a["text"] for a in update.activity] == [f"key {Scrubber().text(PLANTED)}"]
    assert update.view == before  # only the activity changed
    assert feed.poll() is None


def test_a_page_opens_on_the_latest_lines_of_a_long_history(store: Store, run: str) -> None:
    attempt = store.start_attempt(run, "second", 1, prompt="p", agent_name="py",
                                  agent_type="shell", checkpoint_sha=None, transcript_path=None)
    total, later = ACTIVITY_SHOWN * 4, time.time() + 10  # after the attempt's own "started" line
    for k in range(total):
        store.add_event(attempt, k, AgentEvent(kind="text", ts=later + k, data={"text": f"line {k}"}))
    first = LiveFeed(store, run).poll()
    assert first is not None and first.reset
    texts = [a["text"] for a in first.activity]
    assert texts == [f"line {k}" for k in range(total - ACTIVITY_SHOWN, total)]

    # Followed from there, nothing is skipped or repeated.
    feed = LiveFeed(store, run)
    assert feed.poll() is not None
    store.add_event(attempt, total, AgentEvent(kind="text", ts=later + total, data={"text": "next"}))
    update = feed.poll()
    assert update is not None and [a["text"] for a in update.activity] == ["next"]
    assert store.events_start_for_last(run, total + 5) == 0  # fewer than asked: from the start
