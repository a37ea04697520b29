"""Command line: the window by default, and headless `compare`, `inspect`, `bench`, `arena`.

Heavy parts (Qt, llama.cpp) are imported only by the command that needs them,
so `gemmacompare inspect` answers instantly and works without a display.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gemmacompare.cli.args import add_llama_args, add_setting, context_size, int_at_least, per_model, thread_count
from gemmacompare.cli.exit_codes import EXIT_INTERRUPTED, EXIT_USAGE
from gemmacompare.cli.run_file_args import add_run_file_parsers, add_save_run_args
from gemmacompare.cli.server_args import SERVER_SYNTAX, add_server_args
from gemmacompare.state import defaults
from gemmacompare.state.defaults import AB_RUNS, MODES, RACE

if TYPE_CHECKING:
    from gemmacompare.bench.records import StoredRun


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gemmacompare", description="Run two to four local LLMs side by side.")
    ap.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    ap.add_argument("--self-test", action="store_true",
                    help="check llama.cpp, a model, a worker and the window step by step, then exit")
    ap.add_argument("--only", action="append", default=[], metavar="STEP",
                    choices=("llama.cpp", "model", "worker", "window"),
                    help="with --self-test: run only this step (repeatable), e.g. window for a cold start")
    ap.add_argument("--model", metavar="PATH", help="with --self-test: the GGUF file to use (default: a demo model)")
    ap.add_argument("--expect-backend", metavar="NAME",
                    help="with --self-test: fail unless the model runs on this backend (CPU, Vulkan, CUDA, Metal)")
    sub = ap.add_subparsers(dest="command")

    gui = sub.add_parser("gui", help="open the window (the default)")
    gui.add_argument("models", nargs="*", help="GGUF files (or servers) for the panes, two to four")

    ins = sub.add_parser("inspect", help="print a GGUF file's facts without loading it")
    ins.add_argument("files", nargs="+")
    ins.add_argument("--json", action="store_true", help="print JSON")
    ins.add_argument("--ctx", type=per_model(context_size), default=[4096, 32768, "max"], metavar="N[,N...]",
                     help="estimate llama.cpp's memory (weights, KV cache, recurrent state) at these context "
                          "sizes; 'max' is the model's own (default 4096,32768,max)")
    add_setting(ins, "swa_full", help="estimate a full-size cache for sliding-window layers (default: "
                                      "window-sized, as llama.cpp's tools and this app load them)")

    mdl = sub.add_parser("models", help="list the GGUF models found on this machine (LM Studio, Ollama, HF cache, ...)")
    mdl.add_argument("--json", action="store_true", help="print JSON")
    mdl.add_argument("--server", metavar="URL", help="list a server's models instead (base URL, e.g. "
                     "http://127.0.0.1:8080/v1, or `ollama` for the Ollama server at $OLLAMA_HOST)")
    add_server_args(mdl)

    pull = sub.add_parser("pull", help="download a GGUF model from the Hugging Face Hub (ORG/REPO[:QUANT])",
                          description="Downloads into the shared Hugging Face cache, where the library (and llama.cpp, "
                                      "LM Studio, ...) find it. Without :QUANT, Q4_K_M is taken if the repo has it. "
                                      "Gated repos need `hf auth login` or HF_TOKEN.")
    pull.add_argument("repo", help="e.g. unsloth/Qwen3.5-4B-GGUF:Q4_K_M")

    cmp_ = sub.add_parser("compare", help="run two to four models on one prompt in the terminal",
                          description="Run two to four models on one prompt. " + SERVER_SYNTAX)
    cmp_.add_argument("models", nargs="*", metavar="MODEL",
                      help="two to four GGUF paths, library names (see `models`), demo keys or servers "
                           "(default: the two demo models; one named model races the second demo model)")
    given = cmp_.add_mutually_exclusive_group(required=True)
    given.add_argument("-p", "--prompt")
    given.add_argument("-f", "--file", dest="prompt_file", type=Path, metavar="FILE",
                       help="read the prompt from a UTF-8 text file (as llama.cpp's tools), "
                            "for prompts too long for the command line")
    given.add_argument("--chat", type=Path, metavar="FILE",
                       help="play multi-turn conversations (JSONL: id, system, turns; or a built-in conversation "
                            "suite's name, e.g. short-chats): each turn sends the history with the model's own "
                            "replies, the cache kept; prints each turn's prompt, reused and prefilled tokens, "
                            "time to first token and ms/token")
    cmp_.add_argument("--cold", action="store_true",
                      help="with --chat: send every turn cold, prefilling the whole conversation each time")
    add_setting(cmp_, "system_prompt")
    cmp_.add_argument("--mode", choices=MODES, default=RACE,
                      help="race: all at once, threads split (default); fair: one after the other, all threads each")
    add_setting(cmp_, "raw")
    cmp_.add_argument("--json", dest="json_out", type=Path, help="write every figure and token timestamp here")
    cmp_.add_argument("--ab", action="store_true",
                      help="speculation A/B: one model with and without its draft (--draft FILE or --spec ngram), "
                           "fair, --runs times, with the speed-up's interval")
    cmp_.add_argument("--runs", type=int_at_least(1), default=AB_RUNS, metavar="N",
                      help=f"repetitions of the A/B (default {AB_RUNS})")
    add_save_run_args(cmp_)
    _add_generation_args(cmp_)
    add_server_args(cmp_)

    from gemmacompare.cli.bench_args import add_bench_parser

    add_bench_parser(sub)

    from gemmacompare.cli.sweep_args import add_sweep_parser

    add_sweep_parser(sub)

    from gemmacompare.cli.arena import add_arena_parser  # light: reads SQLite only

    add_arena_parser(sub)

    add_run_file_parsers(sub)

    from gemmacompare.cli.gallery import add_gallery_parser  # light: the engine is imported when it runs

    add_gallery_parser(sub)

    return ap


def _add_generation_args(ap: argparse.ArgumentParser) -> None:
    """Every setting of the table that `compare` takes, as the table spells it."""
    g = ap.add_argument_group("generation")
    for name in ("max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed"):
        add_setting(g, name)
    add_setting(g, "n_ctx", each_model=True, default=defaults.HEADLESS_N_CTX)
    add_setting(g, "n_threads", each_model=True, type=thread_count)
    add_setting(g, "n_gpu_layers", each_model=True)
    add_llama_args(g)
    for name in ("stop", "ignore_eos", "thinking"):
        add_setting(g, name)
    sp = ap.add_argument_group("speculative decoding")
    for name in ("speculation", "draft_model", "draft_max", "draft_min", "ngram_n"):
        add_setting(sp, name)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = build_parser()
    commands = next(a.choices for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        argv = ["gui", *argv]
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if args.self_test:
        if args.command not in (None, "gui") or getattr(args, "models", []):
            ap.error("--self-test takes no command; use --model PATH to pick its model")
        from gemmacompare.cli.self_test import SelfTest

        return SelfTest(args.model, window=_self_test_window, only=tuple(args.only),
                        expect_backend=args.expect_backend).run()
    if args.model or args.only or args.expect_backend:
        ap.error("--model, --only and --expect-backend go with --self-test; to open models in the window, name them: "
                 "gemmacompare A.gguf B.gguf")
    if args.command in (None, "gui"):
        from gemmacompare.ui.app import run_app  # Qt only when needed

        return run_app(getattr(args, "models", []))
    if args.command == "inspect":
        from gemmacompare.cli.inspect import cmd_inspect

        return cmd_inspect(args)
    if args.command == "models":
        from gemmacompare.cli.models import cmd_models

        return cmd_models(args)
    if args.command == "pull":
        from gemmacompare.cli.pull import cmd_pull

        return cmd_pull(args)
    if args.command == "compare":
        from gemmacompare.cli.compare import cmd_compare

        return cmd_compare(args)
    if args.command == "bench":
        from gemmacompare.cli.bench import cmd_bench

        return cmd_bench(args, chart_writer=_bench_chart_writer)
    if args.command == "sweep":
        from gemmacompare.cli.sweep import cmd_sweep

        return cmd_sweep(args)
    if args.command in ("replay", "rerun"):
        from gemmacompare.cli.run_files import cmd_replay, cmd_rerun

        return cmd_replay(args) if args.command == "replay" else cmd_rerun(args)
    if args.command == "claim":
        from gemmacompare.cli.claim import cmd_claim

        return cmd_claim(args)
    if args.command in ("gallery", "share"):
        from gemmacompare.cli.gallery import cmd_gallery, cmd_share

        return cmd_gallery(args) if args.command == "gallery" else cmd_share(args)
    if args.command == "arena":
        from gemmacompare.cli.arena import cmd_arena

        return cmd_arena(args)
    ap.print_help()
    return EXIT_USAGE


def _self_test_window() -> str:
    """The self-test's window step; Qt lives in ui/ only."""
    from gemmacompare.ui.app import paint_window_once  # Qt only for this step

    return paint_window_once()


def _bench_chart_writer(run: StoredRun, out_dir: Path) -> list[Path]:
    """PNG charts need Qt, which only ui/ may import; offscreen works without a display."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gemmacompare.ui.bench_charts import write_chart_pngs  # Qt only for --out

    return write_chart_pngs(run, out_dir)
