"""`gemmacompare bench`: run a task suite on two (or more) models, or look at past runs.

    gemmacompare bench [A B ...] --suite reasoning --runs 3 --limit 10 --out results/
    gemmacompare bench --list
    gemmacompare bench --show 4 [7 ...]     # one run's table, or several runs side by side
    gemmacompare bench --resume 4           # finish a stopped or killed run

Progress goes to stderr (a bar with ETA on a terminal, plain lines otherwise);
the summary table goes to stdout.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable, TextIO

from gemmacompare.bench.conversations import is_conversation_suite
from gemmacompare.bench.export import write_exports
from gemmacompare.bench.records import STATUS_DONE, BenchConfig, BenchProgress, ItemResult, StoredRun
from gemmacompare.bench.runner import BenchBusyError, BenchError, BenchRunner, busy_message, create_run
from gemmacompare.bench.stats import summarize_run, summary_table
from gemmacompare.bench.store import BenchStore, BenchStoreError
from gemmacompare.bench.tasks import DEFAULT_SUITE, TaskFileError
from gemmacompare.cli.args import flag_values
from gemmacompare.cli.bench_args import AB_SUITE
from gemmacompare.cli.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.cli.servers import check_server_arg, is_server_ref, remote_settings, resolve_with_servers
from gemmacompare.engine.api import model_label, text_table, write_run_file
from gemmacompare.models.display_names import display_name

log = logging.getLogger(__name__)

ChartWriter = Callable[[StoredRun, Path], list[Path]]


class ProgressBar:
    """One redrawn line on a terminal; a plain line per update elsewhere (logs, CI)."""

    def __init__(self, out: TextIO = sys.stderr, width: int = 28) -> None:
        self.out = out
        self.width = width
        self.tty = out.isatty()
        self._shown = False

    def update(self, pr: BenchProgress) -> None:
        filled = int(self.width * pr.fraction)
        bar = "#" * filled + "." * (self.width - filled)
        eta = _fmt_duration(pr.eta_s) if pr.eta_s is not None else "?"
        line = f"[{bar}] {pr.done}/{pr.total} items {pr.fraction:4.0%}  ETA {eta}"
        if self.tty:
            self.out.write("\r" + line + "\x1b[K")
            self._shown = True
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def message(self, text: str) -> None:
        if self.tty and self._shown:
            self.out.write("\r\x1b[K")
        self.out.write(text + "\n")
        self.out.flush()

    def close(self) -> None:
        if self.tty and self._shown:
            self.out.write("\n")
            self.out.flush()


def _fmt_duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def item_line(items: list[ItemResult], labels: list[str]) -> str:
    first = items[0]
    parts = []
    for it in items:
        verdict = "error" if it.error else ("ok" if it.correct else "wrong")
        got = it.extracted if it.extracted is not None else "-"
        tps = it.stat("gen_tps")
        parts.append(f"{labels[it.model_index]}: {got} {verdict}" + (f" {tps:.0f} t/s" if tps else ""))
    line = f"rep {first.rep + 1} {first.task_id} (expected {first.expected}): " + " | ".join(parts)
    busy = [it.stat("other_cpu_cores") for it in items if it.stats.get("machine_busy")]
    if busy:
        line += (f" | other programs used {max(c or 0.0 for c in busy):.1f} of {os.cpu_count() or 1} cores: "
                 "unreliable")
    return line


def cmd_bench(args: argparse.Namespace, chart_writer: ChartWriter | None = None) -> int:
    try:
        return _cmd_bench(args, chart_writer)
    except BenchStoreError as exc:  # the history file is locked or damaged past setting aside
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_ERROR


def _cmd_bench(args: argparse.Namespace, chart_writer: ChartWriter | None) -> int:
    try:
        with BenchStore() as store:
            if store.notice:
                print(f"note: {store.notice}", file=sys.stderr)
            if args.list:
                return _list(store)
            save_run = getattr(args, "save_run", None)
            if save_run and args.list:
                print("error: --save-run saves one run: use it with --show ID or when running a benchmark.",
                      file=sys.stderr)
                return EXIT_USAGE
            if save_run and args.show and len(args.show) != 1:
                print("error: --save-run saves one run: give --show a single ID.", file=sys.stderr)
                return EXIT_USAGE
            if args.show:
                status = _show(store, args.show, args.out, chart_writer)
                return _save_run(store, args.show[0], args) if status == EXIT_OK and save_run else status
            if args.resume is not None:
                return _save_run(store, args.resume, args, _execute(store, args.resume, args, chart_writer))
            if args.ab:
                from gemmacompare.cli.speculation import cmd_bench_ab

                args.suite = args.suite or AB_SUITE
                return cmd_bench_ab(args)
            args.suite = args.suite or DEFAULT_SUITE
            from gemmacompare.cli.speculation import resolve_draft_args

            if problem := resolve_draft_args(args):
                print(f"error: {problem}", file=sys.stderr)
                return EXIT_USAGE
            try:
                paths = [str(x) for x in resolve_with_servers(list(args.models) or [None, None], remote_settings(args))]
            except LookupError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_MODEL_FAILED
            for m in paths:
                problem = check_server_arg(m) if is_server_ref(m) else None
                if problem:
                    print(f"error: {problem}", file=sys.stderr)
                    return EXIT_USAGE
            if is_conversation_suite(args.suite):
                from gemmacompare.cli.bench_chat import bench_conversations

                return bench_conversations(args, paths)
            config = BenchConfig(
                models=tuple(paths), suite=args.suite, limit=args.limit, sample=args.sample, seed=args.sample_seed,
                runs=args.runs, warmup=args.warmup, mode=args.mode, threads=args.threads,
                names=tuple("" if is_server_ref(p) else display_name(p, "", a)
                            for p, a in zip(paths, list(args.models) or [None] * len(paths))),
                settings=flag_values(args),
            )
            try:
                run_id = create_run(store, config)
            except TaskFileError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_USAGE
            except BenchError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_MODEL_FAILED
            return _save_run(store, run_id, args, _execute(store, run_id, args, chart_writer))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _execute(store: BenchStore, run_id: int, args: argparse.Namespace, chart_writer: ChartWriter | None) -> int:
    run = store.get_run(run_id)
    if run is None:
        print(f"error: there is no benchmark run #{run_id}; see `gemmacompare bench --list`.", file=sys.stderr)
        return EXIT_USAGE
    owner = store.owner_pid(run_id)
    if owner is not None:
        # Two processes writing one run would interleave and double its items.
        print(f"error: {busy_message(run_id, owner)}", file=sys.stderr)
        return EXIT_ERROR
    n_planned = run.n_planned
    print(f"# benchmark #{run_id}: {run.suite_name}, {len(run.tasks)} tasks x {run.config.runs} runs x "
          f"{len(run.config.models)} models ({n_planned} items, {len(run.items)} already done), "
          f"{run.config.mode} mode", file=sys.stderr)
    bar = ProgressBar()
    short = [chr(ord("A") + i) for i in range(len(run.config.models))]

    def on_item(items: list[ItemResult]) -> None:
        if not args.quiet:
            bar.message(item_line(items, short))

    runner = BenchRunner(store, remote_settings(args))
    t0 = time.monotonic()
    try:
        outcome = runner.run(run_id, on_progress=bar.update, on_item=on_item)
    except BenchBusyError as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BenchError as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    except KeyboardInterrupt:
        bar.close()
        print(f"# stopped; finished items are saved. Resume with: gemmacompare bench --resume {run_id}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    bar.close()
    print(f"# {outcome.status} in {_fmt_duration(time.monotonic() - t0)}", file=sys.stderr)
    status = _show(store, [run_id], getattr(args, "out", None), chart_writer)
    return status if outcome.status == STATUS_DONE else EXIT_ERROR


def _save_run(store: BenchStore, run_id: int, args: argparse.Namespace, status: int = EXIT_OK) -> int:
    """Writes the run file asked for with --save-run (if any); keeps the run's own status."""
    target = getattr(args, "save_run", None)
    run = store.get_run(run_id) if target else None
    if run is None or target is None:
        return status
    from gemmacompare.bench.run_file import bench_run_dict

    try:
        write_run_file(target, bench_run_dict(run, redact_prompts=args.redact_prompts))
    except OSError as exc:
        print(f"error: cannot write {target} ({exc.strerror or type(exc).__name__}); pick another path.",
              file=sys.stderr)
        return status or EXIT_ERROR
    print(f"# wrote {target} (see it with: gemmacompare replay {target})", file=sys.stderr)
    return status


def _list(store: BenchStore) -> int:
    runs = store.list_runs()
    if not runs:
        print("No benchmark runs yet; start one with `gemmacompare bench`.")
        return EXIT_OK
    counts = store.item_counts()
    rows = [["id", "created", "status", "suite", "mode", "items", "models"]]
    for r in runs:
        names = ", ".join(label if info else model_label(m)
                          for m, info, label in zip(r.config.models, r.models, r.labels))
        rows.append([str(r.id), r.created.replace("T", " ")[:19], r.status, r.suite_name, r.config.mode,
                     f"{counts.get(r.id, 0)}/{r.n_planned}", names])
    print(text_table(rows))
    return EXIT_OK


def _show(store: BenchStore, ids: list[int], out: Path | None, chart_writer: ChartWriter | None) -> int:
    runs = []
    for run_id in ids:
        run = store.get_run(run_id)
        if run is None:
            print(f"error: there is no benchmark run #{run_id}; see `gemmacompare bench --list`.", file=sys.stderr)
            return EXIT_USAGE
        runs.append(run)
    rows: list[list[str]] = []
    for run in runs:
        table = summary_table(run, summarize_run(run))
        if not rows:
            rows.append(["run", "mode", *table[0]])
        rows += [[f"#{run.id}", run.config.mode, *r] for r in table[1:]]
    print(text_table(rows))
    if len(runs) == 1:
        run = runs[0]
        print(f"\n{run.status}; {len(run.items)}/{run.n_planned} items; mode {run.config.mode}; "
              f"mean ± sd over {run.config.runs} repetition(s); "
              f"machine: {run.machine.get('cpu_model', '?')}, GPU {run.machine.get('gpu', '?')}")
    if out is not None:
        for run in runs:
            charts: list[Path] = []
            if chart_writer is not None and run.items:
                try:
                    charts = chart_writer(run, Path(out))
                except Exception as exc:  # noqa: BLE001 - charts are a bonus; the data files matter
                    log.debug("chart export failed", exc_info=True)
                    print(f"warning: PNG charts were not written ({exc}).", file=sys.stderr)
            for path in write_exports(run, out, [str(c) for c in charts]) + charts:
                print(f"# wrote {path}", file=sys.stderr)
    return EXIT_OK
