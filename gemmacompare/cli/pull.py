"""`gemmacompare pull ORG/REPO[:QUANT]`: a GGUF model from the Hugging Face Hub into the shared HF cache."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from gemmacompare.cli.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from gemmacompare.models.gguf_file import human_bytes
from gemmacompare.models.hub import ChoiceNeeded, HubError, Progress, download, list_models, parse_repo_spec, pick_model
from gemmacompare.state.untrusted import terminal_safe


class ProgressPrinter:
    """One line rewritten in place on a terminal; a line every few seconds otherwise (logs, CI)."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        final = p.done >= p.total
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        pct = 100 * p.done / p.total if p.total else 100
        line = f"{pct:5.1f}%  {p.text()}"
        if self.tty:
            print(f"\r{line:<79}", end="\n" if final else "", file=self.out, flush=True)
        else:
            print(line, file=self.out, flush=True)


def cmd_pull(args: argparse.Namespace) -> int:
    try:
        repo_id, quant = parse_repo_spec(args.repo)
        model = pick_model(list_models(repo_id), quant)
    # Repo ids, file names and the Hub's error texts are the Hub's (or a stranger's) words: escaped, bounded.
    except ChoiceNeeded as exc:
        print(f"error: {terminal_safe(exc.message, 2048)}", file=sys.stderr)
        return EXIT_USAGE
    except HubError as exc:
        print(f"error: {terminal_safe(exc.message, 1024)}", file=sys.stderr)
        return EXIT_ERROR
    files = f"{len(model.files)} files" if len(model.files) > 1 else model.filename
    print(terminal_safe(f"# {repo_id}: {model.quant}, {human_bytes(model.size)} ({files})", 1024), file=sys.stderr)
    try:
        path = download(model, ProgressPrinter())
    except HubError as exc:
        print(f"error: {terminal_safe(exc.message, 1024)}", file=sys.stderr)
        return EXIT_ERROR
    print(terminal_safe(f"# saved in the Hugging Face cache; compare it as hf:{repo_id}:{model.quant}", 1024),
          file=sys.stderr)
    print(terminal_safe(path, 4096))
    return EXIT_OK
