"""The report scrubber: what it masks, and ordinary text it leaves alone."""

from __future__ import annotations

import hashlib

import pytest

from overseer.report.render import cell, fence
from overseer.scrub import Scrubber, masked


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("key sk-test-PLANTED123456789 here", "PLANTED123456789"),
        ("sk-ant-api03-abcdefghijklmnop", "abcdefghijklmnop"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y", "eyJhbGciOiJIUzI1NiJ9"),
        ("api_key=abc123secret", "abc123secret"),
        ('{"api-key": "zzz-999-yyy"}', "zzz-999-yyy"),
        ("PASSWORD: hunter2hunter2", "hunter2hunter2"),
        ("token=tok_8f7e6d5c", "tok_8f7e6d5c"),
        ("ghp_" + "a1B2" * 9, "a1B2a1B2a1B2"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2hlcmU", "eyJzdWIiOiIxMjM0In0"),
        ("xoxb-1234567890-abcdefghij", "1234567890-abcdefghij"),
        ("AIza" + "B" * 35, "B" * 35),
        ("AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
        ("https://user:pw-s3cret@example.invalid/x", "pw-s3cret"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
    ],
)
def test_patterns_mask_secrets(text: str, gone: str) -> None:
    out = Scrubber().text(text)
    assert gone not in out and "***" in out


@pytest.mark.parametrize(
    "text",
    [
        "input_tokens=1234, output_tokens: 99",
        "the task-runner ask-me disk-usage",
        "Bearer of bad news",
        "required gate unit failed (exit 1, 1 failing tests)",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Scrubber().text(text) == text


def test_known_values_from_env_and_plan() -> None:
    plan = {"plan": {"agents": {"a": {"type": "shell", "env": {"SERVICE_TOKEN": "plain-value-42"}}}},
            "resolved_tasks": [{"agent": {"env": {"MY_API_KEY": "other-value-77"}}}]}
    s = Scrubber.for_run(plan, env={"GITHUB_TOKEN": "envvalue-123", "HOME": "/home/me"})
    out = s.text("plain-value-42 other-value-77 envvalue-123 /home/me")
    assert out == f"{masked('plain-value-42')} {masked('other-value-77')} {masked('envvalue-123')} /home/me"
    assert s.deep({"a": ["envvalue-123", 3]}) == {"a": [masked("envvalue-123"), 3]}


def test_a_masked_secret_keeps_a_fingerprint_to_match_leaks_by() -> None:
    key = "sk-ant-api03-" + "Zq9" * 8
    one, two = Scrubber().text(f"first {key}"), Scrubber().text(f"again: {key}.")
    fp = hashlib.sha256(key.removeprefix("sk-ant-").encode()).hexdigest()[:4]
    assert one == f"first sk-ant-***[{fp}]" and two == f"again: sk-ant-***[{fp}]."
    other = Scrubber().text("sk-ant-api03-" + "Xy7" * 8)
    assert other != one.removeprefix("first ")


def test_a_scrubber_learns_an_agents_environment() -> None:
    s = Scrubber()
    s.learn({"MY_SERVICE_TOKEN": "plain-looking-value", "PATH": "/usr/bin"})
    assert s.text("got plain-looking-value in /usr/bin") == f"got {masked('plain-looking-value')} in /usr/bin"


def test_markdown_helpers_keep_text_inside_blocks() -> None:
    assert fence("a\n```\nb") == "````\na\n```\nb\n````"
    assert cell("a|b\nc<d>") == "a\\|b<br>c&lt;d&gt;"


@pytest.mark.parametrize("text", [
    '"api_key": null', '"max_token": 4096', "token: true", "password = none", '"secret": false',
])
def test_json_and_yaml_literals_are_not_mistaken_for_secrets(text: str) -> None:
    assert Scrubber().text(text) == text


def test_a_stored_json_document_stays_json_with_its_secrets_masked() -> None:
    import json

    doc = json.dumps({"supervisor": {"api_key": None, "timeout": 60.0, "api_key_env": "OPENAI_API_KEY"},
                      "agents": [{"password": "hunter2-long", "note": "key sk-ant-" + "x" * 20}],
                      "budgets": {"task_tokens": 1000}})
    out = Scrubber().stored(doc)
    back = json.loads(out)  # still a JSON document
    assert back["supervisor"] == {"api_key": None, "timeout": 60.0, "api_key_env": "OPENAI_API_KEY"}
    assert back["agents"][0]["password"].startswith("***[") and "hunter2" not in out
    assert back["agents"][0]["note"].startswith("key sk-ant-***[")
    assert back["budgets"] == {"task_tokens": 1000}
    # Parameters of one statement: a tuple stays a tuple, plain text is scrubbed as text.
    assert Scrubber(["plain-secret-1"]).stored(("x plain-secret-1", 3, None))[1:] == (3, None)
