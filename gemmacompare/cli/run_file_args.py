"""Arguments for run files (`--save-run`, `replay`, `rerun`), kept light: no engine import."""

from __future__ import annotations

import argparse
from pathlib import Path

from gemmacompare.cli.args import add_llama_args, int_at_least
from gemmacompare.cli.server_args import add_server_args
from gemmacompare.state.defaults import CLAIM_CTX, CLAIM_MAX_TOKENS, CLAIM_PROMPT, CLAIM_RUNS


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.01 <= value <= 1000:
        raise argparse.ArgumentTypeError("the speed must be between 0.01 and 1000")
    return value


def add_save_run_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--save-run", type=Path, metavar="FILE",
                    help="save the run as a run file (.gcrun; .gcrun.gz to compress) that anyone can replay "
                         "(`gemmacompare replay FILE`) or rerun; no paths, user or host names, or keys go in it")
    ap.add_argument("--redact-prompts", action="store_true",
                    help="with --save-run: leave the prompts out (the run can be watched but not rerun)")


def add_run_file_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rp = sub.add_parser("replay", help="replay a saved run file side by side at its recorded speed",
                        description="Plays every model of a run file at its recorded speed, prints the answers "
                                    "as `compare` does, then the verdict and the table. Nothing is loaded or run.")
    rp.add_argument("file", type=Path)
    rp.add_argument("--speed", type=_speed, default=1.0, help="play X times faster (default 1: true speed)")
    rr = sub.add_parser("rerun", help="rerun a saved run file's models here, then recorded vs measured",
                        description="Finds each model on this machine by its file hash, then by name in the model "
                                    "library (never downloads), runs it with the recorded settings (threads adapted "
                                    "to this machine) and prints the recorded and measured figures side by side.")
    rr.add_argument("file", type=Path)
    rr.add_argument("--runs", type=int_at_least(1), default=1, help="repetitions here (a 95%% interval when > 1)")
    rr.add_argument("--json", dest="json_out", type=Path, help="write the comparison as JSON here")
    cl = sub.add_parser("claim", help='check a claimed speed ratio here: claim "A=45ms B=110ms" A.gguf B.gguf',
                        description="Runs the models N times in fair mode (one after the other, all threads each) and "
                                    "says whether each claimed ratio (a model's ms/token over the first's) lies inside "
                                    "the 95%% interval measured on this machine. Figures: NAME=45ms or NAME=22t/s, "
                                    "one per model, in the order the models are given.")
    cl.add_argument("claim", help='e.g. "Gemma=45ms Qwen=110ms" or "A=22t/s B=9t/s"')
    cl.add_argument("models", nargs="+", metavar="MODEL", help="GGUF paths, library names or demo keys, in order")
    cl.add_argument("--runs", type=int_at_least(1), default=CLAIM_RUNS,
                    help=f"fair repetitions (default {CLAIM_RUNS}; 3 or more for an interval)")
    cl.add_argument("-n", "--max-tokens", type=int_at_least(2), default=CLAIM_MAX_TOKENS,
                    help=f"tokens per run at most (default {CLAIM_MAX_TOKENS})")
    cl.add_argument("-p", "--prompt", default=CLAIM_PROMPT, help="the prompt (default: one that gives a long answer)")
    cl.add_argument("--ctx", type=int_at_least(128), default=CLAIM_CTX, help="context size")
    cl.add_argument("--threads", type=int_at_least(0), default=0, help="threads for each run (0 = all cores)")
    add_llama_args(cl)
    cl.add_argument("--save-run", type=Path, metavar="FILE", help="save the last run and the verdict as a run file")
    add_server_args(cl)
