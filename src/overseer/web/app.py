"""`create_app`: the web view of one repository's runs, answering breakpoints from a browser.

Every request must show the token (web/auth.py); pages are rendered on the server; a run page
follows its run over server-sent events (web/live.py); an approve / reject / answer is a POST
that goes through the same `engine.humans.resolve` as `overseer approve`, after which a run
that no process executes is resumed in the background (engine/continuation.py): the person at
the browser has no terminal to type `overseer resume` in."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overseer.engine.continuation import Continuation, after_answer
from overseer.engine.humans import resolve as resolve_breakpoint
from overseer.engine.humans import who
from overseer.errors import OverseerError
from overseer.report.attempt_view import AttemptView, attempt_view
from overseer.scrub import Scrubber
from overseer.store import BreakpointRecord, RunRecord, Store
from overseer.store.records import attempt_number
from overseer.web import auth, links, pages
from overseer.web.live import LiveFeed, Update
from overseer.web.view import breakpoint_view, diff_files, diff_page, runs_view

POLL_S = 0.5
PING_S = 15
MAX_FORM_BYTES = 64 * 1024
ACTIVITY_KEPT = 500  # lines a run page keeps as live updates add more
ACTIONS = ("approve", "reject", "answer")

NOTICES_KEPT = 100
Resolver = Callable[..., BreakpointRecord]
Continuer = Callable[[str, bool], Continuation]


class WebError(Exception):
    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


def _csp(nonce: str) -> str:
    # Nothing loads from anywhere but this server; the page's one script and style carry the
    # request's nonce, so text that slipped into the HTML could not run.
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


LINK_PREFIX = "/b/"


class Guard:
    """ASGI middleware: the token check in front of every route, and the security headers on
    every response (a plain ASGI wrapper, so streamed responses pass through untouched)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token
        self.cookie = auth.cookie_name(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["nonce"] = nonce

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h["Content-Security-Policy"] = _csp(nonce)
                h["X-Content-Type-Options"] = "nosniff"
                h["X-Frame-Options"] = "DENY"
                h["Referrer-Policy"] = "no-referrer"
                h["Cache-Control"] = "no-store"
            await send(message)

        if request.url.path.startswith(LINK_PREFIX):
            # A breakpoint link carries its own token, checked by its route (web/links.py): it
            # opens and answers that breakpoint only, and never sets the server's cookie.
            scope["state"]["via"] = None
            await self.app(scope, receive, send_secured)
            return
        via = auth.authenticate(
            auth.Credentials(
                authorization=request.headers.get("authorization"),
                cookie=request.cookies.get(self.cookie),
                query_token=request.query_params.get(auth.QUERY_PARAM),
            ),
            self.token,
        )
        response: Response
        if via is None:
            # Says nothing about this server (not even the repository) to someone without it.
            response = error_response(
                request, "",
                WebError(401, "this view needs the token `overseer serve` printed",
                         "open the address it printed (it ends in ?token=…), or send the "
                         "header Authorization: Bearer TOKEN"),
            )
        elif via is auth.Via.QUERY and request.method in ("GET", "HEAD"):
            # Trade the token in the address for a cookie and drop it from the address, so it
            # does not stay on screen, in the history or in a Referer.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != auth.QUERY_PARAM]
            query = "&".join(f"{quote(k)}={quote(v)}" for k, v in rest)
            # One leading slash: "//host" would send the browser to another site.
            path = "/" + request.url.path.lstrip("/")
            response = RedirectResponse(path + (f"?{query}" if query else ""), 303)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
        else:
            scope["state"]["via"] = via
            await self.app(scope, receive, send_secured)
            return
        await response(scope, receive, send_secured)


def error_response(request: Request, repo: str, exc: WebError) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.message, "hint": exc.hint}, exc.status)
    nonce = getattr(request.state, "nonce", "")
    return HTMLResponse(
        pages.render("error.html.j2", nonce=nonce, repo=repo, status=exc.status,
                     message=exc.message, hint=exc.hint, back="/"),
        exc.status,
    )


def create_app(
    store: Store, store_url: str, repo: Path, token: str, *, poll_s: float = POLL_S,
    resolver: Resolver | None = None, continuer: Continuer | None = None,
) -> FastAPI:
    """The web view of the runs of the repository `repo`, whose state is `store` at
    `store_url`. `resolver` answers breakpoints (tests replace the one that wakes DBOS);
    `continuer(run_id, start)` carries a run on after an answer (tests keep it from starting
    processes)."""
    workspace = str(repo)
    csrf = auth.csrf_value(token)
    resolve = resolver or resolve_breakpoint
    carry_on = continuer or (lambda run_id, start: after_answer(store, repo, run_id, start=start))
    # What happened after each answer given here, for the page the answer redirects to.
    notices: dict[str, str] = {}
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError) -> Response:
        return error_response(request, workspace, exc)

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(pages.render(name, nonce=request.state.nonce, repo=workspace, **context))

    def find_run(run_id: str) -> RunRecord:
        run = store.get_run(run_id)
        if run is None or run.workspace != workspace:
            raise WebError(404, f"no run {run_id!r} in {workspace}", "the runs list links every run")
        return run

    def first_update(run_id: str) -> Update:
        find_run(run_id)
        update = LiveFeed(store, run_id).poll()
        assert update is not None  # a feed's first poll always has everything
        return update

    @app.get("/", response_class=HTMLResponse)
    def runs_page(request: Request) -> HTMLResponse:
        return page(request, "runs.html.j2", runs=runs_view(store, workspace, Scrubber.for_run()))

    @app.get("/api/runs")
    def runs_json() -> list[dict[str, Any]]:
        return runs_view(store, workspace, Scrubber.for_run())

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str, done: str | None = None) -> HTMLResponse:
        update = first_update(run_id)
        view = update.view
        notice = next((b for b in view["resolved"] if b["id"] == done), None)
        continuation = None
        if notice is not None:
            continuation = notices.get(notice["id"]) or carry_on(run_id, False).message
        return page(request, "run.html.j2", view=view, activity=update.activity, csrf=csrf,
                    notice=notice, continuation=continuation, max_lines=ACTIVITY_KEPT)

    def attempt_page_view(run_id: str, task_id: str, n: int | None) -> AttemptView:
        find_run(run_id)
        try:
            return attempt_view(store, run_id, repo, task_id, n)
        except OverseerError as exc:
            raise WebError(404, exc.message, exc.hint or "the run page links every task") from None

    @app.get("/runs/{run_id}/tasks/{task_id}", response_class=HTMLResponse)
    def task_page(request: Request, run_id: str, task_id: str,
                  files_page: int = Query(1, alias="page")) -> HTMLResponse:
        return attempt_page(request, run_id, task_id, None, files_page)

    @app.get("/runs/{run_id}/tasks/{task_id}/attempts/{n}", response_class=HTMLResponse)
    def attempt_page(request: Request, run_id: str, task_id: str, n: int | None,
                     files_page: int = Query(1, alias="page")) -> HTMLResponse:
        v = attempt_page_view(run_id, task_id, n)
        files, pages = diff_page(diff_files(v.diff), files_page)
        return page(request, "attempt.html.j2", v=v.model_dump(mode="json"), files=files, pages=pages,
                    page=min(max(files_page, 1), pages), csrf=csrf, link=None)

    @app.post("/runs/{run_id}/tasks/{task_id}/steer")
    async def steer_task(request: Request, run_id: str, task_id: str) -> Response:
        from overseer.engine.steering import steer

        form = await _form(request, "message")
        if not auth.may_act(request.state.via, _one(form, auth.CSRF_FIELD), token):
            raise WebError(403, "this form did not come from this server's page",
                           "reload the task's page and use its box")
        await run_in_threadpool(find_run, run_id)
        try:
            await run_in_threadpool(lambda: steer(store, run_id, task_id, _one(form, "message") or "",
                                                  f"{who()} (web)"))
        except OverseerError as exc:
            raise WebError(409, exc.message, exc.hint) from exc
        return RedirectResponse(f"/runs/{quote(run_id)}/tasks/{quote(task_id)}", 303)

    link_key = links.link_key(repo)

    def linked_breakpoint(bp_id: str, given: str | None) -> BreakpointRecord:
        if not links.valid(link_key, bp_id, given):
            raise WebError(403, "this breakpoint link has expired or is not valid",
                           "`overseer status` in the repository shows the breakpoint; answer it there, "
                           "or open the view with the address `overseer serve` printed")
        try:
            bp = store.get_breakpoint(bp_id)
        except OverseerError:
            bp = None
        if bp is None or bp.id != bp_id:
            raise WebError(404, f"no breakpoint {bp_id!r}", "the link may be from another repository")
        find_run(bp.run_id)
        return bp

    def link_page(request: Request, bp: BreakpointRecord, given: str, notice: str | None = None) -> HTMLResponse:
        v = attempt_page_view(bp.run_id, bp.task_id, attempt_number(bp.attempt_id)) if bp.task_id else None
        # One page, every file: paging links would need the token in their address too.
        files = diff_files(v.diff) if v else []
        return page(request, "attempt.html.j2", v=v.model_dump(mode="json") if v else None, files=files,
                    pages=1, page=1, link={"bp": breakpoint_view(bp), "t": given}, notice=notice, csrf="")

    @app.get(LINK_PREFIX + "{bp_id}", response_class=HTMLResponse)
    def breakpoint_link(request: Request, bp_id: str, t: str | None = Query(None)) -> HTMLResponse:
        bp = linked_breakpoint(bp_id, t)
        return link_page(request, bp, t or "")

    @app.post(LINK_PREFIX + "{bp_id}/{action}", response_class=HTMLResponse)
    async def answer_by_link(request: Request, bp_id: str, action: str) -> HTMLResponse:
        if action not in ACTIONS:
            raise WebError(404, f"no action {action!r}", "approve, reject or answer")
        form = await _form(request, "note")
        # The link's token in the form is also its CSRF proof: no other site's page knows it.
        given = _one(form, links.PARAM) or ""
        bp = await run_in_threadpool(linked_breakpoint, bp_id, given)
        note = _note_for(action, form)
        try:
            rec = await run_in_threadpool(
                lambda: resolve(store, store_url, repo, bp.id, action, note, by=f"{who()} (link)"))
        except OverseerError as exc:
            raise WebError(409, exc.message, exc.hint) from exc
        went = await run_in_threadpool(carry_on, rec.run_id, True)
        return link_page(request, rec, given, notice=f"{rec.state}: {went.message}")

    @app.get("/api/runs/{run_id}/tasks/{task_id}/attempts/{n}")
    def attempt_json(run_id: str, task_id: str, n: int) -> dict[str, Any]:
        return attempt_page_view(run_id, task_id, n).model_dump(mode="json")

    @app.get("/api/runs/{run_id}")
    def run_json(run_id: str) -> dict[str, Any]:
        update = first_update(run_id)
        return {**update.view, "activity": update.activity}

    @app.get("/runs/{run_id}/events")
    async def run_events(run_id: str) -> EventSourceResponse:
        await run_in_threadpool(find_run, run_id)
        feed = await run_in_threadpool(LiveFeed, store, run_id)

        async def stream() -> AsyncIterator[ServerSentEvent]:
            while True:
                update = await run_in_threadpool(feed.poll)
                if update is not None:
                    yield ServerSentEvent(json.dumps(_payload(update, csrf)), event="snapshot")
                    if update.finished:
                        yield ServerSentEvent("{}", event="end")
                        return
                await anyio.sleep(poll_s)

        return EventSourceResponse(stream(), ping=PING_S)

    @app.post("/runs/{run_id}/breakpoints/{bp_id}/{action}")
    async def answer_breakpoint(request: Request, run_id: str, bp_id: str, action: str) -> Response:
        if action not in ACTIONS:
            raise WebError(404, f"no action {action!r}", "approve, reject or answer")
        form = await _form(request, "note")
        if not auth.may_act(request.state.via, _one(form, auth.CSRF_FIELD), token):
            raise WebError(403, "this form did not come from this server's page",
                           "reload the run page and use its buttons")
        note = _note_for(action, form)
        bp = await run_in_threadpool(lambda: _breakpoint_of(store, find_run(run_id), bp_id))
        try:
            rec = await run_in_threadpool(
                lambda: resolve(store, store_url, repo, bp.id, action, note,
                                by=f"{who()} (web)")
            )
        except OverseerError as exc:
            raise WebError(409, exc.message, exc.hint) from exc
        went = await run_in_threadpool(carry_on, run_id, True)
        if len(notices) >= NOTICES_KEPT:
            notices.pop(next(iter(notices)))
        notices[rec.id] = went.message
        return RedirectResponse(f"/runs/{quote(run_id)}?done={quote(rec.id)}", 303)

    app.add_middleware(Guard, token=token)
    return app


def _breakpoint_of(store: Store, run: RunRecord, bp_id: str) -> BreakpointRecord:
    """The run's breakpoint with exactly this id (the CLI takes prefixes; a form never needs to)."""
    try:
        bp = store.get_breakpoint(bp_id)
    except OverseerError:
        bp = None
    if bp is None or bp.id != bp_id or bp.run_id != run.id:
        raise WebError(404, f"no breakpoint {bp_id!r} in run {run.id}", "reload the run page")
    return bp


async def _form(request: Request, what: str) -> dict[str, list[str]]:
    """A posted form, refused when larger than a note may be."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise WebError(413, f"the {what} is too long", f"keep it under {MAX_FORM_BYTES // 1024} KiB")
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def _note_for(action: str, form: dict[str, list[str]]) -> str | None:
    """The note of an answer; reject and answer need one."""
    note = (_one(form, "note") or "").strip() or None
    if action in ("reject", "answer") and note is None:
        what = "a note saying why" if action == "reject" else "the answer's text"
        raise WebError(400, f"{action} needs {what}", "type it in the box, then press the button")
    return note


def _one(form: dict[str, list[str]], key: str) -> str | None:
    values = form.get(key)
    return values[0] if values else None


def _payload(update: Update, csrf: str) -> dict[str, Any]:
    return {
        "reset": update.reset,
        "finished": update.finished,
        "view": update.view,
        "activity": update.activity,
        "html": pages.fragments(update.view, update.activity, csrf),
    }
