"""The web view's one credential: a random token printed by `overseer serve`.

A browser presents it once as `?token=` and gets it back as an HttpOnly, SameSite=Strict cookie;
scripts send it as `Authorization: Bearer TOKEN`. A POST from a browser must also carry a value
derived from the token in its form, so a page on another site cannot make the browser act on
the cookie alone (CSRF)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum

QUERY_PARAM = "token"
CSRF_FIELD = "csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def cookie_name(token: str) -> str:
    # Cookies ignore ports: a name per token lets two `overseer serve`s on one host (two
    # repositories) each keep its own cookie instead of overwriting the other's.
    return "overseer_" + hashlib.sha256(token.encode()).hexdigest()[:10]


def csrf_value(token: str) -> str:
    """What a page's forms carry: proves the page came from this server, and is no use as a
    login if the page's HTML is saved or shared."""
    return hmac.new(token.encode(), b"overseer-web-csrf", hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class Via(Enum):
    HEADER = "header"
    COOKIE = "cookie"
    QUERY = "query"


@dataclass(frozen=True)
class Credentials:
    """What one request presented, read from its headers and URL."""

    authorization: str | None = None
    cookie: str | None = None  # the value of this server's cookie (cookie_name)
    query_token: str | None = None


def authenticate(creds: Credentials, token: str) -> Via | None:
    """How the request proved it holds the token, or None if it did not."""
    auth = creds.authorization or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and same(value.strip(), token):
        return Via.HEADER
    if same(creds.cookie, token):
        return Via.COOKIE
    if same(creds.query_token, token):
        return Via.QUERY
    return None


def may_act(via: Via, form_csrf: str | None, token: str) -> bool:
    """Whether a state-changing request is allowed: a header cannot be set by another site's
    page; a cookie is sent with any request to this host, so it needs the form's proof too."""
    if via is Via.HEADER:
        return True
    return same(form_csrf, csrf_value(token))
