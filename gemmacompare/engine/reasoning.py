"""Separating a reasoning model's thinking from its answer, while it streams.

The marker families live in `models.reasoning_formats`. Markers may arrive split
over several tokens, so text that could be the start of a marker is held back until
it is decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from gemmacompare.models.reasoning_formats import REASONING_FORMATS, ReasoningFormat

THINKING = "thinking"
ANSWER = "answer"


@dataclass(frozen=True)
class SplitPiece:
    """What one fed text piece turned into: visible thinking and answer text,
    and the phase the piece counts towards (the one it started or spent most in)."""

    thinking: str
    answer: str
    phase: str


class ReasoningSplitter:
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
        self.seen_thinking = starts_thinking is not None

    @property
    def in_thinking(self) -> bool:
        return self._active is not None

    def feed(self, piece: str) -> SplitPiece:
        started_thinking = self.in_thinking
        text = self._pending + piece
        self._pending = ""
        thinking: list[str] = []
        answer: list[str] = []
        touched_marker = False
        while text:
            if self._active is not None:
                idx = text.find(self._active.close)
                if idx >= 0:
                    thinking.append(text[:idx])
                    text = text[idx + len(self._active.close) :]
                    self._active = None
                    touched_marker = True
                    continue
                keep = _partial_suffix(text, (self._active.close,))
                thinking.append(text[: len(text) - keep])
                self._pending = text[len(text) - keep :]
                break
            hit = None
            for fmt in self._formats:
                idx = text.find(fmt.open)
                if idx >= 0 and (hit is None or idx < hit[0]):
                    hit = (idx, fmt)
            if hit is not None:
                idx, fmt = hit
                answer.append(text[:idx])
                text = text[idx + len(fmt.open) :]
                self._active = fmt
                self.seen_thinking = True
                touched_marker = True
                continue
            keep = _partial_suffix(text, tuple(f.open for f in self._formats))
            answer.append(text[: len(text) - keep])
            self._pending = text[len(text) - keep :]
            break
        t, a = "".join(thinking), "".join(answer)
        # A piece that only started a marker ("<th") most likely belongs to it.
        marker_only = (touched_marker or self._pending) and not a.strip()
        if started_thinking or self.in_thinking or marker_only:
            phase = THINKING
        else:
            phase = ANSWER
        return SplitPiece(t, a, phase)

    def flush(self) -> SplitPiece:
        """End of stream: whatever was held back is plain text after all."""
        rest, self._pending = self._pending, ""
        if self.in_thinking:
            return SplitPiece(rest, "", THINKING)
        return SplitPiece("", rest, ANSWER)


def _partial_suffix(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest tail of `text` that is a proper prefix of a marker."""
    best = 0
    for m in markers:
        for n in range(min(len(m) - 1, len(text)), best, -1):
            if text.endswith(m[:n]):
                best = n
                break
    return best
