"""Settings from a run file pass the checks the command line's pass, before anything runs.

A run file's settings are a stranger's: `temperature` NaN, `top_p` 5, 1,100
threads on a 2-core machine or a billion tokens with end-of-text ignored would
each run, slowly or for ever. `check_settings` is the one function a rerun asks:
every value is held to its declaration in the settings table
(state/settings_table.py, the command line's ranges too) and refused with one
sentence naming it; on top of the table it knows what only a run from a file
needs: no more tokens than a run file can hold, and thread counts above what
this machine has brought down to it, each change said.
"""

from __future__ import annotations

from dataclasses import replace

from gemmacompare.engine.run_settings import RunSettings
from gemmacompare.state.defaults import max_threads
from gemmacompare.state.settings_table import problem_of

MAX_GENERATE = 65_536  # tokens in one answer; a run file holds no more (run_file.MAX_TOKENS_PER_RUN)


class SettingRefused(ValueError):
    """A setting no run here takes; `message` is one sentence naming it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def refusal(who: str, sentence: str) -> str:
    """A run file's setting refused, in one sentence: "[B] min-p must be … (in the run file); nothing was run."."""
    said = sentence.rstrip(".")
    return f"{who}{said[:1].lower()}{said[1:]} (in the run file); nothing was run."


def check_settings(s: RunSettings, threads_here: int, who: str = "") -> tuple[RunSettings, list[str]]:
    """The settings to run here, and one note per setting changed to run here; SettingRefused otherwise.

    `threads_here`: the threads this machine runs with (a file's higher counts come down to it);
    `who`: the model's label, to name in the sentences ("[B] ").
    """
    problem = problem_of(s.sampling) or s.load.problem()
    if problem:
        raise SettingRefused(refusal(who, problem))
    if s.sampling.max_tokens > MAX_GENERATE:
        raise SettingRefused(refusal(who, f"Max tokens must be at most {MAX_GENERATE:,} for a run from a file, "
                                          f"not {s.sampling.max_tokens:,}"))
    # Refused since run files were first checked, though the table (so the command line) takes 0,
    # which the worker reads as "off"; kept as it was.
    if s.sampling.repeat_penalty == 0:
        raise SettingRefused(refusal(who, "The repeat penalty must be more than 0"))
    notes = []
    here = max(1, min(threads_here, max_threads()))
    if s.prompt.n_threads > here:  # a thread count the author chose, more than this machine has
        notes.append(f"{who}recorded with {s.prompt.n_threads} threads of its own; here {here}, all this machine has")
        s = replace(s, prompt=replace(s.prompt, n_threads=here))
    return s, notes


__all__ = ["MAX_GENERATE", "SettingRefused", "check_settings", "refusal"]
