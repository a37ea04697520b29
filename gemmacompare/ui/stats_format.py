"""Text for the stats line under a reply and its llama.cpp tooltip."""

from __future__ import annotations

from gemmacompare.engine.api import Placement, RunRecord, RunStats, gpu_memory_text, prompt_cache_text
from gemmacompare.models.gguf_file import human_bytes


def stats_line(s: RunStats, mode_note: str, blind: bool = False, compact: bool = False) -> str:
    """In the order of the race banner and `compare`'s table: per-token
    latency, time to answer, then the rest; plain text (the label shows a
    server's stop reason as it came, so no markup). blind: a blind round before the
    vote, where a model's size, its stop reason ("stop string" for a base
    model's frame) and its prompt's token count (its template) would tell the
    sides apart; the speed stays. compact: presentation mode's large type,
    where the whole line took five lines over two of answer: the speed,
    time to answer and tokens, and a busy machine (the rest is in the
    banner and the tooltip)."""
    parts = []
    if s.ms_per_token:
        parts.append(f"{s.ms_per_token:.0f} ms/token ({s.gen_tps:.1f} t/s)")
    if s.time_to_answer_s is not None:
        parts.append(f"answer at {s.time_to_answer_s:.2f} s")
    done = f" in {s.total_s:.2f} s" if s.total_s is not None else ""
    if s.remote:
        parts.extend(_remote_parts(s))
        if done:
            parts.append(f"done{done}")
    else:
        split = f" ({s.n_thinking} thinking / {s.n_answer} answer)" if s.n_thinking else ""
        parts.append(f"{s.n_tokens} tok{split}{done}")
    if s.draft_kind:
        # As LM Studio puts it under a reply: how much of the draft the model took.
        rate = s.draft_acceptance
        parts.append(f"{s.draft_kind} drafts: " + (f"{rate:.0%} accepted ({s.n_draft_accepted}/{s.n_drafted})"
                                                   if rate is not None else "none drafted"))
    if compact:
        busy = s.machine_busy and s.other_cpu_cores is not None
        return " · ".join([*parts, *(["busy machine: unreliable"] if busy else [])])
    if s.ttft_s is not None:
        parts.append(f"TTFT {s.ttft_s * 1000:.0f} ms")
    parts.append(_prompt_part(s, blind))
    if blind:
        parts.append("stop reason, prompt size and memory shown after the vote")
    else:
        parts.append(s.stop_reason.replace("_", " "))
        parts.extend(_memory_parts(s))
    parts.append(mode_note)
    if s.machine_busy and s.other_cpu_cores is not None:
        parts.append(f"other programs used {s.other_cpu_cores:.1f} cores: unreliable")
    return " · ".join(x for x in parts if x)


def _prompt_part(s: RunStats, blind: bool) -> str:
    """The prompt: its size, what the conversation's cache gave, the rest read at X t/s."""
    rate = f" @ {s.prefill_tps:.0f} t/s" if s.prefill_tps else ""
    if blind:  # a prompt's size tells the templates apart; what was reused and the rate do not
        return f"prompt read{rate}" if rate else ""
    cache = prompt_cache_text(s)
    if not cache:
        return f"prompt {s.n_prompt} tok{rate}" if rate else ""
    if cache == "cold":
        return f"prompt {s.n_prompt} tok{rate} (cold)"
    head, sep, why = cache.partition(": ")
    parted = f" ({s.cache_parted})" if s.cache_parted else ""
    return f"prompt {s.n_prompt} tok: {head}{rate}{sep}{why}{parted}"


def ttft_by_turn(turns: dict[str, list[float]]) -> str:
    """The banner's comparison of time to first token by turn, once a conversation has two:
    "TTFT by turn: A 0.41 → 0.12 s · B 1.30 → 0.35 s"."""
    shown = {label: t for label, t in turns.items() if t}
    if not shown or max(len(t) for t in shown.values()) < 2:
        return ""
    return "TTFT by turn: " + " · ".join(
        f"{label} " + " → ".join(f"{x:.2f}" for x in t[-4:]) + " s" for label, t in shown.items())


def _memory_parts(s: RunStats) -> list[str]:
    out = []
    if s.peak_rss:
        out.append(f"peak RAM {human_bytes(s.peak_rss)}" + (" (server process)" if s.remote else ""))
    elif s.remote:
        out.append("memory not measured (remote)")
    if s.gpu_available and s.peak_vram is not None:
        out.append(gpu_memory_text(s))
    if s.checkpoint_bytes:
        out.append(f"checkpoints {human_bytes(s.checkpoint_bytes)}")
    return out


def _remote_parts(s: RunStats) -> list[str]:
    """Server-reported counts beside the client's wall clock; chunks are never called tokens."""
    out = []
    if s.n_tokens is not None:
        out.append(f"{s.n_tokens} tok (server-reported)")
    elif s.chunk_rate:
        out.append(f"{s.chunk_rate:.1f} chunks/s")
    out.append(f"{s.n_chunks} chunks")
    if s.server_gen_tps:
        out.append(f"server {s.server_gen_tps:.1f} t/s")
    if not s.server_complete:
        out.append("incomplete (no final counts)")
    return out


def memory_tooltip_lines(placement: Placement | None, checkpoint_bytes: int | None = None) -> list[str]:
    """llama.cpp's account of the model's memory, per device, from its load log, with the
    conversation cache's checkpoints after a reply where it holds any."""
    if placement is None or not placement.buffers:
        return []
    when = "at load; checkpoints after this reply" if checkpoint_bytes else "at load"
    return [f"llama.cpp's memory ({when}):",
            *(f"  {line}" for line in placement.with_checkpoints(checkpoint_bytes).memory_lines())]


def stats_tooltip(rec: RunRecord, placement: Placement | None = None) -> str:
    fin = rec.finished
    if fin and fin.server:
        srv = fin.server
        return "\n".join([
            f"Server-reported ({srv.source}): prompt {srv.n_prompt if srv.n_prompt is not None else '?'} tokens"
            + (f" ({srv.n_cached} cached)" if srv.n_cached else "")
            + (f" in {srv.prompt_ms:.1f} ms" if srv.prompt_ms is not None else ""),
            f"  generated {srv.n_generated if srv.n_generated is not None else '?'} tokens"
            + (f" in {srv.gen_ms:.1f} ms" if srv.gen_ms is not None else ""),
            f"Client wall clock: {srv.n_chunks} chunks, timed on arrival (a chunk is not a token)",
        ])
    if not fin or not fin.perf:
        return ""
    perf = fin.perf
    s = rec.stats()
    lines = [
        "llama.cpp's own counters (llama_perf_context):",
        f"  prompt eval: {perf.n_p_eval} tokens in {perf.t_p_eval_ms:.1f} ms"
        + (f" ({s.llama_prompt_tps:.1f} t/s)" if s.llama_prompt_tps else ""),
        f"  eval: {perf.n_eval} tokens in {perf.t_eval_ms:.1f} ms"
        + (f" ({s.llama_eval_tps:.1f} t/s)" if s.llama_eval_tps else "")
        + (" (one-token decodes only: the rounds without a draft)" if fin.draft and fin.draft.n_rounds else ""),
        f"ms/token p50 {s.ms_per_token_p50 or 0:.1f}, p95 {s.ms_per_token_p95 or 0:.1f}",
        f"threads {fin.n_threads}, template {fin.template_name or '-'}",
        *memory_tooltip_lines(placement, s.checkpoint_bytes),
    ]
    return "\n".join(lines)
