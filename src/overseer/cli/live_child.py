"""The process that executes a run while `overseer run`'s live view watches it (live.py).

It reads one JSON request on stdin — the run, the repository and the effective settings, which
a fresh load could not rebuild (they include the run's command-line flags) — and runs the
plain, non-interactive path of `overseer run`, its lines going to the run's log file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretBytes, SecretStr

from overseer.config import Settings


def _plain(value: Any) -> Any:
    # The child needs the real values, not the "**********" that JSON dumps put in their place.
    if isinstance(value, SecretStr | SecretBytes):
        secret = value.get_secret_value()
        return secret.decode() if isinstance(secret, bytes) else secret
    return str(value)


def settings_json(settings: Settings) -> str:
    return json.dumps(settings.model_dump(mode="python"), default=_plain)


def encode_request(run_id: str, repo: Path, settings: str, verbose: bool, no_wait: bool) -> bytes:
    return json.dumps({"run_id": run_id, "repo": str(repo), "settings": json.loads(settings),
                       "verbose": verbose, "no_wait": no_wait}).encode()


def main() -> None:
    from overseer.cli.output import print_error
    from overseer.cli.run_here import exit_now, run_plain
    from overseer.errors import OverseerError
    from overseer.store import Store

    req = json.loads(sys.stdin.buffer.read())
    settings = Settings.model_validate(req["settings"])
    repo = Path(req["repo"])
    try:
        store = Store.open(settings.database_url_for(repo))
        code = run_plain(req["run_id"], repo, store, settings, req["verbose"], req["no_wait"])
    except OverseerError as exc:
        print_error(exc)
        exit_now(exc.exit_code)
    exit_now(code)


if __name__ == "__main__":
    main()
