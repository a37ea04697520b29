"""Per-model summary of a benchmark run: accuracy with a 95% interval, speed as mean ± sd.

How the spread is computed (also stated in the reports):
- mean ± sd: each repetition is averaged over its items first, then the mean
  and sample sd of those per-repetition values are taken, as llama-bench
  does with its runs (sd is 0 with a single repetition, as in llama-bench).
- median: over every single item measurement of the run.
- accuracy interval: Wilson 95% with n = number of distinct tasks. Greedy
  repetitions of one task are not independent trials, so pooling them would
  make the interval look narrower than the evidence allows.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping

from gemmacompare.bench.records import ItemResult, StoredRun

Z95 = 1.959963984540054

# (key in RunStats, label, unit) in report order.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("prefill_tps", "prefill", "t/s"),
    ("gen_tps", "generation", "t/s"),
    ("ttft_s", "TTFT", "s"),
    ("time_to_answer_s", "time to answer", "s"),
    ("total_s", "time per item", "s"),
    ("n_prompt", "prompt tokens", ""),
    ("n_thinking", "thinking tokens", ""),
    ("n_answer", "answer tokens", ""),
    ("n_tokens", "generated tokens", ""),
    ("ms_per_token_p50", "ms/token p50", "ms"),
    ("ms_per_token_p95", "ms/token p95", "ms"),
    ("llama_eval_tps", "generation (llama.cpp)", "t/s"),
    ("llama_prompt_tps", "prefill (llama.cpp)", "t/s"),
    ("peak_rss", "peak RAM", "B"),
    ("peak_vram", "peak VRAM", "B"),
)


@dataclass(frozen=True)
class MetricSummary:
    mean: float | None
    sd: float | None
    median: float | None
    n: int  # item measurements behind the median


@dataclass(frozen=True)
class ModelSummary:
    model_index: int
    label: str
    n_tasks: int  # distinct tasks answered
    n_reps: int  # repetitions with at least one item
    n_items: int
    correct: int
    errors: int
    accuracy: MetricSummary  # over repetitions
    accuracy_low: float  # Wilson 95%
    accuracy_high: float
    metrics: Mapping[str, MetricSummary]


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval; (0, 1) when there is no data."""
    if n <= 0:
        return 0.0, 1.0
    phat = min(1.0, max(0.0, successes / n))
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if phat == 0 else max(0.0, centre - half)
    high = 1.0 if phat == 1 else min(1.0, centre + half)
    return low, high


def mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, sd


def summarize_metric(per_rep: Mapping[int, list[float]]) -> MetricSummary:
    rep_means = [statistics.fmean(v) for v in per_rep.values() if v]
    every = [x for v in per_rep.values() for x in v]
    mean, sd = mean_sd(rep_means)
    return MetricSummary(mean, sd, statistics.median(every) if every else None, len(every))


def summarize_model(items: Iterable[ItemResult], model_index: int, label: str) -> ModelSummary:
    mine = [it for it in items if it.model_index == model_index]
    by_rep: dict[int, list[ItemResult]] = {}
    for it in mine:
        by_rep.setdefault(it.rep, []).append(it)
    acc_per_rep = {rep: [1.0 if it.correct else 0.0 for it in its] for rep, its in by_rep.items()}
    accuracy = summarize_metric(acc_per_rep)
    n_tasks = len({it.task_index for it in mine})
    correct = sum(1 for it in mine if it.correct)
    pooled = correct / len(mine) if mine else 0.0
    low, high = wilson_interval(pooled * n_tasks, n_tasks)
    metrics = {}
    for key, _, _ in METRICS:
        per_rep = {rep: [v for it in its if (v := it.stat(key)) is not None] for rep, its in by_rep.items()}
        metrics[key] = summarize_metric(per_rep)
    return ModelSummary(
        model_index=model_index, label=label, n_tasks=n_tasks, n_reps=len(by_rep), n_items=len(mine),
        correct=correct, errors=sum(1 for it in mine if it.error), accuracy=accuracy,
        accuracy_low=low, accuracy_high=high, metrics=metrics,
    )


def summarize_run(run: StoredRun) -> list[ModelSummary]:
    return [summarize_model(run.items, i, label) for i, label in enumerate(run.labels)]


def fmt_mean_sd(m: MetricSummary, unit: str) -> str:
    if m.mean is None:
        return "–"
    if unit == "B":
        return f"{m.mean / 2**20:.0f} ± {(m.sd or 0) / 2**20:.0f} MiB"
    digits = 2 if unit == "s" else 1
    return f"{m.mean:.{digits}f} ± {m.sd or 0:.{digits}f}"


def fmt_accuracy(s: ModelSummary) -> str:
    if not s.n_items:
        return "–"
    mean = s.accuracy.mean or 0.0
    return f"{mean:.0%} [{s.accuracy_low:.0%}–{s.accuracy_high:.0%}] ({s.correct}/{s.n_items})"


def summary_table(run: StoredRun, summaries: list[ModelSummary] | None = None) -> list[list[str]]:
    """Rows for a text/Markdown table: a header, then one row per model."""
    summaries = summaries if summaries is not None else summarize_run(run)
    header = ["model", "accuracy (95% CI)"] + [
        f"{label} ({unit})" if unit and unit != "B" else label for key, label, unit in METRICS if key in _TABLE_KEYS
    ]
    rows = [header]
    for s in summaries:
        row = [s.label, fmt_accuracy(s)]
        row += [fmt_mean_sd(s.metrics[key], unit) for key, _, unit in METRICS if key in _TABLE_KEYS]
        rows.append(row)
    return rows


_TABLE_KEYS = ("prefill_tps", "gen_tps", "ttft_s", "time_to_answer_s", "n_thinking", "n_answer",
               "ms_per_token_p50", "peak_rss", "peak_vram")
