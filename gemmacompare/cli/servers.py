"""Server references on the command line: settings from the options, the plain-http warning."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence, TextIO

from gemmacompare.cli.exit_codes import EXIT_MODEL_FAILED, EXIT_OK, EXIT_USAGE
from gemmacompare.engine.api import (
    OLLAMA_PREFIX,
    RemoteError,
    ServerRef,
    ServerRefError,
    ServerSettings,
    display_name,
    is_server_ref,
    list_models,
    ollama_base_url,
    parse_server_ref,
    resolve_models,
    text_table,
)
from gemmacompare.state.secrets import find_api_key
from gemmacompare.state.untrusted import terminal_safe


def remote_settings(args: argparse.Namespace) -> ServerSettings:
    return ServerSettings(
        connect_timeout_s=getattr(args, "connect_timeout", 5.0),
        first_byte_timeout_s=getattr(args, "first_byte_timeout", 120.0),
        idle_timeout_s=getattr(args, "idle_timeout", 60.0),
        api_key_env=getattr(args, "api_key_env", None),
    )


def check_server_arg(text: str, out: TextIO = sys.stderr) -> str | None:
    """None when fine (after warning about plain http to another host), else one sentence."""
    try:
        ref = parse_server_ref(text)
    except ServerRefError as exc:
        return str(exc)
    if ref.insecure:
        print(f"warning: {ref.base_url} is plain http to another machine; prompts, answers and any API key "
              "travel unencrypted (use https or an SSH tunnel).", file=out)
    return None


def resolve_with_servers(args: Sequence[str | None], settings: ServerSettings | None = None) -> list[str | Path]:
    """Model arguments: servers kept as given, `ollama:` on disk or at the Ollama server, the rest by the library."""
    return resolve_models(args, settings)


# `models --server ollama`: the Ollama server at $OLLAMA_HOST.
OLLAMA_SERVER_WORDS = ("ollama", "ollama:", "ollama-server", "ollama-server:")


def cmd_server_models(args: argparse.Namespace) -> int:
    """`gemmacompare models --server URL [--json]`."""
    ollama = args.server.strip().lower() in OLLAMA_SERVER_WORDS
    try:
        ref = ServerRef(ollama_base_url()) if ollama else parse_server_ref(args.server)
    except ServerRefError as exc:
        print(f"error: {terminal_safe(exc)}", file=sys.stderr)
        return EXIT_USAGE
    check_server_arg(ref.base_url)
    settings = remote_settings(args)
    try:
        models = list_models(ref, settings, find_api_key(ref.base_url, settings.api_key_env))
    except RemoteError as exc:
        print(f"error: {terminal_safe(exc.message)}", file=sys.stderr)
        return EXIT_MODEL_FAILED

    def ref_text(model_id: str) -> str:
        return f"{OLLAMA_PREFIX}{model_id}" if ollama else f"{ref.base_url}#{model_id}"

    if args.json:
        print(json.dumps([{"id": m.id, "ref": ref_text(m.id), "owned_by": m.owned_by,
                           "context_length": m.context_length, "parameters": m.parameters, "size": m.size}
                          for m in models], indent=1))
        return EXIT_OK
    if not models:
        print(f"The server at {ref.base_url} serves no models.", file=sys.stderr)
        return EXIT_OK
    rows = [["model (use as URL#MODEL with compare/bench)", "name", "owned by", "context"]]
    # Ids and owners are the server's words: escaped, so they cannot drive the terminal.
    rows += [[terminal_safe(ref_text(m.id)), terminal_safe(display_name(m.id)), terminal_safe(m.owned_by or "-"),
              str(m.context_length or "-")] for m in models]
    print(text_table(rows))
    return EXIT_OK


__all__ = ["check_server_arg", "cmd_server_models", "is_server_ref", "remote_settings", "resolve_with_servers"]
