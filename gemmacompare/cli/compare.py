"""`gemmacompare compare`: two to four answers streamed to the terminal, then a table."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

from gemmacompare.cli.args import settings_from_args
from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.cli.servers import check_server_arg, is_server_ref, remote_settings, resolve_with_servers
from gemmacompare.engine.api import (
    RACE,
    CompareResult,
    CompareSession,
    RunSettings,
    SessionEvent,
    busy_sentence,
    command_for,
    compare_run_dict,
    parse_server_ref,
    speed_summary,
    stats_rows,
    text_table,
    write_run_file,
)
from gemmacompare.engine.api import protocol as p
from gemmacompare.models.display_names import display_name
from gemmacompare.models.gguf_file import ModelFileError, human_bytes, read_model_facts
from gemmacompare.state.defaults import MAX_MODELS
from gemmacompare.state.untrusted import terminal_safe

log = logging.getLogger(__name__)


# One streamed line is printed whole up to this length (a model can answer without newlines).
STREAM_LINE_LIMIT = 1 << 20


def say(text: object) -> str:
    """A stranger's text (a model or file name, a server's id or error) made inert for the terminal."""
    return terminal_safe(text)


class LinePrinter:
    """Prints each model's text line by line with a label, so several streams
    interleave readably in one terminal."""

    def __init__(self, labels: list[str], out: TextIO | None = None) -> None:
        self.labels = labels
        # Looked up now, not at import: a caller (or a test) may have replaced sys.stdout since.
        self.out = out or sys.stdout
        # The unfinished line of each stream, as the pieces that came: joined once, when its line ends
        # (adding each token to a string was quadratic: 65,536 tokens on one line never printed).
        self.partial: dict[tuple[int, str], list[str]] = {
            (i, ph): [] for i in range(len(labels)) for ph in ("thinking", "answer")}
        self.lock = threading.Lock()
        width = max(len(x) for x in labels)
        self.prefix = [f"[{x:<{width}}]" for x in labels]

    def feed(self, i: int, phase: str, text: str) -> None:
        if not text:
            return
        with self.lock:
            pending = self.partial[(i, phase)]
            if "\n" not in text:
                pending.append(text)
                return
            first, *lines, rest = text.split("\n")
            self._emit(i, phase, "".join([*pending, first]))
            for line in lines:
                self._emit(i, phase, line)
            self.partial[(i, phase)] = [rest] if rest else []

    def flush(self, i: int) -> None:
        with self.lock:
            for ph in ("thinking", "answer"):
                if self.partial[(i, ph)]:
                    self._emit(i, ph, "".join(self.partial[(i, ph)]))
                    self.partial[(i, ph)] = []

    def _emit(self, i: int, phase: str, line: str) -> None:
        tag = " think>" if phase == "thinking" else ""
        # A model's text is a stranger's: ESC/OSC sequences and bidi overrides in it are shown, not obeyed.
        safe = terminal_safe(line, STREAM_LINE_LIMIT, keep_newlines=True)
        print(f"{self.prefix[i]}{tag} {safe}", file=self.out, flush=True)


def format_table(result: CompareResult, labels: list[str]) -> str:
    return text_table(stats_rows(result, labels))


def result_to_json(result: CompareResult, labels: list[str], prompt: str) -> dict[str, Any]:
    models = []
    for i, run in enumerate(result.runs):
        loaded = result.loaded[i] if i < len(result.loaded) else None
        models.append(
            {
                "label": labels[i],
                "model": asdict(loaded.facts) if loaded else None,
                "load_seconds": loaded.load_seconds if loaded else None,
                "placement": asdict(loaded.placement) if loaded and loaded.placement else None,
                # llama.cpp's own account per device: weights, KV cache, recurrent state, output, compute.
                "llama_cpp_memory": [
                    {**asdict(a), "total": a.total} for a in loaded.placement.memory
                ] if loaded and loaded.placement else None,
                # Every setting that changes speed, named as llama-bench names them.
                "settings": {
                    "n_ctx": loaded.n_ctx, "n_batch": loaded.n_batch, "n_threads": run.stats().n_threads,
                    "n_gpu_layers": loaded.n_gpu_layers, "flash_attn": loaded.flash_attn,
                    "type_k": loaded.type_k, "type_v": loaded.type_v, "swa_full": loaded.swa_full,
                    "cache": run.stats().cache_policy,  # the conversation cache: a single prompt is sent cold
                } if loaded else None,
                "stats": run.stats().to_dict(),
                "llama_perf": asdict(run.finished.perf) if run.finished and run.finished.perf else None,
                "server_figures": asdict(run.finished.server) if run.finished and run.finished.server else None,
                "draft": asdict(run.finished.draft) if run.finished and run.finished.draft else None,
                "error": asdict(run.error) if run.error else None,
                "thinking": run.thinking,
                "answer": run.answer,
                "prompt_text": run.prompt.prompt_text if run.prompt else None,
                "t_send": run.t_send,
                "tokens": [
                    {"i": t.index, "id": t.token_id, "t": t.t - run.t_send, "phase": t.phase,
                     "text": t.thinking + t.answer}
                    for t in run.tokens
                ],
                "memory": [
                    {"t": s.t - run.t_send, "rss": s.rss, "vram": s.vram}
                    for s in (run.memory.samples if run.memory else [])
                ],
            }
        )
    return {
        "mode": result.mode,
        "threads_total": result.threads_total,
        "threads_per_model": [r.stats().n_threads for r in result.runs],
        "thread_split": result.split.describe() if result.split else None,
        "prompt": prompt,
        "models": models,
    }


def _writable_target(path: Path) -> bool:
    folder = path.parent if str(path.parent) else Path(".")
    return folder.is_dir() and os.access(folder, os.W_OK) and not path.is_dir()


def labels_for(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def run_settings(args: argparse.Namespace, index: int) -> RunSettings | str:
    """Model `index`'s settings from the command line (a comma list gives one value per model),
    or one sentence for a draft model that cannot be found."""
    from gemmacompare.cli.speculation import with_draft_resolved

    s = settings_from_args(args, index, RunSettings(server=remote_settings(args)))
    if len(args.n_threads) == 1:  # one value is the total, split by the mode
        s = replace(s, prompt=replace(s.prompt, n_threads=0))
    return with_draft_resolved(s)


def _model_args(args: argparse.Namespace) -> list[str | None] | str:
    """Two to four model arguments (missing ones are the demo models), or a problem."""
    given = list(args.models)
    if len(given) > MAX_MODELS:
        return f"compare takes two to {MAX_MODELS} models, not {len(given)}."
    for name, values in (("--ctx", args.n_ctx), ("--threads", args.n_threads), ("--gpu-layers", args.n_gpu_layers)):
        if len(values) > 1 and len(values) != max(2, len(given)):
            return (f"{name} has {len(values)} values for {max(2, len(given))} models; give one value for all "
                    "or one per model.")
    return given + [None] * (2 - len(given))


# A prompt longer than this cannot fit any model's context (a million tokens is about 4 MB).
PROMPT_FILE_LIMIT = 8 << 20


class PromptInputError(ValueError):
    """The prompt or system prompt cannot be used; the message is one sentence."""


def read_prompt_file(path: Path, limit: int = PROMPT_FILE_LIMIT) -> str:
    """A prompt file's text: UTF-8 (a BOM is dropped), at most `limit` bytes, read without stat
    (a FIFO or /dev/zero has no useful size). Raises PromptInputError with one sentence."""
    shown = terminal_safe(str(path), 200)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise PromptInputError(f"The prompt file {shown} does not exist.") from None
    except IsADirectoryError:
        raise PromptInputError(f"The prompt file {shown} is a folder; give a text file.") from None
    except OSError as exc:
        log.info("reading %s: %r", path, exc)
        raise PromptInputError(f"The prompt file {shown} cannot be read ({exc.strerror or 'error'}).") from None
    if len(data) > limit:
        raise PromptInputError(f"The prompt file {shown} is larger than {limit >> 20} MiB, more than any "
                               "model's context holds; shorten it.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptInputError(f"The prompt file {shown} is not UTF-8 text (byte {exc.start}); "
                               "save it as UTF-8.") from None


def _check_utf8(text: str, what: str) -> None:
    # Bytes in argv that are not UTF-8 arrive as lone surrogates (Python's surrogateescape);
    # the tokenizer cannot encode them, so say so here rather than fail the generation.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PromptInputError(f"The {what} has bytes that are not UTF-8 text (at character {exc.start}); "
                               "give it as UTF-8, or in a UTF-8 file with -f.") from None


def prompt_of(args: argparse.Namespace) -> str:
    """The prompt from -p or -f, checked; also checks --system. Raises PromptInputError."""
    text = args.prompt if args.prompt_file is None else read_prompt_file(args.prompt_file)
    _check_utf8(text, "prompt")
    _check_utf8(args.system_prompt, "system prompt")
    if not text.strip():
        raise PromptInputError("The prompt is empty; give some text with -p or -f.")
    return text


def cmd_compare(args: argparse.Namespace) -> int:
    wanted = _model_args(args)
    if isinstance(wanted, str):
        print(f"error: {wanted}", file=sys.stderr)
        return EXIT_USAGE
    chats = None
    try:
        if getattr(args, "chat", None) is not None or getattr(args, "cold", False):
            from gemmacompare.cli.compare_chat import check_chat_args, read_chats

            problem = check_chat_args(args)
            if problem:
                raise PromptInputError(problem)
            chats = read_chats(args)
            args.prompt = ""
        else:
            args.prompt = prompt_of(args)
    except PromptInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    resolved = [run_settings(args, i) for i in range(len(wanted))]
    problems = [s for s in resolved if isinstance(s, str)]
    if problems:
        print(f"error: {say(problems[0])}", file=sys.stderr)
        return EXIT_USAGE
    settings = [s for s in resolved if not isinstance(s, str)]
    if args.ab:
        from gemmacompare.cli.speculation import cmd_compare_ab

        return cmd_compare_ab(args, settings[0])
    try:
        paths = resolve_with_servers(wanted, remote_settings(args))
    except LookupError as exc:
        print(f"error: {say(exc)}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    for path in paths:
        if is_server_ref(path):
            problem = check_server_arg(str(path))
            if problem:
                print(f"error: {say(problem)}", file=sys.stderr)
                return EXIT_USAGE
            print(f"# server: {say(path)}", file=sys.stderr)
            continue
        try:
            facts = read_model_facts(path)
        except ModelFileError as exc:
            print(f"error: {say(exc.message)}", file=sys.stderr)
            return exc.problem.value
        print(f"# {say(display_name(str(path), facts.name))}: {say(facts.architecture)}, {facts.size_label} params, "
              f"{say(facts.quantization)}, {human_bytes(facts.file_size)}"
              + (f", {facts.SYNTHETIC_LABEL}" if facts.synthetic else ""), file=sys.stderr)
    if args.json_out and not _writable_target(Path(args.json_out)):
        print(f"error: cannot write {args.json_out} (its folder is missing or read-only); pick another path.",
              file=sys.stderr)
        return EXIT_USAGE
    save_run = getattr(args, "save_run", None)
    if save_run and not _writable_target(Path(save_run)):
        print(f"error: cannot write {save_run} (its folder is missing or read-only); pick another path.",
              file=sys.stderr)
        return EXIT_USAGE
    labels = labels_for(len(paths))
    commands = {i: command_for(s, (), args.prompt) for i, s in enumerate(settings)}
    printer = LinePrinter(labels)

    def on_event(i: int, ev: SessionEvent) -> None:
        if isinstance(ev, p.Token):
            printer.feed(i, "thinking", ev.thinking)
            printer.feed(i, "answer", ev.answer)
        elif isinstance(ev, (p.Finished, p.WorkerError)):
            printer.flush(i)
            if isinstance(ev, p.WorkerError):
                print(f"[{labels[i]}] error: {say(ev.message)}", file=sys.stderr)
                log.debug("[%s] detail:\n%s", labels[i], ev.detail)  # shown with -v
            elif ev.server and ev.server.problem:
                print(f"[{labels[i]}] warning: {say(ev.server.problem)}", file=sys.stderr)

    total = args.n_threads[0] if len(args.n_threads) == 1 else sum(args.n_threads)
    # Every server of the run, named up front: the models load at once, and a shared
    # API key is sent only when there is one server (state/secrets.py).
    servers = tuple(parse_server_ref(str(x)).base_url for x in paths if is_server_ref(x))
    with CompareSession(labels, server=replace(remote_settings(args), servers_in_run=servers)) as session:
        print(f"# loading {len(paths)} models ({args.mode} mode)...", file=sys.stderr)
        if any(is_server_ref(x) for x in paths):
            print("# a model on a server takes no CPU threads here; race splits threads among local models only",
                  file=sys.stderr)
        errors = session.load([str(x) for x in paths], [s.load for s in settings])
        for i, err in enumerate(errors):
            if err:
                print(f"[{labels[i]}] error: {say(err.message)}", file=sys.stderr)
                log.debug("[%s] detail:\n%s", labels[i], err.detail)
            elif (loaded := session.loaded[i]) is not None and loaded.placement is not None:
                print(f"# [{labels[i]}] runs on {say(loaded.placement.summary)}", file=sys.stderr)
        if all(errors):
            return EXIT_MODEL_FAILED
        if chats is not None:
            from gemmacompare.cli.compare_chat import play_chats

            return play_chats(session, chats, settings, args, labels, on_event, total or None,
                              [str(x) for x in paths], [str(w or "") for w in wanted])
        try:
            result = session.start(commands, mode=args.mode, threads_total=total or None, on_event=on_event)
            if result.split is not None:  # the session's split, made as the round started
                print(f"# {result.split.describe()}", file=sys.stderr)
            session.wait()
        except KeyboardInterrupt:
            session.stop()
            raise
    print()
    done = [(labels[k], r.stats()) for k, r in enumerate(result.runs) if r.finished]
    if len(done) >= 2:
        summary = speed_summary([x[0] for x in done], [x[1] for x in done], race=result.mode == RACE)
        print(terminal_safe(summary, 1 << 16, keep_newlines=True))
        print()
    busy = busy_sentence([x[0] for x in done], [x[1] for x in done])
    if busy:
        print(f"warning: {busy}", file=sys.stderr)
    # The table holds the models' names, as their files or servers gave them.
    print(terminal_safe(format_table(result, labels), 1 << 20, keep_newlines=True))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result_to_json(result, labels, args.prompt), indent=1))
        print(f"# wrote {args.json_out}", file=sys.stderr)
    if save_run:
        write_run_file(save_run, compare_run_dict(result, labels, [str(x) for x in paths], settings, args.prompt,
                                                  redact_prompts=args.redact_prompts,
                                                  refs=[str(w or "") for w in wanted]))
        print(f"# wrote {save_run} (replay it with: gemmacompare replay {save_run})", file=sys.stderr)
    return EXIT_OK if not any(r.error for r in result.runs) else EXIT_MODEL_FAILED
