"""Findings: what an evidence source found in one attempt (ARCHITECTURE.md: evidence, not claims).

Every source that judges an attempt (the gates' test counts, test integrity, holdout gates,
unfinished-work detection, the reviewer) reports in this one shape, so `decide()` reads them
all alike and the report, the web view and the next prompt can quote each by file:line.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Severity = Literal["major", "medium", "minor", "info"]
Source = Literal["gates", "integrity", "holdout", "placeholders", "reviewer"]


class Finding(BaseModel):
    source: Source
    # What was found, as a stable name: test_deleted, skip_added, assertion_changed,
    # assertion_neutralised, gate_file_edited, fewer_tests, more_skipped, placeholder, ...
    kind: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None
    # What the agent should do instead; quoted in the next prompt.
    fix: str | None = None

    @property
    def where(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    def text(self) -> str:
        """One line: `path:line: message`, for reasons, prompts and reports."""
        return f"{self.where}: {self.message}" if self.where else self.message


def blocking(findings: list[Finding]) -> list[Finding]:
    """The findings that refuse an attempt on their own, whatever the reviewer says."""
    return [f for f in findings if f.severity == "major"]
