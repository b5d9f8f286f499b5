"""The breakpoint kinds overseer knows, and the built-in rules as CEL built from the config.

Each built-in rule is an ordinary CEL rule whose thresholds come from `breakpoints.*` and
`budgets.*`, so docs/breakpoints.md can show exactly what it evaluates and a user rule can do
anything a built-in does. Kinds the engine raises itself (a usage limit, an infrastructure
failure, a merge conflict) and the plan's `breakpoint: before|after` are listed too, for stats
and docs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from overseer.config import BreakpointsSettings, BudgetsSettings, Settings
from overseer.engine.infra_retry import INFRA_KIND
from overseer.engine.rules import CompiledRules, Mode, Rule, Severity, compile_rules


@dataclass(frozen=True)
class KindInfo:
    name: str
    # rule: a built-in CEL rule; engine: raised by the workflow; plan: the task's `breakpoint:`.
    source: Literal["rule", "engine", "plan"]
    severity: Severity
    mode: Mode
    description: str


KINDS: dict[str, KindInfo] = {k.name: k for k in (
    KindInfo("architecture_decision", "rule", "warning", "human",
             "changed files match `breakpoints.architecture_decision.globs`"),
    KindInfo("breaking_test_failure", "rule", "critical", "human",
             "a test that passed at the run's baseline fails now"),
    KindInfo("conflicting_solutions", "rule", "warning", "auto",
             "the agent completed and the required gates pass, but the reviewer says incomplete"),
    KindInfo("milestone_completion", "rule", "info", "human",
             "the last task of a `review: human` milestone is about to complete"),
    KindInfo("confidence_too_low", "rule", "warning", "human",
             "the gates pass but the combined confidence is below the threshold"),
    KindInfo("consecutive_failures", "rule", "warning", "human",
             "the task failed N attempts in a row"),
    KindInfo("budget_exceeded", "rule", "critical", "human",
             "the task's or the run's cost or tokens passed a limit in `budgets`"),
    KindInfo("rate_limit_hit", "engine", "info", "auto",
             "the agent hit a usage limit: the task waits for the reset (or switches to a "
             "fallback agent), then resumes the session"),
    KindInfo("tests_tampered", "engine", "critical", "human",
             "the task's last attempt still changed the tests or the gates' files; its change "
             "was reverted (decision.on_tampering: ask)"),
    KindInfo("time_threshold_exceeded", "rule", "warning", "auto",
             "an attempt ran past its time limit (the task's `timeout`): it was stopped and the "
             "task is retried with feedback saying it ran out of time"),
    KindInfo(INFRA_KIND, "engine", "warning", "auto",
             "the agent crashed, the model API answered 5xx or the SSH connection was lost: the "
             "same attempt runs again after a backoff, without costing a try"),
    KindInfo("merge_conflict", "engine", "warning", "human",
             "a parallel task's branch conflicts with the run's branch"),
    KindInfo("before_task", "plan", "info", "human", "the plan says `breakpoint: before`"),
    KindInfo("after_task", "plan", "info", "human", "the plan says `breakpoint: after`"),
)}

_REGEX_META = frozenset(".^$*+?()[]{}|\\")


def glob_regex(glob: str) -> str:
    """A path glob as an anchored regex: `*` and `?` stay within a directory, `**` spans
    directories, a trailing `/` means everything under it, and a glob without `/` matches a
    file name at any depth (as in .gitignore)."""
    g = glob.strip().removeprefix("./").lstrip("/")
    if g.endswith("/"):
        g += "**"
    anchored = "/" in g
    out, i = [], 0
    while i < len(g):
        if g.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif g.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            ch = g[i]
            out.append("[^/]*" if ch == "*" else "[^/]" if ch == "?" else
                       "\\" + ch if ch in _REGEX_META else ch)
            i += 1
    body = "".join(out)
    return f"^{body}$" if anchored else f"^(?:.*/)?{body}$"


def _lit(text: str) -> str:
    """Config text inside a message template: braces are literal."""
    return text.replace("{", "{{").replace("}", "}}")


def _num(x: float) -> str:
    return repr(float(x))


def builtin_rules(bp: BreakpointsSettings, budgets: BudgetsSettings) -> list[Rule]:
    """The enabled built-ins as CEL rules; one whose parameters are empty (no globs, no
    budgets) is left out, since it could never fire."""
    rules: list[Rule] = []

    def add(name: str, when: str, message: str) -> None:
        setting = getattr(bp, name)
        if setting.enabled:
            rules.append(Rule(name=name, when=when, kind=name, severity=setting.severity,
                              mode=setting.mode, message=message,
                              source=f"breakpoints.{name}"))

    if bp.architecture_decision.globs:
        regex = "|".join(glob_regex(g) for g in bp.architecture_decision.globs)
        globs = ", ".join(bp.architecture_decision.globs)
        add("architecture_decision", f"files_changed.exists(f, f.matches({json.dumps(regex)}))",
            f"task {{task.id}} changed files matching {_lit(globs)}: {{files_changed}}")
    # With attempts left, decide() retries with the broken tests named; a person is asked
    # only when the last attempt still breaks them (unless every_attempt is set).
    last = "" if bp.breaking_test_failure.every_attempt else " && task.attempt >= task.max_attempts"
    add("breaking_test_failure", f"size(regressions) > 0{last}",
        "task {task.id} attempt {task.attempt} broke tests that passed before: {regressions}")
    # Only about work the agent finished: a crashed or timed-out attempt is "incomplete" to
    # any reviewer, which is no disagreement with the gates (decide() counts it the same way).
    add("conflicting_solutions",
        'gates_passed && review.complete == false && agent_status == "completed"',
        "task {task.id}: the gates pass but the reviewer ({review.reviewer}) says it is "
        "incomplete: {review.unmet_criteria}")
    add("milestone_completion",
        'milestone_complete && task.milestone_review == "human" && decision_action == "proceed"',
        "task {task.id} completes milestone {task.milestone}: review the milestone before it "
        "is committed")
    below = bp.confidence_too_low.below
    add("confidence_too_low", f"gates_passed && confidence < {_num(below)}",
        f"task {{task.id}}: the gates pass but the combined confidence {{confidence}} is below "
        f"{below:g}")
    at = bp.consecutive_failures.at
    add("consecutive_failures", f"consecutive_failures >= {int(at)}",
        "task {task.id} failed {consecutive_failures} attempts in a row")
    # The process runner stops an attempt at its time limit and the agent reports `timeout`;
    # the rule records (auto) or asks about (human) the retry decide() then chooses.
    add("time_threshold_exceeded", 'agent_status == "timeout"',
        "task {task.id} attempt {task.attempt} ran out of time and was stopped (decision: "
        "{decision_action})")
    limits = [
        (budgets.task_cost_usd, "cost_usd.task", "task cost ${cost_usd.task}", "$"),
        (budgets.run_cost_usd, "cost_usd.run", "run cost ${cost_usd.run}", "$"),
        (budgets.task_tokens, "tokens.task", "task tokens {tokens.task}", ""),
        (budgets.run_tokens, "tokens.run", "run tokens {tokens.run}", ""),
    ]
    set_limits = [(v, f, t, u) for v, f, t, u in limits if v is not None]
    if set_limits:
        when = " || ".join(
            f"{field} > {_num(v) if unit else int(v)}" for v, field, _t, unit in set_limits
        )
        spent = ", ".join(f"{text} (limit {unit}{v:g})" if unit else f"{text} (limit {int(v)})"
                          for v, _f, text, unit in set_limits)
        add("budget_exceeded", when, f"task {{task.id}} passed a budget: {spent}")
    return rules


def user_rules(bp: BreakpointsSettings) -> list[Rule]:
    return [
        Rule(name=r.name, when=r.when, kind=r.kind or r.name, severity=r.severity, mode=r.mode,
             message=r.message, source=f"breakpoints.rules[{i}]")
        for i, r in enumerate(bp.rules)
    ]


def rules_from_settings(settings: Settings) -> list[Rule]:
    """The enabled built-ins, then the user's rules, as configured."""
    return builtin_rules(settings.breakpoints, settings.budgets) + user_rules(settings.breakpoints)


def compile_settings(settings: Settings) -> CompiledRules:
    """Every configured rule, compiled (ConfigError on a bad expression): call at run start."""
    return compile_rules(rules_from_settings(settings))
