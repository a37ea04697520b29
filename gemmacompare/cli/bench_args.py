"""The `bench` subcommand's arguments, kept light: building the parser must not
import the engine, so `gemmacompare inspect` and `--help` stay instant."""

from __future__ import annotations

import argparse
from pathlib import Path

from gemmacompare.bench.conversations import builtin_conversation_suites
from gemmacompare.bench.tasks import DEFAULT_SUITE, builtin_suites
from gemmacompare.cli.args import add_llama_args, add_setting, int_at_least, thread_count
from gemmacompare.cli.run_file_args import add_save_run_args
from gemmacompare.cli.server_args import add_server_args
from gemmacompare.state.defaults import FAIR, HEADLESS_N_CTX, RACE

positive_int = int_at_least(1)
AB_SUITE = "speculation"  # prompts by kind: code, prose, structured output, repeating given text
non_negative_int = int_at_least(0)


def add_bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    b = sub.add_parser(
        "bench", help="benchmark models on a task suite (speed and correctness), or list past runs",
        description="Run every task of a suite on each model, scored, with repetitions; results are kept "
                    "in a local history (--list, --show, --resume).",
    )
    b.add_argument("models", nargs="*", help="GGUF paths, library names (see `gemmacompare models`), demo keys or "
                   "servers (default: the two demo models)")
    b.add_argument("--suite", default=None,
                   help=f"built-in suite name ({', '.join(builtin_suites() + builtin_conversation_suites())}) "
                        f"or a JSONL file (our format or GSM8K; or conversations: id, system, turns, measured per "
                        f"turn); default {DEFAULT_SUITE}, with --ab {AB_SUITE}")
    b.add_argument("--cold", action="store_true",
                   help="with a conversation suite: send every turn cold, prefilling the whole conversation "
                        "(default: the cache kept between turns, the first turn cold)")
    b.add_argument("--runs", type=positive_int, default=1, help="repetitions of the whole task list (default 1)")
    b.add_argument("--limit", type=positive_int, default=None, help="only the first N tasks")
    b.add_argument("--sample", type=positive_int, default=None, help="N tasks drawn at random (see --seed)")
    b.add_argument("--seed", dest="sample_seed", type=int, default=0, help="seed for --sample")
    b.add_argument("--warmup", type=non_negative_int, default=1,
                   help="unrecorded warm-up generations per model (default 1)")
    b.add_argument("--mode", choices=(FAIR, RACE), default=FAIR,
                   help="fair: one model after the other with all threads (default); race: at once")
    # Every model's settings, as the settings table declares them (bench/records.BENCH_BASE
    # is greedy; threads here are the total, split by the mode).
    for name in ("max_tokens", "ignore_eos", "thinking"):
        add_setting(b, name)
    add_setting(b, "n_ctx", default=HEADLESS_N_CTX, help="context size")
    b.add_argument("--threads", type=thread_count, default=0, help="total CPU threads (0 = all cores)")
    add_setting(b, "n_gpu_layers")
    add_llama_args(b)
    sp = b.add_argument_group("speculative decoding")
    for name in ("speculation", "draft_model", "draft_max", "draft_min", "ngram_n"):
        add_setting(sp, name)
    sp.add_argument("--ab", action="store_true",
                    help="speculation A/B: one model with and without its draft on every prompt (default suite: "
                         "speculation, by kind), --runs times each, and a table by kind of prompt")
    b.add_argument("--out", type=Path, help="write JSON, CSV, Markdown and PNG charts here")
    b.add_argument("-q", "--quiet", action="store_true", help="no per-item lines")
    hist = b.add_mutually_exclusive_group()
    hist.add_argument("--list", action="store_true", help="list past runs")
    hist.add_argument("--show", type=positive_int, nargs="+", metavar="ID",
                      help="show past run(s); several are compared")
    hist.add_argument("--resume", type=positive_int, metavar="ID", help="finish a stopped or interrupted run")
    add_save_run_args(b)
    add_server_args(b)
    return b
