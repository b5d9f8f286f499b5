"""A real HTTP server on 127.0.0.1 for fake model APIs: each test scripts what it answers.

The fakes stand where the outside world would be (a model provider) and speak its wire
protocol; everything on our side of the wire is real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # Streamed chunks (e.g. SSE events), written and flushed one by one.
    chunks: Iterable[bytes] | None = None
    # Seconds to wait before answering: a hung server is `delay=3600`.
    delay: float = 0.0

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status=status, headers={"content-type": "application/json", **(headers or {})},
                   body=json.dumps(obj).encode())

    @classmethod
    def sse(cls, events: Iterable[tuple[str | None, Any]], status: int = 200) -> Response:
        """Server-sent events from (event name or None, data object) pairs."""

        def gen() -> Iterable[bytes]:
            for name, data in events:
                head = f"event: {name}\n" if name else ""
                payload = data if isinstance(data, str) else json.dumps(data)
                yield f"{head}data: {payload}\n\n".encode()

        return cls(status=status, headers={"content-type": "text/event-stream", "cache-control": "no-cache"},
                   chunks=gen())


Handler = Callable[[Request], Response]


class FakeServer:
    """Serves `handler(request)` on 127.0.0.1:<free port>; records every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._stop = threading.Event()
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(req)
                resp = outer.handler(req)
                if resp.delay:
                    outer._stop.wait(resp.delay)
                    if outer._stop.is_set():
                        return
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                if resp.chunks is not None:
                    self.send_header("connection", "close")
                    self.end_headers()
                    for chunk in resp.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    self.close_connection = True
                    return
                data = resp.body or b""
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait_for_requests(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.05)
