"""What speculative decoding buys on this machine: ours beside llama.cpp's llama-server.

For each prompt (a repeat-the-given-text prompt, where n-gram lookup should pay, and an
open question, where it should not) and the demo model (SmolLM2 by default):

- ours: engine/speculation_ab.py, as `compare MODEL --spec ngram --ab` runs it: the model
  plain and speculating in fair mode (one after the other, all threads), --runs times after
  a warm-up; ms/token each, the speed-up (plain over speculating ms/token, per run) with
  its 95% interval on the log scale, acceptance and draft tokens accepted per round;
- llama-server: the same file started twice on 127.0.0.1, plain and with the same
  speculation (`--spec-type ngram-simple --spec-ngram-simple-size-n N
  --spec-ngram-simple-size-m M`, or `--spec-draft-model D --spec-draft-n-max M
  --spec-draft-n-min m`), the same threads and context, greedy, the same max tokens; each
  run asks the plain server then the speculating one; its own `timings`
  (predicted_per_token_ms, draft_n, draft_n_accepted) give the figures.

llama.cpp's ngram-simple drafts only a continuation at least N tokens long and scans
its history backwards; ours drafts any continuation of at least --draft-min tokens from an
index of the n-grams. Acceptance is counted the same way: drafted tokens the model agreed with.

    .venv/bin/python benchmarks/speculative.py                          # n-gram lookup, SmolLM2, 5 runs
    .venv/bin/python benchmarks/speculative.py --runs 2 --tokens 24     # a quick try
    .venv/bin/python benchmarks/speculative.py --draft DRAFT.gguf --model TARGET.gguf

Figures on a shared machine mean little: run it on a quiet one. Prints one table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gemmacompare.engine.modes import default_threads  # noqa: E402
from gemmacompare.engine.report.intervals import format_positive  # noqa: E402
from gemmacompare.engine.speculation_ab import SpeculationAB  # noqa: E402
from gemmacompare.models.demo import smollm2_path  # noqa: E402
from gemmacompare.state.settings_table import RunSettings, with_values  # noqa: E402
from tests.fake_servers import free_port, stop_process, wait_until_serving  # noqa: E402

PROMPTS = {
    "repeat": ("Repeat this paragraph exactly, word for word:\n\nThe lighthouse stood on a rock at the edge of the "
               "bay. Every night its keeper climbed the spiral stairs, trimmed the wick and watched the lamp turn "
               "until morning. Ships passed in the dark and never knew his name, but every one of them came home."),
    "open question": "Why do people keep journals? Give a few reasons.",
}
TOOLS = Path.home() / ".cache" / "gemmacompare" / "llama-tools"


def find_llama_server(given: str | None) -> Path | None:
    if given:
        return Path(given)
    found = sorted(TOOLS.glob("*/bin/llama-server"))
    return found[-1] if found else None


def spec_flags(args: argparse.Namespace, draft_max: int) -> list[str]:
    if args.draft:
        return ["--spec-draft-model", args.draft, "--spec-draft-n-max", str(draft_max),
                "--spec-draft-n-min", str(args.draft_min)]
    return ["--spec-type", "ngram-simple", "--spec-ngram-simple-size-n", str(args.ngram_n),
            "--spec-ngram-simple-size-m", str(draft_max)]


def start_server(binary: Path, model: str, args: argparse.Namespace, extra: list[str],
                 log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "-m", model, "--host", "127.0.0.1", "--port", str(port), "-t", str(args.threads),
         "-c", str(args.ctx), "-np", "1", "--temp", "0", "--swa-full", *extra],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, f"{base}/health", log, binary.name)
    return proc, base


def ask(base: str, prompt: str, tokens: int) -> dict[str, Any]:
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": tokens, "temperature": 0,
            "cache_prompt": False}  # every run reads its prompt, as ours do (a cold start each time)
    r = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=600)
    r.raise_for_status()
    timings = r.json().get("timings") or {}
    return timings if isinstance(timings, dict) else {}


def server_figures(binary: Path, model: str, args: argparse.Namespace, draft_max: int,
                   folder: Path) -> dict[str, dict[str, Any]]:
    plain, base_p = start_server(binary, model, args, [], folder / "plain.log")
    try:
        spec, base_s = start_server(binary, model, args, spec_flags(args, draft_max), folder / "spec.log")
    except Exception:
        stop_process(plain)
        raise
    out: dict[str, dict[str, Any]] = {}
    try:
        for name, prompt in PROMPTS.items():
            ask(base_p, prompt, 4), ask(base_s, prompt, 4)  # warm-up, as ours
            ms: list[tuple[float, float]] = []
            drafted = accepted = 0
            for _ in range(args.runs):
                a, b = ask(base_p, prompt, args.tokens), ask(base_s, prompt, args.tokens)
                if a.get("predicted_per_token_ms") and b.get("predicted_per_token_ms"):
                    ms.append((float(a["predicted_per_token_ms"]), float(b["predicted_per_token_ms"])))
                drafted += int(b.get("draft_n") or 0)
                accepted += int(b.get("draft_n_accepted") or 0)
            out[name] = {"ms": ms, "drafted": drafted, "accepted": accepted}
    finally:
        stop_process(plain)
        stop_process(spec)
    return out


def ours(model: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    # A full-size sliding-window cache (Gemma), which speculation needs; the servers get --swa-full too.
    values: dict[str, Any] = {"max_tokens": args.tokens, "temperature": 0.0, "n_ctx": args.ctx, "swa_full": True,
                              "draft_max": args.draft_max, "draft_min": args.draft_min, "ngram_n": args.ngram_n}
    values.update({"speculation": "draft", "draft_model": args.draft} if args.draft else {"speculation": "ngram"})
    settings = with_values(RunSettings(), values)
    ab = SpeculationAB(model, settings, "", runs=args.runs, threads=args.threads)
    results = ab.run_many(list(PROMPTS.values()), lambda msg, *_: print(f"# {msg}", file=sys.stderr))
    out = {}
    for name, r in zip(PROMPTS, results):
        d = r.draft
        out[name] = {"ms": r.per_run_ms, "drafted": d.n_drafted if d else 0, "accepted": d.n_accepted if d else 0,
                     "per_round": d.mean_accepted if d else None}
    return out


def row(who: str, prompt: str, f: dict[str, Any]) -> list[str]:
    ms = f["ms"]
    ratios = [a / b for a, b in ms if a > 0 and b > 0]
    acc = f"{f['accepted']}/{f['drafted']} ({f['accepted'] / f['drafted']:.0%})" if f["drafted"] else "none drafted"
    return [who, prompt, f"{statistics.median([a for a, _ in ms]):.2f}" if ms else "-",
            f"{statistics.median([b for _, b in ms]):.2f}" if ms else "-",
            format_positive(ratios, 2, "x") if ratios else "-", acc]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="target GGUF (default: the SmolLM2 demo)")
    ap.add_argument("--draft", help="a draft model GGUF (default: none, n-gram lookup)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--ngram-n", type=int, default=12, help="n-gram length (llama.cpp's default 12)")
    ap.add_argument("--draft-max", type=int, default=0, help="0: llama.cpp's default for the kind (3 / 48)")
    ap.add_argument("--draft-min", type=int, default=0)
    ap.add_argument("--llama-server", help="llama-server binary (default: the newest under ~/.cache/gemmacompare)")
    ap.add_argument("--no-server", action="store_true", help="ours only")
    args = ap.parse_args()
    model = args.model or str(smollm2_path())
    draft_max = args.draft_max or replace(RunSettings().load, speculation="draft" if args.draft else "ngram",
                                          draft_max=0).draft_length()
    kind = f"draft model {Path(args.draft).name}" if args.draft else f"n-gram lookup (n={args.ngram_n})"
    print(f"# {Path(model).name}: {kind}, draft at most {draft_max}, at least {args.draft_min}; "
          f"{args.runs} runs of {args.tokens} tokens, threads {args.threads}, greedy")
    rows = [row("gemmacompare", name, f) for name, f in ours(model, args).items()]
    binary = None if args.no_server else find_llama_server(args.llama_server)
    if binary is not None and binary.exists():
        with tempfile.TemporaryDirectory() as folder:
            rows += [row("llama-server", name, f)
                     for name, f in server_figures(binary, model, args, draft_max, Path(folder)).items()]
    elif not args.no_server:
        print("# no llama-server found (scripts/build_llama_tools.sh builds it); ours only", file=sys.stderr)
    head = ["engine", "prompt", "plain ms/t", "spec ms/t", "speed-up [95%]", "accepted"]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    for line in (head, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    print("# ms/t: medians over the runs; speed-up: plain over speculating ms/token per run, geometric mean "
          "and 95% interval on the log scale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
