"""Thinking/answer split on crafted token streams, for both marker families.

Every test checks per-token phases and the thinking/answer token counts, not
only the final text: those counts are what the app reports.
"""

from __future__ import annotations

import pytest

from gemmacompare.engine.reasoning import ReasoningSplitter
from gemmacompare.models.reasoning_formats import (
    REASONING_FORMATS,
    prompt_prefills_thinking,
    reasoning_format_for_template,
)

THINK = REASONING_FORMATS[0]
CHANNEL = REASONING_FORMATS[1]


def run(pieces, **kw):
    sp = ReasoningSplitter(**kw)
    out = []
    for x in pieces:
        out += sp.feed(x)
    out += sp.flush()
    assert [o.index for o in out] == list(range(len(pieces))), "every token comes back once, in order"
    return "".join(o.thinking for o in out), "".join(o.answer for o in out), [o.phase for o in out]


def counts(phases):
    return phases.count("thinking"), phases.count("answer")


@pytest.mark.parametrize(
    "pieces, n_thinking",
    [
        (["<think>", "Let me", " add.", "</think>", "\n\nThe answer", " is 4."], 4),
        (["<th", "ink>Let", " me add.</", "think>", "\n\nThe answer is 4."], 4),
        (["<", "th", "ink", ">Let me add.", "</", "th", "ink", ">", "\n\nThe answer is 4."], 8),
        (["<think>Let me add.</think>\n\nThe answer is 4."], 0),
    ],
)
def test_think_tags_split_anywhere(pieces, n_thinking):
    thinking, answer, phases = run(pieces)
    assert thinking == "Let me add."
    assert answer == "\n\nThe answer is 4."
    # Tokens holding answer text are answer tokens; all before them think.
    assert phases == ["thinking"] * n_thinking + ["answer"] * (len(pieces) - n_thinking)


@pytest.mark.parametrize(
    "pieces",
    [
        ["3", " <", " 5"],
        ["x", " <", "=", " y"],
        ["a", "<", "b"],
        ["<", "|", "im", "_end", "|>"],
        ["<|", "im_end", "|>"],
        ["bold", "</", "b", ">"],
        ["<", "b", ">hi"],
        ["a", " <", "thinking", " is", " not", " a", " marker"],
        ["<", "thin", "king"],
        ["<|", "channel", ">", "x"],
    ],
)
def test_answer_text_that_looks_like_a_marker_start_is_answer(pieces):
    thinking, answer, phases = run(pieces)
    assert thinking == "" and answer == "".join(pieces)
    assert phases == ["answer"] * len(pieces)


def test_lookalikes_inside_thinking_stay_thinking():
    pieces = ["<think>", "is", " 3", " <", " 5", "?", " <", "b", ">", "</think>", "yes", " <", "=", "6"]
    thinking, answer, phases = run(pieces)
    assert thinking == "is 3 < 5? <b>" and answer == "yes <=6"
    assert phases == ["thinking"] * 10 + ["answer"] * 4


def test_prefilled_open_marker():
    fmt = prompt_prefills_thinking("<|im_start|>assistant\n<think>\n")
    assert fmt is THINK
    pieces = ["Hmm", " 2", "<", "3", "</", "think", ">", "\n\n", "4", " <", " 5"]
    thinking, answer, phases = run(pieces, starts_thinking=fmt)
    assert thinking == "Hmm 2<3" and answer == "\n\n4 < 5"
    assert phases == ["thinking"] * 7 + ["answer"] * 4


@pytest.mark.parametrize("split", [1, 2, 3, 4])
def test_gemma4_channel_marker_split_over_tokens(split):
    def chop(s):
        step = -(-len(s) // split)
        return [s[i : i + step] for i in range(0, len(s), step)]

    open_parts, close_parts = chop(CHANNEL.open), chop(CHANNEL.close)
    pieces = open_parts + ["\nCount the", " apples <", "3."] + close_parts + ["There are ", "3 <", " 4."]
    thinking, answer, phases = run(pieces)
    assert thinking == "\nCount the apples <3."
    assert answer == "There are 3 < 4."
    n_think = len(open_parts) + 3 + len(close_parts)
    assert counts(phases) == (n_think, 3)
    assert phases == ["thinking"] * n_think + ["answer"] * 3


def test_marker_at_the_very_end_of_the_stream():
    thinking, answer, phases = run(["Answer", " 7", "<th", "ink>"])
    assert answer == "Answer 7" and thinking == ""
    assert phases == ["answer", "answer", "thinking", "thinking"]
    thinking, answer, phases = run(["<think>", "hm", "</", "think", ">"])
    assert thinking == "hm" and answer == ""
    assert counts(phases) == (5, 0)


def test_unfinished_marker_at_end_is_plain_text():
    for fmt in (None, THINK):
        thinking, answer, phases = run(["x", " <thi"], starts_thinking=fmt)
        assert thinking + answer == "x <thi"
        assert phases == (["answer", "answer"] if fmt is None else ["thinking", "thinking"])


def test_tokens_are_held_only_while_undecided():
    sp = ReasoningSplitter()
    assert [o.index for o in sp.feed("a")] == [0]
    assert sp.feed(" <") == []  # could start "<think>"
    assert sp.feed("th") == []
    released = sp.feed("e")  # "<the" is no marker: both held tokens are answer
    assert [(o.index, o.answer, o.phase) for o in released] == [
        (1, " <", "answer"), (2, "th", "answer"), (3, "e", "answer")]


def test_crafted_stream_counts():
    """The stream quoted in the closing note of issue 8 (before the fix: 12 thinking, 18 answer)."""
    stream = ["<think>", "Is", " 3", " <", " 5", "?", "</think>", "Yes", ":", " 3", " <", "=", " 5", ",", " a", "<",
              "b", ",", " <", "|", "im", "_end", "|>", " and", " </", "b", ">", " <", "thinking", " done"]
    thinking, answer, phases = run(stream)
    assert thinking == "Is 3 < 5?"
    assert answer == "Yes: 3 <= 5, a<b, <|im_end|> and </b> <thinking done"
    assert counts(phases) == (7, 23)


def test_formats_are_data():
    names = {f.name for f in REASONING_FORMATS}
    assert {"think-tags", "gemma4-channel"} <= names
    assert reasoning_format_for_template("{% if x %}<think>{% endif %}").name == "think-tags"
    assert reasoning_format_for_template("{{ '<|channel>thought' }}").name == "gemma4-channel"
    assert reasoning_format_for_template("plain {{ messages }}") is None
