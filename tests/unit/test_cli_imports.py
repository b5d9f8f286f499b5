"""The CLI imports only what a command needs: `--help`, `validate` and `schema` never load the
store, SQLAlchemy, DBOS, the engine or an LLM client (their import is most of a second)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sqlalchemy", "dbos", "alembic", "openai", "anthropic", "llama_cpp", "fastapi", "asyncssh",
         "overseer.store", "overseer.engine", "overseer.supervisor")

PROBE = """\
import json, sys
sys.argv = ["overseer", *json.loads(sys.argv[1])]
from overseer.cli.main import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\n@@" + json.dumps(sorted(sys.modules)))
"""

PLAN = """\
version: 1
name: light
agents:
  sh: {type: shell, command: "echo hi"}
tasks:
  - {id: a, prompt: do a, agent: sh}
"""


@pytest.mark.parametrize("args", [
    ["--help"], ["validate", "plan.yaml"], ["validate", "--help"], ["schema", "plan"],
    ["status", "--help"], ["run", "--help"],
])
def test_light_commands_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    (tmp_path / "plan.yaml").write_text(PLAN)
    res = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    modules = json.loads(res.stderr.rsplit("@@", 1)[1])
    assert "overseer.cli.main" in modules  # the probe did run the CLI
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert loaded == [], f"overseer {' '.join(args)} imported {loaded[:8]}"
