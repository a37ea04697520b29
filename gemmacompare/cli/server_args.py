"""Command-line options for models on servers, shared by compare, bench and models.

Kept light (no httpx, no engine import): building the parser must stay instant.
"""

from __future__ import annotations

import argparse

SERVER_SYNTAX = (
    "A model may be a server instead of a GGUF file: a base URL (http://127.0.0.1:8080/v1 uses the "
    "server's only model), URL#MODEL_ID to pick one (e.g. http://127.0.0.1:8000/v1#Qwen/Qwen3-4B), or "
    "ollama:NAME:TAG: Ollama's file on disk when it is there (run here by llama.cpp), else the Ollama "
    "server at $OLLAMA_HOST (default 127.0.0.1:11434) when it serves that model; ollama-server:NAME:TAG "
    "always uses the server. An API key is read from "
    "$GEMMACOMPARE_API_KEY (or the variable named by --api-key-env), never from the command line."
)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} must be more than 0 seconds")
    return value


def add_server_args(ap: argparse.ArgumentParser) -> None:
    g = ap.add_argument_group("servers", SERVER_SYNTAX)
    g.add_argument("--api-key-env", metavar="NAME", default=None,
                   help="environment variable holding the server's API key (default GEMMACOMPARE_API_KEY)")
    g.add_argument("--connect-timeout", type=positive_seconds, default=5.0, metavar="S",
                   help="seconds to connect to a server (default 5)")
    g.add_argument("--first-byte-timeout", type=positive_seconds, default=120.0, metavar="S",
                   help="seconds until a server starts answering (default 120)")
    g.add_argument("--idle-timeout", type=positive_seconds, default=60.0, metavar="S",
                   help="seconds of silence mid-stream before giving up (default 60)")
