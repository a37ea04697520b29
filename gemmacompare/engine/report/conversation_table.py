"""A conversation's figures per turn and in total, as rows for a table and as JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

from gemmacompare.engine.conversation import ConversationResult, ConversationTotals, TurnFigures

TURN_HEADER = ["turn", "model", "cache", "prompt", "reused", "prefilled", "TTFT s", "ms/token", "tokens", "stop"]
TOTAL_HEADER = ["model", "turns", "prompt", "reused", "prefilled", "TTFT s (sum)", "total s", "tokens"]


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def _s(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def reused_cell(t: TurnFigures) -> str:
    """Reused tokens; a server's count says it is the server's (llama-server's cache_n)."""
    text = _n(t.n_reused)
    if t.server and t.n_reused is not None:
        text += " (cache_n)"
    elif t.n_checkpoint:
        text += f" (checkpoint {t.n_checkpoint})"
    return text


def turn_rows(result: ConversationResult, names: Sequence[str]) -> list[list[str]]:
    """One row per turn and model, the turns in order."""
    rows = [list(TURN_HEADER)]
    n_turns = max((len(m.figures) for m in result.models), default=0)
    for k in range(n_turns):
        for i, side in enumerate(result.models):
            if k >= len(side.figures):
                continue
            t = side.figures[k]
            rows.append([str(t.turn), names[i], t.cache, str(t.n_prompt), reused_cell(t), _n(t.n_prefilled),
                         _s(t.ttft_s, 3), _s(t.ms_per_token, 1), _n(t.n_tokens),
                         "error" if t.error else t.stop_reason])
    return rows


def total_rows(result: ConversationResult, names: Sequence[str]) -> list[list[str]]:
    rows = [list(TOTAL_HEADER)]
    for i, side in enumerate(result.models):
        tot = side.totals()
        rows.append([names[i], str(tot.n_turns), str(tot.n_prompt), _n(tot.n_reused), _n(tot.n_prefilled),
                     _s(tot.ttft_s, 3), _s(tot.total_s), _n(tot.n_tokens)])
    return rows


def totals_dict(tot: ConversationTotals) -> dict[str, Any]:
    return asdict(tot)


def conversation_dict(result: ConversationResult, names: Sequence[str]) -> dict[str, Any]:
    """Every turn's figures and each model's replies, for --json."""
    conv = result.conversation
    return {
        "id": conv.id, "system": conv.system, "turns": list(conv.turns), "cache": result.cache, "mode": result.mode,
        "complete": result.complete,
        "models": [{"label": side.label, "name": names[i], "figures": [t.to_dict() for t in side.figures],
                    "totals": totals_dict(side.totals()), "replies": side.replies}
                   for i, side in enumerate(result.models)],
    }


__all__ = ["conversation_dict", "total_rows", "turn_rows"]
