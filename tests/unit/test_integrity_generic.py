"""Non-Python test files: skips, focus markers, deleted tests and changed assertions are found
in JS (node:test, jest), Go, Rust and Java files alike."""

from __future__ import annotations

import pytest

from overseer.integrity.check import facts_of

JS = """\
const test = require('node:test');
const assert = require('node:assert');
const { slugify } = require('../text');

test('basic', () => {
  assert.strictEqual(slugify('Hello World'), 'hello-world');
});

test('trim', () => {
  assert.strictEqual(slugify('  a  '), 'a'); // trims both ends
});
"""
GO = """\
package text

import "testing"

func TestBasic(t *testing.T) {
\tif got := Slugify("Hello World"); got != "hello-world" {
\t\tt.Errorf("got %q", got)
\t}
}

func TestTrim(t *testing.T) {
\tif got := Slugify("  a  "); got != "a" {
\t\tt.Errorf("got %q", got)
\t}
}
"""
RS = """\
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic() {
        assert_eq!(slugify("Hello World"), "hello-world");
    }

    #[test]
    fn trim() {
        assert_eq!(slugify("  a  "), "a");
    }
}
"""
JAVA = """\
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.*;

class TextTest {
    @Test
    void basic() {
        assertEquals("hello-world", Text.slugify("Hello World"));
    }

    @Test
    void trim() {
        assertEquals("a", Text.slugify("  a  "));
    }
}
"""

CASES = {
    "t.test.js": (JS, ["basic", "trim"],
                  JS.replace("test('trim'", "test.skip('trim'"), "skip",
                  JS.replace("test('basic'", "test.only('basic'"), "only",
                  JS.replace("'hello-world');", "slugify('Hello World'));"),
                  JS.replace("assert.strictEqual(slugify('Hello World'), 'hello-world');", "assert.ok(true);")),
    "text_test.go": (GO, ["TestBasic", "TestTrim"],
                     GO.replace('func TestTrim(t *testing.T) {\n', 'func TestTrim(t *testing.T) {\n\tt.Skip("later")\n'), "skip",
                     None, None,
                     GO.replace('got != "hello-world"', 'got != got'),
                     GO.replace('\tif got := Slugify("  a  "); got != "a" {', '\tif false {')),
    "tests/text.rs": (RS, ["basic", "trim"],
                      RS.replace("    #[test]\n    fn trim", "    #[test]\n    #[ignore]\n    fn trim"), "skip",
                      None, None,
                      RS.replace('"hello-world");', 'slugify("Hello World"));'),
                      RS.replace('assert_eq!(slugify("  a  "), "a");', "assert!(true);")),
    "src/test/java/TextTest.java": (JAVA, ["basic", "trim"],
                                    JAVA.replace("    @Test\n    void trim", "    @Disabled\n    @Test\n    void trim"), "skip",
                                    None, None,
                                    JAVA.replace('assertEquals("a",', 'assertEquals("  a  ",'),
                                    JAVA.replace('assertEquals("a", Text.slugify("  a  "));', "assertTrue(true);")),
}


@pytest.mark.parametrize("path", sorted(CASES))
def test_tests_and_their_assertions_are_found(path):
    base, names, *_ = CASES[path]
    f = facts_of(path, base)
    assert f is not None
    assert list(f.tests) == names
    assert all(f.assertions[n] for n in names), f.assertions
    assert f.markers == [] and f.trivial == []


@pytest.mark.parametrize("path", sorted(CASES))
def test_gaming_changes_the_facts(path):
    base, names, skipped, skip_kind, focused, focus_kind, changed, trivial = CASES[path]
    before = facts_of(path, base)
    assert before is not None
    s = facts_of(path, skipped)
    assert s is not None and [m.kind for m in s.markers] == [skip_kind]
    if focused is not None:
        f = facts_of(path, focused)
        assert f is not None and [m.kind for m in f.markers] == [focus_kind]
    c = facts_of(path, changed)
    assert c is not None and c.assertions != before.assertions
    t = facts_of(path, trivial)
    assert t is not None and (t.trivial or t.assertions != before.assertions)


def test_a_commented_marker_does_not_count():
    f = facts_of("t.test.js", JS.replace("test('trim'", "// test.skip('trim' was flaky\ntest('trim'"))
    assert f is not None and f.markers == []


def test_other_files_have_no_facts():
    assert facts_of("notes.txt", "test.skip('x')") is None
