"""`gemmacompare compare MODEL --draft D --ab` (or `--spec ngram --ab`): what speculation buys here.

The measuring is engine/speculation_ab.py's, shared with the window's *Speculation A/B* mode:
the model plain and speculating, fair, --runs times after one warm-up; printed are both
ms/token figures, the speed-up with its 95% interval, and the draft's acceptance.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.engine.api import (
    ABFailed,
    ABResult,
    RunSettings,
    SpeculationAB,
    compare_run_dict,
    is_server_ref,
    kind_rows,
    kind_table,
    resolve_models,
    write_run_file,
)
from gemmacompare.state.untrusted import terminal_safe


def with_draft_resolved(settings: RunSettings) -> RunSettings | str:
    """The draft model's argument as a file (a path, a library name or a demo key, as models are
    named), and speculation on where a draft was given without --spec; or one sentence."""
    load = settings.load
    if not load.draft_model:
        return settings
    try:
        found = resolve_models([load.draft_model])[0]
    except LookupError as exc:
        return f"The draft model: {exc}"
    if is_server_ref(str(found)):
        return "A draft model is a local GGUF file; a server cannot draft for a model here."
    kind = load.speculation if load.speculation != "off" else "draft"
    return replace(settings, load=replace(load, draft_model=str(found), speculation=kind))


def cmd_compare_ab(args: argparse.Namespace, settings: RunSettings) -> int:
    """`settings`: the one model's, from the command line (compare's run_settings)."""
    if len(args.models) != 1:
        print(f"error: --ab runs one model with and without its draft; name one model, not {len(args.models)}.",
              file=sys.stderr)
        return EXIT_USAGE
    path = _local_model(args.models[0])
    if isinstance(path, int):
        return path
    total = args.n_threads[0] if len(args.n_threads) == 1 else 0
    ab = SpeculationAB(path, settings, args.prompt, runs=args.runs, threads=total)

    def progress(message: str, done: int, all_runs: int) -> None:
        print(f"# {terminal_safe(message, 400)}", file=sys.stderr)

    try:
        result = ab.run(progress)
    except ABFailed as exc:
        print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    last = result.last
    if last is not None:
        for label, run in zip(ab.labels, last.runs):
            print(f"[{label}] {terminal_safe(run.answer, 1 << 16, keep_newlines=True)}")
        print()
    for line in result.lines():
        print(terminal_safe(line, 4096))
    figures = result.to_dict()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"prompt": args.prompt, "model": path, "runs": args.runs,
                                                   "settings": [asdict(s.load) for s in ab.sides],
                                                   "ab": figures}, indent=1, default=str))
        print(f"# wrote {args.json_out}", file=sys.stderr)
    save_run = getattr(args, "save_run", None)
    if save_run and last is not None:
        doc = compare_run_dict(last, list(ab.labels), [path, path], list(ab.sides), args.prompt,
                               redact_prompts=args.redact_prompts, refs=[args.models[0]] * 2)
        doc["ab"] = figures  # the figures over every repetition; the panes are its last
        write_run_file(save_run, doc)
        print(f"# wrote {save_run} (its last repetition; replay it with: gemmacompare replay {save_run})",
              file=sys.stderr)
    return EXIT_OK if result.per_run_ms else EXIT_MODEL_FAILED


def resolve_draft_args(args: argparse.Namespace) -> str | None:
    """`bench`'s --draft resolved in place (a path, library name or demo key), speculation on where
    a draft was given without --spec; one sentence when it cannot be found."""
    if not getattr(args, "draft_model", ""):
        return None
    try:
        found = resolve_models([args.draft_model])[0]
    except LookupError as exc:
        return f"The draft model: {terminal_safe(exc, 400)}"
    args.draft_model = str(found)
    if args.speculation == "off":
        args.speculation = "draft"
    return None


def cmd_bench_ab(args: argparse.Namespace) -> int:
    """`bench MODEL --draft D --ab`: every prompt of the suite plain and speculating, --runs times,
    and the table by kind of prompt (the suite's categories)."""
    from gemmacompare.bench.records import BENCH_BASE
    from gemmacompare.bench.tasks import TaskFileError, load_suite
    from gemmacompare.cli.args import settings_from_args

    if len(args.models) != 1:
        print(f"error: --ab runs one model with and without its draft; name one model, not {len(args.models)}.",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        suite = load_suite(args.suite).subset(args.limit, args.sample, args.sample_seed)
    except TaskFileError as exc:
        print(f"error: {terminal_safe(exc, 400)}", file=sys.stderr)
        return EXIT_USAGE
    if problem := resolve_draft_args(args):
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    path = _local_model(args.models[0])
    if isinstance(path, int):
        return path
    settings = settings_from_args(args, 0, BENCH_BASE)  # greedy, as every benchmark
    ab = SpeculationAB(path, settings, "", runs=args.runs, threads=args.threads)
    tasks = list(suite.tasks)

    def progress(message: str, done: int, all_runs: int) -> None:
        if not args.quiet:
            print(f"# {terminal_safe(message, 400)}", file=sys.stderr)

    try:
        results = ab.run_many([t.question_text() for t in tasks], progress)
    except ABFailed as exc:
        print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    by_kind: dict[str, list[ABResult]] = {}
    for task, result in zip(tasks, results):
        if result.per_run_ms:
            by_kind.setdefault(task.category or "other", []).append(result)
    rows = kind_rows(by_kind)
    runs = f"{args.runs} fair run{'s' if args.runs != 1 else ''}"
    print(f"# {terminal_safe(path, 400)}: {ab.labels[1]} against plain, {runs} per prompt")
    print(terminal_safe(kind_table(rows), 1 << 16, keep_newlines=True))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        doc = {"model": path, "suite": args.suite, "runs": args.runs,
               "settings": [asdict(s.load) for s in ab.sides], "by_kind": rows,
               "prompts": [{"id": t.id, "kind": t.category, **r.to_dict()} for t, r in zip(tasks, results)]}
        (args.out / "speculation-ab.json").write_text(json.dumps(doc, indent=1))
        print(f"# wrote {args.out / 'speculation-ab.json'}", file=sys.stderr)
    return EXIT_OK if rows else EXIT_MODEL_FAILED


__all__ = ["cmd_bench_ab", "cmd_compare_ab", "resolve_draft_args", "with_draft_resolved"]


def _local_model(arg: str) -> str | int:
    """The A/B's one model as a local file's path, or the exit status after one sentence."""
    try:
        path = str(resolve_models([arg])[0])
    except LookupError as exc:
        print(f"error: {terminal_safe(exc, 400)}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    if is_server_ref(path):
        print("error: an A/B of speculation runs a local model file; a server's speed is not this machine's.",
              file=sys.stderr)
        return EXIT_USAGE
    return path
