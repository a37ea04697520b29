"""`gemmacompare replay FILE` and `gemmacompare rerun FILE`: a saved run watched, or redone here.

Both read the file with `engine.run_file.read_run_file`; a file we will not use
gets one sentence on stderr and nothing runs. Everything a file says (names,
answers, machine facts) is a stranger's text and goes through terminal_safe.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gemmacompare.cli.compare import LinePrinter, format_table
from gemmacompare.cli.exit_codes import EXIT_ERROR, EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.engine import protocol as p
from gemmacompare.engine.machine import file_hash_prefix
from gemmacompare.engine.metrics import RunStats
from gemmacompare.engine.modes import RACE, default_threads
from gemmacompare.engine.replay import ReplayWorker
from gemmacompare.engine.report.speed_summary import speed_summary
from gemmacompare.engine.report.stats_table import text_table
from gemmacompare.engine.run_file import RunFile, RunFileError, RunModel, read_run_file, split_of
from gemmacompare.engine.session import CompareResult, CompareSession, SessionEvent
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
               f"flash attn {ld.flash_attn}, KV {ld.type_k}/{ld.type_v}") if ld else ""
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

    with CompareSession(labels) as session:
        for k, m in enumerate(run.models):
            session.set_participant(k, ReplayWorker(m.label, m.record, m.loaded, speed))
        commands = {k: p.GenerateCommand(request_id=k + 1) for k in range(len(run.models))}
        result = session.run(commands, mode=RACE, threads_total=len(run.models), on_event=on_event)
    for rec, m in zip(result.runs, run.models):
        src = m.record.memory
        if src is not None:  # nothing runs in a replay: the memory is the recorded one, on the replay's clock
            rec.memory = p.MemoryTrace([p.MemorySample(rec.t_send + s.t / speed, s.rss, s.vram) for s in src.samples],
                                       src.gpu_available, src.gpu_source)
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

def find_model(m: RunModel, candidates: list[Path], entries: list[Any]) -> tuple[Path | None, str]:
    """The model's file here (by hash, then by name) and how it was found, or None and why not."""
    ident = m.identity
    want_hash, size = ident.get("file_hash"), ident.get("file_size")
    if want_hash:
        for path in candidates:
            try:
                if (size is None or path.stat().st_size == size) and file_hash_prefix(path) == want_hash:
                    return path, "by its file hash"
            except OSError:
                continue
    from gemmacompare.models.library import find_entries  # noqa: PLC0415

    for key in (ident.get("file_name"), ident.get("display_name")):
        if not key:
            continue
        found = find_entries(str(Path(str(key)).stem) if key == ident.get("file_name") else str(key), entries)
        if len(found) == 1:
            return Path(found[0].path), "by name (its hash differs: another file of that name)"
    src = ident.get("source") or {}
    hint = (f"; it came from the Hub repo {src['hub_repo']}: `gemmacompare pull {src['hub_repo']}` fetches it"
            if src.get("hub_repo") else "")
    return None, (f"{m.label} ({m.display_name}, {ident.get('file_name') or 'no file'}) is not on this machine, "
                  f"by hash or by name{hint}")


def _candidates() -> tuple[list[Path], list[Any]]:
    from gemmacompare.models.demo import gemma3_path, smollm2_path  # noqa: PLC0415
    from gemmacompare.models.library import scan_library  # noqa: PLC0415

    entries = list(scan_library().entries)
    paths = [x for x in (smollm2_path(), gemma3_path()) if x is not None]
    paths += [Path(e.path) for e in entries]
    seen: set[str] = set()
    unique = []
    for x in paths:
        if str(x) not in seen:
            seen.add(str(x))
            unique.append(x)
    return unique, entries


@dataclass
class Measured:
    runs: list[list[RunStats]] = field(default_factory=list)  # [repetition][model]
    answers: list[list[str]] = field(default_factory=list)


T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
       15: 2.131, 20: 2.086, 30: 2.042}


def t95(df: int) -> float:
    keys = [k for k in sorted(T95) if k <= df]
    return T95[keys[-1]] if keys else T95[1]


def mean_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """Mean and its 95% interval (Student's t) when there are two values or more."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, None, None
    half = t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return m, m - half, m + half


FIGURES = (("ms/token", "ms_per_token", 1.0, "{:.1f}"), ("TTFT s", "ttft_s", 1.0, "{:.3f}"),
           ("time to answer s", "time_to_answer_s", 1.0, "{:.3f}"), ("peak RSS MiB", "peak_rss", 1 / 2**20, "{:.0f}"),
           ("tokens", "n_tokens", 1.0, "{:.0f}"))


def _fmt(values: list[float], form: str) -> str:
    if not values:
        return "-"
    m, lo, hi = mean_interval(values)
    if lo is None or hi is None or form.format(lo) == form.format(hi):
        return form.format(m)
    return form.format(m) + f" [{form.format(max(0.0, lo))}, {form.format(hi)}]"  # none of these figures is negative


def cmd_rerun(args: argparse.Namespace) -> int:
    run = open_run(args.file)
    if run is None:
        return EXIT_ERROR
    print_header(run)
    if run.kind != "compare":
        print("error: only a compare run can be rerun; a benchmark is rerun with `gemmacompare bench`.",
              file=sys.stderr)
        return EXIT_USAGE
    if run.redacted:
        print("error: this run file leaves its prompts out, so it can be replayed but not rerun.", file=sys.stderr)
        return EXIT_USAGE
    if any((m.identity.get("source") or {}).get("kind", "").endswith("server") for m in run.models):
        print("error: a model of this run ran on a server; rerun runs local model files only.", file=sys.stderr)
        return EXIT_USAGE
    if args.json_out and not Path(args.json_out).parent.is_dir():
        print(f"error: cannot write {_safe(args.json_out)} (its folder is missing); pick another path.",
              file=sys.stderr)
        return EXIT_USAGE
    candidates, entries = _candidates()
    paths: list[Path] = []
    for m in run.models:
        path, how = find_model(m, candidates, entries)
        if path is None:
            print(f"error: {terminal_safe(how, 400)}; nothing was run.", file=sys.stderr)
            return EXIT_MODEL_FAILED
        print(_safe(f"# [{m.label}] found {path.name} {how}", 400), file=sys.stderr)
        paths.append(path)
    here = default_threads()
    total = here
    settings = []
    for k, m in enumerate(run.models):
        s = run.run_settings(k)
        if s.prompt.n_threads > here:  # a thread count the author chose, more than this machine has
            print(f"# [{_safe(m.label, 40)}] recorded with {s.prompt.n_threads} threads of its own; "
                  f"here {here}, all this machine has", file=sys.stderr)
            s = replace(s, prompt=replace(s.prompt, n_threads=here))
        settings.append(s)
    print(f"# threads: recorded {run.threads_total} in all ({_safe(run.thread_split, 200)}); here {here} "
          f"(this machine's default), split by {run.mode} mode as recorded", file=sys.stderr)
    labels = run.labels
    measured = Measured()
    with CompareSession(labels) as session:
        errors = session.load([str(x) for x in paths], [s.load for s in settings])
        for i, err in enumerate(errors):
            if err is not None:
                print(f"error: [{labels[i]}] {err.message}", file=sys.stderr)
                return EXIT_MODEL_FAILED
        prompt = run.prompt or ""
        commands = {i: s.command((), prompt, n_threads=s.prompt.n_threads or None) for i, s in enumerate(settings)}
        split = session.split_for(range(len(paths)), run.mode, total, [s.prompt.n_threads for s in settings])
        print(_safe(f"# {split.describe()}", 300), file=sys.stderr)
        for rep in range(args.runs):
            print(f"# run {rep + 1}/{args.runs}...", file=sys.stderr)
            try:
                result = session.run(commands, mode=run.mode, threads_total=total)
            except KeyboardInterrupt:
                session.stop()
                raise
            bad = [(labels[k], r.error.message) for k, r in enumerate(result.runs) if r.error]
            if bad:
                for label, msg in bad:
                    print(f"error: [{label}] {msg}", file=sys.stderr)
                return EXIT_MODEL_FAILED
            measured.runs.append([r.stats() for r in result.runs])
            measured.answers.append([r.answer for r in result.runs])
    report = rerun_report(run, measured)
    print()
    print(text_table(report["table"]))
    print()
    for line in report["notes"]:
        print(line)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({k: v for k, v in report.items() if k != "table"}, indent=1))
        print(f"# wrote {_safe(args.json_out)}", file=sys.stderr)
    return EXIT_OK


def rerun_report(run: RunFile, measured: Measured) -> dict[str, Any]:
    """Recorded vs measured per model, the ratios between models, and whether greedy answers agree."""
    labels = [_safe(x, 40) for x in run.labels]
    recorded = [m.record.stats() for m in run.models]
    header = ["figure"] + [f"{x} {side}" for x in labels for side in ("there", "here")]
    rows = [header]
    models_json = []
    for k, m in enumerate(run.models):
        models_json.append({"label": m.label, "display_name": m.display_name, "recorded": {}, "measured": {}})
    for name, key, scale, form in FIGURES:
        row = [name]
        for k in range(len(run.models)):
            rv = getattr(recorded[k], key)
            hv = [getattr(rep[k], key) * scale for rep in measured.runs if getattr(rep[k], key) is not None]
            row += [form.format(rv * scale) if rv is not None else "-", _fmt(hv, form)]
            models_json[k]["recorded"][key] = rv
            models_json[k]["measured"][key] = hv
        rows.append(row)
    notes: list[str] = []
    ratios = []
    base = recorded[0].ms_per_token
    for k in range(1, len(run.models)):
        there = recorded[k].ms_per_token / base if base and recorded[k].ms_per_token else None
        per_rep = [rep[k].ms_per_token / rep[0].ms_per_token for rep in measured.runs
                   if rep[k].ms_per_token and rep[0].ms_per_token]
        here = mean_interval(per_rep) if per_rep else None
        there_s = f"{there:.2f}" if there else "-"
        if here is None:
            here_s = "-"
        elif here[1] is not None:
            here_s = f"{here[0]:.2f} (95% interval {here[1]:.2f}-{here[2]:.2f}, {len(per_rep)} runs)"
        else:
            here_s = f"{here[0]:.2f} (one run; --runs N gives an interval)"
        inside = ""
        if there and here and here[1] is not None:
            inside = "; the recorded ratio lies inside this interval" if here[1] <= there <= here[2] else \
                "; the recorded ratio lies outside this interval"
        notes.append(f"ms/token of {labels[k]} over {labels[0]}: there {there_s}, here {here_s}{inside}.")
        ratios.append({"model": run.labels[k], "over": run.labels[0], "there": there, "here": per_rep})
    answers_json = []
    for k, m in enumerate(run.models):
        greedy = float(m.settings.get("sampling", {}).get("temperature", 1.0) or 0.0) == 0.0
        here_answers = [rep[k] for rep in measured.answers]
        same = [a == m.record.answer for a in here_answers]
        answers_json.append({"label": m.label, "greedy": greedy, "identical": same})
        if not greedy:
            continue
        if all(same):
            notes.append(f"{labels[k]}: the greedy answer is identical to the recorded one.")
        else:
            other = here_answers[same.index(False)]
            first = next(i for i, (a, b) in enumerate(zip(other + "\0", m.record.answer + "\1")) if a != b)
            notes.append(f"{labels[k]}: the greedy answer differs from the recorded one from character {first} on "
                         f"(another llama.cpp build, CPU kernels or batch split gives other greedy tokens).")
    return {"file": run.kind, "labels": run.labels, "runs": len(measured.runs), "models": models_json,
            "ratios": ratios, "answers": answers_json, "notes": notes, "table": rows}


__all__ = ["cmd_replay", "cmd_rerun", "find_model", "open_run", "recorded_result", "replay_run", "rerun_report"]
