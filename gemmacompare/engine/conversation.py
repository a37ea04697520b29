"""A conversation played through a compare session: the second turn measured.

Each turn every model gets its own history (the system prompt, the user's
turns so far and its own earlier replies, greedy) plus the new user message,
as a chat app sends it. With the cache kept (CACHE_KEEP, llama-server's
`cache_prompt`) a local worker reuses what its cache holds of that history and
prefills only what is new; cold (CACHE_COLD) it prefills the whole history
every turn. The first turn of every conversation is sent cold, so each
conversation is measured from an empty cache whatever ran before it.

What each turn cost is kept per model: prompt tokens, how many were reused
(a local worker's `Finished.cache`, a server's `timings.cache_n`), how many
were prefilled, time to first token and ms per token; and the totals of the
conversation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Sequence

from gemmacompare.engine import protocol as p
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.modes import RACE
from gemmacompare.engine.run_settings import RunSettings, command_for
from gemmacompare.engine.session import CompareResult, CompareSession

CACHE_POLICIES = (p.CACHE_KEEP, p.CACHE_COLD)


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[str, ...]  # the user's messages, in order
    system: str = ""


@dataclass(frozen=True)
class TurnFigures:
    """What one turn cost one model."""

    turn: int  # 1-based
    cache: str  # the policy this turn was sent with (the first turn is always cold)
    n_prompt: int  # the whole prompt, history included
    n_reused: int | None  # taken from the cache, not prefilled; None: the server did not say
    ttft_s: float | None
    ms_per_token: float | None
    n_tokens: int | None
    total_s: float | None
    stop_reason: str
    n_checkpoint: int = 0  # the checkpoint restored, in tokens (0: none)
    why_full: str = ""  # why a kept cache could not be used
    server: bool = False  # the counts are a server's (reused: its cache_n)
    server_prompt_ms: float | None = None  # the server's own prompt time (llama-server: start -> first token)
    error: str = ""

    @property
    def n_prefilled(self) -> int | None:
        return None if self.n_reused is None else max(0, self.n_prompt - self.n_reused)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "n_prefilled": self.n_prefilled}


def turn_figures(rec: RunRecord, turn: int, cache: str) -> TurnFigures:
    """The figures of one turn from its record (local worker or server)."""
    st = rec.stats()
    fin = rec.finished
    srv = fin.server if fin else None
    use = fin.cache if fin else None
    if srv is not None:
        n_reused: int | None = srv.n_cached
    elif use is not None:
        n_reused = use.n_reused
    elif fin is not None and cache == p.CACHE_COLD:
        n_reused = 0  # a cold request prefills everything, whether or not the worker says so
    else:
        n_reused = None
    return TurnFigures(
        turn=turn, cache=cache, n_prompt=st.n_prompt, n_reused=n_reused, ttft_s=st.ttft_s,
        ms_per_token=st.ms_per_token, n_tokens=st.n_tokens, total_s=st.total_s, stop_reason=st.stop_reason,
        n_checkpoint=use.n_checkpoint if use else 0, why_full=use.why_full if use else "",
        server=srv is not None, server_prompt_ms=srv.prompt_ms if srv else None,
        error=rec.error.message if rec.error else "",
    )


@dataclass(frozen=True)
class ConversationTotals:
    n_turns: int
    n_prompt: int
    n_reused: int | None
    n_prefilled: int | None
    n_tokens: int | None
    total_s: float | None  # the sum of the turns' send -> last token
    ttft_s: float | None  # the sum of the turns' times to first token: what the user waited for


def _sum(values: Sequence[Any]) -> Any:
    return None if not values or any(v is None for v in values) else sum(values)


def totals_of(turns: Sequence[TurnFigures]) -> ConversationTotals:
    return ConversationTotals(
        n_turns=len(turns), n_prompt=sum(t.n_prompt for t in turns), n_reused=_sum([t.n_reused for t in turns]),
        n_prefilled=_sum([t.n_prefilled for t in turns]), n_tokens=_sum([t.n_tokens for t in turns]),
        total_s=_sum([t.total_s for t in turns]), ttft_s=_sum([t.ttft_s for t in turns]),
    )


@dataclass
class ModelConversation:
    """One model's side of a conversation: its turns' records, figures and replies."""

    label: str
    records: list[RunRecord] = field(default_factory=list)
    figures: list[TurnFigures] = field(default_factory=list)
    history: list[p.ChatMessage] = field(default_factory=list)  # user turns and its replies, no system prompt

    @property
    def replies(self) -> list[str]:
        return [m.content for m in self.history if m.role == "assistant"]

    @property
    def failed(self) -> bool:
        return any(r.error is not None for r in self.records)

    def totals(self) -> ConversationTotals:
        return totals_of(self.figures)


@dataclass
class ConversationResult:
    conversation: Conversation
    cache: str
    mode: str
    models: list[ModelConversation]
    rounds: list[CompareResult] = field(default_factory=list)
    stopped: bool = False
    loaded: list[p.Loaded | None] = field(default_factory=list)  # each model as it was loaded

    @property
    def complete(self) -> bool:
        return not self.stopped and all(len(m.figures) == len(self.conversation.turns) for m in self.models)


TurnCallback = Callable[[int, int, TurnFigures], None]  # (model index, turn, figures)


def turn_cache(policy: str, turn: int) -> str:
    """The cache a turn is sent with: the first turn of a conversation starts cold."""
    return p.CACHE_COLD if turn == 1 else policy


def play_conversation(session: CompareSession, settings: Sequence[RunSettings], conversation: Conversation,
                      cache: str = p.CACHE_KEEP, mode: str = RACE, threads_total: int | None = None,
                      on_event: Callable[[int, Any], None] | None = None, on_turn: TurnCallback | None = None,
                      stopped: Callable[[], bool] = lambda: False,
                      replies: Sequence[Sequence[str]] | None = None) -> ConversationResult:
    """Play `conversation` on every loaded slot of `session`, one round per turn (blocking).

    A model whose turn fails leaves the conversation (its later turns would measure
    another one); the others go on. `replies`, when given (a rerun), are each model's
    recorded replies: the history is built from them instead of from this run's answers,
    so a turn's prompt is the one that was measured.
    """
    if cache not in CACHE_POLICIES:
        raise ValueError(f"Unknown cache policy {cache!r}; use keep or cold.")
    n = len(session.slots)
    result = ConversationResult(conversation, cache, mode, [ModelConversation(session.slots[i].label)
                                                             for i in range(n)], loaded=list(session.loaded))
    with_system = [replace(s, prompt=replace(s.prompt, system_prompt=conversation.system, raw=False))
                   for s in settings]
    for turn, text in enumerate(conversation.turns, start=1):
        going = [i for i in range(n) if session.slots[i].loaded is not None and not result.models[i].failed]
        if not going or stopped():
            result.stopped = result.stopped or bool(going)
            break
        policy = turn_cache(cache, turn)
        commands = {i: replace(command_for(with_system[i], tuple(result.models[i].history), text, request_id=turn),
                               cache=policy, keep_after=cache == p.CACHE_KEEP) for i in going}
        rnd = session.run(commands, mode, threads_total, on_event)
        result.rounds.append(rnd)
        if rnd.user_stopped or stopped():
            result.stopped = True  # a turn cut short is not a figure: it is dropped
            break
        for k, i in enumerate(rnd.indices):
            rec = rnd.runs[k]
            side = result.models[i]
            side.records.append(rec)
            figures = turn_figures(rec, turn, policy)
            side.figures.append(figures)
            recorded = replies[i] if replies is not None and i < len(replies) else None
            reply = recorded[turn - 1] if recorded is not None and turn - 1 < len(recorded) else rec.answer
            side.history += [p.ChatMessage("user", text), p.ChatMessage("assistant", reply)]
            if on_turn is not None:
                on_turn(i, turn, figures)
    return result


__all__ = ["CACHE_POLICIES", "Conversation", "ConversationResult", "ConversationTotals", "ModelConversation",
           "TurnCallback", "TurnFigures", "play_conversation", "totals_of", "turn_cache", "turn_figures"]
