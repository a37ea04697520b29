"""A model on an OpenAI-compatible server, driven like a local ModelWorker.


`RemoteWorker` has ModelWorker's interface (load, generate, stop, close, pid)
and yields the same events, so the compare pair, the window and the benchmark
need no special cases. What differs is said in the events themselves:

- Text arrives as chunks, each timestamped when its bytes were read from the
  socket (Token.token_id == SERVER_CHUNK). Chunks are not tokens.
- Token counts come only from the server (usage, llama-server's `timings`,
  Ollama's eval counts), carried in Finished.server; with none, only chunks
  are known and the figures say so.
- There is no client-side prefill event: the client cannot see where the
  server's prompt processing ends. The server's own prompt time, where it
  reports one, is in Finished.server.

One HTTP connection per request (no keep-alive), so closing it is how Stop
tells the server; a watchdog thread shuts the socket down for Stop and for the
first-byte and idle timeouts, which also wakes a read blocked on a stalled
server at once.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import psutil

from gemmacompare.engine import protocol as p
from gemmacompare.engine.remote.client import (
    REMOTE_ARCHITECTURE,
    RemoteError,
    ServerModel,
    display_name,
    find_server_pid,
    list_models,
    make_client,
    pick_model,
)
from gemmacompare.engine.remote.server_ref import ServerRef, ServerRefError, parse_server_ref
from gemmacompare.engine.remote.stream import StreamRun
from gemmacompare.engine.run_settings import ServerSettings
from gemmacompare.models.gguf_file import ModelFacts
from gemmacompare.state.secrets import find_api_key, redact

log = logging.getLogger(__name__)

WATCHDOG_TICK_S = 0.02


class RemoteWorker:
    """ModelWorker's interface for a model on a server."""

    remote = True

    def __init__(self, label: str = "", settings: ServerSettings | None = None) -> None:
        self.label = label
        self.settings = settings or ServerSettings()
        self.ref: ServerRef | None = None
        self.model: ServerModel | None = None
        self.loaded: p.Loaded | None = None
        self.log_path: Path | None = None  # ModelWorker's interface; a server keeps its own log
        self._client: httpx.Client | None = None
        self._api_key: str | None = None
        self._server_pid: int | None = None
        self._request_ids = iter(range(1, 1 << 62))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._abort_reason: str | None = None
        # One watchdog thread per worker, not per request: Thread.start() waits until the
        # new thread runs, which on a busy machine put milliseconds inside TTFT.
        self._active: StreamRun | None = None
        self._wake = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._watchdog_closed = threading.Event()

    # --- lifecycle ---------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The server's process when it runs on this machine (memory is sampled from it)."""
        pid = self._server_pid
        if pid is not None and not psutil.pid_exists(pid):
            return None
        return pid

    @property
    def alive(self) -> bool:
        return self.loaded is not None

    def start(self) -> None:
        pass

    def load(self, ref_text: str, settings: p.LoadSettings | None = None) -> p.Loaded:
        """Check the server and pick the model. Raises p.WorkerFailed with one sentence."""
        t0 = time.monotonic()
        self.close()
        try:
            ref = parse_server_ref(ref_text)
        except ServerRefError as exc:
            raise p.WorkerFailed(p.WorkerError(None, str(exc))) from None
        self._api_key = find_api_key(ref.base_url, self.settings.api_key_env, self.settings.servers_in_run)
        self._client = make_client(ref, self.settings, self._api_key)
        try:
            model = pick_model(ref, list_models(ref, self.settings, client=self._client))
        except RemoteError as exc:
            log.info("%s: %s", self.label, redact(exc.detail, self._api_key))
            self.close()
            raise p.WorkerFailed(p.WorkerError(None, exc.message, redact(exc.detail, self._api_key))) from None
        self.ref = ServerRef(ref.base_url, model.id)
        self.model = model
        self._server_pid = find_server_pid(ref)
        facts = ModelFacts(
            path=self.ref.text(), file_size=model.size or 0, architecture=REMOTE_ARCHITECTURE,
            name=display_name(model.id), parameters=model.parameters or 0, quantization="server",
            context_length=model.context_length, chat_template=None, reasoning=None,
            # The server applies its own template; enable_thinking is passed on
            # (chat_template_kwargs, Ollama's reasoning_effort) and ignored where unknown.
            thinking_switch=True, gguf_version=0,
        )
        self.loaded = p.Loaded(
            pid=self._server_pid or 0,
            load_seconds=time.monotonic() - t0,
            facts=facts,
            n_ctx=model.context_length or 0,
            n_threads=0,
            n_gpu_layers=0,
            system_info=f"remote server {ref.base_url}" + (f" (owned by {model.owned_by})" if model.owned_by else ""),
            # The server's own choices; an OpenAI-compatible API does not say them.
            flash_attn="unknown", type_k="unknown", type_v="unknown",
        )
        return self.loaded

    def close(self, timeout: float = 1.0) -> None:
        self.stop()
        self._watchdog_closed.set()
        self._wake.set()
        self._watchdog = None
        client, self._client = self._client, None
        if client is not None:
            client.close()
        self.loaded = None

    def kill(self) -> None:
        self.stop()

    def log_tail(self, lines: int = 20) -> str:
        return ""

    # --- generation --------------------------------------------------------

    def stop(self) -> None:
        self._abort("stop")

    def _abort(self, reason: str) -> None:
        with self._lock:
            if self._abort_reason is None:
                self._abort_reason = reason
            sock = self._sock
        if reason == "stop":
            self._stop.set()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read at once; the server sees the close
            except OSError:
                pass

    def _trace(self, name: str, info: dict[str, Any]) -> None:
        # httpx's trace hook hands us the connection's socket as soon as it exists,
        # and says when the request is written (the client's own share of TTFT ends there).
        if name == "http11.send_request_body.complete":
            run = self._active
            if run is not None:
                run.t_sent = time.monotonic()
        elif name == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            with self._lock:
                self._sock = sock
                late = self._abort_reason is not None
            if late and sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def generate(self, cmd: p.Request | None = None, **kwargs: Any) -> Iterator[p.Event]:
        if cmd is None:
            cmd = p.GenerateCommand(request_id=next(self._request_ids), **kwargs)
        rid = cmd.request_id
        if isinstance(cmd, p.DepthCommand):
            yield p.WorkerError(rid, "A context sweep measures local models only; a server's speed is not this "
                                     "machine's.")
            return
        ref, model, client = self.ref, self.model, self._client
        if ref is None or model is None or client is None:  # load sets all three
            yield p.WorkerError(rid, "No server model is set up; pick one first.")
            return
        with self._lock:
            self._sock = None
            self._abort_reason = None
        self._stop.clear()
        self._ensure_watchdog()
        yield p.PromptReady(rid, "server", cmd.raw_prompt or "", False)
        run = StreamRun(self, cmd, ref, model, client)
        self._active = run
        self._wake.set()
        try:
            yield from run.events()
        finally:
            run.done.set()
            self._active = None
            with self._lock:
                self._sock = None

    def _ensure_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.is_alive():
            return
        self._watchdog_closed = closed = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, args=(closed,), name=f"remote-watchdog-{self.label}",
                                          daemon=True)
        self._watchdog.start()

    def _watch(self, closed: threading.Event) -> None:
        """Checks the running request's timeouts every tick; sleeps while there is none."""
        while not closed.is_set():
            run = self._active
            if run is None or run.done.is_set():
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            if not run.done.wait(WATCHDOG_TICK_S):
                run.check()


