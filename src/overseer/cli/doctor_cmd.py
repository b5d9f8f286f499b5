"""`overseer doctor`: is everything a run needs here, and if not, the one-line fix.

Statuses: `ok`; `problem` (something is wrong); `note` (nothing to fix, worth knowing). The exit
code is 1 when a *required* row is a problem — a broken plugin the plan does not use is reported
but does not fail the check.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table
from rich.text import Text

from overseer.cli.output import out
from overseer.errors import OverseerError

Status = Literal["ok", "problem", "note"]
VERSION_TIMEOUT = 15.0


@dataclass
class Check:
    name: str
    status: Status
    detail: str = ""
    fix: str = ""
    required: bool = True


def _first_line(text: str, limit: int = 100) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def _check_git() -> Check:
    git = shutil.which("git")
    if git is None:
        return Check("git", "problem", "git not found on PATH", "install git (apt-get install git)")
    try:
        done = subprocess.run([git, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("git", "problem", f"{git} --version failed: {exc}", "reinstall git")
    return Check("git", "ok", _first_line(done.stdout) or git)


def _check_agent_types(used: set[str]) -> Iterator[Check]:
    from overseer.agents.registry import agent_types, broken_agent_types

    names = sorted(agent_types())
    yield Check("agent types", "ok" if names else "problem", ", ".join(names) or "none registered",
                "" if names else "reinstall overseer (pip install -e .)")
    for name, why in sorted(broken_agent_types().items()):
        yield Check(
            f"agent type {name}", "problem", f"failed to load: {why}",
            "reinstall the package that provides it", required=name in used,
        )


def _check_supervisor(settings: Any) -> Check:
    """The reviewing LLM: which one a run would use, and whether it answers. Loads no model."""
    from overseer.supervisor.llm import LLMUnavailable, NoLLM, api_key, choose_provider

    sup = settings.supervisor
    try:
        llm, why = choose_provider(sup)
    except LLMUnavailable as exc:
        return Check("supervisor LLM", "problem", str(exc),
                     "fix supervisor.* in overseer.yaml (overseer config show), or provider: none")
    if isinstance(llm, NoLLM):
        return Check("supervisor LLM", "note", f"{why}: the gates alone decide",
                     "set supervisor.provider (docs/supervisor.md) for reviews", required=False)
    base_url = getattr(llm, "base_url", None)
    if base_url and "anthropic.com" not in base_url:
        problem = _probe_models(base_url, api_key(sup, None))
        if problem:
            return Check("supervisor LLM", "problem", f"{why}; {problem}",
                         "start the server, or fix supervisor.base_url / supervisor.api_key_env")
    return Check("supervisor LLM", "ok", why)


def _check_web_port(settings: Any) -> Check:
    """Can `overseer serve` bind web.host:web.port? A busy port is a note: it may be a running serve."""
    import socket

    host, port = settings.web.host, settings.web.port
    if port == 0:
        return Check("web port", "ok", f"{host}: a free port is picked at start", required=False)
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.bind((host, port))
    except OSError as exc:
        return Check("web port", "note", f"{host}:{port} cannot be bound ({exc.strerror or exc})",
                     "another program (or a running `overseer serve`) has it: set web.port, or --port",
                     required=False)
    return Check("web port", "ok", f"{host}:{port} is free for `overseer serve`", required=False)


def _check_watchdog() -> Check:
    from overseer.watchdog import measure

    took = measure()
    if took is None:
        return Check("agent watchdog", "problem", "a watched process group outlived its overseer",
                     "agents may outlive a killed overseer: report this with your OS and Python")
    return Check("agent watchdog", "ok",
                 f"agents die with overseer, even by kill -9 (measured: {took * 1000:.0f} ms): a "
                 "watchdog on a pipe from overseer; over SSH, with the connection")


def _probe_models(base_url: str, key: str | None) -> str | None:
    """None when the OpenAI-compatible endpoint answers GET /models, else what went wrong."""
    import httpx

    from overseer.config import redact_url

    url = base_url.rstrip("/") + "/models"
    try:
        r = httpx.get(url, timeout=3.0, headers={"Authorization": f"Bearer {key}"} if key else {})
    except httpx.HTTPError as exc:
        return f"{redact_url(url)} does not answer ({type(exc).__name__})"
    if r.status_code in (401, 403):
        return f"{redact_url(url)} refused the request ({r.status_code}): check the API key"
    if r.status_code >= 500:
        return f"{redact_url(url)} answered {r.status_code}"
    return None


def _check_database(settings: Any, repo: Path) -> Check:
    from overseer.config import redact_url
    from overseer.store import Store

    url = settings.database_url_for(repo)
    shown = redact_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            # Opening would create it: doctor reports, it does not set up state.
            parent = next((p for p in [path.parent, *path.parents] if p.exists()), Path("/"))
            if os.access(parent, os.W_OK):
                return Check("database", "ok", f"{shown} (created by the first run)")
            return Check("database", "problem", f"{shown}: {parent} is not writable",
                         "set database.url, or run from a directory you can write to")
    try:
        store = Store.open(url)
    except OverseerError as exc:
        return Check("database", "problem", f"{shown}: {exc.message}", exc.hint or "check database.url")
    except Exception as exc:  # a driver error: report it, never a traceback
        return Check("database", "problem", f"{shown}: {type(exc).__name__}: {exc}",
                     "check database.url and that the server is up")
    store.close()
    return Check("database", "ok", shown)


# -- agents in the plan -----------------------------------------------------------------------


def _plan_agents(plan: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from plan.agents.items()
    if isinstance(plan.defaults.agent, dict):
        yield "defaults.agent", plan.defaults.agent
    for task in plan.tasks:
        if isinstance(task.agent, dict):
            yield f"task {task.id}", task.agent


def _binary(config: Any) -> str | None:
    """The program an agent runs: its `binary` key, or a shell agent's first command word."""
    binary = getattr(config, "binary", None)
    if isinstance(binary, str):
        from overseer.agents.envvars import expand

        return expand(binary, os.environ, where="binary")
    command = getattr(config, "command", None)
    if isinstance(command, str):
        words = [w for w in shlex.split(command) if not (w.partition("=")[1] and w[0].isalpha())]
        return words[0] if words else None
    return None


def _run(transport: Any, argv: list[str], cwd: Path) -> tuple[int | None, list[str]]:
    lines: list[str] = []
    outcome = transport.run(
        argv, cwd=cwd, env=dict(os.environ), on_line=lines.append, timeout=VERSION_TIMEOUT,
        stall_after=VERSION_TIMEOUT,
    )
    return (outcome.exit_code if outcome.ended_by == "exit" else None), lines


def _check_agent(label: str, obj: dict[str, Any], workspace: Path) -> Iterator[Check]:
    from overseer.agents.registry import agent_types, broken_agent_types
    from overseer.agents.transport import SshTransportSpec, transport_for

    type_name = str(obj.get("type", "?"))
    name = f"agent {label} ({type_name})"
    cls = agent_types().get(type_name)
    if cls is None:
        why = broken_agent_types().get(type_name)
        if why:
            yield Check(name, "problem", f"agent type failed to load: {why}", "reinstall the package that provides it")
        else:
            from overseer.plan.validate import unknown_type_fix

            fix = unknown_type_fix(type_name, sorted(agent_types())).removeprefix("; ")
            yield Check(name, "problem", f"unknown agent type '{type_name}'", fix)
        return
    from pydantic import ValidationError

    try:
        config = cls.config_class.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        yield Check(name, "problem", f"invalid settings: {where}: {first['msg']}",
                    "`overseer validate PLAN` shows every error with its line")
        return

    transport = transport_for(config.transport)
    where = transport.describe()
    if isinstance(config.transport, SshTransportSpec):
        from overseer.agents.ssh import check_error

        problem = check_error(config.transport.ssh)
        if problem is not None:
            yield Check(f"{name} transport", "problem", problem.message,
                        problem.hint or "check the agent's transport: ssh settings")
            return
        yield Check(f"{name} transport", "ok", where)

    try:
        binary = _binary(config)
    except (OverseerError, ValueError) as exc:
        yield Check(name, "problem", f"cannot tell which program it runs: {exc}", "fix the agent's binary/command")
        return
    if binary is None:
        yield Check(name, "ok", f"nothing to check ({where})")
        return
    is_shell = getattr(config, "binary", None) is None
    # A shell agent's command runs under bash, whose builtins count as found.
    shell = "bash" if is_shell else "sh"
    code, lines = _run(transport, [shell, "-c", 'command -v -- "$1"', shell, binary], workspace)
    if code != 0:
        fix = (f"install {binary} on the remote host, or set the agent's `binary` key"
               if where != "local" else
               "install it, or set the agent's `binary:` to its path" if not is_shell
               else "install the program the command starts, or fix `command:`")
        yield Check(name, "problem", f"{binary} not found ({where})", fix)
        return
    found = lines[-1] if lines else binary
    if is_shell:
        yield Check(name, "ok", f"command {found} ({where})")
        return
    code, lines = _run(transport, [binary, "--version"], workspace)
    if code != 0:
        detail = f"{found} --version " + ("timed out" if code is None else f"exited with {code}")
        tail = _first_line("\n".join(lines[-3:]))
        yield Check(name, "problem", f"{detail}: {tail}" if tail else detail,
                    f"run `{binary} --version` by hand; reinstall it if it fails")
        return
    version = _first_line("\n".join(lines)) or "version unknown"
    yield Check(name, "ok", f"{found}: {version} ({where})")


def _plan_checks(plan_path: Path) -> tuple[list[Check], set[str], Path]:
    from overseer.plan.load import load_plan

    try:
        plan = load_plan(plan_path)
    except OverseerError as exc:
        return ([Check("plan", "problem", f"{plan_path}: {exc.message}",
                       f"overseer validate {plan_path}")], set(), plan_path.parent)
    workspace = (plan_path.parent / (plan.workspace or ".")).resolve()
    agents = list(_plan_agents(plan))
    used = {str(obj.get("type")) for _, obj in agents}
    checks = [Check("plan", "ok", f"{plan_path} ({len(agents)} agent{'' if len(agents) == 1 else 's'})")]
    for label, obj in agents:
        checks.extend(_check_agent(label, obj, workspace if workspace.is_dir() else plan_path.parent))
    return checks, used, workspace


def run_checks(plan_path: Path | None, project_dir: Path) -> list[Check]:
    from overseer.config import Settings, load_settings

    checks: list[Check] = [_check_git()]
    settings: Any
    try:
        settings = load_settings(project_dir)
        checks.append(Check("config", "ok", "settings load"))
    except OverseerError as exc:
        settings = Settings()
        checks.append(Check("config", "problem", exc.message, exc.hint or "overseer config show"))

    plan_rows: list[Check] = []
    used: set[str] = set()
    repo = project_dir
    if plan_path is not None:
        plan_rows, used, repo = _plan_checks(plan_path)
    checks.extend(_check_agent_types(used))
    checks.extend(plan_rows)
    if plan_path is None:
        checks.append(Check("plan", "note", "no plan given and no plan.yaml here: agents not checked",
                            "overseer doctor --plan PLAN", required=False))
    checks.append(_check_database(settings, repo))
    checks.append(_check_watchdog())
    checks.append(_check_supervisor(settings))
    checks.append(_check_web_port(settings))
    return checks


def doctor(
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="plan whose agents to check; default: ./plan.yaml if present"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the checks as JSON")] = False,
) -> None:
    """Check git, agent binaries and versions, transports, the database and the supervisor."""
    cwd = Path.cwd()
    if plan is None and (cwd / "plan.yaml").is_file():
        plan = cwd / "plan.yaml"
    checks = run_checks(plan, cwd)
    ok = not any(c.status == "problem" and c.required for c in checks)
    if as_json:
        typer.echo(json.dumps({"ok": ok, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        table = Table()
        for column in ("name", "status", "detail", "fix"):
            # fold, not ellipsis: a path or module name cut short is no help.
            table.add_column(column, overflow="fold")
        style = {"ok": "green", "problem": "red", "note": "yellow"}
        for c in checks:
            # Text, not markup: details hold things like "[127.0.0.1]:2222".
            table.add_row(Text(c.name), Text(c.status, style=style[c.status]), Text(c.detail),
                          Text(c.fix))
        out.print(table)
        out.print("everything needed is in place" if ok else "some checks failed: see the fix column")
    if not ok:
        raise typer.Exit(1)
