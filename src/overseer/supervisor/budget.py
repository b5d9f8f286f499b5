"""Fitting a prompt into a model's context window.

Sections are filled by priority (lower number first); a section that does not fit whole is cut
at a line or diff-hunk boundary — never inside a line — and what was cut is said in words, so
the reviewer knows what it did not see instead of judging a silently truncated diff.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

Counter = Callable[[str], int]
SectionKind = Literal["text", "tail", "diff"]

# Conventional priorities for review prompts (lower is kept first).
CRITERIA, FAILING_TESTS, DIFF, REST = 0, 1, 2, 3


def estimate_tokens(text: str) -> int:
    """A tokenizer-free upper estimate: BPE tokenizers average 3.5-4.5 bytes per token on code
    and English, so a third of the UTF-8 length overcounts, which is the safe direction."""
    return math.ceil(len(text.encode("utf-8")) / 3)


@dataclass(frozen=True)
class Section:
    """One part of a prompt.

    kind: `text` keeps whole lines from the start; `tail` keeps whole lines from the end (tool
    output, where the failure is at the bottom); `diff` keeps whole hunks of a unified diff.
    """

    priority: int
    name: str
    text: str
    kind: SectionKind = "text"


@dataclass
class Fitted:
    text: str  # kept sections in their original order, blank-line separated
    omitted: list[str]  # one note per cut or dropped section, e.g. "[omitted: ...]"
    parts: dict[str, str] = field(default_factory=dict)  # kept text per section name
    tokens: int = 0  # the counter's total for what was kept (sum over units)

    def __iter__(self) -> Iterator[str | list[str]]:
        # Lets callers write `text, notes = fit_sections(...)`.
        return iter((self.text, self.omitted))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------- diff parsing

_FILE_START = re.compile(r"^diff --git ", re.M)
_B_PATH = re.compile(r"^\+\+\+ (?:b/)?(.+)$", re.M)
_GIT_PATHS = re.compile(r"^diff --git a/(.+?) b/(.+)$")


@dataclass
class _FileDiff:
    path: str
    header: str  # lines up to the first hunk, each ending in "\n"
    hunks: list[str]


def _split_keep(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def parse_diff(text: str) -> list[_FileDiff]:
    """Split unified diff text into files and hunks; anything before the first file header is a
    file of its own with path "" so no text is lost."""
    starts = [m.start() for m in _FILE_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    blocks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    files: list[_FileDiff] = []
    for block in blocks:
        if not block:
            continue
        lines = _split_keep(block)
        header: list[str] = []
        hunks: list[list[str]] = []
        for line in lines:
            if line.startswith("@@"):
                hunks.append([line])
            elif hunks:
                hunks[-1].append(line)
            else:
                header.append(line)
        head = "".join(header)
        m = _B_PATH.search(head)
        g = _GIT_PATHS.match(header[0].rstrip("\n")) if header else None
        path = m.group(1).strip() if m and m.group(1).strip() != "/dev/null" else (g.group(2) if g else "")
        files.append(_FileDiff(path=path, header=head, hunks=["".join(h) for h in hunks]))
    return files


# --------------------------------------------------------------------------- cutting one section


def _lines_of(text: str) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in _split_keep(text)]


def _cut_lines(section: Section, budget: int, count: Counter) -> tuple[str, str | None, int]:
    """Whole lines from the start (or end, for `tail`) within budget, the note included."""
    lines = _lines_of(section.text)
    order = list(reversed(lines)) if section.kind == "tail" else lines
    costs = [count(line) for line in order]
    total = len(lines)

    def note(dropped: int) -> str:
        where = "first" if section.kind == "tail" else "last"
        return f"[omitted: {where} {_plural(dropped, 'line')} of {section.name}]\n"

    reserve = count(note(total))  # no later note is longer: fewer lines dropped, fewer digits
    kept = 0
    used = 0
    for cost in costs:
        if used + cost + reserve > budget:
            break
        used += cost
        kept += 1
    if kept == 0:
        return "", None, 0
    n = note(total - kept)
    body = order[:kept]
    if section.kind == "tail":
        body.reverse()
        return n + "".join(body), n.strip(), used + count(n)
    return "".join(body) + n, n.strip(), used + count(n)


# Past this many wholly dropped files, one summary note replaces the per-file notes: a huge
# diff would otherwise spend its budget on notes.
MAX_FILE_NOTES = 3


def _cut_diff(section: Section, budget: int, count: Counter) -> tuple[str, list[str], int, bool]:
    """Whole hunks, in order, skipping any that do not fit so a later small hunk still can;
    a note for each file that lost hunks. A file's header is paid for with its first kept hunk."""
    out: list[str] = []
    notes: list[str] = []
    gone: list[tuple[str, int, int]] = []  # wholly dropped files: (path, hunks, lines)
    used = 0
    kept_any = False

    def emit(note: str) -> None:
        nonlocal used
        notes.append(note)
        cost = count(note + "\n")
        if used + cost <= budget:  # else only the prompt's summary of omissions has it
            out.append(note + "\n")
            used += cost

    for f in parse_diff(section.text):
        name = f.path or section.name
        header_cost = count(f.header) if f.header else 0
        if not f.hunks:  # a binary, mode-only or rename-only change: the header is the diff
            if used + header_cost <= budget:
                out.append(f.header)
                used += header_cost
                kept_any = True
            else:
                gone.append((name, 0, len(_split_keep(f.header))))
            continue
        # Room for this file's note is held back in case a later hunk is dropped.
        reserve = count(f"[omitted: 999 diff hunks of {name}, 99999 lines]\n")
        kept: list[str] = []
        dropped = dropped_lines = 0
        for hunk in f.hunks:
            cost = count(hunk) + (0 if kept else header_cost)
            if used + cost + reserve <= budget:
                kept.append(hunk)
                used += cost
            else:
                dropped += 1
                dropped_lines += len(_split_keep(hunk))
        if not kept:
            gone.append((name, dropped, dropped_lines))
            continue
        out.append(f.header + "".join(kept))
        kept_any = True
        if dropped:
            emit(f"[omitted: {_plural(dropped, 'diff hunk')} of {name}, {_plural(dropped_lines, 'line')}]")
    if len(gone) <= MAX_FILE_NOTES:
        for name, hunks, n_lines in gone:
            what = f"{_plural(hunks, 'diff hunk')} of {name}" if hunks else f"diff of {name}"
            emit(f"[omitted: {what}, {_plural(n_lines, 'line')} (the whole file)]")
    elif gone:
        names = ", ".join(g[0] for g in gone[:MAX_FILE_NOTES])
        hunks, n_lines = sum(g[1] for g in gone), sum(g[2] for g in gone)
        emit(f"[omitted: the whole diffs of {len(gone)} files, {_plural(hunks, 'hunk')}, "
             f"{_plural(n_lines, 'line')}: {names} and {len(gone) - MAX_FILE_NOTES} more]")
    return "".join(out), notes, used, kept_any


# --------------------------------------------------------------------------- the fitter


def fit_sections(sections: list[Section], budget_tokens: int, count: Counter = estimate_tokens) -> Fitted:
    """Keep as much as fits in `budget_tokens`, by priority, cutting only at line or hunk
    boundaries, and say what was left out.

    Token totals are summed per line or hunk, which for a subadditive counter (the estimate;
    BPE tokenizers are near enough) bounds the cost of the joined text from above.
    """
    remaining = max(0, budget_tokens)
    parts: dict[str, str] = {}
    notes_by_index: dict[int, list[str]] = {}
    order = sorted(range(len(sections)), key=lambda i: (sections[i].priority, i))
    sep = count("\n")
    for i in order:
        s = sections[i]
        if not s.text.strip():
            continue
        whole = s.text if s.text.endswith("\n") else s.text + "\n"
        cost = _cost(s, whole, count) + sep
        if cost <= remaining:
            parts[s.name] = whole
            remaining -= cost
            continue
        room = max(0, remaining - sep)
        if s.kind == "diff":
            text, notes, used, kept_any = _cut_diff(s, room, count)
        else:
            text, note, used = _cut_lines(s, room, count)
            notes, kept_any = ([note] if note else []), bool(text)
        if not kept_any:
            n_lines = len(_lines_of(s.text))
            whole = f"[omitted: {s.name}, {_plural(n_lines, 'line')}]"
            notes = notes if s.kind == "diff" and notes else [whole]
            text = "".join(n + "\n" for n in notes)
            used = count(text)
            if used > room:
                text, used = "", 0
        if text:
            parts[s.name] = text
            remaining -= used + sep
        notes_by_index[i] = notes
    kept_text = "\n".join(parts[s.name] for s in sections if s.name in parts)
    omitted = [n for i in range(len(sections)) for n in notes_by_index.get(i, [])]
    return Fitted(text=kept_text, omitted=omitted, parts=parts, tokens=budget_tokens - remaining)


def _cost(section: Section, text: str, count: Counter) -> int:
    if section.kind == "diff":
        files = parse_diff(text)
        return sum(count(f.header) if f.header else 0 for f in files) + sum(
            count(h) for f in files for h in f.hunks
        )
    return sum(count(line) for line in _lines_of(text))
