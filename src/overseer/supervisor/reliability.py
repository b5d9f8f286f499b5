"""A reviewer's measured reliability on the false-done corpus (`overseer bench reviewer`).

The figures say how often the reviewer alone caught a false "done" and how often it held back
a true one. decide() weighs the reviewer's verdicts by `weight()`: a reviewer that catches no
more false claims than it holds back true ones carries no signal, and is recorded, not counted.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ENV = "OVERSEER_REVIEWER_FIGURES"
# Never measured: counted in full, scaled by its own confidence as before; a measurement can
# only take weight away (`overseer bench reviewer`). The gates and integrity checks decide first.
PRIOR_WEIGHT = 1.0


@dataclass(frozen=True)
class Figures:
    reviewer: str
    cases: int
    false_claims: int
    false_caught: int
    true_claims: int
    true_held_back: int
    seconds_per_review: float
    measured_at: str

    @property
    def catch_rate(self) -> float:
        return self.false_caught / self.false_claims if self.false_claims else 0.0

    @property
    def hold_back_rate(self) -> float:
        return self.true_held_back / self.true_claims if self.true_claims else 0.0


def default_path() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "overseer" / "reviewers.json"


def _read(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(fig: Figures, path: Path | None = None) -> Path:
    path = path or default_path()
    data = _read(path)
    data[fig.reviewer] = asdict(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def load(reviewer: str, path: Path | None = None) -> Figures | None:
    raw = _read(path or default_path()).get(reviewer)
    if not isinstance(raw, dict):
        return None
    try:
        return Figures(**raw)  # type: ignore[arg-type]
    except TypeError:
        return None


def weight(fig: Figures | None) -> float:
    """The reviewer's signal, 0 to 1: catch rate minus hold-back rate (Youden's J), clipped."""
    if fig is None:
        return PRIOR_WEIGHT
    return round(min(1.0, max(0.0, fig.catch_rate - fig.hold_back_rate)), 3)


def describe(fig: Figures | None, reviewer: str = "") -> str:
    if fig is None:
        return (f"{reviewer or 'reviewer'}: not measured on the false-done corpus (weight "
                f"{PRIOR_WEIGHT}); run `overseer bench reviewer`")
    return (f"{fig.reviewer}: caught {fig.false_caught} of {fig.false_claims} false claims, held back "
            f"{fig.true_held_back} of {fig.true_claims} true ones, {fig.seconds_per_review:.1f} s per "
            f"review (weight {weight(fig)}, measured {fig.measured_at})")
