"""Base models run as base models: a question-and-answer frame, not a chat.

A base model (the Gemma-3-270M demo) has no chat template and was never taught
to take turns: given a chat it echoes the prompt until max tokens. Given a few
short questions with their answers, it continues the pattern with one answer
and a blank line, where the frame's stop strings end it. A file with no chat
template whose names say instruct, chat or "-it" is a chat model whose template
was lost in conversion; it keeps the chat fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath

from gemmacompare.models.gguf_file import ModelFacts

FRAME_NAME = "base model (question-and-answer frame)"
FRAME_HEAD = (
    "The following are short questions, each with a short, correct answer.\n\n"
    "Question: What is the capital of Italy?\nAnswer: Rome.\n\n"
    "Question: How many legs does a spider have?\nAnswer: Eight.\n\n"
    "Question: What colour do you get by mixing blue and yellow?\nAnswer: Green.\n\n"
)
# The frame's own end of an answer: the next question, or the blank line before it.
FRAME_STOPS = ("\nQuestion:", "\n\n")

_TUNED = re.compile(r"(instruct|chat|[-_. ]it\b|[-_. ]it[-_.]|sft|dpo|rlhf)", re.IGNORECASE)


def is_base_model(facts: ModelFacts) -> bool:
    if facts.has_chat_template or facts.template_problem:
        return False
    names = f"{facts.name} {PurePath(facts.path).name}"
    return not _TUNED.search(names)


def render_frame(turns: Iterable[tuple[str, str]]) -> str:
    """`turns`: (role, text) of the chat; a system prompt leads the frame, earlier answers stay in it."""
    parts = []
    head = FRAME_HEAD
    for role, text in turns:
        text = " ".join(text.split())  # one line: a blank line inside would end the answer
        if role == "system":
            head = f"{text}\n\n{FRAME_HEAD}"
        elif role == "user":
            parts.append(f"Question: {text}\nAnswer:")
        else:
            parts[-1:] = [f"{parts[-1]} {text}\n\n"] if parts else []
    return head + "".join(parts)
