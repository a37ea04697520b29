"""One sentence comparing two answers, in the order people check claims in.

Claims about small models are stated as per-token latency ("45 vs 110
ms/token"), so that leads, with its ratio; then time to answer, which is what a
user of a reasoning model waits for; then who finished first, with how many
tokens each wrote, since finishing first says little when one model wrote
three times as much. The GUI's banner and `compare` both use it.
"""

from __future__ import annotations

from gemmacompare.engine.metrics import RunStats

# Below this ratio two per-token latencies are not called different.
SAME_SPEED_RATIO = 1.05


def per_token_phrase(labels: list[str], stats: list[RunStats]) -> str | None:
    """"A 29 ms/token vs B 52 ms/token: A 1.8× faster per token", or None."""
    ms = [s.ms_per_token for s in stats]
    if any(m is None or m <= 0 for m in ms):
        return None
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
    if any(s.total_s is None for s in stats):
        return None
    (la, lb), (sa, sb) = labels, stats
    first, gap = (la, sb.total_s - sa.total_s) if sa.total_s <= sb.total_s else (lb, sa.total_s - sb.total_s)
    def count(s: RunStats) -> str:
        return "?" if s.n_tokens is None else str(s.n_tokens)  # a server that reports no count

    return f"{first} finished first, {gap:.2f} s ahead ({la} {count(sa)} vs {lb} {count(sb)} tokens)"


def speed_summary(labels: list[str], stats: list[RunStats], race: bool = True) -> str:
    """The whole sentence; in fair mode the models ran one after the other, so
    who finished first means nothing and is left out."""
    phrases = [per_token_phrase(labels, stats), answer_phrase(labels, stats)]
    if race:
        phrases.append(finish_phrase(labels, stats))
    return " · ".join(x for x in phrases if x)
