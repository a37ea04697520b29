"""Thinking/answer split on crafted token streams, for both marker families."""

from __future__ import annotations

import pytest

from gemmacompare.engine.reasoning import ReasoningSplitter
from gemmacompare.models.reasoning_formats import (
    REASONING_FORMATS,
    prompt_prefills_thinking,
    reasoning_format_for_template,
)


def run(pieces, **kw):
    sp = ReasoningSplitter(**kw)
    out = [sp.feed(x) for x in pieces] + [sp.flush()]
    return "".join(o.thinking for o in out), "".join(o.answer for o in out), out


@pytest.mark.parametrize(
    "pieces",
    [
        ["<think>", "Let me", " add.", "</think>", "\n\nThe answer", " is 4."],
        ["<th", "ink>Let", " me add.</", "think>", "\n\nThe answer is 4."],
        ["<think>Let me add.</think>\n\nThe answer is 4."],
    ],
)
def test_think_tags_split_anywhere(pieces):
    thinking, answer, out = run(pieces)
    assert thinking == "Let me add."
    assert answer == "\n\nThe answer is 4."
    if len(pieces) > 1:
        assert out[0].phase == "thinking"
    assert [o.phase for o in out if o.answer.strip()] == ["answer"] * len([o for o in out if o.answer.strip()])


def test_prefilled_open_marker():
    fmt = prompt_prefills_thinking("<|im_start|>assistant\n<think>\n")
    assert fmt is not None and fmt.open == "<think>"
    thinking, answer, out = run(["Hmm", " 2+2", "</think>", "4"], starts_thinking=fmt)
    assert thinking == "Hmm 2+2" and answer == "4"
    assert [o.phase for o in out[:4]] == ["thinking", "thinking", "thinking", "answer"]


def test_gemma4_channel_format():
    pieces = ["<|channel>", "thought", "\nCount the", " apples.", "<channel|>", "There are ", "3."]
    thinking, answer, out = run(pieces)
    assert thinking == "\nCount the apples."
    assert answer == "There are 3."
    assert [o.phase for o in out[:5]] == ["thinking"] * 5
    assert out[5].phase == "answer"


def test_plain_text_passes_through_and_lookalikes_are_released():
    thinking, answer, _ = run(["a < b", " and <thi", "s is fine"])
    assert thinking == "" and answer == "a < b and <this is fine"


def test_unfinished_marker_at_end_is_kept():
    thinking, answer, _ = run(["x <thi"])
    assert answer == "x <thi"


def test_formats_are_data():
    names = {f.name for f in REASONING_FORMATS}
    assert {"think-tags", "gemma4-channel"} <= names
    assert reasoning_format_for_template("{% if x %}<think>{% endif %}").name == "think-tags"
    assert reasoning_format_for_template("{{ '<|channel>thought' }}").name == "gemma4-channel"
    assert reasoning_format_for_template("plain {{ messages }}") is None
