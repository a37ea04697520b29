"""Checking a claim ("A 45 ms/token, B 110"): does the claimed ratio hold on this machine?

The one implementation behind `gemmacompare claim` and the window's *Check a
claim…*. The claim's figures are per model, as ms per token or tokens per
second. Absolute figures differ twofold between machines; the ratio between
models is what travels, so the verdict is whether each claimed ratio (model
over the first) lies inside the 95% interval of the ratios measured in N fair
repetitions here, after one short warm-up.

Each repetition generates up to `max_tokens` tokens; a model that ends at its
end-of-text token earlier is still measured per token (ms/token is the mean
gap between its tokens), and the token counts are given beside the figures.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from gemmacompare.engine.modes import FAIR, default_threads
from gemmacompare.engine.report.intervals import mean_interval, positive_interval
from gemmacompare.engine.report.speed_summary import busy_sentence
from gemmacompare.engine.run_file import compare_run_dict
from gemmacompare.engine.run_settings import RunSettings, command_for
from gemmacompare.engine.session import CompareResult, CompareSession, SessionJob
from gemmacompare.state.defaults import CLAIM_CTX, CLAIM_MAX_TOKENS, CLAIM_PROMPT
from gemmacompare.state.settings_table import with_values
from gemmacompare.state.untrusted import terminal_safe

# One model's figure: NAME=45ms, NAME = 22 t/s. Matched against one piece of bounded length at a time
# (no pattern runs over the whole text), so reading a claim is linear in its length.
_PART = re.compile(r"([^=\s,;]+)=([0-9]{1,12}(?:\.[0-9]{1,12})?)(ms(?:/tok(?:en)?)?|t/s|tok/s|tps)", re.IGNORECASE)
_UNIT = re.compile(r"(ms(?:/tok(?:en)?)?|t/s|tok/s|tps)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[,;\s]+")

MS_PER_TOKEN = "ms/token"
TOKENS_PER_S = "t/s"
MAX_CLAIM_CHARS = 1000  # four models' figures with long names fit in a few hundred
# A claimed speed outside these is no model's on any machine (0.01 ms/token is 100,000 t/s; 1,000,000 ms
# is a quarter of an hour per token): a typo or a trick, refused before anything runs.
MIN_MS_PER_TOKEN = 0.01
MAX_MS_PER_TOKEN = 1_000_000.0


@dataclass(frozen=True)
class ClaimedFigure:
    name: str
    ms_per_token: float


def claimed_figure(name: str, value: float, unit: str) -> ClaimedFigure | str:
    """One model's claimed figure (`unit` ms/token or t/s), or one sentence saying what is wrong with it."""
    who = terminal_safe(name, 40)
    if not math.isfinite(value):
        return f"the claimed figure for {who} must be a number, not infinite or 'nan'."
    if not value > 0:
        return f"the claimed figure for {who} must be above zero."
    ms = value if unit.lower().startswith("ms") else 1000.0 / value
    if not MIN_MS_PER_TOKEN <= ms <= MAX_MS_PER_TOKEN:
        return (f"the claimed figure for {who} is no model's speed (it is {ms:.3g} ms per token); give one between "
                f"{MIN_MS_PER_TOKEN:g} and {MAX_MS_PER_TOKEN:,.0f} ms per token.")
    return ClaimedFigure(name, ms)


def parse_claim(text: str) -> list[ClaimedFigure] | str:
    """The claimed figures, or one sentence saying what is wrong with the text."""
    if len(text) > MAX_CLAIM_CHARS:
        return (f"a claim of {len(text):,} characters is not one; write NAME=45ms or NAME=22t/s per model, "
                'e.g. "A=45ms B=110ms".')
    # "A = 45 ms" -> "A=45ms": the spaces around '=' and before a unit go, then each piece is one figure.
    pieces: list[str] = []
    for word in _SEPARATORS.split(text.strip()):
        if not word:
            continue
        if pieces and (word.startswith("=") or pieces[-1].endswith("=") or _UNIT.fullmatch(word)):
            pieces[-1] += word
        else:
            pieces.append(word)
    out = []
    for part in pieces:
        m = _PART.fullmatch(part)
        if m is None:
            return (f"cannot read {terminal_safe(part, 60)!s} as a claim; write NAME=45ms or NAME=22t/s per model, "
                    'e.g. "A=45ms B=110ms".')
        figure = claimed_figure(m.group(1), float(m.group(2)), m.group(3))
        if isinstance(figure, str):
            return figure
        out.append(figure)
    if len(out) < 2:
        return 'a claim needs a figure for at least two models, e.g. "A=45ms B=110ms".'
    return out


def claim_text(claim: Sequence[ClaimedFigure]) -> str:
    """The claim as `gemmacompare claim` reads it: "A=45ms B=110ms"."""
    return " ".join(f"{c.name}={c.ms_per_token:g}ms" for c in claim)


@dataclass(frozen=True)
class RatioVerdict:
    name: str
    over: str
    claimed: float
    mean: float
    low: float | None
    high: float | None

    @property
    def holds(self) -> bool | None:
        if self.low is None or self.high is None:
            return None
        return self.low <= self.claimed <= self.high


def verdicts(claim: Sequence[ClaimedFigure], per_run_ms: list[list[float]]) -> list[RatioVerdict]:
    """Each model's claimed ratio over the first model, against the ratios measured per run."""
    out = []
    for k in range(1, len(claim)):
        ratios = [run[k] / run[0] for run in per_run_ms if run[0] > 0]
        # A ratio's interval on the log scale: above zero, and the same read either way up.
        m, lo, hi = positive_interval(ratios)
        out.append(RatioVerdict(claim[k].name, claim[0].name, claim[k].ms_per_token / claim[0].ms_per_token,
                                m, lo, hi))
    return out


def verdict_sentence(claim: Sequence[ClaimedFigure], per_run_ms: list[list[float]], tokens: list[list[int]],
                     busy: Sequence[str] = ()) -> str:
    """The verdict; `busy`: per run flagged busy, what busy_sentence said (a verdict on them says so)."""
    vs = verdicts(claim, per_run_ms)
    n = len(per_run_ms)
    means = [mean_interval([run[k] for run in per_run_ms])[0] for k in range(len(claim))]
    figures = ", ".join(f"{terminal_safe(c.name, 40)} {m:.1f} ms/token (claimed {c.ms_per_token:.1f})"
                        for c, m in zip(claim, means))
    toks = ", ".join(f"{terminal_safe(c.name, 40)} {min(t[k] for t in tokens)}-{max(t[k] for t in tokens)}"
                     for k, c in enumerate(claim))
    if any(v.holds is None for v in vs):
        return (f"One run gives no interval, so the claim is not judged: measured {figures}; "
                "use 3 runs or more.")
    parts = []
    for v in vs:
        where = "inside" if v.holds else "outside"
        parts.append(f"{terminal_safe(v.name, 40)}/{terminal_safe(v.over, 40)} claimed {_ratio(v.claimed)} lies "
                     f"{where} the measured 95% interval {_ratio(v.low)}-{_ratio(v.high)} (mean {_ratio(v.mean)})")
    head = "The claim holds on this machine" if all(v.holds for v in vs) else "The claim does not hold on this machine"
    if busy:  # other programs took CPU during the runs: the verdict stands on unreliable figures, and says so
        what = busy[0].removesuffix("; figures are unreliable")
        head += f", but the runs are unreliable ({what}, in {len(busy)} of {n} runs; check again on a quiet machine)"
    return f"{head}: {'; '.join(parts)}; measured {figures}, {n} fair runs, tokens per run {toks}."


def _ratio(x: float | None) -> str:
    """2.44, or 0.00031 for a ratio two decimals would show as 0.00."""
    if x is None:
        return "-"
    return f"{x:.2f}" if x >= 0.01 or x == 0 else f"{x:.2g}"


# --- measuring ------------------------------------------------------------------------

class ClaimFailed(Exception):
    """A model failed to load or gave nothing to measure; `message` is one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class ClaimResult:
    claim: list[ClaimedFigure]
    per_run_ms: list[list[float]] = field(default_factory=list)  # [repetition][model]
    tokens: list[list[int]] = field(default_factory=list)
    last: CompareResult | None = None  # the last repetition, for the run file
    stopped: bool = False
    busy: list[str] = field(default_factory=list)  # per run that other programs disturbed, what they took

    @property
    def sentence(self) -> str:
        if not self.per_run_ms:
            return "Stopped before a run finished: nothing was measured."
        return verdict_sentence(self.claim, self.per_run_ms, self.tokens, self.busy)


Progress = Callable[[str, int, int], None]  # message, repetitions done, repetitions in all


class ClaimCheck(SessionJob):
    """N fair repetitions of fixed length after one warm-up, in a session of its own; `stop()` from any thread."""

    def __init__(self, claim: Sequence[ClaimedFigure], paths: Sequence[str], runs: int,
                 max_tokens: int = CLAIM_MAX_TOKENS, prompt: str = CLAIM_PROMPT, ctx: int = CLAIM_CTX,
                 threads: int = 0, labels: Sequence[str] | None = None,
                 settings: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if len(claim) != len(paths):
            raise ValueError("one claimed figure per model")
        self.claim = list(claim)
        self.paths = [str(x) for x in paths]
        self.runs = runs
        self.prompt = prompt
        self.threads = threads or default_threads()
        self.labels = list(labels or [chr(ord("A") + k) for k in range(len(paths))])
        # Greedy runs of a fixed length; `settings` (by the settings table's names) may set the others.
        self.settings = with_values(RunSettings(), {**(settings or {}), "n_ctx": ctx, "max_tokens": max_tokens,
                                                    "temperature": 0.0})

    def run(self, on_progress: Progress | None = None) -> ClaimResult:
        """Blocking; ClaimFailed with one sentence when a model fails to load or gives nothing to measure."""
        out = ClaimResult(self.claim)
        with self.own_session(self.labels) as session:
            self._rounds(session, out, on_progress or (lambda *_: None))
        out.stopped = self.stopped
        return out

    def _rounds(self, session: CompareSession, out: ClaimResult, say: Progress) -> None:
        errors = session.load(self.paths, self.settings.load)
        for i, err in enumerate(errors):
            if err is not None:
                raise ClaimFailed(f"[{self.labels[i]}] {err.message}")
        commands = {i: command_for(self.settings, (), self.prompt) for i in range(len(self.paths))}
        warm = {i: command_for(self.settings, (), self.prompt, max_tokens=4) for i in range(len(self.paths))}
        say(f"{self.runs} fair runs of up to {self.settings.sampling.max_tokens} tokens, {self.threads} threads "
            "each, after one warm-up", 0, self.runs)
        if self.stopped:
            return
        session.run(warm, mode=FAIR, threads_total=self.threads)
        for rep in range(self.runs):
            if self.stopped:
                return
            result = session.run(commands, mode=FAIR, threads_total=self.threads)
            if self.stopped or result.user_stopped:
                return
            stats = [r.stats() for r in result.runs]
            if any(r.error for r in result.runs) or any(not s.ms_per_token for s in stats):
                raise ClaimFailed("A model gave no answer of two tokens or more, so nothing can be measured; "
                                  "compare the same models to see what they answer.")
            out.per_run_ms.append([float(s.ms_per_token or 0.0) for s in stats])
            if said := busy_sentence(self.labels, stats):
                out.busy.append(said)
            out.tokens.append([int(s.n_tokens or 0) for s in stats])
            out.last = result
            say(f"run {rep + 1}/{self.runs}: " + ", ".join(f"{terminal_safe(c.name, 40)} {ms:.1f} ms/token"
                                                          for c, ms in zip(self.claim, out.per_run_ms[-1])),
                rep + 1, self.runs)


def claim_run_dict(check: ClaimCheck, result: ClaimResult, text: str, refs: Sequence[str] | None = None,
                   names: Sequence[str] | None = None) -> dict[str, Any]:
    """The run file's JSON for a checked claim: its last repetition, every run's figures and the verdict."""
    if result.last is None:
        raise ValueError("no repetition finished: nothing to save")
    doc = compare_run_dict(result.last, check.labels, check.paths, [check.settings] * len(check.paths),
                           check.prompt, refs=list(refs) if refs else None, names=list(names) if names else None)
    figures = [{"name": c.name, "ms_per_token": c.ms_per_token} for c in result.claim]
    doc["claim"] = {"text": text, "figures": figures, "runs_ms_per_token": result.per_run_ms,
                    "runs_tokens": result.tokens, "verdict": result.sentence}
    return doc


__all__ = ["MS_PER_TOKEN", "TOKENS_PER_S", "ClaimCheck", "ClaimFailed", "ClaimResult", "ClaimedFigure",
           "RatioVerdict", "claim_run_dict", "claim_text", "claimed_figure", "parse_claim", "verdict_sentence",
           "verdicts"]
