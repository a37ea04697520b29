"""Speculative decoding in the worker: a draft proposes tokens, the model checks them at once.

Two drafters, as llama.cpp's `--spec-type` offers them:
- a draft model (`draft`): a small model with the target's vocabulary, loaded in the
  same worker with its own context, drafts greedily (llama.cpp's draft-simple);
- n-gram lookup (`ngram`): the last n tokens are looked up in the prompt and the reply
  so far, and what followed their latest earlier match is the draft (llama.cpp's
  ngram-simple, llama-cpp-python's LlamaPromptLookupDecoding). No second model.

A round: the model decodes its last token and the draft in one batch with logits for
every position, accepts the longest prefix its own greedy picks agree with, plus its
own next token, and `llama_memory_seq_rm` drops the rejected positions from both
caches. The reply is the model's own greedy reply; batched numerics may flip near-ties,
so it agrees with the plain loop's in its first tokens, not bit for bit.

Refused with one sentence: sampling with temperature (the acceptance rule for sampled
drafts is not built), a repeat penalty, recurrent or hybrid models (their state cannot
drop positions without checkpoints) and window-sized sliding-window caches.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Callable, Protocol

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.token_stream import (
    TOKEN_FLUSH_S,
    PhaseTagger,
    StopStrings,
    TokenBatcher,
    greedy_pick,
)
from gemmacompare.engine.reasoning import ReasoningSplitter
from gemmacompare.models.gguf_file import ModelFacts, ModelFileError, read_model_facts
from gemmacompare.models.reasoning_formats import prompt_prefills_thinking

if TYPE_CHECKING:
    from gemmacompare.engine.local.llama_context import LlamaContext

# llama.cpp's common_speculative_are_compatible: the vocabularies may differ by this many
# tokens (added specials at the end), and the first few ids are not compared.
VOCAB_SIZE_SLACK = 128
VOCAB_CHECK_FROM = 5


class SpecRefused(Exception):
    """Speculation cannot run for this model or request; the message is one sentence."""


class StopFlag(Protocol):
    value: int


Pick = Callable[[object, object, int], int]


def refusal_for_sampling(s: p.SamplingSettings) -> str | None:
    """One sentence when speculation cannot run with these sampling settings."""
    if s.temperature > 0:
        return ("Speculative decoding runs with greedy sampling only (temperature 0); "
                "set the temperature to 0 or turn speculation off.")
    if s.repeat_penalty and s.repeat_penalty != 1.0:
        return "Speculative decoding runs without a repeat penalty; set it to 1 or turn speculation off."
    return None


def refusal_for_target(L: ModuleType, model: object, name: str, swa_full: bool) -> str | None:
    """One sentence when the loaded model's cache cannot drop rejected draft positions."""
    if L.llama_model_is_recurrent(model) or L.llama_model_is_hybrid(model):
        return (f"Speculative decoding is off for {name}: its recurrent layers cannot drop rejected draft "
                "tokens without cache checkpoints, which this app does not keep for drafts yet.")
    if L.llama_model_n_swa(model) > 0 and not swa_full:
        return (f"Speculative decoding needs a full-size sliding-window cache for {name} (a window-sized "
                "one cannot drop rejected tokens); turn on swa_full (--swa-full) or speculation off.")
    return None


def vocab_mismatch(L: ModuleType, target_vocab: object, draft_vocab: object) -> str | None:
    """What differs between two vocabularies, in a few words, or None where a draft can serve
    (llama.cpp's common_speculative_are_compatible, which llama-server applies)."""
    if L.llama_vocab_type(target_vocab) != L.llama_vocab_type(draft_vocab):
        return "their tokenizers are of different kinds"
    for what, add, tok in (("beginning", L.llama_vocab_get_add_bos, L.llama_vocab_bos),
                           ("end", L.llama_vocab_get_add_eos, L.llama_vocab_eos)):
        if add(target_vocab) != add(draft_vocab) or (add(target_vocab) and tok(target_vocab) != tok(draft_vocab)):
            return f"their {what}-of-text tokens differ"
    n_t, n_d = L.llama_vocab_n_tokens(target_vocab), L.llama_vocab_n_tokens(draft_vocab)
    if abs(n_t - n_d) > VOCAB_SIZE_SLACK:
        return f"their vocabularies hold {n_t:,} and {n_d:,} tokens"
    text = L.llama_vocab_get_text
    for i in range(VOCAB_CHECK_FROM, min(n_t, n_d)):
        if text(target_vocab, i) != text(draft_vocab, i):
            return f"token {i} differs"
    return None


class _NgramDrafter:
    """Drafts what followed the latest earlier occurrence of the last n tokens.

    An index from each n-gram to where it last ended grows with the reply (a reply never
    loses tokens within a request), so a lookup costs the same at token 10 and 4,000;
    llama.cpp's ngram-simple scans the history backwards each time instead.
    """

    kind = "ngram"

    def __init__(self, n: int) -> None:
        self.n = n
        self._index: dict[tuple[int, ...], int] = {}
        self._indexed = 0  # positions of seq looked at so far

    def begin(self, keep_cache: bool) -> None:
        self._index, self._indexed = {}, 0

    def draft(self, seq: list[int], n_max: int, stop: StopFlag) -> list[int] | None:
        n = self.n
        # Index every n-gram that has a token after it: ends before the last position.
        for end in range(max(self._indexed, n), len(seq)):
            self._index[tuple(seq[end - n:end])] = end
        self._indexed = max(self._indexed, len(seq))
        if len(seq) <= n:
            return []
        at = self._index.get(tuple(seq[-n:]))
        return [] if at is None else seq[at:at + n_max]

    def close(self) -> None:
        pass


class _ModelDrafter:
    """A draft model in its own context, drafting greedily; its cache follows the reply."""

    kind = "draft"

    def __init__(self, L: ModuleType, llm: LlamaContext, abort_cb: object, n_target_vocab: int) -> None:
        self.L, self.llm, self._abort_cb = L, llm, abort_cb
        self.n_target_vocab = n_target_vocab
        self._cached: list[int] = []  # the tokens the draft context holds, in order
        self._pick = greedy_pick(L, L.llama_vocab_n_tokens(llm.vocab))

    def set_threads(self, n_threads: int) -> None:
        self.L.llama_set_n_threads(self.llm.ctx, n_threads, n_threads)

    def begin(self, keep_cache: bool) -> None:
        if not keep_cache:  # a cold request is cold for the draft too: its prompt is drafting time
            self.L.llama_memory_clear(self.L.llama_get_memory(self.llm.ctx), True)
            self._cached = []

    def draft(self, seq: list[int], n_max: int, stop: StopFlag) -> list[int] | None:
        """Up to n_max greedy tokens after seq; None when the user stopped it."""
        L, ctx = self.L, self.llm.ctx
        keep = 0
        limit = min(len(self._cached), len(seq) - 1)  # the last token is decoded again for its logits
        while keep < limit and self._cached[keep] == seq[keep]:
            keep += 1
        # Unconditionally: a failed decode may have left part of its batch beyond what _cached says.
        L.llama_memory_seq_rm(L.llama_get_memory(ctx), 0, keep, -1)
        del self._cached[keep:]
        if not self._decode(seq[keep:], stop):
            return None
        out: list[int] = []
        for i in range(n_max):
            tok = self._pick(None, ctx, -1)
            if tok >= self.n_target_vocab:  # a draft vocabulary may be a little larger: the model cannot check it
                break
            out.append(tok)
            if i == n_max - 1:
                break
            if stop.value:
                return None
            if not self._decode([tok], stop):
                return None
        return out

    def _decode(self, tokens: list[int], stop: StopFlag) -> bool:
        L, ctx = self.L, self.llm.ctx
        n_batch = max(1, self.llm.n_batch)
        long = len(tokens) > 1  # a prompt: abortable between graph nodes, as the model's prefill is
        if long:
            L.llama_set_abort_callback(ctx, self._abort_cb, None)
        try:
            for start in range(0, len(tokens), n_batch):
                chunk = tokens[start:start + n_batch]
                arr = (L.llama_token * len(chunk))(*chunk)
                rc = L.llama_decode(ctx, L.llama_batch_get_one(arr, len(chunk)))
                if stop.value and long:
                    # An aborted batch may have left part of itself in the cache: start over next time.
                    L.llama_memory_clear(L.llama_get_memory(ctx), True)
                    self._cached = []
                    return False
                if rc != 0:
                    raise RuntimeError(f"llama_decode returned {rc} on the draft model")
                self._cached.extend(chunk)
        finally:
            if long:
                L.llama_set_abort_callback(ctx, L.ggml_abort_callback(0), None)
        return True

    def close(self) -> None:
        self.llm.close()


@dataclass
class _Tally:
    kind: str
    n_max: int
    n_drafted: int = 0
    n_accepted: int = 0
    n_rounds: int = 0
    n_plain: int = 0
    drafted_at: list[int] = field(default_factory=list)
    accepted_at: list[int] = field(default_factory=list)
    draft_s: float = 0.0
    verify_s: float = 0.0
    accepted_tokens: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.drafted_at = [0] * self.n_max
        self.accepted_at = [0] * self.n_max

    def round(self, n_draft: int, n_ok: int, drafted: bool = True) -> None:
        """A round's draft positions up to where the reply ended, n_ok of them accepted and shown."""
        if not drafted:
            self.n_plain += 1
            return
        self.n_rounds += 1
        self.n_drafted += n_draft
        self.n_accepted += n_ok
        for i in range(n_draft):
            self.drafted_at[i] += 1
            self.accepted_at[i] += i < n_ok

    def stats(self) -> p.DraftStats:
        return p.DraftStats(self.kind, self.n_drafted, self.n_accepted, self.n_rounds, self.n_plain,
                            tuple(self.drafted_at), tuple(self.accepted_at), self.draft_s * 1000.0,
                            self.verify_s * 1000.0, tuple(self.accepted_tokens))


class _Emitter:
    """A generated token to the wire, with the plain loop's stop checks (eog, stop strings,
    max tokens); returns the stop reason or None."""

    def __init__(self, L: ModuleType, vocab: object, cmd: p.GenerateCommand, prompt_text: str,
                 send: Callable[[p.TokenBatch], None]) -> None:
        self.L, self.vocab, self.s = L, vocab, cmd.sampling
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.buf = ctypes.create_string_buffer(256)
        self.stops = StopStrings(self.s.stop)
        self.phases = PhaseTagger(ReasoningSplitter(starts_thinking=prompt_prefills_thinking(prompt_text)))
        self.batcher = TokenBatcher(cmd.request_id, send)
        self.n_gen = 0

    def emit(self, tok: int) -> str | None:
        t = time.monotonic()
        if self.L.llama_vocab_is_eog(self.vocab, tok):
            return p.STOP_EOS
        n = self.L.llama_token_to_piece(self.vocab, tok, self.buf, 256, 0, True)
        piece, hit_stop = self.stops.feed(self.utf8.decode(self.buf.raw[: max(n, 0)]))
        self.batcher.add(self.phases.feed(tok, t, piece))
        if self.n_gen == 0 or t - self.batcher.last_flush >= TOKEN_FLUSH_S:
            self.batcher.flush()
        self.n_gen += 1
        if hit_stop:
            return p.STOP_STRING
        if self.n_gen >= self.s.max_tokens:
            return p.STOP_MAX_TOKENS
        return None

    def close(self) -> None:
        self.batcher.add(self.phases.flush())
        self.batcher.flush()


class Speculator:
    """One worker's speculation: the drafter and the loop that checks its drafts."""

    def __init__(self, L: ModuleType, settings: p.LoadSettings, drafter: _NgramDrafter | _ModelDrafter) -> None:
        self.L = L
        self.drafter = drafter
        self.kind = drafter.kind
        self.n_max = settings.draft_length()
        self.n_min = settings.draft_min
        self.phase = ""  # "draft" | "verify" while a round runs: tests stop the loop in either
        self.held: list[int] = []  # the tokens the model's memory holds after decode()

    def close(self) -> None:
        self.drafter.close()

    def decode(self, target: LlamaContext, cmd: p.GenerateCommand, prompt_text: str, prompt: list[int],
               n_ctx: int, stop: StopFlag, send: Callable[[p.TokenBatch], None],
               banned: tuple[int, ...] = ()) -> tuple[str, int, p.DraftStats]:
        """After the prompt's prefill: generates until a stop, drafting and verifying.
        Returns (stop reason, tokens generated, statistics). On return the model's cache
        holds the prompt and every generated token but the last (all of them after an end token),
        as after the plain loop."""
        L, ctx = self.L, target.ctx
        if isinstance(self.drafter, _ModelDrafter):
            self.drafter.set_threads(cmd.n_threads or os.cpu_count() or 1)
        self.drafter.begin(keep_cache=cmd.cache == p.CACHE_KEEP)
        pick = greedy_pick(L, L.llama_vocab_n_tokens(target.vocab), banned)
        out = _Emitter(L, target.vocab, cmd, prompt_text, send)
        tally = _Tally(self.kind, self.n_max)
        seq = list(prompt)  # what the model's cache holds, then its next token at the end
        last = pick(None, ctx, -1)
        reason = out.emit(last)
        try:
            while reason is None:
                if stop.value:
                    reason = p.STOP_USER
                    break
                if len(seq) >= n_ctx:
                    reason = p.STOP_CONTEXT_FULL
                    break
                seq.append(last)
                # A fully accepted draft brings the model's own token too: it must fit both limits.
                # One verification batch: the last token and the draft within n_batch.
                room = min(self.n_max, n_ctx - len(seq), cmd.sampling.max_tokens - out.n_gen - 1,
                           target.n_batch - 1)
                self.phase = "draft"
                t0 = time.monotonic()
                draft = self.drafter.draft(seq, room, stop) if room > 0 else []
                tally.draft_s += time.monotonic() - t0
                if draft is None or stop.value:
                    seq.pop()
                    reason = p.STOP_USER
                    break
                if len(draft) < max(1, self.n_min):
                    draft = []
                self.phase = "verify"
                t0 = time.monotonic()
                picks = self._verify(target, len(seq) - 1, last, draft, pick)
                tally.verify_s += time.monotonic() - t0
                if stop.value:
                    reason = p.STOP_USER
                    break
                n_ok = len(picks) - 1
                seq.extend(draft[:n_ok])
                # Counted as shown: draft positions after an end of the reply (a stop string, an end
                # token, max tokens) are neither drafted nor accepted for it, and an end token is not
                # shown, so accepted and tinted stay the same tokens. (llama-server counts the whole
                # accepted draft.)
                n_shown = 0
                for tok in draft[:n_ok]:
                    index = out.n_gen
                    reason = out.emit(tok)
                    if reason == p.STOP_EOS:
                        break
                    tally.accepted_tokens.append(index)
                    n_shown += 1
                    if reason is not None:
                        break
                if reason is None:
                    tally.round(len(draft), n_ok, bool(draft))
                    last = picks[-1]
                    reason = out.emit(last)
                else:
                    tally.round(n_shown, n_shown, bool(draft))
        finally:
            self.phase = ""
            out.close()
            # The plain loop's end state: the prompt and every token but the last in the cache, all of
            # them after an end token (each shown token was decoded before the model picked the end);
            # a stopped or early-ended round leaves checked positions beyond that.
            n_held = len(prompt) + (out.n_gen if reason == p.STOP_EOS else max(out.n_gen - 1, 0))
            L.llama_memory_seq_rm(L.llama_get_memory(ctx), 0, n_held, -1)
            self.held = seq[:n_held]  # the tokens that memory holds, for the conversation's cache
        return reason, out.n_gen, tally.stats()

    def _verify(self, target: LlamaContext, n_before: int, last: int, draft: list[int], pick: Pick) -> list[int]:
        """Decodes last + draft in one batch with logits everywhere; returns the model's own
        picks up to and including its first disagreement with the draft (or the bonus token
        after a fully accepted one), and drops the rejected positions from its cache."""
        L, ctx = self.L, target.ctx
        tokens = [last, *draft]
        n = len(tokens)
        arr = (L.llama_token * n)(*tokens)
        want = (ctypes.c_int8 * n)(*([1] * n))
        batch = L.llama_batch_get_one(arr, n)
        batch.logits = ctypes.cast(want, ctypes.POINTER(ctypes.c_int8))
        rc = L.llama_decode(ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc} while checking a draft")
        picks: list[int] = []
        for i in range(n):
            tok = pick(None, ctx, i)
            picks.append(tok)
            if i == len(draft) or tok != draft[i]:
                break
        # Kept: last and the accepted draft tokens; the model's own pick is decoded next round.
        L.llama_memory_seq_rm(L.llama_get_memory(ctx), 0, n_before + len(picks), -1)
        return picks


def open_speculator(L: ModuleType, target: LlamaContext, facts: ModelFacts, settings: p.LoadSettings, n_ctx: int,
                    n_threads: int, n_gpu_layers: int, abort_cb: object) -> Speculator:
    """The speculator the settings ask for, or SpecRefused with one sentence."""
    problem = refusal_for_target(L, target.model, facts.name, settings.swa_full)
    if problem:
        raise SpecRefused(problem)
    if settings.speculation == "ngram":
        return Speculator(L, settings, _NgramDrafter(settings.ngram_n))
    draft = _open_draft(L, target, facts, settings, n_ctx, n_threads, n_gpu_layers)
    return Speculator(L, settings, _ModelDrafter(L, draft, abort_cb, L.llama_vocab_n_tokens(target.vocab)))


def _open_draft(L: ModuleType, target: LlamaContext, facts: ModelFacts, s: p.LoadSettings, n_ctx: int,
                n_threads: int, n_gpu_layers: int) -> LlamaContext:
    from dataclasses import replace

    from gemmacompare.engine.local.llama_context import LoadError, open_context

    path = s.draft_model
    try:
        draft_facts = read_model_facts(path)
    except ModelFileError as exc:
        raise SpecRefused(f"The draft model cannot be used: {exc.message}") from None
    draft_name = draft_facts.name
    # The vocabulary first, without the weights: a mismatch costs no load.
    mparams = L.llama_model_default_params()
    mparams.vocab_only = True
    vocab_model = L.llama_model_load_from_file(path.encode("utf-8"), mparams)
    if not vocab_model:
        raise SpecRefused(f"llama.cpp could not read the draft model {os.path.basename(path)}.")
    try:
        differs = vocab_mismatch(L, target.vocab, L.llama_model_get_vocab(vocab_model))
    finally:
        L.llama_model_free(vocab_model)
    if differs:
        raise SpecRefused(f"{draft_name} cannot draft for {facts.name}: {differs}, and a draft must share "
                          "the model's vocabulary.")
    # The draft's own sliding-window layers get a full-size cache, so it can drop rejected tokens too.
    try:
        llm = open_context(path, replace(s, swa_full=True), n_ctx, n_threads, n_gpu_layers)
    except LoadError:
        raise SpecRefused(f"llama.cpp could not load the draft model {draft_name}.") from None
    if L.llama_model_is_recurrent(llm.model) or L.llama_model_is_hybrid(llm.model):
        llm.close()
        raise SpecRefused(f"{draft_name} cannot draft: its recurrent layers cannot drop rejected tokens "
                          "without cache checkpoints.")
    return llm


__all__ = ["SpecRefused", "Speculator", "open_speculator", "refusal_for_sampling", "refusal_for_target",
           "vocab_mismatch"]
