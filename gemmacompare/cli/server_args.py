"""Command-line options for models on servers, shared by compare, bench and models.

Kept light (no httpx, no engine import): building the parser must stay instant.
"""

from __future__ import annotations

import argparse
import math

SERVER_SYNTAX = (
    "A model may be a server instead of a GGUF file: a base URL (http://127.0.0.1:8080/v1 uses the "
    "server's only model), URL#MODEL_ID to pick one (e.g. http://127.0.0.1:8000/v1#Qwen/Qwen3-4B), or "
    "ollama:NAME:TAG: Ollama's file on disk when it is there (run here by llama.cpp), else the Ollama "
    "server at $OLLAMA_HOST (default 127.0.0.1:11434) when it serves that model; ollama-server:NAME:TAG "
    "always uses the server. A server's API key is read from its own variable "
    "GEMMACOMPARE_API_KEY_<HOST>_<PORT> (e.g. GEMMACOMPARE_API_KEY_127_0_0_1_8080), or from "
    "$GEMMACOMPARE_API_KEY (or the variable named by --api-key-env) when the run uses that one server "
    "only; never from the command line, and never sent to another server."
)


MAX_TIMEOUT_S = 86_400.0


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be more than 0 seconds")
    # inf would let a server that never finishes run for ever, which the timeouts exist to stop.
    if not math.isfinite(value) or value > MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"{text!r} is more than a day ({MAX_TIMEOUT_S:g} seconds)")
    return value


def add_server_args(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("servers", SERVER_SYNTAX)
    g.add_argument("--api-key-env", metavar="NAME", default=None,
                   help="environment variable holding the API key shared by one server's models "
                        "(default GEMMACOMPARE_API_KEY; a server's own GEMMACOMPARE_API_KEY_<HOST>_<PORT> comes first)")
    g.add_argument("--connect-timeout", type=positive_seconds, default=5.0, metavar="S",
                   help="seconds to connect to a server (default 5)")
    g.add_argument("--first-byte-timeout", type=positive_seconds, default=120.0, metavar="S",
                   help="seconds until a server starts answering (default 120)")
    g.add_argument("--idle-timeout", type=positive_seconds, default=60.0, metavar="S",
                   help="seconds of silence mid-stream before giving up (default 60)")
