"""The thinking-marker families of reasoning models, as data.

Both a model's facts (does its template speak a thinking format?) and the engine's
streaming split need them, so they live here, below the engine.
Supporting a new family is one `ReasoningFormat` entry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReasoningFormat:
    name: str
    open: str
    close: str


REASONING_FORMATS: tuple[ReasoningFormat, ...] = (
    ReasoningFormat("think-tags", "<think>", "</think>"),
    ReasoningFormat("gemma4-channel", "<|channel>thought", "<channel|>"),
)


def reasoning_format_for_template(template: str | None) -> ReasoningFormat | None:
    """The family a chat template speaks, if it speaks one."""
    if not template:
        return None
    for fmt in REASONING_FORMATS:
        if fmt.open in template or fmt.close in template:
            return fmt
    return None


def template_supports_thinking_switch(template: str | None) -> bool:
    return template is not None and "enable_thinking" in template


def prompt_prefills_thinking(
    prompt: str, formats: tuple[ReasoningFormat, ...] = REASONING_FORMATS
) -> ReasoningFormat | None:
    tail = prompt.rstrip()
    for fmt in formats:
        if tail.endswith(fmt.open):
            return fmt
    return None
