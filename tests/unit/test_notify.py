"""Notifications: real command hooks, a real apprise POST to a local server, failures contained."""

from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.server import FakeServer, Request, Response

from overseer.config import NotificationsSettings
from overseer.events import Event, publish
from overseer.notify import Notifier, notification_for

BP = Event(type="breakpoint", run_id="run-1", task_id="t1", attempt=2,
           data={"id": "bp-1a2b3c4d", "kind": "breaking_test_failure",
                 "message": "task t1 broke tests that passed before: test_a"})


def hook_writing_to(out: Path) -> str:
    """A hook that saves its stdin and the variables overseer set."""
    q = shlex.quote(str(out))
    return (f"cat > {q}.stdin; printf '%s' \"$OVERSEER_MESSAGE\" > {q}.env_message; "
            f"printf '%s|%s|%s|%s|%s' \"$OVERSEER_EVENT\" \"$OVERSEER_RUN_ID\" "
            f"\"$OVERSEER_TASK_ID\" \"$OVERSEER_BREAKPOINT_ID\" \"$OVERSEER_RESOLVE\" > {q}.vars")


def notifier(**kw: Any) -> Notifier:
    return Notifier(NotificationsSettings(**{"timeout": 20, **kw}))


NOTIFY_CASES: list[tuple[Event, str | None, list[str]]] = [
    (BP, "breakpoint", ["overseer approve bp-1a2b3c4d", "overseer reject bp-1a2b3c4d --note",
                        "overseer answer bp-1a2b3c4d", "overseer resume run-1", "test_a"]),
    (Event(type="breakpoint", run_id="r", task_id="t", data={"id": "bp-x", "kind": "k",
                                                             "message": "m", "mode": "auto"}),
     None, []),
    (Event(type="task_state", run_id="run-1", task_id="t2",
           data={"state": "failed", "reason": "no attempts left after 3"}),
     "task_failed", ["overseer status run-1", "overseer rollback t2 --run run-1",
                     "no attempts left after 3"]),
    (Event(type="task_state", run_id="run-1", task_id="t2", data={"state": "running"}), None, []),
    (Event(type="run_finished", run_id="run-1",
           data={"state": "failed", "tasks": {"a": "completed", "b": "failed"}}),
     "run_finished", ["overseer status run-1", "1 of 2 tasks completed; not completed: b"]),
    (Event(type="notice", run_id="run-1", data={"message": "hi"}), None, []),
]


@pytest.mark.parametrize(("event", "kind", "mentions"), NOTIFY_CASES,
                         ids=[f"{c[0].type}-{i}" for i, c in enumerate(NOTIFY_CASES)])
def test_which_events_notify_and_the_command_each_names(
    event: Event, kind: str | None, mentions: list[str]
) -> None:
    n = notification_for(event)
    if kind is None:
        assert n is None
        return
    assert n is not None and n.event == kind
    for text in mentions:
        assert text in n.text
    assert n.resolve in n.text


def test_command_hook_gets_the_message_on_stdin_and_in_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "got"
    nt = notifier(command=hook_writing_to(out))
    n = notification_for(BP)
    assert n is not None
    nt.send(n)
    assert nt.failures == []
    assert (tmp_path / "got.stdin").read_text() == n.text
    assert (tmp_path / "got.env_message").read_text() == n.text
    assert (tmp_path / "got.vars").read_text() == (
        "breakpoint|run-1|t1|bp-1a2b3c4d|overseer approve bp-1a2b3c4d")


def test_the_message_is_never_run_by_the_shell(tmp_path: Path) -> None:
    out = tmp_path / "got"
    evil = f"$(touch {tmp_path}/pwned) `touch {tmp_path}/pwned2`; touch {tmp_path}/pwned3 '\""
    ev = Event(type="breakpoint", run_id="r", task_id="t",
               data={"id": "bp-1", "kind": "k", "message": evil})
    nt = notifier(command=hook_writing_to(out))
    n = notification_for(ev)
    assert n is not None
    nt.send(n)
    assert evil in (tmp_path / "got.stdin").read_text()
    assert evil in (tmp_path / "got.env_message").read_text()
    assert not list(tmp_path.glob("pwned*"))


def test_subscribed_notifier_sends_from_its_own_thread(tmp_path: Path) -> None:
    out = tmp_path / "got"
    nt = notifier(command=hook_writing_to(out), events=["breakpoint", "task_failed"])
    unsubscribe = nt.subscribe()
    try:
        publish(Event(type="run_finished", run_id="run-1", data={"state": "completed"}))
        publish(BP)
    finally:
        unsubscribe()
    assert nt.flush(timeout=60)
    assert nt.sent == 1  # run_finished is not in `events`
    assert "overseer approve bp-1a2b3c4d" in (tmp_path / "got.stdin").read_text()


def test_apprise_url_gets_a_real_post(caplog: pytest.LogCaptureFixture) -> None:
    def ok(_req: Request) -> Response:
        return Response.json({"ok": True})

    caplog.set_level(logging.DEBUG)
    with FakeServer(ok) as srv:
        url = f"json://127.0.0.1:{srv.port}/hooks/sekrit-token-123"
        nt = notifier(urls=[url])
        n = notification_for(BP)
        assert n is not None
        nt.send(n)
        assert nt.failures == []
        posts = [r for r in srv.requests if r.method == "POST"]
        assert len(posts) == 1
        assert posts[0].path == "/hooks/sekrit-token-123"
        body = posts[0].json()
        assert body["title"] == n.title
        assert "overseer approve bp-1a2b3c4d" in body["message"]
    assert "sekrit-token-123" not in caplog.text


def test_failures_are_recorded_and_logged_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(_req: Request) -> Response:
        return Response(status=500, body=b"no")

    caplog.set_level(logging.DEBUG)
    with FakeServer(refuse) as srv:
        bad_url = f"json://127.0.0.1:{srv.port}/sekrit-token-456"
        nt = notifier(urls=[bad_url, "notaservice://sekrit-token-789"], command="echo oops >&2; exit 3")
        n = notification_for(BP)
        assert n is not None
        nt.send(n)  # does not raise
    assert any("URL #1 (json://) was not accepted" in f for f in nt.failures)
    assert any("URL #2 (notaservice://) is not a URL apprise understands" in f for f in nt.failures)
    assert any("command exited 3: oops" in f for f in nt.failures)
    assert "sekrit-token" not in caplog.text
    assert "URL #1 (json://) was not accepted" in caplog.text


def test_a_hung_hook_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    nt = Notifier(NotificationsSettings(command=f"sleep 60 & echo $! > {tmp_path}/child; wait",
                                        timeout=0.5))
    n = notification_for(BP)
    assert n is not None
    nt.send(n)
    assert nt.failures == ["notification command timed out after 0.5s"]


def test_a_broken_command_does_not_stop_the_queue(tmp_path: Path) -> None:
    out = tmp_path / "got"
    nt = notifier(command=f"test -e {tmp_path}/go || exit 1; " + hook_writing_to(out))
    n = notification_for(BP)
    assert n is not None
    nt.submit(n)
    assert nt.flush(timeout=60)
    (tmp_path / "go").touch()
    nt.submit(n)
    assert nt.flush(timeout=60)
    assert len(nt.failures) == 1 and nt.sent == 2
    assert json.dumps(n.text) and (tmp_path / "got.stdin").read_text() == n.text
