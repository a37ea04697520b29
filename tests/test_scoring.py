"""Answer extraction and matching, on the shapes small models actually write."""

from __future__ import annotations

import pytest

from gemmacompare.bench.scoring import extract_number, score


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The answer is 18.", "18"),
        ("She makes 9 * 2 = $18 every day.\n#### 18", "18"),
        ("The answer is $1,234.50.", "1234.5"),
        ("Answer: 18 eggs", "18"),
        ("3 apples and 4 pears make 7 fruit", "7"),
        ("The answer is 5 km, because 2 + 3 = 5 and 10 - 5 = 5", "5"),
        ("The final answer is: -3/4", "-0.75"),
        ("It costs 12%.", "12"),
        (r"So \boxed{42}.", "42"),
        ("The answer is 1,000,000 dollars", "1000000"),
        ("no digits here", None),
    ],
)
def test_number_extraction(text, expected):
    assert extract_number(text) == expected


def test_number_verdict_keeps_what_was_extracted():
    v = score("I think it is 17.\nThe answer is 16 apples.", ("15",), "number")
    assert not v.correct and v.extracted == "16"
    assert score("The answer is 15.0", ("15",), "number").correct


@pytest.mark.parametrize(
    "answer, expected, match, ok",
    [
        ("The answer is Thursday.", "Thursday", "exact", True),
        ("Thursday, because 10 days is a week and 3 days.", "thursday", "exact", True),
        ("The answer is Friday.", "Thursday", "exact", False),
        ("The answer is (C).", "C", "choice", True),
        ("I pick B", "C", "choice", False),
        ("It ends at 11:15.", r"\b11[:.]15\b", "regex", True),
        ("It ends at 11:45.", r"\b11[:.]15\b", "regex", False),
    ],
)
def test_other_match_kinds(answer, expected, match, ok):
    assert score(answer, (expected,), match).correct is ok


def test_unknown_match_kind_is_named():
    with pytest.raises(ValueError, match="unknown match kind 'fuzzy'"):
        score("x", ("x",), "fuzzy")


def test_a_regex_that_does_not_compile_is_wrong_not_a_crash():
    # Task files are checked when loaded; a run stored before that check must still finish.
    assert score("abc", ("[a-", "b+"), "regex").correct
    assert not score("xyz", ("[a-",), "regex").correct
