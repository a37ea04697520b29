"""Record llama.cpp's llama-server responses byte for byte (status line, headers, body) into
tests/data/llama-server/, for the tests to replay at the network edge.

    .venv/bin/python scripts/record_llama_server.py ~/.cache/gemmacompare/llama-tools/0.3.36/bin/llama-server

Starts llama-server on 127.0.0.1 (a free port) with the SmolLM2 demo model and llama.cpp's
defaults except -c 2048, sends each request with `Connection: close` over a plain socket and
saves exactly the bytes that came back (NAME.http) beside the request (NAME.request.json).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gemmacompare.engine import protocol as p  # noqa: E402
from gemmacompare.engine.remote.request import request_body  # noqa: E402
from gemmacompare.models.demo import smollm2_path  # noqa: E402

OUT = ROOT / "tests" / "data" / "llama-server"
QUESTION = "What is 2+2? Answer in one short sentence."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(port: int, method: str, path: str, body: bytes | None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream, application/json\r\n" \
           "Accept-Encoding: identity\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(head.encode() + b"\r\n" + (body or b""))
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def record(port: int, name: str, method: str, path: str, body: dict | bytes | None) -> None:
    raw = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    response = exchange(port, method, path, raw)
    (OUT / f"{name}.http").write_bytes(response)
    (OUT / f"{name}.request.json").write_text(json.dumps(
        {"method": method, "path": path, "body": raw.decode("utf-8", "replace") if raw is not None else None},
        indent=1) + "\n")
    status = response.split(b"\r\n", 1)[0].decode()
    print(f"{name}: {status} ({len(response)} bytes)")


def main() -> int:
    server = Path(sys.argv[1]).expanduser()
    model = smollm2_path()
    port = free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    log = open(Path(tempfile.gettempdir()) / "llama-server-record.log", "wb")
    proc = subprocess.Popen([str(server), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-c", "2048"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if b" 200 " in exchange(port, "GET", "/health", None).split(b"\r\n", 1)[0]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("llama-server did not come up")
            time.sleep(0.25)
        chat = p.GenerateCommand(1, (p.ChatMessage("user", QUESTION),), sampling=p.SamplingSettings(max_tokens=16))
        body = request_body(chat, "SmolLM2", ollama=False)  # exactly what the app sends
        record(port, "models", "GET", "/v1/models", None)
        record(port, "chat-stream", "POST", "/v1/chat/completions", body)
        record(port, "chat", "POST", "/v1/chat/completions", {**body, "stream": False})
        raw = p.GenerateCommand(1, (), raw_prompt="The capital of France is",
                                sampling=p.SamplingSettings(max_tokens=8))
        record(port, "completion-stream", "POST", "/v1/completions", request_body(raw, "SmolLM2", ollama=False))
        long = {**body, "messages": [{"role": "user", "content": "hello " * 3000}]}
        record(port, "error-too-long", "POST", "/v1/chat/completions", long)
        record(port, "error-bad-json", "POST", "/v1/chat/completions", b'{"messages": [')
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
