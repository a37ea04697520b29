"""Per-answer figures computed from a worker's event stream.

Wall-clock figures come from the worker's own timestamps (taken when each
token was sampled); llama.cpp's perf counters are kept beside them so a user
can see both agree.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from gemmacompare.engine import protocol as p
from gemmacompare.engine.machine_load import OtherLoad
from gemmacompare.engine.reasoning import ANSWER, THINKING


@dataclass
class RunRecord:
    """Everything one model produced for one request, as it arrives."""

    label: str
    t_send: float  # parent clock at "Send"; the shared time axis starts here
    prompt: p.PromptReady | None = None
    prefill: p.PrefillDone | None = None
    tokens: list[p.Token] = field(default_factory=list)
    finished: p.Finished | None = None
    error: p.WorkerError | None = None
    memory: p.MemoryTrace | None = None
    other_load: OtherLoad | None = None  # CPU other programs took during this run
    thinking_text: list[str] = field(default_factory=list)
    answer_text: list[str] = field(default_factory=list)
    # (what it was computed from, stats)
    _stats: tuple[tuple[int, ...], RunStats] | None = field(default=None, repr=False, compare=False)

    def add(self, ev: p.Event) -> None:
        if isinstance(ev, p.Token):
            self.tokens.append(ev)
            if ev.thinking:
                self.thinking_text.append(ev.thinking)
            if ev.answer:
                self.answer_text.append(ev.answer)
        elif isinstance(ev, p.PrefillDone):
            self.prefill = ev
        elif isinstance(ev, p.PromptReady):
            self.prompt = ev
        elif isinstance(ev, p.Finished):
            self.finished = ev
        elif isinstance(ev, p.WorkerError):
            self.error = ev

    @property
    def thinking(self) -> str:
        return "".join(self.thinking_text)

    @property
    def answer(self) -> str:
        return "".join(self.answer_text)

    @property
    def done(self) -> bool:
        return self.finished is not None or self.error is not None

    def stats(self) -> "RunStats":
        # A finished reply's stats are asked for several times at once (stats
        # line, tooltip, history, banner); each pass over a long answer's
        # tokens took tens of ms on the GUI thread.
        mem = self.memory
        key = (len(self.tokens), id(self.finished), id(self.error), id(self.prefill), id(self.prompt),
               id(mem), len(mem.samples) if mem else 0, id(self.other_load))
        if self._stats is None or self._stats[0] != key:
            self._stats = (key, compute_stats(self))
        return self._stats[1]


@dataclass(frozen=True)
class RunStats:
    n_prompt: int
    prefill_ms: float | None
    prefill_tps: float | None
    ttft_s: float | None  # Send -> first token
    time_to_answer_s: float | None  # Send -> first answer token
    gen_tps: float | None  # tokens after the first / time from first to last
    ms_per_token: float | None  # the same, as latency: mean time per generated token
    n_tokens: int | None  # None: a server that reports no count (see n_chunks)
    n_thinking: int | None  # None: a server gives no thinking/answer split
    n_answer: int | None
    ms_per_token_p50: float | None
    ms_per_token_p95: float | None
    total_s: float | None
    stop_reason: str
    peak_rss: int | None
    peak_vram: int | None
    gpu_available: bool
    n_threads: int
    template: str
    llama_n_p_eval: int | None
    llama_n_eval: int | None
    llama_prompt_tps: float | None
    llama_eval_tps: float | None
    # A model on a server (engine/remote/): counts are the server's, times the client's.
    remote: bool = False
    n_chunks: int | None = None  # text deltas received; chunks are not tokens
    chunk_rate: float | None = None  # chunks/s, first -> last chunk (what the live chart shows)
    server_source: str | None = None  # usage | timings | ollama (joined by +) | none
    server_n_prompt: int | None = None
    server_n_generated: int | None = None
    server_prompt_ms: float | None = None
    server_prompt_tps: float | None = None
    server_gen_tps: float | None = None  # the server's own figure (llama-server: predicted_per_second, n - 1 steps)
    server_complete: bool = True  # False: stopped or cut before the server's final counts came
    # Cores other programs kept busy during the run (machine_load); None: not measured.
    other_cpu_cores: float | None = None
    machine_busy: bool = False
    gpu_source: str = ""  # what peak_vram measures (protocol.GPU_FROM_NVML / GPU_FROM_LLAMA)
    # The conversation cache (a local worker's Finished.cache): None where it was not reported
    # (a server, an older run file). n_prefilled = n_prompt - n_reused; prefill_tps counts it.
    cache_policy: str | None = None  # keep | cold
    n_reused: int | None = None  # prompt tokens kept in the cache or restored from a checkpoint
    n_prefilled: int | None = None
    n_checkpoint: int = 0  # the checkpoint restored, in tokens (0: none)
    cache_why_full: str = ""  # why a kept cache could not be used
    cache_parted: str = ""  # where the prompt left what the cache held (CacheUse.parted)
    checkpoint_bytes: int | None = None  # the worker's checkpoints after this reply
    # Speculative decoding (Finished.draft): its kind, and draft tokens checked and accepted.
    draft_kind: str = ""
    n_drafted: int | None = None
    n_draft_accepted: int | None = None

    @property
    def draft_acceptance(self) -> float | None:
        return self.n_draft_accepted / self.n_drafted if self.n_drafted and self.n_draft_accepted is not None else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def compute_stats(run: RunRecord) -> RunStats:
    stats = _local_stats(run)
    if run.other_load is not None:
        stats = replace(stats, other_cpu_cores=run.other_load.cores, machine_busy=run.other_load.busy)
    draft = run.finished.draft if run.finished else None
    if draft is not None:
        stats = replace(stats, draft_kind=draft.kind, n_drafted=draft.n_drafted, n_draft_accepted=draft.n_accepted)
    if any(t.token_id == p.SERVER_CHUNK for t in run.tokens) or (run.finished and run.finished.server):
        return _remote_stats(run, stats)
    return stats


def _remote_stats(run: RunRecord, st: RunStats) -> RunStats:
    """Client wall clock for times, the server's own counts for tokens; never chunks as tokens."""
    fin = run.finished
    srv = fin.server if fin else None
    times = [t.t for t in run.tokens]
    span = times[-1] - times[0] if len(times) >= 2 else 0.0
    n_gen = srv.n_generated if srv else None
    gen_tps = (n_gen - 1) / span if n_gen and n_gen > 1 and span > 0 else None
    server_gen_tps = srv.gen_tps if srv else None
    if server_gen_tps is None and srv and srv.n_generated and srv.gen_ms:
        server_gen_tps = srv.n_generated / srv.gen_ms * 1000.0
    prompt_n = None
    if srv and srv.n_prompt is not None:
        prompt_n = srv.n_prompt - (srv.n_cached or 0)
    server_prompt_tps = srv.prompt_tps if srv else None
    if server_prompt_tps is None and srv and srv.prompt_ms and prompt_n:
        server_prompt_tps = prompt_n / srv.prompt_ms * 1000.0
    return replace(
        st,
        n_prompt=srv.n_prompt if srv and srv.n_prompt is not None else 0,
        prefill_ms=None, prefill_tps=None,
        gen_tps=gen_tps,
        ms_per_token=1000.0 / gen_tps if gen_tps else None,
        n_tokens=n_gen,
        n_thinking=None, n_answer=None,
        ms_per_token_p50=None, ms_per_token_p95=None,
        llama_n_p_eval=None, llama_n_eval=None, llama_prompt_tps=None, llama_eval_tps=None,
        remote=True,
        n_chunks=len(times),
        chunk_rate=(len(times) - 1) / span if span > 0 else None,
        server_source=srv.source if srv else None,
        server_n_prompt=srv.n_prompt if srv else None,
        server_n_generated=n_gen,
        server_prompt_ms=srv.prompt_ms if srv else None,
        server_prompt_tps=server_prompt_tps,
        server_gen_tps=server_gen_tps,
        server_complete=srv.complete if srv else False,
    )


def _local_stats(run: RunRecord) -> RunStats:
    toks = run.tokens
    times = [t.t for t in toks]
    gaps_ms = [(b - a) * 1000.0 for a, b in zip(times, times[1:])]
    first_answer = next((t for t in toks if t.phase == ANSWER and t.answer.strip()), None)
    pre = run.prefill
    fin = run.finished
    perf = fin.perf if fin else None
    mem = run.memory
    gen_tps = None
    if len(times) >= 2 and times[-1] > times[0]:
        gen_tps = (len(times) - 1) / (times[-1] - times[0])
    cache = fin.cache if fin else None
    n_prompt = pre.n_prompt if pre else (fin.n_prompt if fin else 0)
    n_reused = cache.n_reused if cache else (pre.n_reused if pre else None)
    return RunStats(
        n_prompt=n_prompt,
        prefill_ms=pre.ms if pre else None,
        prefill_tps=(pre.n_prefilled / (pre.ms / 1000.0)) if pre and pre.ms > 0 and pre.n_prefilled > 0 else None,
        cache_policy=cache.policy if cache else None,
        n_reused=n_reused,
        n_prefilled=n_prompt - n_reused if n_reused is not None else None,
        n_checkpoint=cache.n_checkpoint if cache else 0,
        cache_why_full=cache.why_full if cache else "",
        cache_parted=cache.parted if cache else "",
        checkpoint_bytes=cache.checkpoint_bytes if cache else None,
        ttft_s=(times[0] - run.t_send) if times else None,
        time_to_answer_s=(first_answer.t - run.t_send) if first_answer else None,
        gen_tps=gen_tps,
        ms_per_token=1000.0 / gen_tps if gen_tps else None,
        n_tokens=len(toks),
        n_thinking=sum(1 for t in toks if t.phase == THINKING),
        n_answer=sum(1 for t in toks if t.phase == ANSWER),
        ms_per_token_p50=_percentile(gaps_ms, 50),
        ms_per_token_p95=_percentile(gaps_ms, 95),
        total_s=(fin.t_end - run.t_send) if fin else None,
        stop_reason=fin.stop_reason if fin else (p.STOP_ERROR if run.error else "running"),
        peak_rss=mem.peak_rss if mem and mem.samples else None,
        peak_vram=mem.peak_vram if mem else None,
        gpu_available=bool(mem and mem.gpu_available),
        gpu_source=mem.gpu_source if mem else "",
        n_threads=fin.n_threads if fin else 0,
        template=run.prompt.template_name if run.prompt else "",
        llama_n_p_eval=perf.n_p_eval if perf else None,
        llama_n_eval=perf.n_eval if perf else None,
        llama_prompt_tps=(perf.n_p_eval / perf.t_p_eval_ms * 1000.0) if perf and perf.t_p_eval_ms > 0 else None,
        # A speculating run's one-token decodes are only its rounds without a draft: no generation speed.
        llama_eval_tps=(perf.n_eval / perf.t_eval_ms * 1000.0)
        if perf and perf.t_eval_ms > 0 and not _speculated(fin) else None,
    )


def _speculated(fin: p.Finished | None) -> bool:
    return bool(fin and fin.draft and fin.draft.n_rounds > 0)
