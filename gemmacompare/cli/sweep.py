"""`gemmacompare sweep A B --depths 0,1k,4k`: speed and memory as the context grows (engine/sweep.py).

The sweep runs on a thread of its own so that Ctrl+C here stops it and still prints what it measured.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from gemmacompare.cli.args import flag_values
from gemmacompare.cli.compare import labels_for
from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.engine.api import (
    ContextSweep,
    RunSettings,
    SweepProgress,
    SweepResult,
    SweepSettings,
    parse_depths,
    sweep_run_dict,
    sweep_table,
    write_run_file,
)
from gemmacompare.state.settings_table import with_values
from gemmacompare.state.untrusted import terminal_safe


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        depths = parse_depths(args.depths)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if len(args.models) > 4:
        print("error: a sweep compares one to four models.", file=sys.stderr)
        return EXIT_USAGE
    from gemmacompare.cli.servers import is_server_ref, resolve_with_servers

    try:
        paths = [str(x) for x in resolve_with_servers(list(args.models))]
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    if any(is_server_ref(x) for x in paths):
        print("error: a sweep measures local model files; a server's speed is not this machine's.", file=sys.stderr)
        return EXIT_USAGE
    # The llama.cpp settings that change speed; the context size is the sweep's own.
    load = with_values(RunSettings(), {k: v for k, v in flag_values(args).items()
                                       if k in ("flash_attn", "type_k", "type_v", "swa_full")}).load
    settings = SweepSettings(depths, args.n_gen, args.pp, args.reps, args.threads, load)
    job = ContextSweep(paths, settings, labels_for(len(paths)))
    result = _run(job)
    for m in result.models:
        for sentence in m.left_out:
            print(f"# {terminal_safe(sentence, 400)}", file=sys.stderr)
        if m.error:
            print(f"error: [{m.label}] {terminal_safe(m.error, 400)}", file=sys.stderr)
    print(sweep_table(result))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result.to_dict(), indent=2))
        print(f"# wrote {args.json_out}", file=sys.stderr)
    if args.save_run:
        write_run_file(Path(args.save_run), sweep_run_dict(result, refs=[str(x) for x in args.models]))
        print(f"# wrote {args.save_run}", file=sys.stderr)
    if all(m.error for m in result.models):
        return EXIT_MODEL_FAILED
    return EXIT_OK


def _run(job: ContextSweep) -> SweepResult:
    """The sweep on a thread; Ctrl+C stops it and waits for what was measured."""
    box: list[SweepResult] = []

    def progress(pr: SweepProgress) -> None:
        print(f"# {pr.message}", file=sys.stderr, flush=True)

    t = threading.Thread(target=lambda: box.append(job.run(progress)), name="sweep", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.2)
    except KeyboardInterrupt:
        print("# stopping: what was measured is kept", file=sys.stderr)
        job.stop()
        t.join()
    return box[0]


__all__ = ["cmd_sweep"]
