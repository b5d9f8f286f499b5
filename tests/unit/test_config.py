"""Config layers, sources, error messages, redaction, `overseer config show`, and docs/config.md."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from overseer.cli.config_cmd import config_app
from overseer.config import (
    ConfigValue,
    Settings,
    explain_settings,
    known_secret_values,
    load_settings,
    redact_text,
    redact_value,
    settings_reference_markdown,
    user_config_path,
)
from overseer.errors import EXIT_BAD_INPUT, ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A project dir, a user config dir, and an env that points at them and nothing else."""
    project = tmp_path / "project"
    user = tmp_path / "user"
    project.mkdir()
    user.mkdir()
    env = {"HOME": str(tmp_path / "home"), "OVERSEER_CONFIG_HOME": str(user)}
    return project, user, env


def _source(values: list[ConfigValue], key: str) -> ConfigValue:
    return next(v for v in values if v.key == key)


# --------------------------------------------------------------------------- precedence

LAYERS = ("user", "project", "env", "flag")


@pytest.mark.parametrize(
    "present",
    [c for n in range(len(LAYERS) + 1) for c in itertools.combinations(LAYERS, n)],
    ids=lambda c: "+".join(c) or "defaults",
)
def test_each_layer_overrides_the_ones_before(
    dirs: tuple[Path, Path, dict[str, str]], present: tuple[str, ...]
) -> None:
    project, user, env = dirs
    # Each layer sets run.parallel to its own value, so the winner is visible.
    value = {"user": 2, "project": 3, "env": 4, "flag": 5}
    flags: dict[str, object] = {}
    if "user" in present:
        (user / "config.yaml").write_text("run:\n  parallel: 2\n")
    if "project" in present:
        (project / "overseer.yaml").write_text("# project settings\nrun:\n  parallel: 3\n")
    if "env" in present:
        env["OVERSEER_RUN__PARALLEL"] = "4"
    if "flag" in present:
        flags["run.parallel"] = 5

    winner = present[-1] if present else None
    settings = load_settings(project, flags=flags, env=env)
    assert settings.run.parallel == (value[winner] if winner else 1)

    got = _source(explain_settings(project, flags=flags, env=env), "run.parallel")
    expected_source = {
        None: "default",
        "user": f"{user / 'config.yaml'}:2",
        "project": f"{project / 'overseer.yaml'}:3",
        "env": "env OVERSEER_RUN__PARALLEL",
        "flag": "flag --parallel",
    }[winner]
    assert got.source == expected_source


def test_layers_merge_per_key_not_per_section(dirs: tuple[Path, Path, dict[str, str]]) -> None:
    project, user, env = dirs
    (user / "config.yaml").write_text("run:\n  parallel: 2\n  mode: copilot\n")
    (project / "overseer.yaml").write_text("run:\n  parallel: 3\n")
    settings = load_settings(project, env=env)
    assert (settings.run.parallel, settings.run.mode) == (3, "copilot")


def test_flags_given_as_none_are_ignored(dirs: tuple[Path, Path, dict[str, str]]) -> None:
    project, _, env = dirs
    env["OVERSEER_RUN__AGENT"] = "coder"
    settings = load_settings(
        project, flags={"run.agent": None, "supervisor.provider": "none"}, env=env
    )
    assert settings.run.agent == "coder"
    assert settings.supervisor.provider == "none"
    assert (
        _source(
            explain_settings(project, flags={"supervisor.provider": "none"}, env=env),
            "supervisor.provider",
        ).source
        == "flag --supervisor"
    )


def test_env_nesting_and_parsing(dirs: tuple[Path, Path, dict[str, str]]) -> None:
    project, _, env = dirs
    (project / "overseer.yaml").write_text("database:\n  url: sqlite:///x.db\n")
    env |= {
        "OVERSEER_DATABASE__URL": "",  # empty unsets the file's value
        "OVERSEER_DATABASE__ECHO": "true",
        "OVERSEER_DECISION__PROCEED_AT": "0.8",
        "OVERSEER_NOTIFICATIONS__URLS": "json://a, json://b",
        "OVERSEER_LOGGING__LEVEL": "DEBUG",
        # runtime variables of other parts of overseer are not settings
        "OVERSEER_DEBUG": "1",
        "OVERSEER_PROMPT": "do it",
    }
    s = load_settings(project, env=env)
    assert s.database.url is None
    assert s.database.echo is True
    assert s.decision.proceed_at == 0.8
    assert s.notifications.urls == ["json://a", "json://b"]
    assert s.logging.level == "debug"
    env["OVERSEER_NOTIFICATIONS__URLS"] = '["json://c"]'
    assert load_settings(project, env=env).notifications.urls == ["json://c"]


def test_user_config_path_follows_xdg_and_override(tmp_path: Path) -> None:
    assert user_config_path({"HOME": "/h"}) == Path("/h/.config/overseer/config.yaml")
    assert user_config_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path(
        "/x/overseer/config.yaml"
    )
    assert user_config_path(
        {"HOME": "/h", "XDG_CONFIG_HOME": "/x", "OVERSEER_CONFIG_HOME": "/o"}
    ) == Path("/o/config.yaml")


def test_defaults_and_database_url(tmp_path: Path) -> None:
    s = load_settings(tmp_path, env={"HOME": str(tmp_path)})
    assert s == Settings()
    assert s.database_url_for(tmp_path) == f"sqlite:///{tmp_path}/.overseer/state.db"
    s = load_settings(
        tmp_path, flags={"database.url": "postgresql://h/db"}, env={"HOME": str(tmp_path)}
    )
    assert s.database_url_for(tmp_path) == "postgresql://h/db"


# --------------------------------------------------------------------------- errors

BAD_FILES = [
    (
        "# comment\nrun:\n  parallel: many\n",
        ["overseer.yaml:3:3: run.parallel: expected an integer >= 1, got 'many'"],
        None,
    ),
    (
        "run:\n  parallel: 0\n",
        ["overseer.yaml:2:3: run.parallel: expected an integer >= 1, got 0"],
        None,
    ),
    (
        "run:\n  paralel: 2\n",
        ["overseer.yaml:2:3: run.paralel: unknown key"],
        "did you mean `run.parallel`?",
    ),
    (
        "databse:\n  url: x\n",
        ["overseer.yaml:1:1: databse: unknown key"],
        "did you mean `database`?",
    ),
    ("run: [1\n", ["overseer.yaml:2:1: invalid YAML"], "YAML syntax"),
    ("- a\n- b\n", ["overseer.yaml:1:1: expected a mapping of sections"], None),
    (
        "run: 5\n",
        ["overseer.yaml:1:1: run: expected a mapping of parallel, branch, agent, mode, worker_slots, got 5"],
        None,
    ),
    (
        "run:\n  mode: pilot\n",
        ["run.mode: expected one of 'autopilot', 'copilot', got 'pilot'"],
        None,
    ),
    (
        "decision:\n  proceed_at: 1.5\n",
        ["decision.proceed_at: expected a number between 0 and 1, got 1.5"],
        None,
    ),
    (
        "decision:\n  proceed_at: 0.3\n  escalate_below: 0.5\n",
        ["overseer.yaml:1:1: decision: escalate_below (0.5) must not exceed proceed_at (0.3)"],
        None,
    ),
    (
        "run:\n  parallel: x\n  branch: [1]\n",
        ["2 config errors", ":2:3: run.parallel", ":3:3: run.branch"],
        None,
    ),
    ("run:\n  a: 1\n  a: 2\n", ["overseer.yaml:3:3: invalid YAML"], None),
]


@pytest.mark.parametrize(("text", "fragments", "hint"), BAD_FILES)
def test_bad_project_file_names_file_line_and_key(
    dirs: tuple[Path, Path, dict[str, str]], text: str, fragments: list[str], hint: str | None
) -> None:
    project, _, env = dirs
    (project / "overseer.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(project, env=env)
    message = info.value.message
    assert str(project / "overseer.yaml") in message
    for fragment in fragments:
        assert fragment in message
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert info.value.hint
    if hint:
        assert hint in info.value.hint


def test_bad_user_file_names_user_file(dirs: tuple[Path, Path, dict[str, str]]) -> None:
    project, user, env = dirs
    (user / "config.yaml").write_text("agents:\n  stall_after: -1\n")
    with pytest.raises(
        ConfigError, match=r"config\.yaml:2:3: agents\.stall_after: expected a number > 0"
    ):
        load_settings(project, env=env)


def test_bad_env_value_names_variable(dirs: tuple[Path, Path, dict[str, str]]) -> None:
    project, _, env = dirs
    env["OVERSEER_RUN__PARALLEL"] = "many"
    with pytest.raises(
        ConfigError,
        match="^OVERSEER_RUN__PARALLEL: run.parallel: expected an integer >= 1, got 'many'$",
    ):
        load_settings(project, env=env)
    del env["OVERSEER_RUN__PARALLEL"]
    env["OVERSEER_RUN__PARALEL"] = "2"
    with pytest.raises(
        ConfigError, match="OVERSEER_RUN__PARALEL: run.paralel: unknown key"
    ) as info:
        load_settings(project, env=env)
    assert "run.parallel" in (info.value.hint or "")


def test_bad_flag_names_flag(dirs: tuple[Path, Path, dict[str, str]]) -> None:
    project, _, env = dirs
    with pytest.raises(
        ConfigError, match="^flag --parallel: run.parallel: expected an integer >= 1, got 0$"
    ):
        load_settings(project, flags={"run.parallel": 0}, env=env)


def test_bad_secret_value_is_not_echoed(dirs: tuple[Path, Path, dict[str, str]]) -> None:
    project, _, env = dirs
    (project / "overseer.yaml").write_text("supervisor:\n  api_key: 123456789\n")
    with pytest.raises(ConfigError) as info:
        load_settings(project, env=env)
    assert "supervisor.api_key: expected a string, got '***'" in info.value.message
    assert "123456789" not in info.value.message


# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("supervisor.api_key", SecretStr("sk-1"), "***"),
        ("x.auth_token", "abc", "***"),
        ("x.db_password", "abc", "***"),
        ("x.client_secret", "abc", "***"),
        ("x.credentials", "abc", "***"),
        ("supervisor.api_key_env", "ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
        ("supervisor.api_key", None, None),
        ("database.url", "postgresql://u:pw@h:5432/db", "postgresql://***@h:5432/db"),
        ("database.url", "postgresql://h/db", "postgresql://h/db"),
        ("supervisor.base_url", "https://h/v1?api_key=abc&x=1", "https://h/v1?api_key=***&x=1"),
        ("notifications.urls", ["tgram://bot123/chat", "x"], ["tgram://***", "***"]),
        ("run.parallel", 3, 3),
        ("supervisor.max_output_tokens", 1024, 1024),
        ("budgets.run_tokens", 50000, 50000),
        ("x.api_token", "1024", "***"),
    ],
)
def test_redact_value(key: str, value: object, shown: object) -> None:
    assert redact_value(key, value) == shown


def test_known_secret_values_and_redact_text() -> None:
    env = {
        "ANTHROPIC_API_KEY": "sk-ant-123456",
        "GITHUB_TOKEN": "ghp_abcdef",
        "PGPASSWORD": "hunter22",
        "SHORT_TOKEN": "1",
        "DATABASE_URL": "postgresql://u:dbpass99@h/db",
        "PATH": "/usr/bin",
    }
    secrets = known_secret_values(env)
    assert secrets == {"sk-ant-123456", "ghp_abcdef", "hunter22", "dbpass99"}
    text = "key sk-ant-123456 at https://me:pw@host/x?token=t0k&y=2 and hunter22 in /usr/bin"
    assert redact_text(text, secrets) == (
        "key *** at https://***@host/x?token=***&y=2 and *** in /usr/bin"
    )


def test_explain_scrubs_values_of_secret_env_vars(dirs: tuple[Path, Path, dict[str, str]]) -> None:
    project, _, env = dirs
    env["MY_SERVICE_TOKEN"] = "tok-planted-42"
    env["OVERSEER_SUPERVISOR__MODEL"] = "model-tok-planted-42"
    values = explain_settings(project, env=env)
    assert _source(values, "supervisor.model").value == "model-***"


# --------------------------------------------------------------------------- the command

PLANTED = {
    "file_key": "sk-file-PLANTED-1111",
    "env_key": "sk-env-PLANTED-2222",
    "db_password": "dbpw-PLANTED-3333",
    "apprise": "tgtoken-PLANTED-4444",
}


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVERSEER_")}
    env |= {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "OVERSEER_CONFIG_HOME": str(tmp_path / "user"),
        "COLUMNS": "200",
    }
    return env


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "overseer.cli.main", "config", "show", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    (tmp_path / "user").mkdir()
    project.mkdir()
    (tmp_path / "user" / "config.yaml").write_text(
        f"notifications:\n  urls: ['tgram://{PLANTED['apprise']}/123']\n"
    )
    (project / "overseer.yaml").write_text(
        "run:\n  parallel: 2\n"
        f"supervisor:\n  api_key: {PLANTED['file_key']}\n"
        f"database:\n  url: postgresql://me:{PLANTED['db_password']}@127.0.0.1/db\n"
    )
    env = _cli_env(tmp_path)
    env["ANTHROPIC_API_KEY"] = PLANTED["env_key"]
    # The same secret reaching a non-secret key must still be scrubbed.
    env["OVERSEER_SUPERVISOR__BASE_URL"] = f"http://127.0.0.1:1/{PLANTED['env_key']}"
    return project, env


def test_config_show_table_redacts_and_names_sources(planted: tuple[Path, dict[str, str]]) -> None:
    project, env = planted
    result = _run(project, env)
    assert result.returncode == 0, result.stderr
    for secret in PLANTED.values():
        assert secret not in result.stdout + result.stderr
    assert "./overseer.yaml:2" in result.stdout
    assert "env OVERSEER_SUPERVISOR__BASE_URL" in result.stdout
    assert "***" in result.stdout


def test_config_show_json(planted: tuple[Path, dict[str, str]]) -> None:
    project, env = planted
    result = _run(project, env, "--json", "--dir", str(project))
    assert result.returncode == 0, result.stderr
    for secret in PLANTED.values():
        assert secret not in result.stdout
    doc = json.loads(result.stdout)
    assert doc["run.parallel"] == {"value": 2, "source": f"{project}/overseer.yaml:2"}
    assert doc["supervisor.api_key"]["value"] == "***"
    assert doc["database.url"]["value"] == "postgresql://***@127.0.0.1/db"
    assert doc["notifications.urls"]["value"] == ["tgram://***"]
    assert doc["logging.level"] == {"value": "info", "source": "default"}


def test_config_show_bad_file_exits_2_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "overseer.yaml").write_text("run:\n  parallel: many\n")
    result = _run(tmp_path, _cli_env(tmp_path))
    assert result.returncode == 2
    assert (
        "./overseer.yaml:2:3: run.parallel: expected an integer >= 1, got 'many'" in result.stderr
    )
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_config_show_in_process(
    planted: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same command without the console script, so a broken sibling command cannot mask it.
    project, env = planted
    for key in [k for k in os.environ if k.startswith("OVERSEER_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(config_app, ["show", "--json", "--dir", str(project)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["run.parallel"]["value"] == 2
    assert not any(secret in result.output for secret in PLANTED.values())
    result = CliRunner().invoke(config_app, ["show", "--dir", str(project / "missing")])
    assert isinstance(result.exception, ConfigError)


# --------------------------------------------------------------------------- docs


def test_docs_config_md_is_generated_from_the_model() -> None:
    committed = (REPO_ROOT / "docs" / "config.md").read_text()
    assert committed == settings_reference_markdown(), (
        "docs/config.md is stale: run `python -m overseer.config --markdown > docs/config.md`"
    )


def test_every_field_is_documented() -> None:
    text = settings_reference_markdown()
    for section, info in Settings.model_fields.items():
        model = info.annotation
        assert isinstance(model, type)
        for name, field in model.model_fields.items():
            assert field.description, f"{section}.{name} has no description"
            assert f"`{section}.{name}`" in text


def test_docs_example_is_a_valid_project_file(tmp_path: Path) -> None:
    text = settings_reference_markdown()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "overseer.yaml").write_text(example)
    assert load_settings(tmp_path, env={"HOME": str(tmp_path)}) == Settings()
