"""`overseer serve`: the web view of this repository's runs, behind a token it prints."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import typer

from overseer.cli.locate import repo_root, settings_for
from overseer.cli.output import err, out
from overseer.errors import OverseerError

GRACEFUL_SHUTDOWN_S = 3


def serve(
    host: str | None = typer.Option(
        None, "--host", help="address to listen on (default: web.host, 127.0.0.1)"
    ),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="port (default: web.port, 8765; 0 picks a free one)"
    ),
    repo: Path | None = typer.Option(
        None, "--repo", help="the repository whose runs to show (default: the one here)"
    ),
) -> None:
    """Show the runs in a browser, live, with buttons to approve, reject or answer breakpoints."""
    import uvicorn

    from overseer.store import Store
    from overseer.web import create_app
    from overseer.web.auth import QUERY_PARAM, new_token
    from overseer.workspace import GitWorkspace

    root = GitWorkspace.open(repo_root(repo or Path.cwd())).root
    settings = settings_for({"web.host": host, "web.port": port}, root)
    if not settings.database.url and not (root / ".overseer" / "state.db").exists():
        raise OverseerError(
            f"no overseer runs in {root} yet",
            hint="start one there with `overseer run PLAN`, or point --repo at the repository",
        )
    sock = listen(settings.web.host, settings.web.port)
    store = Store.open(settings.database_url_for(root))
    try:
        token = new_token()
        bound = sock.getsockname()[1]
        shown = f"[{settings.web.host}]" if ":" in settings.web.host else settings.web.host
        out.print(f"overseer web view of {root}", markup=False)
        out.print(f"open: http://{shown}:{bound}/?{QUERY_PARAM}={token}", markup=False)
        if not is_loopback(sock):
            err.print(
                f"warning: listening on {settings.web.host}: other machines can reach this view, "
                "and the token crosses the network unencrypted",
                markup=False,
            )
        err.print("Ctrl-C stops it", markup=False)
        out.file.flush()
        app = create_app(store, settings.database_url_for(root), root, token)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
        # Access logs are off: a first request carries the token in its address.
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        store.close()


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, opened here so a busy port or a bad address is a clear error."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except socket.gaierror as exc:
        raise OverseerError(f"cannot listen on {host!r}: {exc.strerror}",
                            hint="give --host an address of this machine, e.g. 127.0.0.1") from exc
    except OSError as exc:
        raise OverseerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                            hint="choose another port with --port (0 picks a free one)") from exc


def is_loopback(sock: socket.socket) -> bool:
    return ipaddress.ip_address(sock.getsockname()[0]).is_loopback
