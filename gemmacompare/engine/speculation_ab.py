"""Speculation A/B: the same model with and without its draft, what the draft buys here.

The one implementation behind `compare MODEL --draft D --ab` (or `--spec ngram --ab`)
and the window's *Speculation A/B* mode. The model is loaded twice, once plain and
once speculating; each repetition runs both in fair mode (one after the other, all
threads each), after one short warm-up. The speed-up is plain ms/token over
speculating ms/token per repetition, with its 95% interval on the log scale (a
ratio's interval: engine/report/intervals.py). Acceptance alone does not predict it:
a draft costs its own decodes, and a verification batch costs more than one token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Sequence

from gemmacompare.engine import protocol as p
from gemmacompare.engine.modes import FAIR, default_threads
from gemmacompare.engine.report.intervals import format_positive, positive_interval
from gemmacompare.engine.report.speed_summary import busy_sentence
from gemmacompare.engine.run_settings import RunSettings, command_for
from gemmacompare.engine.session import CompareResult, SessionJob
from gemmacompare.state.defaults import AB_RUNS

WARMUP_TOKENS = 4


class ABFailed(Exception):
    """A side failed to load or gave nothing to measure; `message` is one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def plain_and_speculating(settings: RunSettings) -> tuple[RunSettings, RunSettings]:
    """The A/B's two sides from one model's settings: speculation off, and on (a draft model
    given without --spec means a draft model)."""
    load = settings.load
    kind = load.speculation if load.speculation != "off" else ("draft" if load.draft_model else "off")
    return (replace(settings, load=replace(load, speculation="off")),
            replace(settings, load=replace(load, speculation=kind)))


def merged(stats: Sequence[p.DraftStats]) -> p.DraftStats | None:
    """Several requests' draft statistics as one (counts and times added, positions aligned)."""
    if not stats:
        return None
    width = max(len(s.drafted_at) for s in stats)

    def column(name: str) -> tuple[int, ...]:
        return tuple(sum((getattr(s, name)[i] if i < len(getattr(s, name)) else 0) for s in stats)
                     for i in range(width))

    return p.DraftStats(stats[0].kind, sum(s.n_drafted for s in stats), sum(s.n_accepted for s in stats),
                        sum(s.n_rounds for s in stats), sum(s.n_plain for s in stats), column("drafted_at"),
                        column("accepted_at"), sum(s.draft_ms for s in stats), sum(s.verify_ms for s in stats))


@dataclass
class ABResult:
    labels: tuple[str, str]  # plain, speculating
    per_run_ms: list[tuple[float, float]] = field(default_factory=list)  # [repetition] (plain, speculating)
    drafts: list[p.DraftStats] = field(default_factory=list)  # the speculating side's, per repetition
    tokens: list[tuple[int, int]] = field(default_factory=list)
    last: CompareResult | None = None  # the last repetition, for the panes and the run file
    stopped: bool = False
    busy: list[str] = field(default_factory=list)

    def speedups(self) -> list[float]:
        return [plain / spec for plain, spec in self.per_run_ms if plain > 0 and spec > 0]

    @property
    def draft(self) -> p.DraftStats | None:
        return merged(self.drafts)

    def lines(self) -> list[str]:
        """The A/B's figures, one per line, for the terminal and the window."""
        if not self.per_run_ms:
            return ["Stopped before a repetition finished: nothing was measured."]
        plain, spec = self.labels
        out = [f"{plain}: {format_positive([r[0] for r in self.per_run_ms], 2, 'ms/token')}",
               f"{spec}: {format_positive([r[1] for r in self.per_run_ms], 2, 'ms/token')}",
               f"speed-up ({plain} over {spec} ms/token): {format_positive(self.speedups(), 2, 'x')}"]
        out += draft_lines(self.draft)
        if len(self.per_run_ms) < 2:
            out.append("One repetition gives no interval; run more (--runs) to see how much of it is noise.")
        out += [f"warning: {b}" for b in self.busy]
        return out

    def to_dict(self) -> dict[str, Any]:
        m, lo, hi = positive_interval(self.speedups()) if self.speedups() else (None, None, None)
        d = self.draft
        return {"labels": list(self.labels), "per_run_ms_per_token": [list(r) for r in self.per_run_ms],
                "tokens": [list(t) for t in self.tokens], "speedup": m, "speedup_low": lo, "speedup_high": hi,
                "draft": asdict(d) if d else None,
                "acceptance": d.acceptance if d else None, "mean_accepted": d.mean_accepted if d else None,
                "position_rates": list(d.position_rates()) if d else None}


def draft_lines(d: p.DraftStats | None) -> list[str]:
    """A draft's statistics in a few lines (also under a pane)."""
    if d is None:
        return ["no draft statistics (the speculating side did not finish)"]
    if not d.n_drafted:
        return [f"{d.kind}: nothing drafted in {d.n_plain} steps, draft {d.draft_ms:.0f} ms, "
                f"verify {d.verify_ms:.0f} ms"]
    rates = " ".join("-" if r is None else f"{r:.0%}" for r in d.position_rates())
    plain = f"{d.n_plain} step{'s' if d.n_plain != 1 else ''} without a draft"
    return [f"accepted {d.n_accepted}/{d.n_drafted} drafted tokens ({d.acceptance:.0%}), "
            f"{d.mean_accepted:.2f} per round of {d.n_rounds} ({plain})",
            f"acceptance by draft position: {rates}",
            f"draft {d.draft_ms:.0f} ms, verify {d.verify_ms:.0f} ms"]


Progress = Callable[[str, int, int], None]  # message, repetitions done, repetitions in all


class SpeculationAB(SessionJob):
    """N fair repetitions of one model plain and speculating, in a session of its own."""

    def __init__(self, path: str, settings: RunSettings, prompt: str, runs: int = AB_RUNS, threads: int = 0,
                 labels: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.path, self.prompt, self.runs = str(path), prompt, runs
        self.threads = threads or default_threads()
        self.sides = plain_and_speculating(settings)
        kind = self.sides[1].load.speculation
        self.labels = labels or ("plain", "ngram" if kind == "ngram" else "draft")

    def run(self, on_progress: Progress | None = None,
            on_event: Callable[[int, Any], None] | None = None) -> ABResult:
        """Blocking; ABFailed with one sentence when a side fails to load or gives nothing to measure."""
        return self.run_many([self.prompt], on_progress, on_event)[0]

    def run_many(self, prompts: Sequence[str], on_progress: Progress | None = None,
                 on_event: Callable[[int, Any], None] | None = None) -> list[ABResult]:
        """Every prompt's A/B with the two sides loaded once (a suite by kind); a stop ends it
        early with what was measured."""
        say = on_progress or (lambda *_: None)
        results = [ABResult(self.labels) for _ in prompts]
        if self.sides[1].load.speculation == "off":
            raise ABFailed("An A/B of speculation needs a draft model (--draft FILE) or n-gram lookup (--spec ngram).")
        with self.own_session(self.labels) as session:
            errors = session.load([self.path, self.path], [s.load for s in self.sides])
            for label, err in zip(self.labels, errors):
                if err is not None:
                    raise ABFailed(f"[{label}] {err.message}")
            threads = f"{self.threads} thread{'s' if self.threads != 1 else ''}"
            total = self.runs * len(prompts)
            say(f"{self.runs} fair runs of up to {self.sides[0].sampling.max_tokens} tokens per prompt, {threads} "
                "each, after one warm-up", 0, total)
            if not self.stopped and prompts:
                warm = {i: command_for(s, (), prompts[0], max_tokens=WARMUP_TOKENS) for i, s in enumerate(self.sides)}
                session.run(warm, mode=FAIR, threads_total=self.threads)
            for k, prompt in enumerate(prompts):
                commands = {i: command_for(s, (), prompt) for i, s in enumerate(self.sides)}
                for rep in range(self.runs):
                    if self.stopped:
                        break
                    result = session.run(commands, mode=FAIR, threads_total=self.threads, on_event=on_event)
                    if self.stopped or result.user_stopped:
                        break
                    self._record(results[k], result)
                    ms = results[k].per_run_ms[-1]
                    say(f"run {k * self.runs + rep + 1}/{total}: {self.labels[0]} {ms[0]:.1f} ms/token, "
                        f"{self.labels[1]} {ms[1]:.1f} ms/token", k * self.runs + rep + 1, total)
        for r in results:
            r.stopped = self.stopped
        return results

    def _record(self, out: ABResult, result: CompareResult) -> None:
        errs = [r.error for r in result.runs if r.error]
        if errs:
            raise ABFailed(errs[0].message)
        stats = [r.stats() for r in result.runs]
        if any(not s.ms_per_token for s in stats):
            raise ABFailed("A side gave no answer of two tokens or more, so nothing can be measured; "
                           "ask for a longer answer.")
        out.per_run_ms.append((float(stats[0].ms_per_token or 0.0), float(stats[1].ms_per_token or 0.0)))
        out.tokens.append((int(stats[0].n_tokens or 0), int(stats[1].n_tokens or 0)))
        fin = result.runs[1].finished
        if fin is not None and fin.draft is not None:
            out.drafts.append(fin.draft)
        if said := busy_sentence(list(self.labels), stats):
            out.busy.append(said)
        out.last = result


def kind_rows(by_kind: dict[str, list[ABResult]]) -> list[dict[str, Any]]:
    """Per kind of prompt (code, prose, ...): its prompts' runs pooled, acceptance and speed-up."""
    rows = []
    for kind, results in by_kind.items():
        speedups = [x for r in results for x in r.speedups()]
        m, lo, hi = positive_interval(speedups) if speedups else (None, None, None)
        d = merged([x for r in results for x in r.drafts])
        rows.append({"kind": kind, "prompts": len(results), "runs": len(speedups), "speedup": m,
                     "speedup_low": lo, "speedup_high": hi, "acceptance": d.acceptance if d else None,
                     "mean_accepted": d.mean_accepted if d else None,
                     "plain_ms": positive_interval([r0 for r in results for r0, _ in r.per_run_ms])[0]
                     if speedups else None,
                     "spec_ms": positive_interval([r1 for r in results for _, r1 in r.per_run_ms])[0]
                     if speedups else None})
    return rows


def kind_table(rows: list[dict[str, Any]]) -> str:
    """The per-kind rows as a text table: where the draft helps and where it hurts."""
    head = ("kind", "prompts", "runs", "accepted", "per round", "plain ms/t", "spec ms/t", "speed-up [95%]")

    def cell(v: float | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    body = [(r["kind"], str(r["prompts"]), str(r["runs"]), cell(r["acceptance"], ".0%"),
             cell(r["mean_accepted"], ".2f"), cell(r["plain_ms"], ".2f"), cell(r["spec_ms"], ".2f"),
             "-" if r["speedup"] is None else (f"{r['speedup']:.2f}x" + (
                 f" [{r['speedup_low']:.2f}, {r['speedup_high']:.2f}]" if r["speedup_low"] is not None else
                 " (one run)"))) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in (head, *body))


__all__ = ["AB_RUNS", "ABFailed", "ABResult", "SpeculationAB", "draft_lines", "kind_rows", "kind_table", "merged",
           "plain_and_speculating"]
