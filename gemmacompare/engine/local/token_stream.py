"""The pieces of a decoding loop that every loop shares: the plain one (child.py), the
speculating one (speculative.py) and the context sweep's (depth_run.py).

Imported in the worker process only (greedy_pick reads llama.cpp's logits).
"""

from __future__ import annotations

import ctypes
import time
from collections import deque
from types import ModuleType
from typing import Callable, Iterable

from gemmacompare.engine import protocol as p
from gemmacompare.engine.reasoning import ReasoningSplitter, SplitPiece

# Tokens are batched on the wire for at most this long (see protocol.TokenBatch).
# Each batch wakes the parent, which costs ~0.25 ms of CPU on this kind of VM and
# preempts a llama.cpp thread when both cores decode; at 20 ms a 37 t/s model
# woke it for every token. 50 ms is still 20 updates a second on screen, and
# every token keeps its own timestamp.
TOKEN_FLUSH_S = 0.05


class StopStrings:
    """Finds the user's stop strings across token boundaries."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(x for x in stops if x)
        self._tail_len = max((len(x) for x in self.stops), default=0) * 2
        self._recent = ""

    def feed(self, piece: str) -> tuple[str, bool]:
        """(the part of piece to show, whether a stop string was hit)."""
        if not self.stops:
            return piece, False
        window = self._recent + piece
        cut = stop_index(window, self.stops)
        hit = cut is not None
        if cut is not None:
            # The stop string itself is not part of the answer (as in
            # OpenAI-style APIs); only this token's share can be held back.
            piece = piece[: max(0, cut - len(self._recent))]
        self._recent = window[-self._tail_len :]
        return piece, hit


class PhaseTagger:
    """Pairs each token with its share of thinking and answer text.

    A token whose text may start a marker waits here until the splitter knows
    which phase it belongs to; rows come out in TokenBatch form.
    """

    def __init__(self, splitter: ReasoningSplitter) -> None:
        self._splitter = splitter
        self._waiting: deque[tuple[int, float]] = deque()

    def feed(self, tok: int, t: float, piece: str) -> list[p.TokenRow]:
        self._waiting.append((tok, t))
        return self._rows(self._splitter.feed(piece))

    def flush(self) -> list[p.TokenRow]:
        return self._rows(self._splitter.flush())

    def _rows(self, parts: Iterable[SplitPiece]) -> list[p.TokenRow]:
        rows: list[p.TokenRow] = []
        for part in parts:
            w_tok, w_t = self._waiting.popleft()
            rows.append((part.index, w_tok, w_t, part.phase, part.thinking, part.answer))
        return rows


class TokenBatcher:
    """Collects token rows and sends them as one TokenBatch (see TOKEN_FLUSH_S)."""

    def __init__(self, request_id: int, send: Callable[[p.TokenBatch], None]) -> None:
        self._request_id = request_id
        self._send = send
        self._pending: list[p.TokenRow] = []
        self.last_flush = 0.0

    def add(self, rows: list[p.TokenRow]) -> None:
        self._pending.extend(rows)

    def flush(self) -> None:
        if self._pending:
            self._send(p.TokenBatch(self._request_id, tuple(self._pending)))
            self._pending = []
        self.last_flush = time.monotonic()


def stop_index(text: str, stops: tuple[str, ...]) -> int | None:
    """Where the earliest stop string starts in text, if any does."""
    found = [i for i in (text.find(x) for x in stops) if i >= 0]
    return min(found) if found else None


def is_greedy(s: p.SamplingSettings) -> bool:
    return s.temperature <= 0 and (not s.repeat_penalty or s.repeat_penalty == 1.0)


def greedy_pick(L: ModuleType, n_vocab: int, banned: tuple[int, ...] = ()) -> Callable[[object, object, int], int]:
    """Greedy decoding as an argmax over the logits, in place of llama.cpp's
    greedy sampler. The sampler first copies the whole vocabulary into a
    candidate array: 0.85 ms a token for Gemma's 262k entries (4% of its decode
    time on 2 cores), against 0.04 ms here. Same pick: the first highest logit.
    `banned` tokens get -inf first, as llama.cpp's logit bias gives them."""
    import numpy as np

    row = ctypes.c_float * n_vocab
    logits_of = L.llama_get_logits_ith
    banned_ids = np.array(banned, dtype=np.int64)

    def pick(_sampler: object, ctx: object, i: int) -> int:
        address = ctypes.cast(logits_of(ctx, i), ctypes.c_void_p).value
        # address is None only for a NULL pointer (from_address then raises, as it always did);
        # a ctypes array is a buffer, which numpy's stubs do not list.
        logits = np.frombuffer(row.from_address(address), dtype=np.float32)  # type: ignore[arg-type, call-overload]
        if banned_ids.size:
            logits[banned_ids] = -np.inf
        return int(logits.argmax())

    return pick
