"""`gemmacompare models`: what the library found on this machine."""

from __future__ import annotations

import argparse
import json
import sys

from gemmacompare.cli.exit_codes import EXIT_OK
from gemmacompare.engine.api import text_table
from gemmacompare.models.gguf_file import human_bytes
from gemmacompare.models.library import scan_library
from gemmacompare.state.settings import load_settings
from gemmacompare.state.untrusted import terminal_safe


def cmd_models(args: argparse.Namespace) -> int:
    if getattr(args, "server", None):
        from gemmacompare.cli.servers import cmd_server_models  # httpx only when asked

        return cmd_server_models(args)
    folders = load_settings().settings.model_folders
    scan = scan_library(folders=folders)
    if args.json:
        print(json.dumps([e.to_dict() for e in scan.entries], indent=1))  # ensure_ascii escapes controls
        return EXIT_OK
    if not scan.entries:
        print("No GGUF models found. Looked in: " + terminal_safe(scan.looked_in(), 4096), file=sys.stderr)
        print("Get one with `gemmacompare pull ORG/REPO:Q4_K_M`, or add a folder in the window.", file=sys.stderr)
        return EXIT_OK
    rows = [["name (use with compare/bench)", "quant", "size", "path"]]
    for e in scan.entries:
        shards = f" ({e.shards} files)" if e.shards > 1 else ""
        # Names, quantisations and paths come from other tools' folders and files: escaped, bounded.
        rows.append([terminal_safe(e.ref, 200), terminal_safe(e.quant, 32), human_bytes(e.size) + shards,
                     terminal_safe(e.path, 1024)])
    print(text_table(rows))
    if args.verbose and scan.notes:
        print("\n".join(f"note: {terminal_safe(n, 1024)}" for n in scan.notes), file=sys.stderr)
    return EXIT_OK
