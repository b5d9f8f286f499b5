"""The report scrubber: what it masks, and ordinary text it leaves alone."""

from __future__ import annotations

import pytest

from overseer.report.render import cell, fence
from overseer.report.scrub import Scrubber


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
    assert out == "*** *** *** /home/me"
    assert s.deep({"a": ["envvalue-123", 3]}) == {"a": ["***", 3]}


def test_markdown_helpers_keep_text_inside_blocks() -> None:
    assert fence("a\n```\nb") == "````\na\n```\nb\n````"
    assert cell("a|b\nc<d>") == "a\\|b<br>c&lt;d&gt;"
