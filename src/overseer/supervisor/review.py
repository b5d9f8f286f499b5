"""The reviewer's judgement of one attempt (ARCHITECTURE.md: Verdict)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Issue(BaseModel):
    severity: Literal["major", "medium", "minor"]
    description: str


class Verdict(BaseModel):
    complete: bool
    score: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)
    unmet_criteria: list[str] = Field(default_factory=list)
    issues: list[Issue] = Field(default_factory=list)
    follow_up: str | None = None
    reviewer: str = "rules"
