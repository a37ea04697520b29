"""The seed claim on this machine: synthetic Gemma-4-E2B vs Qwen3.5-4B, speed and memory.

The claim: "Gemma-4-E2B-IT answers at ~45 ms/token, Qwen3.5-4B at ~110", i.e. Qwen
takes 110/45 = 2.4x as long per token, and Gemma is the more memory-efficient. Speed
and memory depend on shapes, not weight values, so files with the published shapes
and random weights (models/synthetic.py), quantised by llama.cpp, stand in for them.
The claim's table has a third row, "Llama-4-3B ~95 ms/token"; Meta has no such model,
and `--preset-c llama32-3b` adds the nearest real one, Llama-3.2-3B (a plain transformer,
KV cache on every layer), as model C to every step (off by default).

Steps, each printed as it ends (a run cut short still says what it measured):
1. the two files, built once into the app's cache (time and disk used printed);
2. fair mode (one model after the other, each with every thread) through the
   compare session: `--tokens` tokens after raw prompts of each `--prompts` length,
   end-of-generation ignored, `--reps` rounds; ms/token per model with a 95% interval,
   and the per-round ratio B/A beside the claimed 2.4;
3. llama.cpp's own llama-bench (tg and pp) on the same files, threads and build;
4. memory: llama.cpp's own account when loaded at each `--ctx`, beside the estimate
   from the GGUF facts (and at the model's maximum context, estimate only);
5. with `--turns N`: a conversation of N user turns of about `--turn-tokens` tokens each,
   replies of `--turn-reply` tokens (EOS ignored, thinking off, greedy), played with the
   cache kept and cold through the compare session: per turn prompt, reused, prefilled and
   time to first token, and the conversation's total time; then the same conversation on
   llama.cpp's own llama-server (its defaults, cache_prompt on) for each model, its
   `timings.cache_n` and prompt time beside ours (skipped where llama-server is not built).

    nice -n 10 .venv/bin/python benchmarks/seed_claim.py              # full size (tens of minutes)
    .venv/bin/python benchmarks/seed_claim.py --preset-a gemma4-tiny --preset-b qwen35-tiny --reps 2
    nice -n 10 .venv/bin/python benchmarks/seed_claim.py --preset-c llama32-3b   # the seed's whole table
    nice -n 10 .venv/bin/python benchmarks/seed_claim.py --turns 5 --only-turns   # the multi-turn part alone
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.conversation import Conversation, play_conversation  # noqa: E402
from gemmacompare.engine.local.model_worker import ModelWorker  # noqa: E402
from gemmacompare.engine.machine import cpu_model  # noqa: E402
from gemmacompare.engine.modes import FAIR, default_threads  # noqa: E402
from gemmacompare.engine.placement import MemoryAccount  # noqa: E402
from gemmacompare.engine.report.conversation_table import conversation_dict, total_rows, turn_rows  # noqa: E402
from gemmacompare.engine.report.intervals import TOO_FEW, positive_interval  # noqa: E402
from gemmacompare.engine.report.stats_table import text_table  # noqa: E402
from gemmacompare.engine.run_settings import RunSettings  # noqa: E402
from gemmacompare.engine.session import CompareSession  # noqa: E402
from gemmacompare.models.gguf_file import ModelFacts, human_bytes, read_model_facts  # noqa: E402
from gemmacompare.models.synthetic import build  # noqa: E402
from gemmacompare.state.paths import app_dirs  # noqa: E402
from gemmacompare.state.settings_table import with_values  # noqa: E402

log = logging.getLogger(__name__)

# The news item's ms/token: Gemma-4-E2B, Qwen3.5-4B and the invented "Llama-4-3B" (C, optional).
CLAIM_MS = {"A": 45.0, "B": 110.0, "C": 95.0}
CLAIMED_RATIO = CLAIM_MS["B"] / CLAIM_MS["A"]
_FA = {-1: "auto", 0: "off", 1: "on"}  # llama-bench's JSON gives llama_flash_attn_type as a number
FILLER = ("the river runs past old stone walls where children play and merchants call their prices "
          "while clouds drift over hills and the bell of a distant tower marks the hour ").split()


# --- statistics ------------------------------------------------------------------------

def interval95(values: list[float]) -> tuple[float, float, float]:
    """(median, low, high): the 95% interval of the (geometric) mean on the log scale, which keeps a
    speed's or a ratio's interval above zero (nan, nan with fewer than two values)."""
    med = statistics.median(values)
    _, lo, hi = positive_interval(values)
    return med, (math.nan if lo is None else lo), (math.nan if hi is None else hi)


def fmt_interval(values: list[float], digits: int = 1) -> str:
    """"2164 [1620, 2890]", or "2164 (too few runs for an interval)" below three rounds: two give an
    interval so wide it says nothing."""
    med, lo, hi = interval95(values)
    if len(values) < 3 or math.isnan(lo):
        return f"{med:.{digits}f} ({TOO_FEW})"
    return f"{med:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


# --- the files -------------------------------------------------------------------------

def cached_file(preset: str, quant: str, cache: Path) -> tuple[Path, ModelFacts]:
    """The preset's file, built into `cache` if it is not there (written aside, then renamed,
    so a build cut short never passes for a finished file)."""
    path = cache / f"{preset}-{quant}.gguf"
    if path.exists():
        facts = read_model_facts(path)
        print(f"# {preset}: cached {path} ({human_bytes(facts.file_size)})", flush=True)
        return path, facts
    cache.mkdir(parents=True, exist_ok=True)
    free_before = shutil.disk_usage(cache).free
    print(f"# {preset}: building {quant} into {cache} ({human_bytes(free_before)} free)...", flush=True)
    partial = path.with_name(path.name + ".partial")
    result = build(preset, partial, quant)
    partial.rename(path)
    print(f"# {preset}: {result.parameters:,} parameters; written in {result.write_seconds:.0f} s, quantised in "
          f"{result.quantize_seconds:.0f} s; {human_bytes(result.file_size)} on disk "
          f"({human_bytes(shutil.disk_usage(cache).free)} free now)", flush=True)
    return path, read_model_facts(path)


def prompt_of(path: Path, n_tokens: int) -> tuple[str, int]:
    """A raw prompt of about n_tokens tokens for this model's tokenizer (BOS included, as the
    worker adds it), and its exact count. Only the vocabulary is loaded."""
    import llama_cpp

    llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    try:
        def count(words: int) -> int:
            text = " ".join(FILLER[i % len(FILLER)] for i in range(words))
            return len(llm.tokenize(text.encode(), add_bos=True, special=False))

        # The count grows with the words (each at least one token): the most words that fit.
        lo, hi = 1, max(1, n_tokens)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if count(mid) <= n_tokens else (lo, mid - 1)
        words = lo
        text = " ".join(FILLER[i % len(FILLER)] for i in range(words))
        return text, count(words)
    finally:
        llm.close()


# --- fair mode through the compare session ------------------------------------------------

def fair_rounds(session: CompareSession, prompts: tuple[str, ...], args: argparse.Namespace,
                reps: int, on_round: Callable[[list[dict]], object] | None = None) -> list[list[dict]]:
    """`reps` fair rounds; per round, each model's figures in the session's order (A, B[, C]),
    also handed to on_round as it ends."""
    rounds = []
    sampling = p.SamplingSettings(max_tokens=args.tokens, temperature=0.0, ignore_eos=True)
    n = len(prompts)
    for rep in range(reps):
        commands = {i: p.GenerateCommand(1000 + rep * n + i, raw_prompt=prompts[i], sampling=sampling)
                    for i in range(n)}
        result = session.run(commands, mode=FAIR, threads_total=args.threads)
        figures = []
        for run in result.runs:
            if run.error:
                raise RuntimeError(f"{run.label}: {run.error.message}")
            s = run.stats()
            figures.append({"ms_per_token": s.ms_per_token, "n_tokens": s.n_tokens, "n_prompt": s.n_prompt,
                            "prefill_tps": s.prefill_tps, "llama_eval_tps": s.llama_eval_tps,
                            "ttft_s": s.ttft_s, "stop_reason": s.stop_reason, "peak_rss": s.peak_rss,
                            "n_threads": s.n_threads})
        a, b = figures[:2]
        c = ""
        if n > 2:
            f3 = figures[2]
            c = (f", C {f3['ms_per_token']:.1f} ms/token ({f3['n_tokens']} after {f3['n_prompt']}), "
                 f"C/A {f3['ms_per_token'] / a['ms_per_token']:.2f}")
        print(f"  rep {rep + 1}: A {a['ms_per_token']:.1f} ms/token ({a['n_tokens']} tok after {a['n_prompt']}), "
              f"B {b['ms_per_token']:.1f} ms/token ({b['n_tokens']} after {b['n_prompt']}), "
              f"B/A {b['ms_per_token'] / a['ms_per_token']:.2f}{c}", flush=True)
        rounds.append(figures)
        if on_round:
            on_round(figures)
    return rounds


def summarize_rounds(rounds: list[list[dict]], labels: list[str]) -> dict:
    per_model = {}
    for i, label in enumerate(labels):
        ms = [r[i]["ms_per_token"] for r in rounds]
        pp = [r[i]["prefill_tps"] for r in rounds if r[i]["prefill_tps"]]
        per_model[label] = {"ms_per_token": ms, "ms_per_token_interval": interval95(ms),
                            "prefill_tps": pp, "n_prompt": rounds[0][i]["n_prompt"]}
        print(f"  {label}: {fmt_interval(ms)} ms/token (median [95% interval of the mean], {len(ms)} reps); "
              f"prefill {fmt_interval(pp, 0)} t/s over {rounds[0][i]['n_prompt']} prompt tokens")
    ratios = [r[1]["ms_per_token"] / r[0]["ms_per_token"] for r in rounds]
    print(f"  ratio B/A per round: {fmt_interval(ratios, 2)}   claimed {CLAIM_MS['B']:.0f}/{CLAIM_MS['A']:.0f} "
          f"= {CLAIMED_RATIO:.2f}", flush=True)
    out = {"models": per_model, "ratio": ratios, "ratio_interval": interval95(ratios)}
    if len(labels) > 2:
        ratios_c = [r[2]["ms_per_token"] / r[0]["ms_per_token"] for r in rounds]
        print(f"  ratio C/A per round: {fmt_interval(ratios_c, 2)}   claimed {CLAIM_MS['C']:.0f}/{CLAIM_MS['A']:.0f} "
              f"= {CLAIM_MS['C'] / CLAIM_MS['A']:.2f}", flush=True)
        out |= {"ratio_c": ratios_c, "ratio_c_interval": interval95(ratios_c)}
    return out


# --- llama-bench -------------------------------------------------------------------------

def find_llama_tool(name: str, explicit: str | None) -> Path | None:
    """llama.cpp's `name` (llama-bench, llama-server) from the same source, built first if missing."""
    if explicit:
        return Path(explicit)
    out = subprocess.run([str(ROOT / "scripts" / "build_llama_tools.sh")], capture_output=True, text=True,
                         # This interpreter's llama-cpp-python names the version (a worktree has no .venv).
                         env={**os.environ, "LLAMA_TOOLS_TARGETS": name, "PYTHON": sys.executable})
    if out.returncode != 0:
        print(f"# {name} could not be built; skipped ({out.stderr.strip().splitlines()[-1:]})")
        return None
    return Path(out.stdout.strip().splitlines()[-1]) / name


def llama_bench(exe: Path, path: Path, threads: int, n_gen: int, n_prompt: int, reps: int) -> list[dict]:
    """llama-bench's pp and tg rows for one file (its defaults otherwise: flash attention auto)."""
    cmd = [str(exe), "-m", str(path), "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen),
           "-r", str(reps), "-ngl", "0", "-o", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_llama_bench(args: argparse.Namespace, report: dict, files: list[tuple[str, Path]],
                    save: Callable[[], None]) -> None:
    exe = find_llama_tool("llama-bench", args.llama_bench)
    if not exe:
        return
    print(f"## llama-bench ({exe}): pp512 and tg{args.tokens}, {args.bench_reps} reps, {args.threads} threads, "
          f"load average {load_average()}", flush=True)
    report["llama_bench"] = {}
    for label, path in files:
        rows = llama_bench(exe, path, args.threads, args.tokens, 512, args.bench_reps)
        report["llama_bench"][label] = rows
        for r in rows:
            what = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
            ms = f" = {1000 / r['avg_ts']:.1f} ms/token" if not r["n_prompt"] else ""
            print(f"  {label} {what}: {r['avg_ts']:.2f} ± {r['stddev_ts']:.2f} t/s{ms} "
                  f"(flash_attn {_FA.get(r.get('flash_attn'), r.get('flash_attn'))}, build {r.get('build_commit')})",
                  flush=True)
        save()
    tg = {k: next(1000 / r["avg_ts"] for r in rows if not r["n_prompt"]) for k, rows in report["llama_bench"].items()}
    print(f"  llama-bench ratio B/A (tg{args.tokens}): {tg['B'] / tg['A']:.2f} (claimed {CLAIMED_RATIO:.2f})"
          + (f"; C/A {tg['C'] / tg['A']:.2f} (claimed {CLAIM_MS['C'] / CLAIM_MS['A']:.2f})" if "C" in tg else ""),
          flush=True)


# --- memory --------------------------------------------------------------------------------

def measured_memory(path: Path, n_ctx: int, threads: int) -> MemoryAccount | None:
    """llama.cpp's own account when the model is loaded at n_ctx (loaded, nothing run)."""
    w = ModelWorker("memory")
    try:
        loaded = w.load(str(path), p.LoadSettings(n_ctx=n_ctx))
    except p.WorkerFailed as exc:
        print(f"  could not load at {n_ctx}: {exc.error.message}")
        return None
    finally:
        w.close()
    accounts = loaded.placement.memory if loaded.placement else ()
    return accounts[0] if len(accounts) == 1 else None


def memory_report(files: list[tuple[str, Path, ModelFacts]], contexts: list[int], threads: int,
                  measure: bool) -> dict:
    out: dict = {}
    for label, path, facts in files:
        out[label] = []
        for n_ctx in [*contexts, facts.context_length or contexts[-1]]:
            est = facts.memory_at(n_ctx)
            window = facts.memory_at(n_ctx, swa_full=False)
            meas = measured_memory(path, n_ctx, threads) if measure and n_ctx in contexts else None
            row = {"n_ctx": n_ctx, "estimate": {**asdict(est), "total": est.total},
                   "kv_cache_window_sized_swa": window.kv_cache,
                   "measured": {**asdict(meas), "total": meas.total} if meas else None}
            out[label].append(row)
            line = (f"  {label} @ {n_ctx:>7,}: estimate weights {human_bytes(est.weights)}, "
                    f"KV {human_bytes(est.kv_cache)}"
                    + (f" ({human_bytes(window.kv_cache)} with a window-sized SWA cache)"
                       if window.kv_cache != est.kv_cache else "")
                    + (f", recurrent {human_bytes(est.recurrent_state)}" if est.recurrent_state else ""))
            if meas:
                line += (f"\n  {'':>{len(label)}}   llama.cpp:          weights {human_bytes(meas.weights)}, KV "
                         f"{human_bytes(meas.kv_cache)}, recurrent {human_bytes(meas.recurrent_state)}, compute "
                         f"{human_bytes(meas.compute)}, output {human_bytes(meas.output)} = {human_bytes(meas.total)}")
            print(line, flush=True)
    return out


# --- the run ---------------------------------------------------------------------------------

# --- the conversation: the second turn measured (issue 31) -------------------------------------

def turn_texts(path: Path, n_turns: int, n_tokens: int) -> tuple[str, ...]:
    """`n_turns` user messages of about n_tokens tokens each, each its own (a repeated message
    would let a cache reuse more than a real conversation allows)."""
    words = len(prompt_of(path, n_tokens)[0].split())
    return tuple(f"Part {k + 1}. " + " ".join(FILLER[(i + 13 * k) % len(FILLER)] for i in range(words))
                 for k in range(n_turns))


def start_llama_server(exe: Path, model: Path, n_ctx: int, threads: int,
                       log_path: Path) -> tuple[subprocess.Popen, str]:
    """llama-server with its defaults (cache_prompt on, its context checkpoints), our context and threads."""
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([str(exe), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-c", str(n_ctx),
                             "-t", str(threads)], stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited: {log_path.read_text(errors='replace')[-1000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("llama-server did not come up within 300 s")


def multi_turn(args: argparse.Namespace, report: dict, files: list[tuple[str, Path]], save: Callable[[], None]) -> None:
    """A conversation, cache kept and cold, through our engine; then on llama-server, kept."""
    labels = [label for label, _ in files]
    turns = turn_texts(files[0][1], args.turns, args.turn_tokens)
    conv = Conversation("seed-claim", turns)
    n_ctx = max(4096, args.turns * (args.turn_tokens * 2 + args.turn_reply + 64) + 256)
    settings = with_values(RunSettings(), {"temperature": 0.0, "max_tokens": args.turn_reply, "ignore_eos": True,
                                           "thinking": False, "n_ctx": n_ctx})
    out: dict = {"turns": args.turns, "turn_tokens": args.turn_tokens, "turn_reply": args.turn_reply, "n_ctx": n_ctx}
    report["multi_turn"] = out
    with CompareSession(tuple(labels)) as session:
        errors = session.load([str(path) for _, path in files], settings.load)
        if any(errors):
            raise RuntimeError(f"{[e.message for e in errors if e]}")
        play_conversation(session, [settings] * len(files), Conversation("warm-up", turns[:1]), p.CACHE_COLD, FAIR,
                          args.threads)  # the first prefill after loading reads the weights from disk
        for policy in (p.CACHE_KEEP, p.CACHE_COLD):
            print(f"## conversation: {args.turns} turns of about {args.turn_tokens} tokens, replies of "
                  f"{args.turn_reply} tokens, cache {policy} (the first turn cold), fair mode, load average "
                  f"{load_average()}", flush=True)
            result = play_conversation(session, [settings] * len(files), conv, policy, FAIR, args.threads)
            print(text_table(turn_rows(result, labels)))
            print(text_table(total_rows(result, labels)), flush=True)
            out[policy] = conversation_dict(result, labels)
            save()
    if args.no_llama_server:
        return
    exe = find_llama_tool("llama-server", args.llama_server)
    if exe is None or not exe.is_file():
        return
    out["llama_server"] = {}
    for label, path in files:
        print(f"## llama-server ({exe.name}, its defaults: cache_prompt on): {label}, the same conversation, "
              f"load average {load_average()}", flush=True)
        log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"seed-claim-llama-server-{label}.log"
        proc, base = start_llama_server(exe, path, n_ctx, args.threads, log_path)
        try:
            with CompareSession((f"{label}@llama-server",)) as session:
                if session.load([base], settings.load)[0] is not None:
                    raise RuntimeError(f"llama-server for {label} could not be reached")
                result = play_conversation(session, [settings], conv, p.CACHE_KEEP, FAIR, args.threads)
        finally:
            proc.terminate()
            proc.wait(30)
        rows = [["turn", "prompt", "cache_n", "prefilled", "prompt ms (server)", "TTFT s (client)", "ms/token"]]
        for t in result.models[0].figures:
            rows.append([str(t.turn), str(t.n_prompt), str(t.n_reused), str(t.n_prefilled),
                         f"{t.server_prompt_ms:.0f}" if t.server_prompt_ms is not None else "-",
                         f"{t.ttft_s:.3f}" if t.ttft_s is not None else "-",
                         f"{t.ms_per_token:.1f}" if t.ms_per_token else "-"])
        print(text_table(rows))
        tot = result.models[0].totals()
        done = tot.total_s is not None and tot.ttft_s is not None
        print(f"  total {tot.total_s:.2f} s, time to first token summed {tot.ttft_s:.3f} s" if done
              else "  (incomplete)", flush=True)
        out["llama_server"][label] = conversation_dict(result, [f"{label}@llama-server"])
        save()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset-a", default="gemma4-e2b", help="model A's synthetic preset (the claim's 45 ms/token)")
    ap.add_argument("--preset-b", default="qwen35-4b", help="model B's synthetic preset (the claim's 110 ms/token)")
    ap.add_argument("--preset-c", default=None, help="model C's synthetic preset, the claim's third row "
                    "(\"Llama-4-3B\", 95 ms/token), e.g. llama32-3b (default: none, two models)")
    ap.add_argument("--type", default="Q4_K_M", help="quantisation type (default Q4_K_M)")
    ap.add_argument("--reps", type=int, default=5, help="fair rounds per prompt length (default 5)")
    ap.add_argument("--tokens", type=int, default=128, help="tokens generated per answer (default 128)")
    ap.add_argument("--prompts", default="16,1024", help="prompt lengths in tokens (default 16,1024)")
    ap.add_argument("--threads", type=int, default=0, help="threads (default: all cores, as fair mode gives)")
    ap.add_argument("--ctx", default="4096,32768", help="contexts for the memory breakdown (default 4096,32768)")
    ap.add_argument("--bench-reps", type=int, default=5, help="llama-bench repetitions (default 5)")
    ap.add_argument("--llama-bench", help="llama-bench binary (default: build or reuse one)")
    ap.add_argument("--no-llama-bench", action="store_true")
    ap.add_argument("--cache", type=Path, default=None, help="where the files are kept (default: the app's cache)")
    ap.add_argument("--json", type=Path, help="write every figure here (rewritten after each step)")
    ap.add_argument("--turns", type=int, default=0, help="the multi-turn part: a conversation of N user turns, cache "
                    "kept and cold, and on llama-server (default 0: skipped; the seed claim's figure uses 5)")
    ap.add_argument("--turn-tokens", type=int, default=300, help="tokens per user turn (default 300)")
    ap.add_argument("--turn-reply", type=int, default=64, help="tokens per reply, EOS ignored (default 64)")
    ap.add_argument("--only-turns", action="store_true", help="the multi-turn part alone (no memory, fair rounds, "
                    "llama-bench)")
    ap.add_argument("--model-a", type=Path, help="a GGUF file for A instead of the synthetic preset (a demo model)")
    ap.add_argument("--model-b", type=Path, help="a GGUF file for B instead of the synthetic preset")
    ap.add_argument("--model-c", type=Path, help="a GGUF file for C instead of --preset-c")
    ap.add_argument("--llama-server", help="llama-server binary (default: build or reuse one)")
    ap.add_argument("--no-llama-server", action="store_true")
    return ap.parse_args()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    args = parse_args()
    args.threads = args.threads or default_threads()
    cache = args.cache or app_dirs().cache / "synthetic"
    report: dict = {"cpu": cpu_model(), "threads": args.threads, "load_average_start": load_average(),
                    "settings": vars(args) | {"cache": str(cache), "json": str(args.json)}}

    def save() -> None:
        if args.json:
            args.json.write_text(json.dumps(report, indent=1, default=str))

    print(f"# {cpu_model()}, {os.cpu_count()} cores; {args.threads} threads; load average {load_average()}")
    t0 = time.monotonic()
    wanted = [("A", args.model_a, args.preset_a), ("B", args.model_b, args.preset_b)]
    if args.model_c or args.preset_c:
        wanted.append(("C", args.model_c, args.preset_c))
    models: list[tuple[str, Path, ModelFacts]] = [
        (label, given, read_model_facts(given)) if given else (label, *cached_file(preset, args.type, cache))
        for label, given, preset in wanted]
    labels = [label for label, _, _ in models]
    paths = [(label, path) for label, path, _ in models]
    report["files"] = {label: {"path": str(path), "size": facts.file_size, "parameters": facts.parameters}
                       for label, path, facts in models}
    report["build_seconds"] = time.monotonic() - t0
    save()
    if args.only_turns:
        multi_turn(args, report, paths, save)
        report["total_seconds"] = time.monotonic() - t0
        save()
        return 0

    # Cheapest first, so a run cut short has the most: memory (loads only), the short
    # prompt, llama-bench, then the long prompt (its prefills take the most time).
    print("## memory (llama.cpp's account at load, beside the estimate from the GGUF facts)", flush=True)
    contexts = [int(x) for x in args.ctx.split(",")]
    report["memory"] = memory_report(models, contexts, args.threads, measure=True)
    save()
    lengths = [int(x) for x in args.prompts.split(",")]
    report["fair"] = {}
    with CompareSession(tuple(labels)) as session:
        errors = session.load([str(path) for _, path in paths], p.LoadSettings(n_ctx=4096))
        if any(errors):
            print(f"error: {[e.message for e in errors if e]}", file=sys.stderr)
            return 1
        ld = session.loaded
        print("# " + "; ".join(f"{label} {facts.name}: {facts.quantization}, loaded in {ld[i].load_seconds:.1f} s"
                               for i, (label, _, facts) in enumerate(models))
              + f"; flash attn {ld[0].flash_attn}, KV {ld[0].type_k}/{ld[0].type_v}, n_batch {ld[0].n_batch}")
        # One short unrecorded round: the mapped weights are read from disk the first time.
        fair_rounds(session, ("Hello",) * len(models), argparse.Namespace(**{**vars(args), "tokens": 4}), 1)
        for k, n in enumerate(lengths):
            prompts = tuple(prompt_of(path, n)[0] for _, path in paths)
            print(f"## fair mode: {args.tokens} tokens (EOS ignored) after a {n}-token prompt, {args.reps} rounds, "
                  f"load average {load_average()}", flush=True)
            entry: dict = {"rounds": []}
            report["fair"][n] = entry

            def keep(figures: list[dict], entry: dict = entry) -> None:
                entry["rounds"].append(figures)  # saved round by round: a run cut short keeps them
                save()

            fair_rounds(session, prompts, args, args.reps, on_round=keep)
            entry.update(summarize_rounds(entry["rounds"], labels))
            save()
            if k == 0 and not args.no_llama_bench:
                run_llama_bench(args, report, paths, save)

    if args.turns:
        multi_turn(args, report, paths, save)
    report["load_average_end"] = load_average()
    report["total_seconds"] = time.monotonic() - t0
    save()
    print(f"# done in {report['total_seconds'] / 60:.1f} min; load average {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
