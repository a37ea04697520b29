"""Servers the remote-engine tests talk to on 127.0.0.1.

- `start_llama_cpp_server`: the real `python -m llama_cpp.server` serving a GGUF.
- `MisbehavingServer`: a small stand-in at the network edge that refuses,
  stalls, sends garbage, cuts streams, never ends, answers 401/404/429/500,
  replays real llama-server responses recorded byte for byte (tests/data/llama-server),
  or sends response shapes of Ollama and vLLM written from their sources (SHAPES);
  HOSTILE_STREAMS and HOSTILE_GETS never finish (pings only, past max tokens, endless
  events and model lists), nest JSON 100,000 deep, or send ESC/OSC/bidi text.
  The first path segment picks the behaviour:
  http://127.0.0.1:PORT/<behaviour>/v1
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _backend_folder() -> str:
    from gemmacompare.engine.local.llama_runtime import llama_lib_dir

    return str(llama_lib_dir())


def start_llama_cpp_server(model: Path, log_path: Path, port: int | None = None,
                           extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    port = port or free_port()
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048",
         # llama.cpp's own defaults, which the local engine uses too (llama_cpp's
         # Llama() turns flash attention off and batches by 512): greedy answers
         # of the same file then match token for token.
         "--flash_attn", "true", "--n_batch", "2048", *extra],
        stdout=log, stderr=subprocess.STDOUT,
        # A portable llama.cpp (GGML_BACKEND_DL, as setup.sh builds it) finds its backend
        # libraries beside the executable or in the current folder; llama_cpp.server does
        # not load them itself, so it starts in the folder that holds them.
        cwd=_backend_folder(),
    )
    base = f"http://127.0.0.1:{port}/v1"
    wait_until_serving(proc, f"{base}/models", log_path, "llama_cpp.server")
    return proc, base


def wait_until_serving(proc: subprocess.Popen, url: str, log_path: Path, name: str,
                       timeout_s: float = 120) -> None:
    """Until `url` answers 200; a server that exits or never answers raises, with its log's tail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {Path(log_path).read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.kill()
    raise RuntimeError(f"{name} did not come up within {timeout_s:.0f} s")


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def sse(obj) -> bytes:
    return f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode()


def chunk(content: str | None = None, finish: str | None = None, **delta) -> dict:
    d = dict(delta)
    if content is not None:
        d["content"] = content
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


# Real llama-server responses, recorded byte for byte (tests/data/llama-server/README.md):
# replayed by the behaviours llama-server (models, chat stream or not, raw completion),
# llama-server-too-long (400, prompt over the context) and llama-server-bad-json (500).
LLAMA_SERVER_DATA = Path(__file__).resolve().parent / "data" / "llama-server"
LLAMA_SERVER_ERRORS = {"llama-server-too-long": "error-too-long", "llama-server-bad-json": "error-bad-json"}


def recorded_response(name: str) -> bytes:
    return (LLAMA_SERVER_DATA / f"{name}.http").read_bytes()


def recorded_events(name: str) -> list[dict]:
    """The JSON objects of a recorded event stream, in order ([DONE] left out)."""
    head, _, body = recorded_response(name).partition(b"\r\n\r\n")
    text = b"".join(piece.split(b"\r\n", 1)[1][:-2] for piece in _chunks(body)).decode()
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def _chunks(body: bytes) -> list[bytes]:
    """A chunked body's frames (size line, data, CRLF), each as the server wrote it."""
    out, i = [], 0
    while i < len(body):
        j = body.index(b"\r\n", i)
        end = j + 2 + int(body[i:j], 16) + 2
        out.append(body[i:end])
        i = end
    return out


def replay_pieces(raw: bytes) -> list[bytes]:
    """A recorded response as the writes that made it: the head, then each chunk of a chunked body."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return [raw]
    return [head + sep, *_chunks(body)]


# Shapes written from the servers' sources, not recorded (see /work/shared/notes/server-apis.md):
# llama-server's tools/server/server-task.cpp for reasoning_content deltas (the recorded demo
# model does not think), Ollama's openai/openai.go (`reasoning` deltas, usage chunk), vLLM's
# protocol (`reasoning` deltas, usage chunk).
SHAPE_TIMINGS = {
    "cache_n": 0, "prompt_n": 14, "prompt_ms": 21.318, "prompt_per_token_ms": 1.5227,
    "prompt_per_second": 656.72, "predicted_n": 6, "predicted_ms": 80.114,
    "predicted_per_token_ms": 13.352, "predicted_per_second": 74.893,
}
SHAPES = {
    "llama-server-reasoning": [
        {**chunk(None, role="assistant"), "choices": [{"index": 0, "delta": {"role": "assistant", "content": None},
                                                        "finish_reason": None}]},
        chunk(reasoning_content="The user asks"),
        chunk(reasoning_content=" for 2+2."),
        chunk("2 + 2"),
        chunk(" = 4"),
        chunk("."),
        {**chunk(None, finish="stop")},
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
         "usage": {"completion_tokens": 6, "prompt_tokens": 14, "total_tokens": 20},
         "timings": SHAPE_TIMINGS},
    ],
    "ollama": [
        chunk(reasoning="Adding"),
        chunk(reasoning=" two and two."),
        chunk("4"),
        chunk(None, finish="stop"),
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "qwen3:0.6b", "choices": [],
         "usage": {"prompt_tokens": 11, "completion_tokens": 9, "total_tokens": 20}},
    ],
    "vllm": [
        chunk("", role="assistant"),
        chunk(reasoning="Two plus two"),
        chunk("Four"),
        chunk(None, finish="length"),
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "Qwen/Qwen3-0.6B",
         "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
                                  "prompt_tokens_details": {"cached_tokens": 4}}},
    ],
    "inline-think": [
        chunk("<th"), chunk("ink>pondering"), chunk("</think>"), chunk("Done"), chunk(None, finish="stop"),
    ],
}


class MisbehavingServer:
    """Threaded HTTP server; see the module docstring for the behaviours."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: list[dict] = []  # {"path", "headers", "body"} of every POST
        self.gets: list[dict] = []  # {"path", "headers"} of every GET
        self.disconnects: list[str] = []  # behaviours whose client hung up mid-stream
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._stall = threading.Event()

    def url(self, behaviour: str, model: str | None = None) -> str:
        base = f"http://127.0.0.1:{self.port}/{behaviour}/v1"
        return f"{base}#{model}" if model else base

    def __enter__(self) -> "MisbehavingServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stall.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _behaviour(self) -> str:
                return self.path.strip("/").split("/")[0]

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                if server.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._send(401, json.dumps({"error": {"code": 401, "message": "Invalid API Key",
                                                      "type": "authentication_error"}}).encode())
                return False

            def do_GET(self) -> None:  # noqa: N802
                b = self._behaviour()
                server.gets.append({"path": self.path, "headers": dict(self.headers)})
                if not self._authorised():
                    return
                if b in HOSTILE_GETS:
                    self.close_connection = True  # no keep-alive: the client hangs up mid-body
                    try:
                        HOSTILE_GETS[b](self, server)
                    except (BrokenPipeError, ConnectionResetError):
                        server.disconnects.append(b)
                    return
                if b.startswith("llama-server") and b != "llama-server-reasoning":
                    self._replay("models")
                    return
                if b == "stall-models":
                    server._stall.wait(30)
                    return
                if b == "two-models":
                    data = [{"id": "alpha", "object": "model"}, {"id": "beta", "object": "model"}]
                elif b == "no-models":
                    data = []
                elif b == "garbage":
                    self._send(200, b"<html><body>It works!</body></html>", "text/html")
                    return
                else:
                    data = [{"id": "fake-model", "object": "model", "owned_by": "tests",
                             "meta": {"n_ctx_train": 8192, "n_params": 123456, "size": 7890}}]
                self._send(200, json.dumps({"object": "list", "data": data}).encode())

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                b = self._behaviour()
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if not self._authorised():
                    return
                if b.startswith("llama-server") and b != "llama-server-reasoning":
                    chat = self.path.endswith("/chat/completions")
                    name = LLAMA_SERVER_ERRORS.get(b) or (
                        ("chat-stream" if body.get("stream") else "chat") if chat else "completion-stream")
                    try:
                        self._replay(name)
                    except (BrokenPipeError, ConnectionResetError):
                        server.disconnects.append(b)
                    return
                if b == "stall":
                    server._stall.wait(30)
                    return
                if b in ("401", "404", "429", "500"):
                    msgs = {"401": ("Invalid API Key", "authentication_error"),
                            "404": (f"The model `{body.get('model')}` does not exist.", "not_found_error"),
                            "429": ("Too many requests", "rate_limit_error"),
                            "500": ("CUDA error: out of memory", "server_error")}
                    msg, typ = msgs[b]
                    self._send(int(b), json.dumps({"error": {"message": msg, "type": typ, "code": int(b)}}).encode())
                    return
                if b == "garbage-chat":
                    self._send(200, b"<html><body>It works!</body></html>", "text/html")
                    return
                if b == "json-error":
                    self._send(200, json.dumps({"error": {"message": "model is loading"}}).encode())
                    return
                if b == "hostile-error":
                    self._send(500, json.dumps({"error": {"message": HOSTILE_ERROR}}).encode())
                    return
                if b == "deep-error":
                    self.close_connection = True
                    try:  # the client reads the first 64 KiB of an error body and hangs up
                        self._send(500, b'{"error": ' + deep_json(100_000) + b"}")
                    except (BrokenPipeError, ConnectionResetError):
                        server.disconnects.append(b)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    self._stream(b, body)
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnects.append(b)

            def _replay(self, name: str) -> None:
                # The recorded bytes, one write per chunk as the server sent them, a little apart.
                for piece in replay_pieces(recorded_response(name)):
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(0.002)
                self.close_connection = True

            def _write(self, data: bytes) -> None:
                self.wfile.write(data)
                self.wfile.flush()

            def _stream(self, b: str, body: dict) -> None:
                if b in HOSTILE_STREAMS:
                    HOSTILE_STREAMS[b](self._write, server._stall)
                elif b in SHAPES:
                    for obj in SHAPES[b]:
                        self._write(sse(obj))
                    self._write(sse("[DONE]"))
                elif b == "not-json":
                    self._write(sse(chunk("Hel")))
                    self._write(b"data: {this is not json\n\n")
                elif b == "cut":
                    for piece in ("The answer", " is", " forty"):
                        self._write(sse(chunk(piece)))
                    self.close_connection = True  # no finish, no [DONE]: the stream just ends
                elif b == "never-ends":
                    self._write(sse(chunk("Thinking about it")))
                    server._stall.wait(30)
                elif b == "silent-start":
                    server._stall.wait(30)
                elif b == "slow":
                    # One chunk every 20 ms until the client hangs up (or 30 s).
                    for i in range(1500):
                        self._write(sse(chunk(f" w{i}")))
                        time.sleep(0.02)
                    self._write(sse("[DONE]"))
                elif b == "mid-error":
                    self._write(sse(chunk("Par")))
                    self._write(sse({"error": {"message": "exceeds the available context size", "code": 400}}))
                else:  # echo: the last user message back, with usage
                    text = (body.get("messages") or [{"content": body.get("prompt", "")}])[-1]["content"]
                    for word in text.split(" "):
                        self._write(sse(chunk(word + " ")))
                    self._write(sse(chunk(None, finish="stop")))
                    self._write(sse({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}))
                    self._write(sse("[DONE]"))

        return Handler


# --- servers that never finish, or send what no parser should recurse into (issue 24) ---

def deep_json(depth: int) -> bytes:
    """A JSON value nested `depth` lists deep: json.loads raises RecursionError on it."""
    return b"[" * depth + b"]" * depth


def _pings_only(write, stall: threading.Event) -> None:
    # Headers, then only keep-alive comments and empty deltas, never a word.
    while not stall.wait(0.05):
        write(b": ping\n\n")
        write(sse(chunk("")))


def _text_then_pings(write, stall: threading.Event) -> None:
    write(sse(chunk("Thinking about it")))
    _pings_only(write, stall)


def _empty_chunks(write, stall: threading.Event) -> None:
    # Empty deltas as fast as the socket takes them, never a word and never an end (issue 30).
    while not stall.is_set():
        write(sse(chunk("")) * 64)


def _text_then_empty_chunks(write, stall: threading.Event) -> None:
    write(sse(chunk("Thinking about it")))
    _empty_chunks(write, stall)


def _past_max_tokens(write, stall: threading.Event) -> None:
    # Ignores max_tokens: one word after another until the client hangs up.
    i = 0
    while not stall.is_set():
        write(sse(chunk(f" w{i}")))
        i += 1
        time.sleep(0.001)


def _fat_chunks(write, stall: threading.Event) -> None:
    while not stall.is_set():
        write(sse(chunk("x" * (256 << 10))))


def _deep_chunk(write, stall: threading.Event) -> None:
    write(sse(chunk("Hel")))
    write(b"data: " + deep_json(100_000) + b"\n\n")


def _endless_event(write, stall: threading.Event) -> None:
    # One event of short data: lines that never ends (no blank line), and never a long line.
    while not stall.is_set():
        write(b"data: x\n" * 4096)


def _hostile_text(write, stall: threading.Event) -> None:
    # Clears the screen, retitles the terminal, recolours and reverses what follows, if printed raw.
    for piece in HOSTILE_TEXT:
        write(sse(chunk(piece)))
    write(sse(chunk(None, finish="stop")))
    write(sse("[DONE]"))


HOSTILE_TEXT = ("\x1b[2J\x1b]0;pwned\x07Hello", " \u202eworld\n", "line two\x1b[31m\x9b1m")
HOSTILE_ERROR = "\x1b]0;pwned\x07boom\u202e"

HOSTILE_STREAMS = {
    "hostile-names": _hostile_text,
    "pings-only": _pings_only,
    "text-then-pings": _text_then_pings,
    "empty-chunks": _empty_chunks,
    "text-then-empty-chunks": _text_then_empty_chunks,
    "past-max-tokens": _past_max_tokens,
    "fat-chunks": _fat_chunks,
    "deep-chunk": _deep_chunk,
    "endless-event": _endless_event,
}


def _endless_models(handler, server) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(b'{"object": "list", "data": [')
    row = b'{"id": "m", "object": "model"}, ' * 2048
    while not server._stall.is_set():
        handler.wfile.write(row)


def _deep_models(handler, server) -> None:
    handler._send(200, b'{"object": "list", "data": ' + deep_json(100_000) + b"}")


def _deep_models_error(handler, server) -> None:
    handler._send(500, b'{"error": {"message": ' + deep_json(100_000) + b"}}")


def _hostile_names(handler, server) -> None:
    # A model id with ESC/OSC sequences and a bidi override in it, as a stranger's server may send.
    handler._send(200, json.dumps({"object": "list", "data": [{"id": HOSTILE_ID, "object": "model"}]}).encode())


HOSTILE_ID = "evil\x1b]0;pwned\x07\x1b[31mred\u202eexe.gguf"
HOSTILE_GETS = {
    "endless-models": _endless_models,
    "deep-models": _deep_models,
    "deep-models-error": _deep_models_error,
    "hostile-names": _hostile_names,
}


def stalling_listener() -> tuple[socket.socket, int]:
    """A socket that accepts connections (backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, s.getsockname()[1]


class OllamaLikeServer:
    """A stand-in for Ollama's OpenAI-compatible API at its root (http://127.0.0.1:PORT/v1).

    /v1/models lists the given names as Ollama does (owned_by "library"); a chat
    request streams the named model's answer in Ollama's shape and is recorded.
    """

    def __init__(self, models: list[str]) -> None:
        self.models = models
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, body)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _json(self, status: int, obj) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(("GET", self.path, {}))
                if self.path.rstrip("/") != "/v1/models":
                    self._json(404, {"error": {"message": "404 page not found"}})
                    return
                self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 1718000000, "owned_by": "library"} for m in outer.models]})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                outer.requests.append(("POST", self.path, body))
                if body.get("model") not in outer.models:
                    self._json(404, {"error": {"message": f"model \"{body.get('model')}\" not found, try pulling it "
                                                          "first", "type": "api_error"}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for obj in (chunk("Served by"), chunk(" Ollama."), chunk(None, finish="stop"),
                            {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                             "model": body["model"], "choices": [],
                             "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}}):
                    self.wfile.write(sse(obj))
                self.wfile.write(sse("[DONE]"))
                self.wfile.flush()
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "OllamaLikeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class FullBacklogListener:
    """A port whose connects hang until the client's connect timeout.

    A listening socket with listen(0) that never accepts: once its accept queue
    is full, Linux drops further SYNs, so a new connect neither succeeds nor is
    refused (what a firewalled or black-holed address does). `filled` is False
    when this system answered every connect anyway.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self._fillers: list[socket.socket] = []
        self.filled = False
        for _ in range(8):
            c = socket.socket()
            c.settimeout(0.3)
            self._fillers.append(c)
            try:
                c.connect(("127.0.0.1", self.port))
            except (TimeoutError, socket.timeout):
                self.filled = True
                break

    def close(self) -> None:
        for c in self._fillers:
            c.close()
        self.sock.close()
