"""The side-by-side stats table, as rows of strings (terminal, Markdown, GUI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from gemmacompare.engine.metrics import RunStats
from gemmacompare.engine.protocol import GPU_FROM_LLAMA
from gemmacompare.models.gguf_file import human_bytes

if TYPE_CHECKING:
    from gemmacompare.engine.placement import MemoryAccount, Placement
    from gemmacompare.engine.session import CompareResult


def _f(v: object, unit: str = "", digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def _tokens(s: RunStats) -> str:
    if not s.remote:
        return f"{s.n_tokens} ({s.n_thinking}/{s.n_answer})"
    chunks = f"{s.n_chunks} chunks"
    return f"{s.n_tokens} (server) · {chunks}" if s.n_tokens is not None else f"? · {chunks}"


def _server_or_llama(s: RunStats) -> str:
    return _f(s.server_gen_tps) if s.remote else _f(s.llama_eval_tps)


def _memory(s: RunStats) -> str:
    if s.remote:
        return f"{human_bytes(s.peak_rss)} (server process)" if s.peak_rss else "not measured (remote)"
    return human_bytes(s.peak_rss) if s.peak_rss else "-"


def prompt_cache_text(s: RunStats) -> str:
    """What a reply's prompt took from the conversation's cache: "cold", "58 reused, 12 read",
    "47 from a checkpoint of 47, 30 read", "all 80 read: <why>"; "" where it was not reported
    (a server, an older run file)."""
    if s.cache_policy is None or s.n_reused is None:
        return ""
    if s.cache_policy != "keep":
        return "cold"
    read = s.n_prefilled if s.n_prefilled is not None else s.n_prompt - s.n_reused
    if s.cache_why_full:
        return f"all {read} read: {s.cache_why_full}"
    if s.n_checkpoint:
        return f"{s.n_reused} from a checkpoint of {s.n_checkpoint}, {read} read"
    return f"{s.n_reused} reused, {read} read"


# The order people check claims in (see speed_summary): per-token latency,
# time to answer, then the rest.
STAT_ROWS: tuple[tuple[str, Callable[[RunStats], str]], ...] = (
    ("ms/token", lambda s: _f(s.ms_per_token)),
    ("gen t/s", lambda s: _f(s.gen_tps) if not (s.remote and s.gen_tps is None and s.chunk_rate)
        else f"{s.chunk_rate:.1f} chunks/s"),
    ("gen t/s (llama.cpp / server)", _server_or_llama),
    ("time to answer", lambda s: _f(s.time_to_answer_s, " s", 2)),
    ("total", lambda s: _f(s.total_s, " s", 2)),
    ("tokens (think/answer)", _tokens),
    ("TTFT", lambda s: _f(s.ttft_s and s.ttft_s * 1000, " ms", 0)),
    ("prompt tokens", lambda s: _f(s.server_n_prompt) if s.remote else _f(s.n_prompt)),
    ("prompt cache", lambda s: prompt_cache_text(s) or "-"),
    ("prefill t/s", lambda s: _f(s.server_prompt_tps) + " (server)" if s.remote and s.server_prompt_tps
        else _f(s.prefill_tps)),
    ("ms/token p50 / p95", lambda s: f"{_f(s.ms_per_token_p50)} / {_f(s.ms_per_token_p95)}"),
    ("stop reason", lambda s: s.stop_reason),
    ("peak RAM", _memory),
    ("peak VRAM", lambda s: (gpu_memory_text(s, short=True) if s.peak_vram is not None else "-") if s.gpu_available
        else "no GPU"),
    ("threads", lambda s: "remote (none here)" if s.remote else _f(s.n_threads)),
    ("template", lambda s: s.template or "-"),
)


def stats_rows(result: CompareResult, labels: list[str]) -> list[list[str]]:
    """Header row then one row per figure; `result` is a CompareResult."""
    stats: list[RunStats] = [r.stats() for r in result.runs]
    loaded = list(getattr(result, "loaded", None) or [])
    placements = [getattr(ld, "placement", None) for ld in loaded] + [None] * (len(stats) - len(loaded))
    # The memory account with each reply's checkpoints: taken after the load, held by the worker.
    accounts = [pl.with_checkpoints(s.checkpoint_bytes) if pl else None for pl, s in zip(placements, stats)]
    rows = [[f"{result.mode} mode", *labels]]
    for name, fn in STAT_ROWS:
        cells = [fn(s) for s in stats]
        if name == "peak VRAM":
            cells = [_device_memory(s, pl) or cell for s, pl, cell in zip(stats, placements, cells)]
        rows.append([name, *cells])
    if any(loaded):
        rows.append(["flash attn / KV",
                     *(f"{ld.flash_attn} / {ld.type_k}/{ld.type_v}" + (", full-size SWA cache" if ld.swa_full else "")
                       if ld else "-" for ld in loaded)])
    if any(placements):
        rows.append(["backend (llama.cpp)", *(pl.summary if pl else "-" for pl in placements)])
        rows += memory_rows(accounts)
    return rows


# (row label, MemoryAccount field), in llama.cpp's order of allocation.
_MEMORY_ROWS = (("weights", "weights"), ("KV cache", "kv_cache"), ("recurrent state", "recurrent_state"),
                ("compute buffers", "compute"), ("draft model", "draft_model"),
                ("context checkpoints", "context_checkpoints"), ("memory total", "total"))
_ROWS_WHERE_HELD = ("recurrent_state", "draft_model", "context_checkpoints")


def memory_rows(placements: list[Placement | None]) -> list[list[str]]:
    """llama.cpp's own account of each model's memory, a row per part, devices side by side
    ("1.2 GiB CUDA0 + 40 MiB CPU"); the recurrent-state, draft-model and checkpoint rows only where a model has them."""
    accounts = [pl.memory if pl else () for pl in placements]
    rows: list[list[str]] = []
    for label, attr in _MEMORY_ROWS:
        cells = [_per_device(acc, attr) for acc in accounts]
        if attr in _ROWS_WHERE_HELD and not any(getattr(a, attr) for acc in accounts for a in acc):
            continue
        rows.append([f"{label} (llama.cpp)", *cells])
    return rows


def gpu_memory_text(s: RunStats, short: bool = False) -> str:
    """Peak GPU memory, saying what measured it: NVML's per-process VRAM, or
    llama.cpp's account of the device buffers it allocated (Vulkan, Metal, ROCm)."""
    size = human_bytes(s.peak_vram or 0)
    if s.gpu_source == GPU_FROM_LLAMA:
        return f"{size} (llama.cpp's device buffers)" if short else f"GPU {size} (llama.cpp's device buffers)"
    return size if short else f"VRAM {size}"


def _per_device(accounts: tuple[MemoryAccount, ...], attr: str) -> str:
    if not accounts:
        return "-"
    return " + ".join(f"{human_bytes(getattr(a, attr))} {a.device}" for a in accounts)


def _device_memory(s: RunStats, placement: Placement | None) -> str | None:
    """Without NVML (Metal, Vulkan, ROCm): llama.cpp's own account of what it allocated on the device."""
    if s.gpu_available or placement is None or not placement.device_bytes():
        return None
    return f"{human_bytes(placement.device_bytes())} allocated by llama.cpp (model, KV, compute)"


def text_table(rows: list[list[str]]) -> str:
    """Aligned columns for a terminal, with a rule under the header row."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    def cell(x: str) -> str:
        return x.replace("|", "\\|")  # a model name with "|" must not split its cell

    out = ["| " + " | ".join(cell(c) for c in rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows[1:]]
    return "\n".join(out)
