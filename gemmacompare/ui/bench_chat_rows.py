"""A conversation suite's turns as rows of the Benchmark tab's item table.

The tab's columns are a task suite's; a turn fills them with what a turn has:
the task column names the conversation and turn, "expected" the cache policy,
"extracted" what the turn reused and prefilled, the answer column the reply.
"""

from __future__ import annotations

from typing import Sequence

from gemmacompare.engine.api import ConversationResult


def _fmt(v: float | None, digits: int) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def turn_cells(result: ConversationResult, rep: int, labels: Sequence[str]) -> list[list[str]]:
    """One row per turn and model, in the item table's columns."""
    rows = []
    for i, side in enumerate(result.models):
        for k, t in enumerate(side.figures):
            reply = side.replies[k] if k < len(side.replies) else ""
            reused = "?" if t.n_reused is None else str(t.n_reused)
            prefilled = "?" if t.n_prefilled is None else str(t.n_prefilled)
            rows.append([
                str(rep + 1), f"{result.conversation.id} · turn {t.turn}", labels[i] if i < len(labels) else str(i),
                t.cache, f"prompt {t.n_prompt}: reused {reused}, prefilled {prefilled}",
                "error" if t.error else "–", "–" if t.n_tokens is None else str(t.n_tokens),
                _fmt(1000.0 / t.ms_per_token if t.ms_per_token else None, 1), _fmt(t.ttft_s, 2), _fmt(t.total_s, 2),
                (t.error or reply).replace("\n", " ")[:300],
            ])
    return rows


__all__ = ["turn_cells"]
