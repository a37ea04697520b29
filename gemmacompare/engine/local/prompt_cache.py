"""The conversation's cache kept between requests, as llama-server keeps a slot's (issue 31).

The worker's context holds the state of the tokens it last read (`tokens`). A request that
keeps the cache starts from the longest common token prefix of its prompt with those tokens
and prefills only the rest. Attention-only models drop the rest of the cache
(`llama_memory_seq_rm`). Two kinds of memory cannot be cut back like that: a recurrent
state (Qwen3.5's DeltaNet layers) only exists for the last position, and a window-sized
sliding-window cache has dropped what slid out of the window. For those, llama-server takes
context checkpoints of the part that cannot be rolled back while it prefills
(`llama_state_seq_get_data_ext(..., LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY)`) and restores the
latest one at or before the common prefix; this module does the same, with the same rules
(tools/server/server-context.cpp of the vendored llama.cpp: `create_checkpoint`, the
`pos_min_thold` search, the batch breaks 4 + n_ubatch and 4 tokens before the prompt's end).

Imported in the worker process only (it calls llama.cpp).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from types import ModuleType

from gemmacompare.engine import protocol as p

SEQ = 0  # the worker's one sequence
# llama-server takes its last checkpoints this many tokens before a prompt's end (and
# 4 + n_ubatch), so the next turn, whose prompt shares all but the reply's tail, finds one.
END_OFFSET = 4

WHY_RECURRENT = "its recurrent state cannot be cut back and no checkpoint covers the common prefix"
WHY_WINDOW = "its sliding-window cache has dropped part of the common prefix and no checkpoint covers it"
WHY_SYSTEM = "the system prompt changed, so the conversation started again"
WHY_STOPPED = "the previous request was stopped while it read its prompt"
WHY_REFUSED = "llama.cpp could not cut its cache back to the common prefix"


@dataclass(frozen=True)
class CheckpointLimits:
    """llama-server's --ctx-checkpoints and --checkpoint-min-step, and a bound in bytes of our own."""

    count: int = 32
    min_step: int = 8192
    max_bytes: int = 8192 << 20


@dataclass
class _Checkpoint:
    n_tokens: int  # tokens of the prompt the saved state covers
    pos_min: int
    pos_max: int
    data: ctypes.Array[ctypes.c_uint8]
    request_id: int

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Plan:
    """Where a request's prefill starts, and what it took from the cache."""

    n_past: int  # tokens already in the cache: the prefill reads tokens[n_past:]
    n_checkpoint: int = 0
    why_full: str = ""
    parted: str = ""  # where the prompt parted from what the cache held, when it did


@dataclass
class PromptCache:
    """What one context holds between requests. Made afresh with every context: a reload
    (other model, context size, cache types, flash attention, swa_full) starts cold."""

    L: ModuleType
    ctx: int
    limits: CheckpointLimits
    cannot_cut: bool  # a recurrent state (recurrent or hybrid model)
    n_swa: int  # the window of a window-sized sliding-window cache; 0 when full-size or none
    tokens: list[int] = field(default_factory=list)
    checkpoints: list[_Checkpoint] = field(default_factory=list)
    system_key: tuple[str, ...] | None = None
    why_next: str = ""  # why the next request that keeps the cache finds it empty
    n_last_prompt: int = 0  # the last request's prompt; the tokens held after it are its reply

    @classmethod
    def for_context(cls, L: ModuleType, model: int, ctx: int, swa_full: bool,
                    limits: CheckpointLimits) -> PromptCache:
        cannot_cut = bool(L.llama_model_is_recurrent(model) or L.llama_model_is_hybrid(model))
        n_swa = 0 if swa_full else max(0, int(L.llama_model_n_swa(model)))
        return cls(L, ctx, limits, cannot_cut, n_swa)

    @property
    def takes_checkpoints(self) -> bool:
        return self.limits.count > 0 and self.limits.max_bytes > 0 and (self.cannot_cut or self.n_swa > 0)

    @property
    def checkpoint_bytes(self) -> int:
        return sum(c.size for c in self.checkpoints)

    def _memory(self) -> object:
        return self.L.llama_get_memory(self.ctx)

    def clear(self) -> None:
        """Cold: the KV cache and the recurrent state cleared, the checkpoints dropped."""
        self.L.llama_memory_clear(self._memory(), True)
        self.tokens = []
        self.checkpoints = []
        self.why_next = ""

    def forget(self, why: str) -> None:
        """Cleared because what the memory holds is no longer known (a prefill stopped midway)."""
        self.clear()
        self.why_next = why

    # --- before a request's prefill ------------------------------------------------

    def plan(self, tokens: list[int], policy: str, system_key: tuple[str, ...]) -> Plan:
        """Makes the memory hold tokens[:n_past] and nothing else, and says n_past."""
        plan = self._plan(tokens, policy, system_key)
        self.n_last_prompt = len(tokens)
        return plan

    def _plan(self, tokens: list[int], policy: str, system_key: tuple[str, ...]) -> Plan:
        if policy != p.CACHE_KEEP:
            self.clear()
            self.system_key = system_key
            return Plan(0)
        if self.why_next:
            why, self.why_next = self.why_next, ""
            self.clear()  # whatever filled the memory since (a context sweep's filler) goes too
            self.system_key = system_key
            return Plan(0, why_full=why)
        if self.system_key is not None and system_key != self.system_key and self.tokens:
            self.clear()
            self.system_key = system_key
            return Plan(0, why_full=WHY_SYSTEM)
        self.system_key = system_key
        n_common = common_prefix(self.tokens, tokens)
        n_past = n_common
        if n_past == len(tokens) and n_past > 0:
            n_past -= 1  # at least one token is read, so the last position has logits to sample from
        plan = Plan(n_past)
        if n_past > 0:
            pos_min = int(self.L.llama_memory_seq_pos_min(self._memory(), SEQ))
            # As llama-server: the oldest position the cache must still hold for n_past to be usable
            # (a recurrent state's is its last). A window-sized cache that still holds position 0
            # has dropped nothing: llama-server restores a checkpoint there too, we cut it back.
            thold = max(0, n_past - self.n_swa)
            if pos_min >= thold and (self.cannot_cut or pos_min > 0):
                plan = self._restore(n_past, thold)
        plan.parted = self._parted(n_common, len(tokens))
        # Checkpoints past where the cache now ends describe a history it no longer has.
        # A checkpoint that ends where the prompts part still holds the old token there.
        self.checkpoints = [c for c in self.checkpoints if c.pos_max <= plan.n_past and c.n_tokens <= n_common]
        if plan.n_past == 0:
            self.L.llama_memory_clear(self._memory(), True)
        elif not self.L.llama_memory_seq_rm(self._memory(), SEQ, plan.n_past, -1):
            self.clear()
            return Plan(0, why_full=WHY_REFUSED)
        self.tokens = tokens[: plan.n_past]
        return plan

    def _parted(self, n_common: int, n_prompt: int) -> str:
        """Where the new prompt left what the cache held (the last prompt and the reply read
        after it), when that was before the cache's end: a template that renders a turn
        differently once it is answered (Qwen3.5 and Gemma 4 drop the reply's thinking)."""
        held, last = len(self.tokens), self.n_last_prompt
        if n_common >= held or n_common >= n_prompt or not last or held < last:
            return ""
        if n_common < last:
            return f"the template rendered the last prompt anew from its token {n_common} of {last}"
        return f"the history parted from the last reply at its token {n_common - last} of {held - last}"

    def _restore(self, n_past: int, thold: int) -> Plan:
        L = self.L
        for c in reversed(self.checkpoints):
            if c.pos_max > n_past:
                continue
            if c.pos_min < thold or c.pos_min == 0:
                if L.llama_state_seq_set_data_ext(self.ctx, c.data, c.size, SEQ, L.LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY):
                    pos_next = min(n_past, max(c.pos_min + 1, c.pos_max))
                    return Plan(min(pos_next, c.n_tokens), n_checkpoint=c.n_tokens)
                break  # a checkpoint llama.cpp refuses: read the whole prompt
        return Plan(0, why_full=WHY_RECURRENT if self.cannot_cut else WHY_WINDOW)

    # --- during the prefill ----------------------------------------------------------

    def chunks(self, start: int, end: int, n_batch: int, n_ubatch: int,
               user_start: int = -1, checkpoints: bool = True) -> list[tuple[int, int, bool]]:
        """(from, to, checkpoint first) for the batches that read tokens[start:end]: n_batch
        at most, broken 4 + n_ubatch and 4 tokens before the end and where the last user
        message starts, a checkpoint taken before each batch near the end and before the last
        user message (llama-server's rule), where the model needs them and a later request can
        use them (`checkpoints`): a prompt measured alone is read in plain n_batch chunks."""
        takes = checkpoints and self.takes_checkpoints
        breaks = set()
        if takes:
            breaks = {end - min(n_batch, off) for off in (END_OFFSET + n_ubatch, END_OFFSET)}
            breaks.add(user_start)
        out = []
        s = start
        while s < end:
            e = min(end, s + n_batch)
            nxt = [b for b in breaks if s < b < e]
            if nxt:
                e = min(nxt)
            near_end = e == end or end < e + n_ubatch
            out.append((s, e, takes and s > 0 and (near_end or s == user_start)))
            s = e
        return out

    def checkpoint(self, n_tokens: int, request_id: int) -> None:
        """Saves the part of the memory that cannot be rolled back, covering tokens[:n_tokens]."""
        L, mem = self.L, self._memory()
        pos_min, pos_max = int(L.llama_memory_seq_pos_min(mem, SEQ)), int(L.llama_memory_seq_pos_max(mem, SEQ))
        if pos_min < 0:
            return
        flags = L.LLAMA_STATE_SEQ_FLAGS_PARTIAL_ONLY
        size = int(L.llama_state_seq_get_size_ext(self.ctx, SEQ, flags))
        if size <= 0 or size > self.limits.max_bytes:
            return
        self._make_room(request_id)
        self.checkpoints = [c for c in self.checkpoints if c.n_tokens != n_tokens]
        data = (ctypes.c_uint8 * size)()
        if L.llama_state_seq_get_data_ext(self.ctx, data, size, SEQ, flags) != size:
            return
        self.checkpoints.append(_Checkpoint(n_tokens, pos_min, pos_max, data, request_id))
        while self.checkpoint_bytes > self.limits.max_bytes and len(self.checkpoints) > 1:
            self.checkpoints.pop(0)

    def _make_room(self, request_id: int) -> None:
        """llama-server's eviction: when the list is full, first those of earlier requests within
        min_step of the one before them, then the oldest."""
        kept: list[_Checkpoint] = []
        for i, c in enumerate(self.checkpoints):
            full = len(kept) + len(self.checkpoints) - i + 1 >= self.limits.count
            if full and c.request_id != request_id and kept and c.n_tokens <= kept[-1].n_tokens + self.limits.min_step:
                continue
            kept.append(c)
        self.checkpoints = kept
        while self.checkpoints and len(self.checkpoints) >= self.limits.count:
            self.checkpoints.pop(0)

    def read(self, new_tokens: list[int]) -> None:
        """Tokens the memory now holds after a decode that succeeded."""
        self.tokens.extend(new_tokens)

    def use(self, policy: str, plan: Plan) -> p.CacheUse:
        return p.CacheUse(policy=policy, n_reused=plan.n_past, n_checkpoint=plan.n_checkpoint,
                          why_full=plan.why_full, checkpoint_bytes=self.checkpoint_bytes, parted=plan.parted)


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
