"""`gemmacompare replay FILE` and `gemmacompare rerun FILE`: a saved run watched, or redone here.

Both read the file with `engine.run_file.read_run_file`; a file we will not use
gets one sentence on stderr and nothing runs. Everything a file says (names,
answers, machine facts) is a stranger's text and goes through terminal_safe.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from gemmacompare.cli.compare import LinePrinter, format_table
from gemmacompare.cli.exit_codes import EXIT_ERROR, EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.engine.api import (
    RACE,
    CompareResult,
    CompareSession,
    ModelMissing,
    RerunFailed,
    RerunJob,
    RerunRefused,
    RunFile,
    RunFileError,
    RunModel,
    SessionEvent,
    check_rerunnable,
    plan_rerun,
    play_clock,
    read_run_file,
    rerun_report,
    speed_summary,
    split_of,
    text_table,
)
from gemmacompare.engine.api import protocol as p
from gemmacompare.models.gguf_file import human_bytes
from gemmacompare.state.untrusted import terminal_safe

log = logging.getLogger(__name__)

TEXT_MAX = 1 << 20  # a whole answer line; the file's own limits bound it already


def _safe(text: object, max_len: int = 200) -> str:
    return terminal_safe(text, max_len)


def open_run(path: Path) -> RunFile | None:
    """The file's run, or None after one sentence on stderr."""
    try:
        return read_run_file(path)
    except RunFileError as exc:
        print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
    except OSError as exc:
        print(f"error: cannot read {_safe(path)} ({_safe(exc.strerror or type(exc).__name__)}); check the path.",
              file=sys.stderr)
    return None


def _model_line(m: RunModel) -> str:
    i = m.identity
    size = human_bytes(i["file_size"]) if isinstance(i.get("file_size"), int) else "?"
    src = i.get("source") or {}
    where = ""
    if src.get("hub_repo"):
        where = f", from the Hub: {src['hub_repo']}"
    elif src.get("server_model_id") or src.get("server"):
        model_id = f" as {src['server_model_id']}" if src.get("server_model_id") else ""
        where = f", served by {src.get('server')}{model_id}"
    elif src.get("ollama"):
        where = f", Ollama {src['ollama']}"
    ld = m.loaded
    setting = (f"; ctx {ld.n_ctx}, batch {ld.n_batch or 'default'}, gpu layers {ld.n_gpu_layers}, "
               f"flash attn {ld.flash_attn}, KV {ld.type_k}/{ld.type_v}"
               + (", full-size SWA cache" if ld.swa_full else "")) if ld else ""
    fin = m.record.finished
    threads = f", {fin.n_threads} threads" if fin else ""
    return _safe(f"# [{m.label}] {m.display_name}: {i.get('file_name') or '-'}, {i.get('architecture') or '?'}, "
                 f"{i.get('quantization') or '?'}, {size}, hash {i.get('file_hash') or '-'}{where}{setting}{threads}",
                 600)


def print_header(run: RunFile) -> None:
    err = sys.stderr
    print(_safe(f"# a {run.kind} run saved {run.created}: {run.thread_split or run.mode + ' mode'}", 400), file=err)
    print(_safe(f"# recorded on their machine: {run.whose()}", 600), file=err)
    for m in run.models:
        print(_model_line(m), file=err)
    s = run.models[0].settings.get("sampling", {}) if run.models else {}
    print(_safe(f"# sampling: temperature {s.get('temperature')}, seed {s.get('seed')}, "
                f"max tokens {s.get('max_tokens')}, top-k {s.get('top_k')}, top-p {s.get('top_p')}", 400), file=err)
    if run.left_out:
        print(_safe(f"# the file leaves out: {'; '.join(run.left_out)}", 600), file=err)
    if run.prompt:
        print(terminal_safe(f"# prompt: {run.prompt}", 400), file=err)


# --- replay ---------------------------------------------------------------------

def replay_run(run: RunFile, speed: float = 1.0, printer: LinePrinter | None = None) -> CompareResult:
    """Every model of the run played side by side through the compare session; blocking."""
    labels = run.labels

    def on_event(i: int, ev: SessionEvent) -> None:
        if printer is None:
            return
        if isinstance(ev, p.Token):
            printer.feed(i, "thinking", terminal_safe(ev.thinking, TEXT_MAX, keep_newlines=True))
            printer.feed(i, "answer", terminal_safe(ev.answer, TEXT_MAX, keep_newlines=True))
        elif isinstance(ev, (p.Finished, p.WorkerError)):
            printer.flush(i)
            if isinstance(ev, p.WorkerError):
                print(f"[{labels[i]}] error (recorded): {terminal_safe(ev.message, 400)}", file=sys.stderr)

    with CompareSession.of_records(labels, run.records, run.loaded, speed) as session:
        result = session.play(on_event)
        session.wait()
    return result


def recorded_result(run: RunFile) -> CompareResult:
    """The run as it was recorded, for its table and verdict."""
    return CompareResult(run.mode, run.threads_total, run.records, run.loaded, list(range(len(run.models))),
                         split_of(run))


def cmd_replay(args: argparse.Namespace) -> int:
    run = open_run(args.file)
    if run is None:
        return EXIT_ERROR
    print_header(run)
    if run.kind == "bench":
        return _show_bench(run)
    labels = run.labels
    if args.speed != 1.0:
        print(f"# played {args.speed:g}x faster than recorded; the figures below are the recorded ones",
              file=sys.stderr)
    paced = next((said for m in run.models if (said := play_clock(m.record, args.speed).said())), "")
    if paced:
        print(f"# {paced}", file=sys.stderr)
    replay_run(run, args.speed, LinePrinter([_safe(x, 40) for x in labels], out=sys.stdout))
    print()
    _print_verdict_and_table(recorded_result(run), [_safe(x, 40) for x in labels])
    return EXIT_OK


def _print_verdict_and_table(result: CompareResult, labels: list[str]) -> None:
    done = [(labels[k], r.stats()) for k, r in enumerate(result.runs) if r.finished]
    if len(done) >= 2:
        print(speed_summary([x[0] for x in done], [x[1] for x in done], race=result.mode == RACE))
        print()
    print(format_table(result, labels))


def _show_bench(run: RunFile) -> int:
    from gemmacompare.bench.run_file import stored_run_from_file  # noqa: PLC0415
    from gemmacompare.bench.stats import summarize_run, summary_table  # noqa: PLC0415

    stored = stored_run_from_file(run)
    print("# a benchmark run has scores and figures per item, not a token timeline: its summary follows",
          file=sys.stderr)
    rows = [[_safe(c, 80) for c in row] for row in summary_table(stored, summarize_run(stored))]
    print(text_table(rows))
    return EXIT_OK


# --- rerun ----------------------------------------------------------------------

def cmd_rerun(args: argparse.Namespace) -> int:
    run = open_run(args.file)
    if run is None:
        return EXIT_ERROR
    print_header(run)
    try:
        check_rerunnable(run)
    except RerunRefused as exc:
        print(f"error: {exc.message[0].lower()}{exc.message[1:]}", file=sys.stderr)
        return EXIT_USAGE
    if args.json_out and not Path(args.json_out).parent.is_dir():
        print(f"error: cannot write {_safe(args.json_out)} (its folder is missing); pick another path.",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        plan = plan_rerun(run)
    except ModelMissing as exc:
        # hub_repo is a repo id (plan_rerun checked it); quoted anyway, as a command to paste should be.
        hint = (f"; it came from the Hub repo {exc.hub_repo}: `gemmacompare pull {shlex.quote(exc.hub_repo)}` "
                "fetches it" if exc.hub_repo else "")
        print(f"error: {terminal_safe(exc.message + hint, 400)}; nothing was run.", file=sys.stderr)
        return EXIT_MODEL_FAILED
    except RerunRefused as exc:
        print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
        return EXIT_USAGE
    for line in plan.found + plan.notes:
        print(f"# {line}", file=sys.stderr)

    def progress(message: str, done: int, total: int) -> None:
        if not message.startswith("loading") and not message.endswith("done"):
            print(f"# {message}", file=sys.stderr)

    try:
        measured = RerunJob(run, plan, args.runs).run(progress)
    except RerunFailed as exc:
        print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    report = rerun_report(run, measured)
    print()
    print(text_table(report["table"]))
    print()
    for line in report["notes"]:
        print(line)
    if "turn_table" in report:  # a conversation: recorded vs measured, turn by turn
        print()
        print(text_table(report["turn_table"]))
        print()
        for line in report["turn_notes"]:
            print(line)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({k: v for k, v in report.items() if k not in ("table", "turn_table")},
                                                  indent=1))
        print(f"# wrote {_safe(args.json_out)}", file=sys.stderr)
    return EXIT_OK


__all__ = ["cmd_replay", "cmd_rerun", "open_run", "recorded_result", "replay_run"]
