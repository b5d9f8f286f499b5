"""What DBOS keeps of workflow inputs and step outputs: scrubbed before it is pickled, with an
`env` kept as written, and read back as the same kinds of objects."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import BaseModel

from overseer.engine.serializer import ScrubbingSerializer, scrubbed
from overseer.scrub import Scrubber

KEY = "sk-ant-api03-" + "Q" * 30
PLAIN = "hunter2-but-longer"


class Spec(BaseModel):
    prompt: str
    agent: dict[str, Any]
    env: dict[str, str] = {}


@dataclass
class Outcome:
    tail: str
    notes: list[str] = field(default_factory=list)


class Pair(NamedTuple):
    left: str
    right: int


def test_strings_anywhere_are_scrubbed_and_env_is_kept() -> None:
    scrub = Scrubber([PLAIN])
    value = {
        "spec": Spec(prompt=f"use {KEY}", agent={"type": "shell", "env": {"API_TOKEN": PLAIN}},
                     env={"X_KEY": PLAIN}),
        "outcome": Outcome(tail=f"printed {PLAIN}", notes=[f"again {KEY}"]),
        "pair": Pair(f"p {PLAIN}", 3),
        "args": (f"{PLAIN}", 1, None, 2.5),
    }
    out = scrubbed(value, scrub)
    assert out["spec"].prompt.startswith("use sk-ant-***[") and KEY not in out["spec"].prompt
    assert out["spec"].agent["env"] == {"API_TOKEN": PLAIN}  # what the agent is started with
    assert out["spec"].env == {"X_KEY": PLAIN}
    assert PLAIN not in out["outcome"].tail and KEY not in out["outcome"].notes[0]
    assert isinstance(out["pair"], Pair) and PLAIN not in out["pair"].left and out["pair"].right == 3
    assert out["args"][1:] == (1, None, 2.5) and PLAIN not in out["args"][0]
    assert value["outcome"].tail == f"printed {PLAIN}"  # the caller's object is left alone


def test_serialized_form_holds_no_raw_secret_and_reads_back() -> None:
    ser = ScrubbingSerializer()
    data = {"args": (Outcome(tail=f"key {KEY}"),), "kwargs": {"n": 2}}
    text = ser.serialize(data)
    assert KEY.encode() not in base64.b64decode(text)
    back = ser.deserialize(text)
    assert isinstance(back["args"][0], Outcome) and back["kwargs"] == {"n": 2}
    assert back["args"][0].tail.startswith("key sk-ant-***[")
    # Not DBOS's own pickle name: DBOS would then use its own serializer, unscrubbed.
    assert ser.name() != "py_pickle"
