"""Task files: the built-in suite, our JSONL format, GSM8K (the real file), bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemmacompare.bench.scoring import MATCH_KINDS, score
from gemmacompare.bench.tasks import TaskFileError, builtin_suites, load_suite, load_task_file, suites_dir

ROOT = Path(__file__).resolve().parents[2]
# The shipped copy: a clone of the repository alone must pass every test.
GSM8K = ROOT / "resources" / "suites" / "gsm8k.jsonl"


def test_builtin_reasoning_suite_is_complete_and_self_consistent():
    assert "reasoning" in builtin_suites()
    suite = load_suite("reasoning")
    assert len(suite) >= 30
    assert {t.category for t in suite.tasks} >= {"arithmetic", "logic", "units", "dates"}
    assert all(t.match in MATCH_KINDS for t in suite.tasks)
    assert len({t.id for t in suite.tasks}) == len(suite)


def test_subset_first_n_and_seeded_sample():
    suite = load_suite("reasoning")
    assert [t.id for t in suite.subset(limit=3).tasks] == [t.id for t in suite.tasks[:3]]
    a, b = suite.subset(sample=5, seed=7), suite.subset(sample=5, seed=7)
    assert a.tasks == b.tasks and len(a) == 5
    assert suite.subset(sample=5, seed=8).tasks != a.tasks


@pytest.fixture(scope="module")
def gsm8k_lines() -> list[dict]:
    return [json.loads(line) for line in GSM8K.read_text().splitlines() if line.strip()]


def test_gsm8k_is_a_builtin_suite_with_its_licence():
    assert "gsm8k" in builtin_suites()
    suite = load_suite("gsm8k")
    assert len(suite) == 1319 and suite.tasks[0].expected == ("18",)
    assert suites_dir() == GSM8K.parent
    licence = (suites_dir() / "gsm8k.LICENSE").read_text()
    assert "MIT License" in licence and "OpenAI" in licence
    a, b = suite.subset(sample=10, seed=3), suite.subset(sample=10, seed=3)
    assert a.tasks == b.tasks and len(a) == 10 and a.tasks != suite.subset(sample=10, seed=4).tasks


def test_no_test_reads_outside_the_repository():
    needles = ('/ "' + 'shared"', "../" + "shared")  # split so this test does not find itself
    for path in (ROOT / "tests").glob("*.py"):
        text = path.read_text()
        assert not any(n in text for n in needles), f"{path.name} reads a folder outside the repository"


def test_gsm8k_parses_every_line(gsm8k_lines):
    suite = load_task_file(GSM8K)
    assert len(suite) == len(gsm8k_lines) == 1319
    assert suite.tasks[0].expected == ("18",)
    assert all(t.match == "number" for t in suite.tasks)


def test_gsm8k_reference_solutions_score_100_percent(gsm8k_lines):
    suite = load_task_file(GSM8K)
    verdicts = [score(line["answer"], t.expected, t.match) for line, t in zip(gsm8k_lines, suite.tasks)]
    assert sum(v.correct for v in verdicts) == len(verdicts)
    assert all(v.extracted is not None for v in verdicts)


def test_gsm8k_perturbed_solutions_score_zero(gsm8k_lines):
    suite = load_task_file(GSM8K)
    wrong = 0
    for line, t in zip(gsm8k_lines, suite.tasks):
        body, final = line["answer"].rsplit("####", 1)
        perturbed = f"{body}#### {int(float(t.answer)) + 1}"
        wrong += not score(perturbed, t.expected, t.match).correct
    assert wrong == len(suite)


def test_own_format_with_defaults_and_lists(tmp_path):
    f = tmp_path / "mine.jsonl"
    f.write_text(
        '{"prompt": "2+2?", "answer": 4}\n\n'
        '{"id": "d", "prompt": "Day after Monday?", "expected": ["Tuesday", "Tue"]}\n'
        '{"prompt": "Pick", "choices": ["x", "y"], "answer": "B", "match": "choice"}\n'
    )
    suite = load_task_file(f)
    assert [t.match for t in suite.tasks] == ["number", "exact", "choice"]
    assert suite.tasks[1].expected == ("Tuesday", "Tue") and suite.tasks[1].id == "d"
    assert "B) y" in suite.tasks[2].question_text()


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"prompt": "a", "answer": "1"}\n{"prompt": "b", answer: 2}\n', "bad.jsonl line 2: not valid JSON"),
        ('{"prompt": "a", "answer": "1"}\n\n{"answer": "2"}\n', "bad.jsonl line 3: missing field 'prompt'"),
        ('{"prompt": "a"}\n', "bad.jsonl line 1: missing field 'answer'"),
        ('{"question": "q", "answer": "no marker"}\n', "bad.jsonl line 1: GSM8K 'answer' must end with"),
        ('{"prompt": "a", "answer": "1", "match": "fuzzy"}\n', "bad.jsonl line 1: 'match' must be one of"),
        ('[1, 2]\n', "bad.jsonl line 1: expected a JSON object"),
        ('{"prompt": "a", "answer": "1"}\n{"prompt": "p", "answer": "[a-", "match": "regex"}\n',
         "bad.jsonl line 2: the regex answer '[a-' does not compile (unterminated character set"),
        ('{"prompt": "p", "choices": ["1", "2", "3", "4", "5", "6"], "answer": "A", "match": "choice"}\n',
         "bad.jsonl line 1: at most 5 'choices' (A-E) are supported, not 6."),
        ('{"prompt": "p", "choices": ["x", "y"], "answer": "C", "match": "choice"}\n',
         "bad.jsonl line 1: the 'choice' answer 'C' is not a letter A-B or one of the choices' texts."),
        ('{"prompt": "p", "choices": ["x", "y"], "answer": "z", "match": "choice"}\n',
         "bad.jsonl line 1: the 'choice' answer 'z' is not a letter A-B"),
        ('{"prompt": "p", "answer": "Paris", "match": "choice"}\n',
         "bad.jsonl line 1: the 'choice' answer 'Paris' is not a letter A-E."),
        ('{"prompt": "p", "answer": "eighteen", "match": "number"}\n',
         "bad.jsonl line 1: 'match' is number but the answer 'eighteen' is not a number."),
        ('{"prompt": "p", "answer": ["18", "18 eggs"], "match": "number"}\n',
         "bad.jsonl line 1: 'match' is number but the answer '18 eggs' is not a number."),
        ('{"prompt": "p", "answer": "?!", "match": "exact"}\n',
         "bad.jsonl line 1: the answer '?!' has no letters or digits"),
        ("", "bad.jsonl: no tasks (the file is empty)"),
        ("\n  \n", "bad.jsonl: no tasks (the file is empty)"),
    ],
    ids=["bad-json", "missing-prompt", "missing-answer", "gsm8k-marker", "bad-match", "not-object", "bad-regex",
         "too-many-choices", "choice-letter-out-of-range", "choice-not-an-option", "choice-not-a-letter",
         "number-not-a-number", "number-list-with-text", "exact-empty-after-normalizing", "empty", "blank"],
)
def test_malformed_files_name_the_line(tmp_path, content, message):
    f = tmp_path / "bad.jsonl"
    f.write_text(content)
    with pytest.raises(TaskFileError) as exc:
        load_task_file(f)
    text = str(exc.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_every_loaded_task_can_be_asked_and_scored(tmp_path):
    """What the loader accepts never fails later (question text, scoring), for every match kind."""
    f = tmp_path / "ok.jsonl"
    f.write_text(
        '{"prompt": "p", "answer": "^\\\\d+ km$", "match": "regex"}\n'
        '{"prompt": "p", "choices": ["1", "2", "3", "4", "5"], "answer": "e", "match": "choice"}\n'
        '{"prompt": "p", "choices": ["red", "blue"], "answer": "Blue", "match": "choice"}\n'
        '{"prompt": "p", "answer": "$1,234.50", "match": "number"}\n'
    )
    suite = load_task_file(f)
    assert [t.expected for t in suite.tasks] == [("^\\d+ km$",), ("E",), ("B",), ("$1,234.50",)]
    assert "E) 5" in suite.tasks[1].question_text()
    for t, answer in zip(suite.tasks, ["12 km", "The answer is E", "Answer: B", "It is 1234.5"]):
        assert score(answer, t.expected, t.match).correct, t


def test_builtin_suites_pass_the_checks():
    for name in builtin_suites():
        assert len(load_suite(name)) > 0


def test_unknown_suite_name_lists_the_builtin_ones():
    with pytest.raises(TaskFileError, match="No suite named 'nope'; built-in suites: gsm8k, reasoning"):
        load_suite("nope")
