"""Exports of a stored benchmark run: JSON, CSV (summary and items), Markdown.

Field names follow llama-bench's JSON/CSV output where the meaning is the same
(`model_type`, `model_size`, `model_n_params`, `n_threads`, `n_gpu_layers`,
`flash_attn`, `type_k`, `type_v`, `n_batch`, `n_prompt`, `n_gen`, `avg_ts`, `stddev_ts`, `samples_ts`,
`cpu_info`, `gpu_info`,
`test_time`), so tables from both tools can be put side by side. Here `avg_ts`
is *generation* t/s (first to last token, mean over repetitions) and `n_prompt`/
`n_gen` are mean token counts per item, since our prompts are real tasks rather
than fixed lengths. PNG charts need Qt and live in gemmacompare.ui.bench_charts.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

from gemmacompare.bench.records import StoredRun
from gemmacompare.bench.stats import METRICS, ModelSummary, summarize_run, summary_table
from gemmacompare.engine.machine import HASH_METHOD
from gemmacompare.engine.report.stats_table import markdown_table
from gemmacompare.models.gguf_file import human_bytes

log = logging.getLogger(__name__)

SUMMARY_FIELDS = [
    "run_id", "test_time", "mode", "suite", "model_filename", "model_name", "model_type", "model_size",
    "model_n_params", "model_hash", "n_ctx", "n_threads", "n_gpu_layers", "flash_attn", "type_k", "type_v", "n_batch",
    "swa_full",
    "thinking",
    "cpu_info", "gpu_info",
    "n_tasks", "n_reps", "n_items", "accuracy", "accuracy_low", "accuracy_high", "stddev_accuracy",
    "n_prompt", "n_gen", "avg_ts", "stddev_ts", "median_ts", "avg_pp_ts", "stddev_pp_ts",
    "avg_ttft_ms", "stddev_ttft_ms", "avg_tta_ms", "stddev_tta_ms", "avg_thinking_tokens", "avg_answer_tokens",
    "ms_per_token_p50", "peak_rss_bytes", "peak_vram_bytes",
    "llama_weights_bytes", "llama_kv_bytes", "llama_recurrent_bytes", "llama_compute_bytes",
    "samples_ts",
]

ITEM_FIELDS = [
    "run_id", "rep", "task_index", "task_id", "model_index", "model_name", "expected", "match", "extracted",
    "extract_rule", "correct", "error", "n_prompt", "n_gen", "n_thinking", "n_answer", "pp_ts", "avg_ts",
    "ttft_ms", "tta_ms", "total_ms", "ms_per_token_p50", "stop_reason", "peak_rss_bytes", "peak_vram_bytes",
    "answer",
]


_MEMORY_PARTS = (("weights", "weights"), ("kv", "kv_cache"), ("recurrent", "recurrent_state"),
                 ("compute", "compute"))


def _ms(v: float | None) -> float | None:
    return v * 1000.0 if v is not None else None


def summary_rows(run: StoredRun, summaries: list[ModelSummary] | None = None) -> list[dict[str, Any]]:
    summaries = summaries if summaries is not None else summarize_run(run)
    rows = []
    for s in summaries:
        info = run.models[s.model_index] if s.model_index < len(run.models) else None
        m = s.metrics
        gen_samples = [it.stat("gen_tps") for it in run.items if it.model_index == s.model_index]
        rows.append({
            "run_id": run.id,
            "test_time": run.created,
            "mode": run.config.mode,
            "suite": run.suite_name,
            "model_filename": info.path if info else run.config.models[s.model_index],
            "model_name": s.label,
            "model_type": info.model_type if info else None,
            "model_size": info.file_size if info else None,
            "model_n_params": info.parameters if info else None,
            "model_hash": info.file_hash if info else None,
            "n_ctx": info.n_ctx if info else run.config.setting("n_ctx"),
            "n_threads": info.n_threads if info else None,
            "n_gpu_layers": info.n_gpu_layers if info else run.config.setting("n_gpu_layers"),
            "flash_attn": info.flash_attn if info else run.config.setting("flash_attn"),
            "type_k": info.type_k if info else run.config.setting("type_k"),
            "type_v": info.type_v if info else run.config.setting("type_v"),
            "n_batch": info.n_batch if info else None,
            "thinking": run.config.setting("thinking"),
            "swa_full": run.config.setting("swa_full"),
            "cpu_info": run.machine.get("cpu_model"),
            "gpu_info": run.machine.get("gpu"),
            "n_tasks": s.n_tasks,
            "n_reps": s.n_reps,
            "n_items": s.n_items,
            "accuracy": s.accuracy.mean,
            "accuracy_low": s.accuracy_low,
            "accuracy_high": s.accuracy_high,
            "stddev_accuracy": s.accuracy.sd,
            "n_prompt": m["n_prompt"].mean,
            "n_gen": m["n_tokens"].mean,
            "avg_ts": m["gen_tps"].mean,
            "stddev_ts": m["gen_tps"].sd,
            "median_ts": m["gen_tps"].median,
            "avg_pp_ts": m["prefill_tps"].mean,
            "stddev_pp_ts": m["prefill_tps"].sd,
            "avg_ttft_ms": _ms(m["ttft_s"].mean),
            "stddev_ttft_ms": _ms(m["ttft_s"].sd),
            "avg_tta_ms": _ms(m["time_to_answer_s"].mean),
            "stddev_tta_ms": _ms(m["time_to_answer_s"].sd),
            "avg_thinking_tokens": m["n_thinking"].mean,
            "avg_answer_tokens": m["n_answer"].mean,
            "ms_per_token_p50": m["ms_per_token_p50"].mean,
            "peak_rss_bytes": m["peak_rss"].mean,
            "peak_vram_bytes": m["peak_vram"].mean,
            # llama.cpp's own account at load, all devices together (per device in the JSON's models).
            **{f"llama_{name}_bytes": info.memory_total(part) if info else None for name, part in _MEMORY_PARTS},
            "samples_ts": [x for x in gen_samples if x is not None],
        })
    return rows


def item_rows(run: StoredRun) -> list[dict[str, Any]]:
    labels = run.labels
    rows = []
    for it in run.items:
        st = it.stats
        rows.append({
            "run_id": run.id, "rep": it.rep, "task_index": it.task_index, "task_id": it.task_id,
            "model_index": it.model_index, "model_name": labels[it.model_index] if it.model_index < len(labels) else "",
            "expected": it.expected, "match": it.match, "extracted": it.extracted,
            "extract_rule": it.extract_rule, "correct": it.correct,
            "error": it.error, "n_prompt": st.get("n_prompt"), "n_gen": st.get("n_tokens"),
            "n_thinking": st.get("n_thinking"), "n_answer": st.get("n_answer"), "pp_ts": st.get("prefill_tps"),
            "avg_ts": st.get("gen_tps"), "ttft_ms": _ms(st.get("ttft_s")), "tta_ms": _ms(st.get("time_to_answer_s")),
            "total_ms": _ms(st.get("total_s")), "ms_per_token_p50": st.get("ms_per_token_p50"),
            "stop_reason": st.get("stop_reason"), "peak_rss_bytes": st.get("peak_rss"),
            "peak_vram_bytes": st.get("peak_vram"), "answer": it.answer,
        })
    return rows


def to_json(run: StoredRun) -> dict[str, Any]:
    summaries = summarize_run(run)
    return {
        "format": "gemmacompare-bench/1",
        "run_id": run.id,
        "created": run.created,
        "updated": run.updated,
        "status": run.status,
        "message": run.message,
        "suite": run.suite_name,
        "config": run.config.to_dict(),
        "machine": run.machine,
        "file_hash_method": HASH_METHOD,
        "statistics": "mean ± sd over repetitions (per-repetition means); median over items; "
                      "accuracy interval: Wilson 95% over distinct tasks",
        "models": [m.to_dict() if m else None for m in run.models],
        "summary": summary_rows(run, summaries),
        "metrics": [
            {"model_name": s.label, **{k: vars(v) for k, v in s.metrics.items()}, "accuracy": vars(s.accuracy)}
            for s in summaries
        ],
        "tasks": [{"index": i, "id": t.id, "prompt": t.prompt, "expected": list(t.expected), "match": t.match,
                   "category": t.category, "choices": list(t.choices)} for i, t in enumerate(run.tasks)],
        "items": [{**row, "thinking": it.thinking, "stats": it.stats}
                  for row, it in zip(item_rows(run), run.items)],
    }


def _csv_text(rows: list[dict[str, Any]], fields: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if v is None else ";".join(f"{x:.3f}" for x in v) if isinstance(v, list) else v)
                    for k, v in row.items()})
    return buf.getvalue()


def summary_csv(run: StoredRun) -> str:
    return _csv_text(summary_rows(run), SUMMARY_FIELDS)


def items_csv(run: StoredRun) -> str:
    return _csv_text(item_rows(run), ITEM_FIELDS)


def markdown_report(run: StoredRun, charts: list[str] | None = None) -> str:
    summaries = summarize_run(run)
    cfg = run.config
    sampling, thinking = cfg.run_settings().sampling, cfg.setting("thinking")
    mach = run.machine
    lines = [
        f"# Benchmark #{run.id}: {run.suite_name}",
        "",
        f"{run.created} · status **{run.status}** · mode **{cfg.mode}** · {len(run.tasks)} tasks × "
        f"{cfg.runs} repetitions · max {sampling.max_tokens} tokens{' (EOS ignored)' if sampling.ignore_eos else ''}"
        f" · thinking {'default' if thinking is None else 'on' if thinking else 'off'} · warm-up {cfg.warmup}",
        "",
        markdown_table(summary_table(run, summaries)),
        "",
        "Accuracy: mean over repetitions, Wilson 95% interval over distinct tasks. Other figures: mean ± sd "
        "over repetitions (each repetition averaged over its items first).",
        "",
        "## Models",
        "",
    ]
    model_rows = [["model", "type", "file size", "hash", "threads", "GPU layers", "flash attn", "KV cache",
                   "context", "template", "memory (llama.cpp)"]]
    for label, m in zip(run.labels, run.models):
        if m:
            model_rows.append([label, m.model_type, f"{m.file_size / 2**20:.0f} MiB", m.file_hash, str(m.n_threads),
                               str(m.n_gpu_layers), m.flash_attn, f"{m.type_k}/{m.type_v}", str(m.n_ctx),
                               m.template or "–", _memory_cell(m.memory)])
    lines += [markdown_table(model_rows), "", f"File hash: {HASH_METHOD}.", ""]
    if mach:
        lines += [
            "## Machine",
            "",
            f"- CPU: {mach.get('cpu_model')} ({mach.get('cpu_cores')} cores, {mach.get('cpu_threads')} threads)",
            f"- GPU: {mach.get('gpu')}",
            f"- RAM: {int(mach.get('ram_bytes') or 0) / 2**30:.1f} GiB",
            f"- OS: {mach.get('os')}; Python {mach.get('python')}; llama-cpp-python {mach.get('llama_cpp_python')}",
        ]
        sysinfo = next((m.system_info for m in run.models if m), "")
        if sysinfo:
            lines.append(f"- llama.cpp: `{sysinfo.strip()}`")
        lines.append("")
    if charts:
        lines += ["## Charts", ""] + [f"![{Path(c).stem}]({Path(c).name})" for c in charts] + [""]
    lines += ["## Items", ""]
    item_table = [["rep", "task", "model", "expected", "extracted", "verdict", "tokens", "gen t/s", "time (s)"]]
    for row in item_rows(run):
        verdict = "error" if row["error"] else ("✓" if row["correct"] else "✗")
        item_table.append([
            str(row["rep"] + 1), row["task_id"], row["model_name"], str(row["expected"]),
            str(row["extracted"] if row["extracted"] is not None else "–"), verdict, str(row["n_gen"]),
            f"{row['avg_ts']:.1f}" if row["avg_ts"] else "–",
            f"{row['total_ms'] / 1000:.2f}" if row["total_ms"] else "–",
        ])
    lines += [markdown_table(item_table), ""]
    return "\n".join(lines)


def _memory_cell(memory: tuple[dict[str, Any], ...]) -> str:
    """e.g. "CPU: weights 2.9 GiB, KV 128 MiB, recurrent 50 MiB, compute 500 MiB"."""
    if not memory:
        return "–"
    names = (("weights", "weights"), ("kv_cache", "KV"), ("recurrent_state", "recurrent"), ("compute", "compute"))
    return "; ".join(
        f"{d.get('device', '?')}: " + ", ".join(f"{short} {human_bytes(d[k])}" for k, short in names if d.get(k))
        for d in memory
    )


def write_exports(run: StoredRun, out_dir: str | Path, charts: list[str] | None = None) -> list[Path]:
    """bench-<id>.json, -summary.csv, -items.csv and .md in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{run.id}"
    files = {
        out / f"{stem}.json": json.dumps(to_json(run), indent=1, ensure_ascii=False),
        out / f"{stem}-summary.csv": summary_csv(run),
        out / f"{stem}-items.csv": items_csv(run),
        out / f"{stem}.md": markdown_report(run, charts),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8", newline="" if path.suffix == ".csv" else None)
    return list(files)


__all__ = ["METRICS", "markdown_report", "summary_csv", "items_csv", "to_json", "write_exports"]
