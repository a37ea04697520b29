"""Conversation suites (issue 31): the shipped suite, the strict format, and hostile files.

Hypothesis feeds the reader damaged lines and whole files: each gives conversations or our
one sentence naming file, line and field, never another exception, within a time bound.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemmacompare.bench.conversations import (
    MAX_CONVERSATION_FILE_BYTES,
    MAX_TURN_CHARS,
    MAX_TURNS,
    ConversationFileError,
    builtin_conversation_suites,
    is_conversation_suite,
    load_conversations,
)
from gemmacompare.bench.tasks import builtin_suites, load_suite
from gemmacompare.engine.conversation import Conversation

GOOD = {"id": "trip", "system": "Be brief.", "turns": ["Plan a day in Rome.", "And the evening?"]}


def _write(tmp_path: Path, lines: list[object] | str, name: str = "chats.jsonl") -> Path:
    path = tmp_path / name
    if isinstance(lines, str):
        path.write_text(lines, encoding="utf-8")
    else:
        path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def _error(tmp_path: Path, lines: list[object] | str) -> str:
    with pytest.raises(ConversationFileError) as exc:
        load_conversations(_write(tmp_path, lines))
    msg = exc.value.message
    assert msg.endswith(".") and "\n" not in msg, msg
    return msg


def test_shipped_conversation_suite_is_short_and_apart_from_the_task_suites():
    assert builtin_conversation_suites() == ["short-chats"]
    assert "short-chats" not in builtin_suites() and "short-chats.chat" not in builtin_suites()
    for name in builtin_suites():  # the task suites still read as tasks
        assert len(load_suite(name)) > 0
    suite = load_conversations("short-chats")
    assert 3 <= len(suite) <= 4 and suite.name == "short-chats"
    assert all(3 <= len(c.turns) <= 5 for c in suite.conversations)
    assert all(len(t) < 80 for c in suite.conversations for t in c.turns)  # short turns: fast tests
    assert any(c.system for c in suite.conversations) and any(not c.system for c in suite.conversations)
    assert is_conversation_suite("short-chats") and not is_conversation_suite("reasoning")


def test_a_good_file_reads_in_order(tmp_path):
    path = _write(tmp_path, [GOOD, "", {"id": "b", "turns": ["hi"]}])
    suite = load_conversations(path)
    assert suite.conversations == (Conversation("trip", ("Plan a day in Rome.", "And the evening?"), "Be brief."),
                                   Conversation("b", ("hi",), ""))
    assert suite.n_turns == 3 and suite.subset(1).conversations == suite.conversations[:1]
    assert is_conversation_suite(path)
    assert not is_conversation_suite(_write(tmp_path, [{"prompt": "x", "answer": "1"}], "tasks.jsonl"))


@pytest.mark.parametrize(("line", "words"), [
    ("{not json", ["line 1", "not valid JSON"]),
    ("[1, 2]", ["line 1", "JSON object"]),
    ({"turns": ["a"]}, ["line 1", "'id'"]),
    ({"id": "", "turns": ["a"]}, ["'id'", "non-empty"]),
    ({"id": 5, "turns": ["a"]}, ["'id'", "text"]),
    ({"id": "a\x1b[31m", "turns": ["a"]}, ["'id'", "printable"]),
    ({"id": "x" * 101, "turns": ["a"]}, ["'id'", "100"]),
    ({"id": "a"}, ["'turns'", "missing"]),
    ({"id": "a", "turns": []}, ["'turns'", "non-empty list"]),
    ({"id": "a", "turns": "hello"}, ["'turns'", "list"]),
    ({"id": "a", "turns": ["ok", "  "]}, ["'turns' item 2", "non-empty"]),
    ({"id": "a", "turns": ["ok", 3]}, ["'turns' item 2"]),
    ({"id": "a", "turns": ["x"] * (MAX_TURNS + 1)}, ["'turns'", f"at most {MAX_TURNS}"]),
    ({"id": "a", "turns": ["x" * (MAX_TURN_CHARS + 1)]}, ["'turns' item 1", "longer"]),
    ({"id": "a", "turns": ["ok"], "system": ["no"]}, ["'system'", "text"]),
    ({"id": "a", "turns": ["ok"], "sytem": "typo"}, ["unknown field 'sytem'"]),
    ('{"id": "a", "turns": ["\\ud800"]}', ["'turns' item 1", "surrogate"]),
    ("[" * 100_000 + "]" * 100_000, ["line 1"]),
    ('{"id": "a", "turns": [1' + "0" * 5000 + "]}", ["line 1"]),
])
def test_every_bad_line_is_one_sentence_naming_line_and_field(tmp_path, line, words):
    msg = _error(tmp_path, [line])
    assert msg.startswith("chats.jsonl line 1:"), msg
    for w in words:
        assert w in msg, msg


def test_bad_files_are_one_sentence(tmp_path):
    assert "no conversations" in _error(tmp_path, "\n\n")
    assert "line 2" in _error(tmp_path, [GOOD, GOOD]) and "repeats 'trip'" in _error(tmp_path, [GOOD, GOOD])
    (tmp_path / "bad.jsonl").write_bytes(b'{"id": "a", "turns": ["\xff"]}')
    with pytest.raises(ConversationFileError, match="not UTF-8"):
        load_conversations(tmp_path / "bad.jsonl")
    with pytest.raises(ConversationFileError, match="no such"):
        load_conversations(tmp_path / "missing.jsonl")
    with pytest.raises(ConversationFileError, match="folder"):
        load_conversations(tmp_path)
    big = tmp_path / "big.jsonl"
    big.write_bytes(b" " * (MAX_CONVERSATION_FILE_BYTES + 1))
    with pytest.raises(ConversationFileError, match="larger than"):
        load_conversations(big)


def test_dev_zero_is_refused_quickly():
    t0 = time.monotonic()
    with pytest.raises(ConversationFileError):
        load_conversations("/dev/zero")
    assert time.monotonic() - t0 < 10
    assert not is_conversation_suite("/dev/zero")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _check(path: Path) -> None:
    t0 = time.monotonic()
    try:
        suite = load_conversations(path)
    except ConversationFileError as exc:
        assert exc.message.endswith(".") and "\n" not in exc.message and len(exc.message) < 600, exc.message
        assert " line " in exc.message or "no conversations" in exc.message or "UTF-8" in exc.message
    else:
        for c in suite.conversations:  # what the driver reads must be what it can use
            assert c.id.strip() and c.turns and all(isinstance(t, str) and t.strip() for t in c.turns)
            assert isinstance(c.system, str)
            "".join(c.turns).encode("utf-8")
    assert time.monotonic() - t0 < 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_a_damaged_conversation_gives_conversations_or_our_sentence(tmp_path, data):
    doc = copy.deepcopy(GOOD)
    where = data.draw(st.sampled_from(["id", "system", "turns", "turn", "extra", "drop"]))
    if where == "turn":
        doc["turns"][data.draw(st.integers(0, 1))] = data.draw(json_values)
    elif where == "extra":
        doc[data.draw(st.text(max_size=8))] = data.draw(json_values)
    elif where == "drop":
        doc.pop(data.draw(st.sampled_from(["id", "system", "turns"])))
    else:
        doc[where] = data.draw(json_values)
    _check(_write(tmp_path, [doc, GOOD if doc.get("id") != "trip" else {**GOOD, "id": "other"}]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_fuzz_any_bytes_give_conversations_or_our_sentence(tmp_path, raw):
    path = tmp_path / "raw.jsonl"
    path.write_bytes(raw)
    _check(path)
