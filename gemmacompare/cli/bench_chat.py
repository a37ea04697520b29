"""`gemmacompare bench --suite CONVERSATIONS`: a conversation suite, measured per turn.

    gemmacompare bench A B --suite short-chats [--cold] [--runs 3] [--out results/]

Every conversation plays on every model (fair mode by default: one model after
the other, all threads each), one round per turn, with the cache kept between
turns (`--cold`: every turn prefilled whole). Each turn's prompt, reused and
prefilled tokens, time to first token and ms/token are printed per turn, then
each conversation's totals. The results are not kept in the bench history.
"""

from __future__ import annotations

import argparse
import sys

from gemmacompare.bench.conversation_bench import (
    ConversationBench,
    ConversationBenchError,
    write_conversation_results,
)
from gemmacompare.bench.conversations import ConversationFileError, load_conversations
from gemmacompare.bench.records import BenchConfig
from gemmacompare.cli.args import flag_values
from gemmacompare.cli.exit_codes import EXIT_INTERRUPTED, EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.cli.servers import remote_settings
from gemmacompare.engine.api import ConversationResult, text_table, total_rows, turn_rows
from gemmacompare.engine.api import protocol as p
from gemmacompare.models.display_names import display_name
from gemmacompare.state.settings_table import SettingError
from gemmacompare.state.untrusted import terminal_safe


def bench_conversations(args: argparse.Namespace, paths: list[str]) -> int:
    try:
        suite = load_conversations(args.suite)
    except ConversationFileError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    if args.sample is not None or args.save_run:
        print("error: --sample and --save-run take task suites; a conversation suite takes --limit (conversations) "
              "and --out.", file=sys.stderr)
        return EXIT_USAGE
    suite = suite.subset(args.limit)
    try:
        settings = BenchConfig(models=tuple(paths), settings=flag_values(args)).run_settings()
    except SettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    cache = p.CACHE_COLD if args.cold else p.CACHE_KEEP
    names = [display_name(x, "", a) or x for x, a in zip(paths, list(args.models) or [None] * len(paths))]
    labels = [chr(ord("A") + i) for i in range(len(paths))]
    for label, name in zip(labels, names):
        print(f"# {label}: {terminal_safe(name, 200)}", file=sys.stderr)
    print(f"# conversation suite {terminal_safe(suite.name, 200)}: {len(suite)} conversations, {suite.n_turns} turns "
          f"x {args.runs} runs x {len(paths)} models, cache {cache}, {args.mode} mode (not kept in the bench history)",
          file=sys.stderr)
    bench = ConversationBench(paths, settings, cache, args.mode, args.threads, args.runs, args.warmup,
                              remote_settings(args))

    def on_conversation(rep: int, result: ConversationResult) -> None:
        if args.quiet:
            return
        print(f"\n## {terminal_safe(result.conversation.id, 200)} (run {rep + 1})")
        print(terminal_safe(text_table(turn_rows(result, labels)), 1 << 20, keep_newlines=True))
        print()
        print(terminal_safe(text_table(total_rows(result, labels)), 1 << 20, keep_newlines=True))

    try:
        results = bench.run(suite, on_conversation=on_conversation)
    except ConversationBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    except KeyboardInterrupt:
        bench.stop()
        print("# stopped; conversation suites are not kept, so nothing is saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.out is not None:
        for path in write_conversation_results(results, names, args.out, suite):
            print(f"# wrote {path}", file=sys.stderr)
    failed = any(side.failed for r in results for side in r.models)
    return EXIT_MODEL_FAILED if failed else EXIT_OK
