"""`gemmacompare claim "A=45ms B=110ms" A.gguf B.gguf`: does a posted speed ratio hold here?

The claim's figures are per model, in the order the models are named, as ms
per token (`45ms`) or tokens per second (`22t/s`). Absolute figures differ
twofold between machines; the ratio between models is what travels, so the
verdict is whether each claimed ratio (model over the first) lies inside the
95% interval of the ratios measured in N fair repetitions here.

Each repetition generates up to --max-tokens tokens; a model that ends at its
end-of-text token earlier is still measured per token (ms/token is the mean
gap between its tokens), and the token counts are printed beside the figures.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from gemmacompare.cli.compare import labels_for
from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.cli.run_files import mean_interval
from gemmacompare.engine import protocol as p
from gemmacompare.engine.modes import FAIR, default_threads
from gemmacompare.engine.run_settings import PromptOptions, RunSettings
from gemmacompare.engine.session import CompareResult, CompareSession
from gemmacompare.state.untrusted import terminal_safe

_PART = re.compile(r"^\s*([^=\s]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*(ms(?:/tok(?:en)?)?|t/s|tok/s|tps)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ClaimedFigure:
    name: str
    ms_per_token: float


def parse_claim(text: str) -> list[ClaimedFigure] | str:
    """The claimed figures, or one sentence saying what is wrong with the text."""
    parts = [x for x in re.split(r"[,;\s]+(?=[^=\s]+\s*=)", text.strip()) if x.strip()]
    out = []
    for part in parts:
        m = _PART.match(part)
        if m is None:
            return (f"cannot read {terminal_safe(part, 60)!s} as a claim; write NAME=45ms or NAME=22t/s per model, "
                    'e.g. "A=45ms B=110ms".')
        value = float(m.group(2))
        if value <= 0:
            return f"the claimed figure for {terminal_safe(m.group(1), 40)} must be above zero."
        unit = m.group(3).lower()
        out.append(ClaimedFigure(m.group(1), value if unit.startswith("ms") else 1000.0 / value))
    if len(out) < 2:
        return 'a claim needs a figure for at least two models, e.g. "A=45ms B=110ms".'
    return out


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


def verdicts(claim: list[ClaimedFigure], per_run_ms: list[list[float]]) -> list[RatioVerdict]:
    """Each model's claimed ratio over the first model, against the ratios measured per run."""
    out = []
    for k in range(1, len(claim)):
        ratios = [run[k] / run[0] for run in per_run_ms if run[0] > 0]
        m, lo, hi = mean_interval(ratios)
        out.append(RatioVerdict(claim[k].name, claim[0].name, claim[k].ms_per_token / claim[0].ms_per_token,
                                m, None if lo is None else max(0.0, lo), hi))  # a ratio of times is never negative
    return out


def verdict_sentence(claim: list[ClaimedFigure], per_run_ms: list[list[float]], tokens: list[list[int]]) -> str:
    vs = verdicts(claim, per_run_ms)
    n = len(per_run_ms)
    means = [mean_interval([run[k] for run in per_run_ms])[0] for k in range(len(claim))]
    figures = ", ".join(f"{terminal_safe(c.name, 40)} {m:.1f} ms/token (claimed {c.ms_per_token:.1f})"
                        for c, m in zip(claim, means))
    toks = ", ".join(f"{terminal_safe(c.name, 40)} {min(t[k] for t in tokens)}-{max(t[k] for t in tokens)}"
                     for k, c in enumerate(claim))
    if any(v.holds is None for v in vs):
        return (f"One run gives no interval, so the claim is not judged: measured {figures}; "
                "use --runs 3 or more.")
    parts = []
    for v in vs:
        where = "inside" if v.holds else "outside"
        parts.append(f"{terminal_safe(v.name, 40)}/{terminal_safe(v.over, 40)} claimed {v.claimed:.2f} lies {where} "
                     f"the measured 95% interval {v.low:.2f}-{v.high:.2f} (mean {v.mean:.2f})")
    head = "The claim holds on this machine" if all(v.holds for v in vs) else "The claim does not hold on this machine"
    return f"{head}: {'; '.join(parts)}; measured {figures}, {n} fair runs, tokens per run {toks}."


def cmd_claim(args: argparse.Namespace) -> int:
    claim = parse_claim(args.claim)
    if isinstance(claim, str):
        print(f"error: {claim}", file=sys.stderr)
        return EXIT_USAGE
    if len(claim) != len(args.models):
        print(f"error: the claim names {len(claim)} models but {len(args.models)} model files were given; "
              "give one per claimed figure, in the same order.", file=sys.stderr)
        return EXIT_USAGE
    from gemmacompare.cli.servers import is_server_ref, remote_settings, resolve_with_servers  # noqa: PLC0415

    try:
        paths = [str(x) for x in resolve_with_servers(list(args.models), remote_settings(args))]
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    if any(is_server_ref(x) for x in paths):
        print("error: a claim is checked on local model files; a server's speed is not this machine's.",
              file=sys.stderr)
        return EXIT_USAGE
    labels = labels_for(len(paths))
    settings = RunSettings(load=p.LoadSettings(n_ctx=args.ctx),
                           sampling=p.SamplingSettings(max_tokens=args.max_tokens, temperature=0.0),
                           prompt=PromptOptions())
    threads = args.threads or default_threads()
    per_run_ms: list[list[float]] = []
    tokens: list[list[int]] = []
    last: CompareResult | None = None
    with CompareSession(labels) as session:
        errors = session.load(paths, settings.load)
        for i, err in enumerate(errors):
            if err is not None:
                print(f"error: [{labels[i]}] {err.message}", file=sys.stderr)
                return EXIT_MODEL_FAILED
        commands = {i: settings.command((), args.prompt) for i in range(len(paths))}
        warm = {i: settings.command((), args.prompt, max_tokens=4) for i in range(len(paths))}
        print(f"# {args.runs} fair runs of up to {args.max_tokens} tokens, {threads} threads each, after one warm-up",
              file=sys.stderr)
        session.run(warm, mode=FAIR, threads_total=threads)
        for rep in range(args.runs):
            try:
                result = session.run(commands, mode=FAIR, threads_total=threads)
            except KeyboardInterrupt:
                session.stop()
                raise
            stats = [r.stats() for r in result.runs]
            if any(r.error for r in result.runs) or any(not s.ms_per_token for s in stats):
                print("error: a model gave no answer of two tokens or more; nothing can be measured "
                      "(see `gemmacompare compare` with the same models).", file=sys.stderr)
                return EXIT_MODEL_FAILED
            per_run_ms.append([float(s.ms_per_token or 0.0) for s in stats])
            tokens.append([int(s.n_tokens or 0) for s in stats])
            print(f"# run {rep + 1}/{args.runs}: " + ", ".join(f"{terminal_safe(c.name, 40)} {ms:.1f} ms/token"
                                                              for c, ms in zip(claim, per_run_ms[-1])), file=sys.stderr)
            last = result
    sentence = verdict_sentence(claim, per_run_ms, tokens)
    print(sentence)
    if args.save_run and last is not None:
        from gemmacompare.engine.run_file import compare_run_dict, write_run_file  # noqa: PLC0415

        doc = compare_run_dict(last, labels, paths, [settings] * len(paths), args.prompt,
                               refs=[str(x) for x in args.models])
        figures = [{"name": c.name, "ms_per_token": c.ms_per_token} for c in claim]
        doc["claim"] = {"text": args.claim, "figures": figures, "runs_ms_per_token": per_run_ms,
                        "runs_tokens": tokens, "verdict": sentence}
        write_run_file(Path(args.save_run), doc)
        print(f"# wrote {args.save_run} (its last run; replay it with: gemmacompare replay {args.save_run})",
              file=sys.stderr)
    return EXIT_OK  # a claim that does not hold is an answer, not a failure


__all__ = ["ClaimedFigure", "RatioVerdict", "cmd_claim", "parse_claim", "verdict_sentence", "verdicts"]
