"""Context budget: priority order, cuts only at line/hunk boundaries, explicit omission notes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overseer.supervisor.budget import (
    CRITERIA,
    DIFF,
    FAILING_TESTS,
    REST,
    Section,
    estimate_tokens,
    fit_sections,
    parse_diff,
)


def lines(n: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {i:03d}\n" for i in range(n))


def words(text: str) -> int:
    """A deterministic counter for tables: one token per whitespace-separated word, plus one
    per line (so a blank line still costs)."""
    return len(text.split()) + text.count("\n")


def hunk(start: int, n: int, tag: str = "x") -> str:
    body = "".join(f"+{tag}{i}\n" for i in range(n))
    return f"@@ -{start},0 +{start},{n} @@\n{body}"


def file_diff(path: str, *hunks: str) -> str:
    return (f"diff --git a/{path} b/{path}\nindex 1..2 100644\n--- a/{path}\n+++ b/{path}\n"
            + "".join(hunks))


X_DIFF = file_diff("src/x.py", hunk(1, 3, "a"), hunk(10, 40, "b"), hunk(60, 3, "c"))
Y_DIFF = file_diff("src/y.py", hunk(1, 2, "d"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("abc", 1),
        ("abcd", 2),
        ("é" * 3, 2),  # 6 UTF-8 bytes: non-ASCII is not undercounted
        ("x" * 300, 100),
    ],
)
def test_estimate_tokens(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


CASES = [
    # (id, sections, budget, must_keep, must_drop, notes)
    (
        "everything fits",
        [Section(CRITERIA, "criteria", "- a\n- b\n"), Section(REST, "notes", lines(3))],
        1000,
        ["- a", "line 002"],
        [],
        [],
    ),
    (
        "priority wins over order: criteria kept, early low-priority text dropped",
        [Section(REST, "agent message", lines(50, "msg")), Section(CRITERIA, "criteria", "- must hold\n")],
        10,
        ["- must hold"],
        ["msg 000"],
        ["[omitted: agent message, 50 lines]"],
    ),
    (
        "text keeps whole lines from the start and says how many went",
        [Section(REST, "task", lines(20))],
        30,
        ["line 000", "line 005"],
        ["line 019"],
        ["[omitted: last 13 lines of task]"],
    ),
    (
        "tail keeps the end of tool output",
        [Section(REST, "pytest output", lines(20), "tail")],
        30,
        ["line 019", "line 014"],
        ["line 000"],
        ["[omitted: first 13 lines of pytest output]"],
    ),
    (
        "a diff loses whole hunks, a later small hunk still fits",
        [Section(DIFF, "diff", X_DIFF, "diff")],
        60,
        ["+a0", "+a2", "+c2", "+++ b/src/x.py"],
        ["+b0", "+b39"],
        ["[omitted: 1 diff hunk of src/x.py, 41 lines]"],
    ),
    (
        "a diff of two files: second file kept whole, first cut",
        [Section(DIFF, "diff", X_DIFF + Y_DIFF, "diff")],
        85,
        ["+a0", "+d1", "+++ b/src/y.py"],
        ["+b5"],
        ["[omitted: 1 diff hunk of src/x.py, 41 lines]"],
    ),
    (
        "no room for any hunk: the file's diff is noted as gone",
        [Section(FAILING_TESTS, "failing", lines(5, "FAILED")), Section(DIFF, "diff", Y_DIFF, "diff")],
        24,
        ["FAILED 004"],
        ["+d0"],
        ["[omitted: 1 diff hunk of src/y.py, 3 lines (the whole file)]"],
    ),
    (
        "zero budget keeps nothing and notes every section",
        [Section(CRITERIA, "criteria", "- a\n"), Section(DIFF, "diff", Y_DIFF, "diff")],
        0,
        [],
        ["- a", "+d0"],
        ["[omitted: criteria, 1 line]", "[omitted: 1 diff hunk of src/y.py, 3 lines (the whole file)]"],
    ),
    (
        "blank sections cost nothing and leave no note",
        [Section(CRITERIA, "criteria", "  \n"), Section(REST, "x", "kept\n")],
        5,
        ["kept"],
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("sections", "budget", "keep", "drop", "notes"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_fit_sections(
    sections: list[Section], budget: int, keep: list[str], drop: list[str], notes: list[str]
) -> None:
    fitted = fit_sections(sections, budget, words)
    for s in keep:
        assert s in fitted.text, s
    for s in drop:
        assert s not in fitted.text, s
    assert fitted.omitted == notes
    assert words(fitted.text) <= budget or budget == 0 and fitted.text == ""
    text, omitted = fitted  # unpacks as (kept text, omitted notes)
    assert (text, omitted) == (fitted.text, fitted.omitted)


def test_many_dropped_files_collapse_into_one_note() -> None:
    many = "".join(file_diff(f"src/m{i}.py", hunk(1, 2, f"z{i}_")) for i in range(50))
    fitted = fit_sections([Section(DIFF, "diff", many, "diff")], 100, words)
    assert "+z0_0" in fitted.text and "+z49_0" not in fitted.text
    assert len(fitted.omitted) == 1
    note = fitted.omitted[0]
    assert note.startswith("[omitted: the whole diffs of ") and "src/m49.py" not in note
    assert note.endswith(" more]") and note in fitted.text


def test_kept_sections_stay_in_their_original_order() -> None:
    fitted = fit_sections(
        [Section(REST, "a", "first\n"), Section(CRITERIA, "b", "second\n")], 100, words
    )
    assert fitted.text.index("first") < fitted.text.index("second")
    assert fitted.parts == {"a": "first\n", "b": "second\n"}


def test_notes_appear_in_the_kept_text_where_the_cut_was() -> None:
    fitted = fit_sections([Section(DIFF, "diff", X_DIFF, "diff")], 60, words)
    assert "[omitted: 1 diff hunk of src/x.py, 41 lines]" in fitted.text


@pytest.mark.parametrize(
    ("diff", "paths", "hunks"),
    [
        (X_DIFF, ["src/x.py"], [3]),
        (X_DIFF + Y_DIFF, ["src/x.py", "src/y.py"], [3, 1]),
        ("diff --git a/old.py b/old.py\ndeleted file mode 100644\n--- a/old.py\n+++ /dev/null\n"
         "@@ -1 +0,0 @@\n-x\n", ["old.py"], [1]),
        ("diff --git a/img.png b/img.png\nBinary files differ\n", ["img.png"], [0]),
        ("", [], []),
    ],
)
def test_parse_diff(diff: str, paths: list[str], hunks: list[int]) -> None:
    files = parse_diff(diff)
    assert [f.path for f in files] == paths
    assert [len(f.hunks) for f in files] == hunks
    assert "".join(f.header + "".join(f.hunks) for f in files) == diff


_line = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(st.lists(_line, min_size=1, max_size=12), min_size=1, max_size=4),
    kinds=st.lists(st.sampled_from(["text", "tail"]), min_size=4, max_size=4),
    budget=st.integers(min_value=0, max_value=200),
)
def test_never_over_budget_and_never_cuts_inside_a_line(
    texts: list[list[str]], kinds: list[str], budget: int
) -> None:
    sections = [
        Section(i % 3, f"s{i}", "\n".join(ls) + "\n", kinds[i])  # type: ignore[arg-type]
        for i, ls in enumerate(texts)
    ]
    fitted = fit_sections(sections, budget, estimate_tokens)
    assert estimate_tokens(fitted.text) <= budget
    originals = {line for ls in texts for line in ls}
    for line in fitted.text.splitlines():
        assert line in originals or line.startswith("[omitted: ") or line == "", line
