"""A model's run settings, and the one request built from them.

`RunSettings` (what loads the model, how tokens are picked, how a server is
reached, how the prompt is put) is declared in the settings table
(state/settings_table.py); every door holds its settings in it. The one
`GenerateCommand` a model gets is built here and nowhere else, so a new field
cannot be dropped by a door that rebuilds it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gemmacompare.engine import protocol as p
from gemmacompare.state.settings_table import PromptOptions, RunSettings, ServerSettings


def command_for(settings: RunSettings, history: tuple[p.ChatMessage, ...] | list[p.ChatMessage], text: str, *,
                request_id: int = 1, thinking_switch: bool = True, **sampling_overrides: Any) -> p.GenerateCommand:
    """The request for `text` after `history` (earlier turns, no system prompt).

    Its thread count is the settings' own (None: the mode decides); the session
    replaces it with the round's split before the worker sees it.
    """
    o = settings.prompt
    messages: list[p.ChatMessage] = []
    if o.system_prompt:
        messages.append(p.ChatMessage("system", o.system_prompt))
    messages += [*history, p.ChatMessage("user", text)]
    sampling = replace(settings.sampling, **sampling_overrides) if sampling_overrides else settings.sampling
    return p.GenerateCommand(
        request_id=request_id,
        messages=() if o.raw else tuple(messages),
        raw_prompt=text if o.raw else None,
        sampling=sampling,
        enable_thinking=o.thinking if thinking_switch else None,
        n_threads=o.n_threads or None,
        # A new conversation (no earlier turns) starts cold: it never reuses another one's cache.
        cache=o.cache if history else p.CACHE_COLD,
        keep_after=o.cache == p.CACHE_KEEP,
    )


__all__ = ["PromptOptions", "RunSettings", "ServerSettings", "command_for"]
