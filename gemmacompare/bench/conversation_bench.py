"""A conversation suite as a benchmark: every conversation on every model, figures per turn.

Task suites measure one prompt, cold; a conversation suite measures what a chat
costs turn after turn, with the cache kept (or cold, to see the difference).
Its results are not kept in the benchmark history (whose items are scored
answers to single tasks): the command line prints them and writes them with
--out, the Benchmark tab shows them per turn.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from gemmacompare.bench.conversations import ConversationSuite
from gemmacompare.engine import protocol as p
from gemmacompare.engine.conversation import ConversationResult, TurnCallback, play_conversation
from gemmacompare.engine.modes import FAIR, default_threads
from gemmacompare.engine.report.conversation_table import conversation_dict
from gemmacompare.engine.run_settings import RunSettings, ServerSettings
from gemmacompare.engine.session import SessionJob


class ConversationBenchError(Exception):
    """The benchmark cannot start; the message is one sentence."""


class ConversationBench(SessionJob):
    """Loads the models once, then plays each conversation `runs` times; `stop()` from any thread."""

    def __init__(self, models: Sequence[str], settings: RunSettings, cache: str = p.CACHE_KEEP, mode: str = FAIR,
                 threads: int = 0, runs: int = 1, warmup: int = 1, remote: ServerSettings | None = None) -> None:
        super().__init__()
        self.models = [str(m) for m in models]
        # The replies are part of the conversation: greedy, so every run plays the same one.
        self.settings = replace(settings, sampling=replace(settings.sampling, temperature=0.0))
        self.cache, self.mode, self.threads, self.runs, self.warmup = cache, mode, threads, runs, warmup
        self.remote = remote

    def run(self, suite: ConversationSuite, on_turn: TurnCallback | None = None,
            on_conversation: Callable[[int, ConversationResult], None] | None = None) -> list[ConversationResult]:
        labels = [chr(ord("A") + i) for i in range(len(self.models))]
        results: list[ConversationResult] = []
        with self.own_session(labels, server=self.remote) as session:
            errors = session.load(self.models, self.settings.load)
            for path, err in zip(self.models, errors):
                if err is not None:
                    raise ConversationBenchError(f"{path}: {err.message}")
            threads = self.threads or default_threads()
            each = [self.settings] * len(self.models)
            if self.warmup and suite.conversations and not self.stopped:
                # Pays for first-touch page faults and the CPU's clock ramp, as the task benchmark does.
                first = suite.conversations[0]
                play_conversation(session, each, replace(first, turns=first.turns[:1]), p.CACHE_COLD, self.mode,
                                  threads, stopped=lambda: self.stopped)
            for rep in range(self.runs):
                for conv in suite.conversations:
                    if self.stopped:
                        return results
                    result = play_conversation(session, each, conv, self.cache, self.mode, threads,
                                               on_turn=on_turn, stopped=lambda: self.stopped)
                    if result.stopped:
                        return results  # a conversation cut short is not a figure
                    results.append(result)
                    if on_conversation is not None:
                        on_conversation(rep, result)
        return results


def write_conversation_results(results: Sequence[ConversationResult], names: Sequence[str], out: Path,
                               suite: ConversationSuite) -> list[Path]:
    """JSON with every turn's figures and a CSV of one row per turn and model."""
    out.mkdir(parents=True, exist_ok=True)
    doc = {"suite": suite.name, "models": list(names),
           "conversations": [conversation_dict(r, names) for r in results]}
    json_path = out / f"{suite.name}-turns.json"
    json_path.write_text(json.dumps(doc, indent=1))
    csv_path = out / f"{suite.name}-turns.csv"
    cols = ["conversation", "cache", "model", "turn", "n_prompt", "n_reused", "n_prefilled", "ttft_s", "ms_per_token",
            "n_tokens", "total_s", "stop_reason", "server"]
    lines = [",".join(cols)]
    for r in results:
        for i, side in enumerate(r.models):
            for t in side.figures:
                d = t.to_dict()
                row = [r.conversation.id, r.cache, names[i]] + [d[c] for c in cols[3:]]
                lines.append(",".join(_csv(v) for v in row))
    csv_path.write_text("\n".join(lines) + "\n")
    return [json_path, csv_path]


def _csv(value: object) -> str:
    text = "" if value is None else str(value)
    if any(c in text for c in ',"\n\r') or text[:1] in ("=", "+", "-", "@"):
        # A conversation id is the file author's text: quoted, and never a spreadsheet formula.
        text = '"' + ("'" + text if text[:1] in ("=", "+", "-", "@") else text).replace('"', '""') + '"'
    return text


__all__ = ["ConversationBench", "ConversationBenchError", "write_conversation_results"]
