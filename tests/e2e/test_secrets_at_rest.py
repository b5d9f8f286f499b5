"""No secret at rest: secrets planted in the environment, printed by a real Claude Code (in its
tool calls, their output and its final message) and by a shell agent and a gate (stdout,
stderr, a written file), are found nowhere overseer keeps or shows anything — the store
(SQLite or PostgreSQL, DBOS's tables included), any file under .overseer/, the exports, the log
and the web pages. The readers run without the secrets in their environment, so what they show
is what was stored."""

from __future__ import annotations

import base64
import binascii
import secrets
import sqlite3
import string
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest
from e2e_helpers import clean_env, git, overseer_cmd, serving, status_json
from tests.fakes.anthropic import FakeAnthropic, Turn
from tests.realbin import cli

pytestmark = pytest.mark.real


def _planted() -> dict[str, str]:
    alnum = string.ascii_letters + string.digits
    return {
        # Known shapes, which the patterns catch wherever they show up ...
        "ANTHROPIC_API_KEY": "sk-ant-api03-" + "".join(secrets.choice(alnum) for _ in range(40)),
        "GITHUB_TOKEN": "ghp_" + "".join(secrets.choice(alnum) for _ in range(36)),
        # ... and one with no shape at all, caught only because its variable's name is secret.
        "DEPLOY_PASSWORD": secrets.token_hex(12),
    }


LEAK = """\
echo "stdout: $ANTHROPIC_API_KEY $GITHUB_TOKEN $DEPLOY_PASSWORD"
echo "stderr: $GITHUB_TOKEN $DEPLOY_PASSWORD" >&2
echo "$DEPLOY_PASSWORD $OVERSEER_ATTEMPT" > written.txt
echo "deploy password: $DEPLOY_PASSWORD, key $ANTHROPIC_API_KEY"
"""

GATE = """\
echo "gate sees $ANTHROPIC_API_KEY and $DEPLOY_PASSWORD"
echo "gate stderr $GITHUB_TOKEN" >&2
grep -q " 2$" written.txt  # the second attempt passes: the first's feedback quotes this output
"""


def _repo(make_repo, api_url: str, claude: str) -> Path:
    repo: Path = make_repo({"README.md": "demo\n", "tools/leak.sh": LEAK, "tools/gate.sh": GATE})
    (repo / "plan.yaml").write_text(textwrap.dedent(f"""\
        version: 1
        name: leaky
        defaults: {{max_attempts: 1, timeout: 120}}
        agents:
          cc:
            type: claude-code
            binary: {claude}
            env: {{ANTHROPIC_BASE_URL: {api_url}}}
          sh: {{type: shell, command: "bash tools/leak.sh"}}
        tasks:
          - id: claude
            agent: cc
            prompt: Show me the keys.
            gates: [{{name: made, run: "test -f tool.txt"}}]
          - id: shell
            agent: sh
            depends_on: [claude]
            max_attempts: 2
            prompt: Print them again.
            gates: [{{name: leaky-gate, run: "bash tools/gate.sh"}}]
        """))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "plan")
    return repo


def _turns(planted: dict[str, str], repo: Path) -> list[Turn]:
    key, gh, pw = planted["ANTHROPIC_API_KEY"], planted["GITHUB_TOKEN"], planted["DEPLOY_PASSWORD"]
    return [
        # Tool calls whose own arguments carry secrets, and whose output does too.
        Turn.write(str(repo / "keys.txt"), f"{key}\n", when="Show me the keys"),
        Turn.bash(f"echo {gh} > tool.txt && cat tool.txt keys.txt", when="File created"),
        Turn.reply(f"Done: the token is {gh} and the password {pw}.", when="ghp_"),
    ]


def _raw_hits(blob: bytes, planted: dict[str, str]) -> list[str]:
    return [name for name, value in planted.items() if value.encode() in blob]


def _cell_hits(cell: object, planted: dict[str, str]) -> list[str]:
    """A database value, and what it decodes to where it is base64 (DBOS pickles its data)."""
    blob = cell if isinstance(cell, bytes) else str(cell).encode()
    hits = _raw_hits(blob, planted)
    try:
        hits += _raw_hits(base64.b64decode(blob, validate=True), planted)
    except (binascii.Error, ValueError):
        pass
    return sorted(set(hits))


def _sqlite_rows_with_secrets(db: Path, planted: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    if cell is not None and (hits := _cell_hits(cell, planted)):
                        found.setdefault(f"{db.name}:{table}", []).extend(hits)
    finally:
        conn.close()
    return found


def _files_with_secrets(root: Path, planted: dict[str, str]) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            hits = _raw_hits(path.read_bytes(), planted)
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def _postgres_rows_with_secrets(url: str, planted: dict[str, str]) -> dict[str, list[str]]:
    import psycopg

    found: dict[str, list[str]] = {}
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        assert any(schema == "dbos" for schema, _ in tables), tables  # DBOS's own tables are searched too
        for schema, table in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                for cell in row:
                    if cell is not None and (hits := _cell_hits(cell, planted)):
                        found.setdefault(f"{schema}.{table}", []).extend(hits)
    return found


def _readers_output(repo: Path, env: dict[str, str], out: Path) -> dict[str, bytes]:
    """Everything a person can get shown: the three exports, the log, the web pages."""
    shown: dict[str, bytes] = {}
    for fmt in ("md", "json", "html"):
        res = subprocess.run(overseer_cmd("export", "-f", fmt, "-o", str(out / f"report.{fmt}")),
                             cwd=repo, env=env, capture_output=True, timeout=120)
        assert res.returncode == 0, res.stderr
        shown[f"export {fmt}"] = (out / f"report.{fmt}").read_bytes()
    for args in (("log",), ("status",), ("status", "--json")):
        res = subprocess.run(overseer_cmd(*args), cwd=repo, env=env, capture_output=True, timeout=120)
        shown[" ".join(args)] = res.stdout + res.stderr
    with serving(repo, env) as s:
        with httpx.Client(base_url=s.base, cookies={}, follow_redirects=True, timeout=30) as web:
            web.get(f"/?token={s.token}")
            runs = web.get("/api/runs").json()
            run_id = runs[0]["id"]
            for page in ("/", f"/runs/{run_id}", f"/api/runs/{run_id}", "/api/runs"):
                res = web.get(page)
                assert res.status_code == 200, (page, res.status_code)
                shown[f"web {page}"] = res.content
    return shown


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_planted_secrets_are_nowhere_at_rest(make_repo, tmp_path, backend, request) -> None:
    planted = _planted()
    home = tmp_path / "home"
    home.mkdir()
    reader_env = clean_env(home)
    if backend == "postgresql":
        reader_env["OVERSEER_DATABASE__URL"] = request.getfixturevalue("fresh_postgres_url")
    run_env = {**reader_env, **planted}

    repo = tmp_path / "repo"
    with FakeAnthropic(_turns(planted, repo)) as api:
        _repo(make_repo, api.url, cli("claude"))
        res = subprocess.run(overseer_cmd("run", "plan.yaml", "--yes", "--plain"), cwd=repo,
                             env=run_env, capture_output=True, timeout=300)
        # The run's own output to its terminal is scrubbed too.
        assert _raw_hits(res.stdout + res.stderr, planted) == []
        assert res.returncode == 0, (res.stdout + res.stderr).decode(errors="replace")
        assert {r.headers.get("x-api-key") for r in api.server.requests} == {planted["ANTHROPIC_API_KEY"]}

    tasks = {t["id"]: t for t in status_json(repo, reader_env)["tasks"]}
    assert tasks["shell"]["attempts"] == 2  # the second prompt quoted the first's gate output
    # The secrets did go round: the agent's files hold them in clear, as the agent wrote them
    # (the user's tree is the user's), so the searches below are searching for something real.
    assert planted["GITHUB_TOKEN"] in (repo / "tool.txt").read_text()
    assert planted["DEPLOY_PASSWORD"] in (repo / "written.txt").read_text()

    assert _files_with_secrets(repo / ".overseer", planted) == {}
    if backend == "postgresql":
        assert _postgres_rows_with_secrets(reader_env["OVERSEER_DATABASE__URL"], planted) == {}
    else:
        stores = [repo / ".overseer" / "state.db", repo / ".overseer" / "dbos.sqlite"]
        assert all(db.exists() for db in stores)
        assert {k: v for db in stores for k, v in _sqlite_rows_with_secrets(db, planted).items()} == {}

    out = tmp_path / "out"
    out.mkdir()
    shown = _readers_output(repo, reader_env, out)
    assert {what: hits for what, blob in shown.items() if (hits := _raw_hits(blob, planted))} == {}
    # What was masked is still recognisable: the same key leaves the same fingerprint.
    report = shown["export md"].decode()
    assert "sk-ant-***[" in report and "ghp_***[" in report
