"""Answer extraction and matching, on the shapes small models actually write."""

from __future__ import annotations

import pytest

from gemmacompare.bench.scoring import RULE_LAST_NUMBER, extract_number_with_rule, score


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
    assert extract_number_with_rule(text)[0] == expected


@pytest.mark.parametrize(
    "text, expected, rule",
    [
        ("She had 310 and gave 13 away. The answer is 310 - 13 = 227.", "227", "answer is: = result"),
        ("The answer is 1:10.", "10", "answer is: last number in clause"),
        ("The answer is 2 + 3 = 5 apples.", "5", "answer is: = result"),
        ("The answer is 18 eggs, because 9*2=18", "18", "answer is: last number in clause"),
        ("The answer is 3.5. It took 2 tries.", "3.5", "answer is: last number in clause"),
        ("Answer: 4 * 6 = 24; so 24 in all", "24", "answer:: = result"),
        ("9 * 2 = 18\n#### 18", "18", "####: last number in clause"),
        (r"\boxed{12 - 5 = 7}", "7", "boxed: = result"),
        ("3 apples and 4 pears make 7 fruit", "7", RULE_LAST_NUMBER),
        ("no digits here", None, "no number"),
    ],
)
def test_answer_clause_ends_on_its_result(text, expected, rule):
    assert extract_number_with_rule(text) == (expected, rule)


def test_number_verdict_keeps_what_was_extracted():
    v = score("I think it is 17.\nThe answer is 16 apples.", ("15",), "number")
    assert not v.correct and v.extracted == "16" and v.rule == "answer is: last number in clause"
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
