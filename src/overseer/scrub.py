"""Secret scrubbing: one scrubber for everything overseer writes or shows.

Two nets, because neither alone is enough: the literal values of secret-looking environment
variables (this process's, and those handed to an agent or a gate) catch keys in any shape, and
patterns catch well-known key formats that were never in this process's environment (an agent
printing a key it read from a file, a person pasting one into a note).

A masked value keeps a short fingerprint — `sk-ant-***[3f2a]`: the first four hex digits of the
secret's SHA-256 — so two leaks of the same key can be matched without storing the key.

Where it runs, before anything is written (docs/architecture.md): every line an agent or a gate
prints (agents/process.py, agents/ssh.py, gates/runner.py), every agent event and result
(engine/steps/attempt.py), every value written to the state store (store/db.py), and every
report, log and web page on the way out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from overseer.config import MIN_SECRET_LEN, REDACTED, known_secret_values, redact_text

T = TypeVar("T")


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:4]


def masked(secret: str) -> str:
    return f"{REDACTED}[{fingerprint(secret)}]"


# Each pattern's first group is kept (what names the secret, so a reader can still tell what
# kind of credential was there); its second is the secret, masked with its fingerprint.
_PATTERNS: list[re.Pattern[str]] = [
    # Anthropic / OpenAI style keys: sk-ant-..., sk-proj-..., sk-...
    re.compile(r"\b(sk-(?:ant-|proj-)?)([A-Za-z0-9_-]{8,})"),
    re.compile(r"\b(Bearer\s+)([A-Za-z0-9._~+/=-]{8,})", re.I),
    re.compile(
        r"""((?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret|secret"""
        r"""|password|passwd|token)["']?\s*[:=]\s*["']?)"""
        # Not a JSON or YAML literal (`"api_key": null`, `"max_token": 4096`): masking one
        # would change what the text means, and break a JSON document.
        r"""(?!(?:null|true|false|none|nil|\d+(?:\.\d+)?)(?![^\s"',;&}\]*]))"""
        r"""([^\s"',;&}\]*]{4,})""",
        re.I,
    ),
    re.compile(r"\b(gh[pousr]_)([A-Za-z0-9]{20,})"),
    re.compile(r"\b(github_pat_)([A-Za-z0-9_]{20,})"),
    re.compile(r"\b(xox[abprs]-)([A-Za-z0-9-]{10,})"),
    re.compile(r"\b(AKIA)([0-9A-Z]{16})\b"),
    re.compile(r"\b(AIza)([0-9A-Za-z_-]{30,})"),
    # A JSON Web Token: header.payload.signature, each base64url; the header starts {"
    re.compile(r"\b()(eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
    re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)(.*?)(?=-----END [A-Z ]*PRIVATE KEY-----)", re.S),
]


# A mapping's value under one of these keys is a secret whatever it looks like.
_SECRET_KEY = re.compile(
    r"^(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret|secret|password|passwd)$", re.I)


def _mask_match(m: re.Match[str]) -> str:
    return m.group(1) + masked(m.group(2))


def _mask_whole(secret: str) -> str:
    """A known value's mask: the one its shape would give it (`sk-ant-***[fp]`), so a key
    leaks under the same mask whether it was known or recognised."""
    for pattern in _PATTERNS:
        m = pattern.match(secret)
        if m is not None and m.end() == len(secret):
            return _mask_match(m)
    return masked(secret)


class Scrubber:
    """Masks secrets in strings and in any JSON-like structure of them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._set_secrets({s for s in secrets if len(s) >= MIN_SECRET_LEN})

    def _set_secrets(self, secrets: set[str]) -> None:
        self.secrets = frozenset(secrets)
        # Longest first, so a secret that contains another is masked whole.
        self._ordered = sorted(self.secrets, key=len, reverse=True)
        self._masks = {s: _mask_whole(s) for s in self.secrets}

    @classmethod
    def for_run(
        cls, plan_json: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Scrubber:
        """Secrets of this process's environment plus those the run's plan gave its agents
        (`agents.NAME.env`), which an export in another shell would otherwise not know."""
        found = set(known_secret_values(os.environ if env is None else env))
        for agent_env in _agent_envs(plan_json or {}):
            found |= known_secret_values(agent_env)
        return cls(found)

    def learn(self, env: Mapping[str, str]) -> None:
        """Also mask the secret-looking values of `env` (an agent's or a gate's environment)."""
        new = known_secret_values(env) - self.secrets
        if new:
            with self._lock:
                self._set_secrets(set(self.secrets) | new)

    def text(self, value: str) -> str:
        if len(value) < MIN_SECRET_LEN:
            return value  # too short to hold a known value or any pattern's match
        value = self.literal(value)
        value = redact_text(value, ())  # URL credentials and token-like query values
        for pattern in _PATTERNS:
            value = pattern.sub(_mask_match, value)
        return value

    def literal(self, value: str) -> str:
        """Only the known values: safe on rendered JSON/HTML, where patterns could match
        markup rather than content."""
        for secret in self._ordered:
            if secret in value:
                value = value.replace(secret, self._masks[secret])
        return value

    def deep(self, value: T, kept: frozenset[str] = frozenset()) -> T:
        """`value` with every string in it scrubbed: mappings, lists, tuples (named ones too),
        pydantic models and dataclasses are rebuilt with scrubbed contents, anything else is
        returned as it is. A key or field named in `kept` keeps its value as it is."""
        return self._deep(value, kept)

    def stored(self, value: Any) -> Any:
        """A value about to be written to the store: a JSON document (how a JSON column reaches
        the database) is scrubbed value by value and written back as JSON, so a mask can never
        break it; anything else as `deep`."""
        if isinstance(value, str) and value[:1] in ("{", "[") and len(value) >= MIN_SECRET_LEN:
            try:
                parsed = json.loads(value)
            except ValueError:
                return self.text(value)
            return json.dumps(self._deep(parsed))
        if isinstance(value, tuple):
            return tuple(self.stored(v) for v in value)
        if isinstance(value, list):
            return [self.stored(v) for v in value]
        if isinstance(value, Mapping):
            return {k: self.stored(v) for k, v in value.items()}
        return self._deep(value)

    def _deep(self, value: Any, kept: frozenset[str] = frozenset()) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: v if k in kept else self._under(str(k), v, kept) for k, v in value.items()}
        if isinstance(value, tuple):
            items = [self._deep(v, kept) for v in value]
            return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
        if isinstance(value, list):
            return [self._deep(v, kept) for v in value]
        if isinstance(value, BaseModel):
            return value.model_copy(update={
                name: self._deep(getattr(value, name), kept)
                for name in type(value).model_fields if name not in kept
            })
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.replace(value, **{
                f.name: self._deep(getattr(value, f.name), kept)
                for f in dataclasses.fields(value) if f.init and f.name not in kept
            })
        return value

    def _under(self, key: str, value: Any, kept: frozenset[str]) -> Any:
        """A mapping's value: under a secret key (password, api_key, …) a text is masked whole,
        whatever it looks like, unless it is a mask already."""
        if (isinstance(value, str) and _SECRET_KEY.match(key) and len(value) >= MIN_SECRET_LEN
                and value not in self._masks.values() and not value.startswith(REDACTED)):
            return masked(value)
        return self._deep(value, kept)


_process: Scrubber | None = None
_process_lock = threading.Lock()


def process_scrubber() -> Scrubber:
    """This process's scrubber: its own environment's secrets, plus those it learned from the
    environments it handed to agents and gates."""
    global _process
    with _process_lock:
        if _process is None:
            _process = Scrubber.for_run()
        return _process


def _agent_envs(plan_json: Mapping[str, Any]) -> list[Mapping[str, str]]:
    envs: list[Mapping[str, str]] = []
    plan = plan_json.get("plan") or {}
    for agent in (plan.get("agents") or {}).values():
        if isinstance(agent, Mapping) and isinstance(agent.get("env"), Mapping):
            envs.append({str(k): str(v) for k, v in agent["env"].items()})
    for task in plan_json.get("resolved_tasks") or []:
        agent = task.get("agent") if isinstance(task, Mapping) else None
        if isinstance(agent, Mapping) and isinstance(agent.get("env"), Mapping):
            envs.append({str(k): str(v) for k, v in agent["env"].items()})
    return envs


def scrub_files(root: Path, scrub: Scrubber | None = None) -> list[Path]:
    """Rewrite in place each text file under `root` that holds a secret: the net under what
    agents and tools write themselves (an agent CLI's own session files, a gate's JUnit XML),
    which overseer never sees line by line. Returns the files it rewrote."""
    scrub = scrub or process_scrubber()
    rewritten = []
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue  # binary: neither printed nor shown
        text = data.decode("utf-8", errors="surrogateescape")
        clean = scrub.text(text)
        if clean == text:
            continue
        tmp = path.with_name(path.name + ".scrub")
        tmp.write_bytes(clean.encode("utf-8", errors="surrogateescape"))
        tmp.replace(path)  # a crash leaves the old file or the new, never half of one
        rewritten.append(path)
    return rewritten
