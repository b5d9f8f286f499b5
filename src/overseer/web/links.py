"""Links that answer one breakpoint: what a notification carries to a phone.

A link holds a short-lived token for its breakpoint alone — `/b/BP?t=EXPIRY.SIGNATURE`, an HMAC
of the breakpoint id and the expiry under a key kept in the repository's `.overseer/web.key`
(0600, made on first use) — never the server's own token. It opens that breakpoint's attempt
page and answers that breakpoint, nothing else; it stops working when it expires or the
breakpoint is resolved. The run process signs (it sends the notification), `overseer serve`
checks: both read the same key, whenever and wherever each was started.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote

KEY_FILE = Path(".overseer") / "web.key"
PARAM = "t"


def link_key(repo: Path) -> bytes:
    path = repo / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def _signature(key: bytes, bp_id: str, expires: int) -> str:
    return hmac.new(key, f"overseer-bp|{bp_id}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def sign(key: bytes, bp_id: str, ttl_s: float, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + ttl_s)
    return f"{expires}.{_signature(key, bp_id, expires)}"


def valid(key: bytes, bp_id: str, token: str | None, now: float | None = None) -> bool:
    expires_text, _, sig = (token or "").partition(".")
    if not expires_text.isdigit() or not sig:
        return False
    expires = int(expires_text)
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(sig, _signature(key, bp_id, expires))


def breakpoint_url(base_url: str, key: bytes, bp_id: str, ttl_s: float) -> str:
    return f"{base_url.rstrip('/')}/b/{quote(bp_id, safe='')}?{PARAM}={sign(key, bp_id, ttl_s)}"
