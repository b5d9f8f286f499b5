"""Reset times that providers write into rate-limit *messages* (the only place a CLI that
prints errors as text leaves them): "try again in 1m30s", "retry after 20 seconds",
"Suggested retry after 3600s.", "resets at 2026-11-22T05:00:00Z"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNIT = r"(?:ms|minutes?|mins?|m|hours?|hrs?|h|seconds?|secs?|s)"
_AFTER = re.compile(
    rf"(?:try again|retry)(?:\s+after|\s+in)?\s+((?:\d+(?:\.\d+)?\s*{_UNIT}(?![a-z])\s*)+)", re.IGNORECASE
)
_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT})(?![a-z])", re.IGNORECASE)
_AT = re.compile(
    r"resets?\s+at\s+(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)", re.IGNORECASE
)


def _seconds(amount: float, unit: str) -> float:
    u = unit.lower()
    if u == "ms":
        return amount / 1000
    if u.startswith("h"):
        return amount * 3600
    if u.startswith("m"):
        return amount * 60
    return amount


def retry_at_from_text(message: str, now: datetime | None = None) -> datetime | None:
    """When the message says the limit resets, as an aware datetime; None if it does not say."""
    now = now or datetime.now(UTC)
    if m := _AFTER.search(message):
        secs = sum(_seconds(float(a), u) for a, u in _PART.findall(m.group(1)))
        return now + timedelta(seconds=secs)
    if m := _AT.search(message):
        try:
            at = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        except ValueError:
            return None
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return None
