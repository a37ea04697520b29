"""What one blind round is: two contenders, the side each was drawn to, the answers, the vote.

Sides are positions on screen: "Model 1" is the left pane, "Model 2" the right
one. Which loaded model sits where is drawn at random per prompt and stored
with the battle, so a vote for "1" always maps to the model that was shown as 1.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

# The four answers a voter can give, by side.
ONE_BETTER, TWO_BETTER, TIE, BOTH_BAD = "1", "2", "tie", "both_bad"
OUTCOMES = (ONE_BETTER, TWO_BETTER, TIE, BOTH_BAD)
OUTCOME_LABELS = {ONE_BETTER: "1 is better", TWO_BETTER: "2 is better", TIE: "Tie", BOTH_BAD: "Both bad"}

# Why a round's vote is kept but left out of the ratings.
NOT_COUNTED_STOPPED = "a model was stopped early, so its answer is cut short"
NOT_COUNTED_ERROR = "a model failed with an error, so there is no full answer to judge"
NOT_COUNTED_SAME_MODEL = "both sides ran the same model file"


@dataclass(frozen=True)
class Contender:
    """Who a side really was. `key` tells models apart across renames and folders."""

    name: str
    file_name: str
    file_hash: str  # engine.machine.file_hash_prefix of the GGUF file; "" for a remote model
    architecture: str = ""
    quantization: str = ""

    @property
    def key(self) -> str:
        return self.file_hash or self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Contender":
        return cls(str(d.get("name", "")), str(d.get("file_name", "")), str(d.get("file_hash", "")),
                   str(d.get("architecture", "")), str(d.get("quantization", "")))


@dataclass(frozen=True)
class VoteCounts:
    """A room's show of hands: how many people chose each answer."""

    one: int = 0
    two: int = 0
    tie: int = 0
    both_bad: int = 0

    def __post_init__(self) -> None:
        for v in (self.one, self.two, self.tie, self.both_bad):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError("vote counts must be whole numbers of 0 or more")

    @property
    def total(self) -> int:
        return self.one + self.two + self.tie + self.both_bad

    def by_outcome(self) -> dict[str, int]:
        return {ONE_BETTER: self.one, TWO_BETTER: self.two, TIE: self.tie, BOTH_BAD: self.both_bad}

    @classmethod
    def single(cls, outcome: str) -> "VoteCounts":
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown vote {outcome!r}")
        return cls(**{("one", "two", "tie", "both_bad")[OUTCOMES.index(outcome)]: 1})

    def winner_text(self) -> str:
        """A short summary of the vote for banners ("1 is better", "12 / 7 / 3 / 1")."""
        if self.total == 1:
            return next(OUTCOME_LABELS[o] for o, n in self.by_outcome().items() if n)
        return f"{self.one} / {self.two} / {self.tie} / {self.both_bad} (1 better / 2 better / tie / both bad)"


@dataclass(frozen=True)
class Side:
    """One side of a battle, as it was shown: its model, answer, settings and speed."""

    contender: Contender
    answer: str = ""
    thinking: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # sampling, threads, context: everything that was used
    speed: dict[str, Any] = field(default_factory=dict)  # engine.metrics.RunStats.to_dict()
    stop_reason: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"contender": self.contender.to_dict(), "answer": self.answer, "thinking": self.thinking,
                "settings": self.settings, "speed": self.speed, "stop_reason": self.stop_reason,
                "error": self.error}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Side":
        return cls(Contender.from_dict(d.get("contender", {})), str(d.get("answer", "")),
                   str(d.get("thinking", "")), dict(d.get("settings") or {}), dict(d.get("speed") or {}),
                   str(d.get("stop_reason", "")), str(d.get("error", "")))


@dataclass(frozen=True)
class Battle:
    """One blind round. `sides[0]` is Model 1 (left), `sides[1]` Model 2 (right)."""

    prompt: str
    sides: tuple[Side, Side]
    mode: str  # race | fair
    swapped: bool  # True when the second loaded model was drawn to the left
    created: str = ""
    id: int | None = None
    votes: VoteCounts | None = None  # None until someone voted
    voted: str = ""
    not_counted: str = ""  # a reason, or "" when the vote counts

    @property
    def counted(self) -> bool:
        return self.votes is not None and self.votes.total > 0 and not self.not_counted


def not_counted_reason(sides: tuple[Side, Side], user_stopped: bool) -> str:
    """Why this round's vote would not be fair to count, or ""."""
    if any(s.error for s in sides):
        return NOT_COUNTED_ERROR
    if user_stopped or any(s.stop_reason in ("user_stop", "") for s in sides):
        return NOT_COUNTED_STOPPED
    if sides[0].contender.key == sides[1].contender.key:
        return NOT_COUNTED_SAME_MODEL
    return ""


T = TypeVar("T")


def arrange(first: T, second: T, swapped: bool) -> tuple[T, T]:
    """(Model 1, Model 2) from the two loaded models, in load order, and the draw."""
    return (second, first) if swapped else (first, second)


class SideDraw:
    """Draws, per prompt, whether the two loaded models swap sides; seedable for tests."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def next_swapped(self) -> bool:
        return self._rng.random() < 0.5
