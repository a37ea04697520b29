"""One sentence comparing two to four answers, in the order people check claims in.

Claims about small models are stated as per-token latency ("45 vs 110
ms/token"), so that leads, with its ratio; then time to answer, which is what a
user of a reasoning model waits for; then who finished first, with how many
tokens each wrote, since finishing first says little when one model wrote
three times as much. The GUI's banner and `compare` both use it.
"""

from __future__ import annotations

import os

from gemmacompare.engine.metrics import RunStats

# Below this ratio two per-token latencies are not called different.
SAME_SPEED_RATIO = 1.05


def per_token_phrase(labels: list[str], stats: list[RunStats]) -> str | None:
    """"A 29 ms/token vs B 52 ms/token: A 1.8× faster per token", or None."""
    ms: list[float] = []
    for s in stats:
        if s.ms_per_token is None or s.ms_per_token <= 0:
            return None
        ms.append(s.ms_per_token)
    (la, lb), (ma, mb) = labels, ms
    head = f"{la} {ma:.0f} ms/token vs {lb} {mb:.0f} ms/token"
    fast, slow = (la, ma / mb) if ma < mb else (lb, mb / ma)
    ratio = 1 / slow
    if ratio < SAME_SPEED_RATIO:
        return f"{head}: about the same per token"
    return f"{head}: {fast} {ratio:.1f}× faster per token"


def answer_phrase(labels: list[str], stats: list[RunStats]) -> str | None:
    parts = [f"{label} {s.time_to_answer_s:.2f} s" for label, s in zip(labels, stats) if s.time_to_answer_s is not None]
    return "time to answer " + ", ".join(parts) if parts else None


def finish_phrase(labels: list[str], stats: list[RunStats]) -> str | None:
    totals = [s.total_s for s in stats if s.total_s is not None]
    if len(totals) < len(stats):
        return None
    (la, lb), (sa, sb), (ta, tb) = labels, stats, totals
    first, gap = (la, tb - ta) if ta <= tb else (lb, ta - tb)
    def count(s: RunStats) -> str:
        return "?" if s.n_tokens is None else str(s.n_tokens)  # a server that reports no count

    return f"{first} finished first, {gap:.2f} s ahead ({la} {count(sa)} vs {lb} {count(sb)} tokens)"


def ranking_phrase(labels: list[str], stats: list[RunStats]) -> str | None:
    """Three or four models: "B 29 ms/token (fastest) · A 52 (1.8×) · C 80 (2.8×)", fastest first."""
    ranked = sorted(((s.ms_per_token, label) for label, s in zip(labels, stats)
                     if s.ms_per_token is not None and s.ms_per_token > 0))
    if len(ranked) < 2:
        return None
    best = ranked[0][0]
    parts = [f"{ranked[0][1]} {best:.0f} ms/token (fastest)"]
    for ms, label in ranked[1:]:
        ratio = ms / best
        parts.append(f"{label} {ms:.0f} ({'about the same' if ratio < SAME_SPEED_RATIO else f'{ratio:.1f}×'})")
    missing = [label for label, s in zip(labels, stats) if s.ms_per_token is None or s.ms_per_token <= 0]
    if missing:
        parts.append(f"{', '.join(missing)}: no per-token figure")
    return "ranked by ms/token: " + ", ".join(parts)


def first_finisher_phrase(labels: list[str], stats: list[RunStats]) -> str | None:
    totals = [s.total_s for s in stats if s.total_s is not None]
    if len(totals) < len(stats):
        return None
    order = sorted(zip(totals, labels, stats))
    (t0, first, _), (t1, _, _) = order[0], order[1]
    counts = ", ".join(f"{label} {'?' if s.n_tokens is None else s.n_tokens}" for label, s in zip(labels, stats))
    return f"{first} finished first, {t1 - t0:.2f} s ahead of the next ({counts} tokens)"


ENDED_BY_ITSELF = ("eos", "stop_string")


def cut_short_phrase(labels: list[str], stats: list[RunStats]) -> str | None:
    """When some replies hit max tokens and others ended by themselves, finishing
    first (and the time a runaway reply took) says little: say that instead."""
    cut = [label for label, s in zip(labels, stats) if s.stop_reason == "max_tokens"]
    ended = [label for label, s in zip(labels, stats) if s.stop_reason in ENDED_BY_ITSELF]
    if not cut or not ended:
        return None
    n = max((s.n_tokens or 0) for s in stats if s.stop_reason == "max_tokens")
    return (f"{', '.join(ended)} ended by {'itself' if len(ended) == 1 else 'themselves'}, {', '.join(cut)} hit max "
            f"tokens ({n}): no winner on finishing time")


def speed_summary(labels: list[str], stats: list[RunStats], race: bool = True) -> str:
    """The whole sentence; in fair mode the models ran one after the other, so
    who finished first means nothing and is left out."""
    cut_short = cut_short_phrase(labels, stats)
    if cut_short is not None:
        head = ranking_phrase(labels, stats) if len(stats) > 2 else per_token_phrase(labels, stats)
        return " · ".join(x for x in (head, answer_phrase(labels, stats), cut_short) if x)
    if len(stats) > 2:
        phrases = [ranking_phrase(labels, stats), answer_phrase(labels, stats)]
        if race:
            phrases.append(first_finisher_phrase(labels, stats))
        return " · ".join(x for x in phrases if x)
    phrases = [per_token_phrase(labels, stats), answer_phrase(labels, stats)]
    if race:
        phrases.append(finish_phrase(labels, stats))
    return " · ".join(x for x in phrases if x)


def busy_sentence(labels: list[str], stats: list[RunStats]) -> str | None:
    """"other programs used 0.9 of 2 cores during A's run; figures are unreliable", or None."""
    busy = [(label, s) for label, s in zip(labels, stats) if s.machine_busy and s.other_cpu_cores is not None]
    if not busy:
        return None
    worst = max(s.other_cpu_cores or 0.0 for _, s in busy)
    whose = "every run" if len(busy) == len(stats) else f"{', '.join(label for label, _ in busy)}'s run"
    return (f"other programs used {worst:.1f} of {os.cpu_count() or 1} cores during {whose}; "
            "figures are unreliable")
