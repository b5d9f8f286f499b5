"""Notifications: a breakpoint opened, a task failed, a run finished — each message naming
the exact command that answers it — sent to apprise URLs and/or a command hook.

A notifier is an event subscriber that never holds up or breaks a run: messages are queued and
sent from a thread of its own, every delivery has a timeout, and failures are logged and kept
in `failures`, never raised. Notification URLs carry tokens, so neither they nor what apprise
logs about them reach a log: a failure names the URL by position and scheme only.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overseer.config import NotificationsSettings, NotifyEvent, known_secret_values, redact_text
from overseer.events import Event, subscribe

log = logging.getLogger("overseer.notify")

@dataclass(frozen=True)
class Notification:
    event: NotifyEvent
    run_id: str
    title: str
    body: str
    # The command that resolves (or, for a finished run, examines) what happened.
    resolve: str
    task_id: str | None = None
    breakpoint_id: str | None = None
    severity: str = "info"
    # A link that opens the breakpoint's page and answers it (web/links.py), if one is made.
    url: str | None = None

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}"


def _in(repo: Path | None) -> str:
    return f"\n(run these in {repo})" if repo is not None else ""


def notification_for(
    ev: Event, repo: Path | None = None, link: Callable[[str], str] | None = None
) -> Notification | None:
    """The message an engine event deserves, or None. Pure but for `link`, which makes a
    breakpoint's link (web/links.py)."""
    d = ev.data
    if ev.type == "breakpoint":
        if d.get("mode") == "auto":
            return None  # recorded and resolved by overseer itself: nobody needs to act
        bp = str(d["id"])
        url = link(bp) if link is not None else None
        body = (
            f"{d.get('message', '')}\n\n"
            + (f"review and answer: {url}\n" if url else "")
            + f"approve: overseer approve {bp}\n"
            f"reject:  overseer reject {bp} --note 'why'\n"
            f"answer:  overseer answer {bp} 'text'\n"
            f"then, if no `overseer run` is attached to the run: overseer resume {ev.run_id}"
            + _in(repo)
        )
        return Notification(
            "breakpoint", ev.run_id,
            f"overseer: task {ev.task_id} waits for you at {bp} ({d.get('kind')})", body,
            f"overseer approve {bp}", task_id=ev.task_id, breakpoint_id=bp,
            severity=str(d.get("severity") or "warning"), url=url,
        )
    if ev.type == "task_state" and d.get("state") == "failed":
        body = (
            f"reason: {d.get('reason') or 'not recorded'}\n\n"
            f"see what happened: overseer status {ev.run_id}\n"
            f"undo its changes:  overseer rollback {ev.task_id} --run {ev.run_id}" + _in(repo)
        )
        return Notification("task_failed", ev.run_id, f"overseer: task {ev.task_id} failed", body,
                            f"overseer status {ev.run_id}", task_id=ev.task_id, severity="warning")
    if ev.type == "run_finished":
        state = str(d.get("state"))
        tasks: Mapping[str, str] = d.get("tasks") or {}
        bad = [t for t, s in tasks.items() if s != "completed"]
        detail = (f"{len(tasks) - len(bad)} of {len(tasks)} tasks completed"
                  + (f"; not completed: {', '.join(bad)}" if bad else ""))
        body = f"{detail}\n\nsee the results: overseer status {ev.run_id}" + _in(repo)
        return Notification("run_finished", ev.run_id, f"overseer: run {ev.run_id} {state}", body,
                            f"overseer status {ev.run_id}",
                            severity="info" if state == "completed" else "warning")
    return None


def _quiet_apprise_logs() -> None:
    # apprise logs each URL (token included) at debug level and its hosts on failure, and
    # urllib3 (only apprise's requests uses it here) logs request paths: drop their records
    # at the source, whatever handlers the application or a test harness attached.
    for name in ("apprise", "urllib3"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False


def _scheme(url: str) -> str:
    return url.partition("://")[0] + "://" if "://" in url else "?"


@dataclass
class Notifier:
    """Send notifications for engine events. Use as a subscriber (`notifier.subscribe()`
    returns the unsubscribe function), or call `send` directly; call `flush` before the
    process exits so a run's last message is not lost."""

    settings: NotificationsSettings
    repo: Path | None = None
    link: Callable[[str], str] | None = None  # a breakpoint id's link (web/links.py)
    failures: list[str] = field(default_factory=list)
    sent: int = 0
    _queue: queue.Queue[Notification | None] = field(default_factory=queue.Queue, repr=False)
    _worker: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _targets: list[tuple[int, str, Any]] | None = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.urls or self.settings.command)

    def __call__(self, ev: Event) -> None:
        if not self.enabled:
            return
        n = notification_for(ev, self.repo, self.link)
        if n is not None and n.event in self.settings.events:
            self.submit(n)

    def subscribe(self) -> Callable[[], None]:
        return subscribe(self)

    def submit(self, n: Notification) -> None:
        """Queue a notification for the sending thread."""
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._drain, name="overseer-notify",
                                                 daemon=True)
                self._worker.start()
        self._queue.put(n)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued notification was delivered or given up on; False when
        `timeout` seconds passed first."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def _drain(self) -> None:
        while True:
            n = self._queue.get()
            try:
                if n is not None:
                    self.send(n)
            except Exception as exc:  # noqa: BLE001 - a notifier bug must not end the thread
                self._fail(f"notification failed: {type(exc).__name__}")
            finally:
                self._queue.task_done()

    def send(self, n: Notification) -> None:
        """Deliver one notification now, to every URL and the command; never raises."""
        secrets = known_secret_values()
        n = Notification(**{**n.__dict__, "title": redact_text(n.title, secrets),
                            "body": redact_text(n.body, secrets)})
        for index, scheme, target in self._apprise_targets():
            self._send_url(index, scheme, target, n)
        if self.settings.command:
            self._run_command(self.settings.command, n)
        self.sent += 1

    def _fail(self, what: str) -> None:
        self.failures.append(what)
        log.warning("%s", what)

    def _apprise_targets(self) -> list[tuple[int, str, Any]]:
        if self._targets is None:
            self._targets = []
            if self.settings.urls:
                import apprise  # slow to import (it loads ~200 plugins): only when configured

                _quiet_apprise_logs()
                for i, url in enumerate(self.settings.urls, 1):
                    ap = apprise.Apprise()
                    if ap.add(url):
                        self._targets.append((i, _scheme(url), ap))
                    else:
                        self._fail(f"notification URL #{i} ({_scheme(url)}) is not a URL apprise "
                                   "understands; see https://github.com/caronc/apprise/wiki")
        return self._targets

    def _send_url(self, index: int, scheme: str, ap: Any, n: Notification) -> None:
        import apprise

        kind = {"info": apprise.NotifyType.INFO, "warning": apprise.NotifyType.WARNING,
                "critical": apprise.NotifyType.FAILURE}.get(n.severity, apprise.NotifyType.INFO)
        result: list[bool] = []

        def go() -> None:
            try:
                result.append(bool(ap.notify(title=n.title, body=n.body, notify_type=kind)))
            except Exception:  # noqa: BLE001 - reported below as a failed delivery
                result.append(False)

        # A hung service must not hold the queue: give up on it after the timeout.
        t = threading.Thread(target=go, daemon=True)
        t.start()
        t.join(self.settings.timeout)
        if not result:
            self._fail(f"notification URL #{index} ({scheme}) timed out after "
                       f"{self.settings.timeout:g}s")
        elif not result[0]:
            self._fail(f"notification URL #{index} ({scheme}) was not accepted")

    def _run_command(self, command: str, n: Notification) -> None:
        env = {
            **os.environ,
            "OVERSEER_EVENT": n.event,
            "OVERSEER_RUN_ID": n.run_id,
            "OVERSEER_TASK_ID": n.task_id or "",
            "OVERSEER_BREAKPOINT_ID": n.breakpoint_id or "",
            "OVERSEER_SEVERITY": n.severity,
            "OVERSEER_TITLE": n.title,
            "OVERSEER_MESSAGE": n.text,
            "OVERSEER_RESOLVE": n.resolve,
            "OVERSEER_URL": n.url or "",
        }
        # The command is the user's own configuration; the message reaches it only through
        # the environment and stdin, so nothing in it is ever parsed by the shell.
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env=env, cwd=self.repo, start_new_session=True,
                text=True,
            )
        except OSError as exc:
            self._fail(f"notification command could not start: {exc.strerror}")
            return
        try:
            _, stderr = proc.communicate(n.text, timeout=self.settings.timeout)
        except subprocess.TimeoutExpired:
            # Its whole process group: a hook that started children must not leave them behind.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            self._fail(f"notification command timed out after {self.settings.timeout:g}s")
            return
        if proc.returncode != 0:
            tail = (stderr or "").strip().splitlines()[-1:] or [""]
            self._fail(f"notification command exited {proc.returncode}: {tail[0][:200]}")
