"""The `sweep` subcommand's arguments, kept light: building the parser imports no engine."""

from __future__ import annotations

import argparse
from pathlib import Path

from gemmacompare.cli.args import add_llama_args, int_at_least, thread_count

positive_int = int_at_least(1)


def add_sweep_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    s = sub.add_parser(
        "sweep", help="speed and memory as the context grows: models side by side at several depths",
        description="At each depth (tokens already in the context, as llama-bench's -d) every model in turn, alone "
                    "with all threads, prefills that much filler untimed, then times a generation of -n tokens and a "
                    "prefill of --pp tokens after it, --reps times; with llama.cpp's own memory account at each "
                    "context size beside the estimate from the GGUF file. Each model loads once, at its deepest "
                    "depth's context. Ctrl+C keeps what was measured.")
    s.add_argument("models", nargs="+", metavar="MODEL",
                   help="one to four GGUF paths, library names (see `models`) or demo keys")
    s.add_argument("--depths", default="0,1k,4k,16k",
                   help="depths in tokens, k = 1024 (default 0,1k,4k,16k); past a model's context: left out")
    s.add_argument("-n", "--n-gen", type=positive_int, default=64,
                   help="tokens generated at each depth, end of generation ignored (default 64)")
    s.add_argument("--pp", type=positive_int, default=512, help="tokens prefilled after each depth (default 512)")
    s.add_argument("--reps", type=positive_int, default=3, help="repetitions at each depth (default 3)")
    s.add_argument("--threads", type=thread_count, default=0, help="each model's threads (0 = all cores)")
    add_llama_args(s)
    s.add_argument("--json", dest="json_out", type=Path, help="write every figure as JSON here")
    s.add_argument("--save-run", type=Path, metavar="FILE",
                   help="save the sweep as a run file (.gcrun); no paths, user or host names go in it")
    return s
