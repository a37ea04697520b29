"""Settings from a run file pass the checks the command line's pass, before anything runs.

A run file's settings are a stranger's: `temperature` NaN, `top_p` 5, 1,100
threads on a 2-core machine or a billion tokens with end-of-text ignored would
each run, slowly or for ever. `check_settings` is the one function a rerun asks
(and the ranges are the command line's, cli/main.py): a setting no llama.cpp
run takes is refused with one sentence naming it; thread counts above what
this machine has are brought down to it, and each change is said.

Each value is first checked against its declaration in the settings table
(state/settings_table.py) when the file is read; what is left here is what
the table cannot know: this machine's thread count, and refusing what would
run for ever.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

from gemmacompare.engine.run_settings import RunSettings

MAX_GENERATE = 65_536  # tokens in one answer; a run file holds no more (run_file.MAX_TOKENS_PER_RUN)
# (field, least, most, what the user calls it); the command line's ranges for the same settings.
SAMPLING_RANGES: tuple[tuple[str, float, float, str], ...] = (
    ("temperature", 0.0, 100.0, "temperature"),
    ("top_p", 0.0, 1.0, "top-p"),
    ("min_p", 0.0, 1.0, "min-p"),
    ("top_k", 0, 1_000_000, "top-k"),
    ("repeat_penalty", 0.0, 100.0, "repeat penalty"),
    ("max_tokens", 1, MAX_GENERATE, "max tokens"),
)
THREADS_PER_CPU = 4  # as cli/args.py: more only slows llama.cpp down
THREADS_CEILING = 1024


def max_threads() -> int:
    return min(THREADS_CEILING, THREADS_PER_CPU * (os.cpu_count() or 1))


class SettingRefused(ValueError):
    """A setting no run here takes; `message` is one sentence naming it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_settings(s: RunSettings, threads_here: int, who: str = "") -> tuple[RunSettings, list[str]]:
    """The settings to run here, and one note per setting changed to run here; SettingRefused otherwise.

    `threads_here`: the threads this machine runs with (a file's higher counts come down to it);
    `who`: the model's label, to name in the sentences ("[B] ").
    """
    sampling = s.sampling
    for name, lo, hi, said in SAMPLING_RANGES:
        value = getattr(sampling, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not lo <= value <= hi:
            raise SettingRefused(f"{who}the run file's {said} is {value!r}, and a run takes {lo:g} to {hi:g}; "
                                 "nothing was run.")
    if sampling.repeat_penalty == 0:
        raise SettingRefused(f"{who}the run file's repeat penalty is 0, and a run takes more than 0; nothing was run.")
    problem = s.load.problem()
    if problem:
        raise SettingRefused(f"{who}{problem[0].lower()}{problem[1:].rstrip('.')} (in the run file); nothing was run.")
    if s.load.n_gpu_layers < -1 or s.load.n_ctx < 1 or s.load.n_batch < 0:
        raise SettingRefused(f"{who}the run file's context ({s.load.n_ctx}), batch ({s.load.n_batch}) or GPU layers "
                             f"({s.load.n_gpu_layers}) are not ones a run takes; nothing was run.")
    notes = []
    here = max(1, min(threads_here, max_threads()))
    if s.prompt.n_threads > here:  # a thread count the author chose, more than this machine has
        notes.append(f"{who}recorded with {s.prompt.n_threads} threads of its own; here {here}, all this machine has")
        s = replace(s, prompt=replace(s.prompt, n_threads=here))
    return s, notes


__all__ = ["MAX_GENERATE", "SAMPLING_RANGES", "THREADS_PER_CPU", "SettingRefused", "check_settings", "max_threads"]
