"""Separating a reasoning model's thinking from its answer, while it streams.

The marker families live in `models.reasoning_formats`. Markers may arrive split
over several tokens, so text that could be the start of a marker is held back until
it is decided. A token whose text is held is itself undecided: its phase is the
phase of the text it finally turns into, known only when the hold resolves. A hold
is never longer than the longest marker, so this delays nothing visibly.
"""

from __future__ import annotations

from dataclasses import dataclass

from gemmacompare.models.reasoning_formats import REASONING_FORMATS, ReasoningFormat

THINKING = "thinking"
ANSWER = "answer"


@dataclass(frozen=True)
class SplitPiece:
    """What one fed token finally turned into: its visible thinking and answer
    text, and the phase it counts towards. `index` is the token's position in
    the order fed (0-based)."""

    index: int
    thinking: str
    answer: str
    phase: str


@dataclass
class _TokenShare:
    index: int
    thinking: str = ""
    answer: str = ""
    marker: bool = False
    held: int = 0  # characters of this token still held back
    empty_phase: str = ANSWER  # for a token with no text at all


class ReasoningSplitter:
    """Feed token texts in order; get back each token once its phase is decided.

    `feed` returns the tokens decided by that piece, oldest first (possibly none,
    possibly several); `flush` at the end of the stream returns the rest.
    """

    def __init__(
        self,
        formats: tuple[ReasoningFormat, ...] = REASONING_FORMATS,
        starts_thinking: ReasoningFormat | None = None,
    ) -> None:
        # When the template pre-fills the opening marker (Qwen3.5 does), the
        # model's first token is already thinking and its close marker is the
        # only one we will see.
        self._formats = formats
        self._active: ReasoningFormat | None = starts_thinking
        self._pending = ""
        self._pending_owner: list[_TokenShare] = []  # one per held character
        self._undecided: list[_TokenShare] = []
        self._count = 0
        self.seen_thinking = starts_thinking is not None

    @property
    def in_thinking(self) -> bool:
        return self._active is not None

    def feed(self, piece: str) -> list[SplitPiece]:
        share = _TokenShare(self._count, empty_phase=THINKING if self.in_thinking else ANSWER)
        self._count += 1
        self._undecided.append(share)
        text = self._pending + piece
        owners = self._pending_owner + [share] * len(piece)
        for o in self._pending_owner:
            o.held -= 1
        self._pending, self._pending_owner = "", []
        pos = 0
        while pos < len(text):
            if self._active is not None:
                idx = text.find(self._active.close, pos)
                if idx >= 0:
                    _give(text, owners, pos, idx, THINKING)
                    end = idx + len(self._active.close)
                    _give(text, owners, idx, end, None)
                    self._active, pos = None, end
                    continue
                keep = _partial_suffix(text[pos:], (self._active.close,))
                _give(text, owners, pos, len(text) - keep, THINKING)
                self._hold(text, owners, len(text) - keep)
                break
            hit = None
            for fmt in self._formats:
                idx = text.find(fmt.open, pos)
                if idx >= 0 and (hit is None or idx < hit[0]):
                    hit = (idx, fmt)
            if hit is not None:
                idx, fmt = hit
                _give(text, owners, pos, idx, ANSWER)
                end = idx + len(fmt.open)
                _give(text, owners, idx, end, None)
                self._active, pos = fmt, end
                self.seen_thinking = True
                continue
            keep = _partial_suffix(text[pos:], tuple(f.open for f in self._formats))
            _give(text, owners, pos, len(text) - keep, ANSWER)
            self._hold(text, owners, len(text) - keep)
            break
        return self._release()

    def flush(self) -> list[SplitPiece]:
        """End of stream: whatever was held back is plain text after all."""
        rest, owners = self._pending, self._pending_owner
        self._pending, self._pending_owner = "", []
        for o in owners:
            o.held -= 1
        _give(rest, owners, 0, len(rest), THINKING if self.in_thinking else ANSWER)
        return self._release()

    def _hold(self, text: str, owners: list[_TokenShare], start: int) -> None:
        self._pending, self._pending_owner = text[start:], owners[start:]
        for o in self._pending_owner:
            o.held += 1

    def _release(self) -> list[SplitPiece]:
        done: list[SplitPiece] = []
        # In order: a later token is never shown before an earlier, held one.
        while self._undecided and self._undecided[0].held == 0:
            s = self._undecided.pop(0)
            done.append(SplitPiece(s.index, s.thinking, s.answer, _phase_of(s)))
        return done


def _phase_of(share: _TokenShare) -> str:
    """A token that carries answer text is an answer token; one that is all
    thinking text or marker is a thinking token (a marker is part of thinking).
    Whitespace after a close marker does not make the marker an answer."""
    if share.answer.strip():
        return ANSWER
    if share.thinking or share.marker:
        return THINKING
    if share.answer:
        return ANSWER
    return share.empty_phase


def _give(text: str, owners: list[_TokenShare], start: int, end: int, kind: str | None) -> None:
    """Credit text[start:end] to the tokens it came from, as thinking, answer,
    or (kind None) marker text."""
    i = start
    while i < end:
        owner = owners[i]
        j = i + 1
        while j < end and owners[j] is owner:
            j += 1
        if kind == THINKING:
            owner.thinking += text[i:j]
        elif kind == ANSWER:
            owner.answer += text[i:j]
        else:
            owner.marker = True
        i = j


def _partial_suffix(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest tail of `text` that is a proper prefix of a marker."""
    best = 0
    for m in markers:
        for n in range(min(len(m) - 1, len(text)), best, -1):
            if text.endswith(m[:n]):
                best = n
                break
    return best
