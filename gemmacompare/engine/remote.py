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

import json
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Iterator

import httpx
import psutil

from gemmacompare.engine import protocol as p
from gemmacompare.engine.reasoning import ANSWER, THINKING, ReasoningSplitter
from gemmacompare.engine.server_ref import ServerRef, ServerRefError, parse_server_ref
from gemmacompare.engine.run_settings import ServerSettings
from gemmacompare.engine.sse import SSEError, iter_events
from gemmacompare.models.gguf_file import ModelFacts
from gemmacompare.state.secrets import find_api_key, redact

log = logging.getLogger(__name__)

REMOTE_ARCHITECTURE = "remote"
WATCHDOG_TICK_S = 0.02
ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class ServerModel:
    id: str
    owned_by: str = ""
    context_length: int | None = None
    parameters: int | None = None
    size: int | None = None


class RemoteError(Exception):
    """A server problem in one sentence; `detail` goes to the log."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


# --- talking to a server -------------------------------------------------------


def make_client(ref: ServerRef, settings: ServerSettings, api_key: str | None) -> httpx.Client:
    # identity: token timing is taken from raw socket reads, which compression would batch.
    headers = {"Accept": "text/event-stream, application/json", "Accept-Encoding": "identity"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.Client(
        timeout=httpx.Timeout(
            connect=settings.connect_timeout_s,
            read=settings.first_byte_timeout_s,
            write=settings.connect_timeout_s,
            pool=settings.connect_timeout_s,
        ),
        limits=httpx.Limits(max_keepalive_connections=0),
        headers=headers,
        follow_redirects=False,
    )


def where(ref: ServerRef) -> str:
    return ref.base_url


def describe_http_error(ref: ServerRef, status: int, body: str, model: str | None = None) -> str:
    """One sentence for an HTTP error status from a server."""
    at = where(ref)
    server_msg = _server_message(body)
    if status in (401, 403):
        return (f"The server at {at} refused the API key (HTTP {status}); set the right key in "
                "GEMMACOMPARE_API_KEY or in the server dialog.")
    if status == 404:
        if model:
            return (f"The server at {at} does not know the model '{model}' (HTTP 404); "
                    "pick one from its model list (gemmacompare models --server URL).")
        return f"Nothing answers at {at} (HTTP 404); check the base URL (it usually ends in /v1)."
    if status == 429:
        return f"The server at {at} is rate-limiting requests (HTTP 429); wait a moment and send again."
    if status == 503:
        return f"The server at {at} is not ready (HTTP 503, e.g. still loading the model); try again shortly."
    if 500 <= status < 600:
        extra = f": {server_msg}" if server_msg else ""
        return f"The server at {at} failed with HTTP {status}{extra}; check the server's log and try again."
    extra = f": {server_msg}" if server_msg else ""
    return f"The server at {at} rejected the request (HTTP {status}){extra}."


def _server_message(body: str, limit: int = 200) -> str:
    """The human part of an error body ({"error": {"message": ...}} or {"error": "..."}), whole or not at all."""
    try:
        obj = json.loads(body)
    except ValueError:
        return ""
    err = obj.get("error") if isinstance(obj, dict) else None
    msg = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
    if not isinstance(msg, str):
        return ""
    msg = " ".join(msg.split()).rstrip(".")
    return msg if len(msg) <= limit else ""


def describe_transport_error(ref: ServerRef, exc: Exception, settings: ServerSettings) -> str:
    at = where(ref)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.ConnectTimeout):
        return (f"Could not connect to {at} within {settings.connect_timeout_s:g} s; "
                "check that the server is running and reachable.")
    if isinstance(exc, httpx.ConnectError):
        if isinstance(exc.__cause__, socket.gaierror) or "Name or service not known" in text \
                or "nodename nor servname" in text or "getaddrinfo" in text or "Temporary failure in name" in text:
            return f"The host '{ref.host}' is unknown; check the server address."
        if "refused" in text.lower():
            return f"Nothing is listening at {at} (connection refused); start the server or fix the port."
        return f"Could not connect to {at}; check that the server is running and reachable."
    if isinstance(exc, httpx.ReadTimeout):
        return first_byte_message(ref, settings)
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return f"The server at {at} closed the connection without an answer; check the server's log."
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"'{at}' is not an http:// or https:// address."
    return f"Talking to {at} failed ({type(exc).__name__}); see the log for details."


def first_byte_message(ref: ServerRef, settings: ServerSettings) -> str:
    return (f"The server at {where(ref)} did not start answering within {settings.first_byte_timeout_s:g} s; "
            "it may be overloaded (raise the first-byte timeout for very long prompts).")


def list_models(ref: ServerRef, settings: ServerSettings = ServerSettings(), api_key: str | None = None,
                client: httpx.Client | None = None) -> list[ServerModel]:
    """GET {base}/models. Raises RemoteError with one sentence."""
    own = client is None
    client = client or make_client(ref, settings, api_key)
    try:
        try:
            resp = client.get(f"{ref.base_url}/models")
        except httpx.HTTPError as exc:
            log.info("listing models at %s failed: %r", ref.base_url, exc)
            raise RemoteError(describe_transport_error(ref, exc, settings), repr(exc)) from None
        body = resp.text[:ERROR_BODY_LIMIT]
        if resp.status_code != 200:
            raise RemoteError(describe_http_error(ref, resp.status_code, body), body)
        try:
            data = resp.json()
            rows = data["data"] if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise ValueError("no data list")
        except (ValueError, KeyError, TypeError):
            raise RemoteError(
                f"{ref.base_url}/models did not answer with an OpenAI-style model list; "
                "check the base URL (it usually ends in /v1).",
                body,
            ) from None
        return [_server_model(r) for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)]
    finally:
        if own:
            client.close()


def _server_model(row: dict) -> ServerModel:
    meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
    ctx = meta.get("n_ctx_train") or row.get("max_model_len") or row.get("context_length")
    return ServerModel(
        id=row["id"],
        owned_by=str(row.get("owned_by") or ""),
        context_length=ctx if isinstance(ctx, int) else None,
        parameters=meta.get("n_params") if isinstance(meta.get("n_params"), int) else None,
        size=meta.get("size") if isinstance(meta.get("size"), int) else None,
    )


def pick_model(ref: ServerRef, models: list[ServerModel]) -> ServerModel:
    """The model a reference names, or the server's only one."""
    ids = [m.id for m in models]
    shown = ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "")
    if ref.model is None:
        if len(models) == 1:
            return models[0]
        if not models:
            raise RemoteError(f"The server at {ref.base_url} serves no models; load one there first.")
        raise RemoteError(
            f"The server at {ref.base_url} serves {len(models)} models ({shown}); "
            f"name one, e.g. {ref.base_url}#{ids[0]}."
        )
    for m in models:
        if m.id == ref.model:
            return m
    # Ollama lists "name:latest"; accept the name without its tag too.
    for m in models:
        if m.id == f"{ref.model}:latest":
            return m
    raise RemoteError(
        f"The server at {ref.base_url} has no model '{ref.model}'"
        + (f" (it serves {shown}); pick one of those." if ids else "; load it there first.")
    )


def display_name(model_id: str) -> str:
    """A model id that is a file path (llama_cpp.server, llama-server -m) shown by its file name."""
    if "/" in model_id and model_id.lower().endswith(".gguf"):
        return PurePosixPath(model_id).name
    return model_id


def find_server_pid(ref: ServerRef) -> int | None:
    """The process listening on a loopback server's port, when this user can see it."""
    if not ref.is_loopback:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(ref.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return conn.pid
    except (psutil.Error, OSError):
        return None
    return None


# --- the engine ---------------------------------------------------------------


class RemoteWorker:
    """ModelWorker's interface for a model on a server."""

    remote = True

    def __init__(self, label: str = "", settings: ServerSettings | None = None) -> None:
        self.label = label
        self.settings = settings or ServerSettings()
        self.ref: ServerRef | None = None
        self.model: ServerModel | None = None
        self.loaded: p.Loaded | None = None
        self.log_path = None
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
        self._active: _StreamRun | None = None
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
        self._api_key = find_api_key(ref.base_url, self.settings.api_key_env)
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

    def _trace(self, name: str, info: dict) -> None:
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

    def generate(self, cmd: p.GenerateCommand | None = None, **kwargs) -> Iterator[p.Event]:
        if cmd is None:
            cmd = p.GenerateCommand(request_id=next(self._request_ids), **kwargs)
        rid = cmd.request_id
        if self.ref is None or self._client is None:
            yield p.WorkerError(rid, "No server model is set up; pick one first.")
            return
        with self._lock:
            self._sock = None
            self._abort_reason = None
        self._stop.clear()
        self._ensure_watchdog()
        yield p.PromptReady(rid, "server", cmd.raw_prompt or "", False)
        run = _StreamRun(self, cmd)
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


def request_body(cmd: p.GenerateCommand, model: str, ollama: bool) -> dict:
    s = cmd.sampling
    body: dict = {
        "model": model,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": s.max_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "seed": s.seed,
        # Not in OpenAI's spec, but llama-server, llama_cpp.server, vLLM and
        # LM Studio take them; their own defaults differ from llama.cpp's
        # (llama_cpp.server: repeat_penalty 1.1), which would change the answer.
        "top_k": s.top_k,
        "min_p": s.min_p,
        "repeat_penalty": s.repeat_penalty,
    }
    if s.stop:
        body["stop"] = list(s.stop)
    if cmd.raw_prompt is not None:
        body["prompt"] = cmd.raw_prompt
    else:
        body["messages"] = [{"role": m.role, "content": m.content} for m in cmd.messages]
    if cmd.enable_thinking is not None and cmd.raw_prompt is None:
        if ollama:
            if not cmd.enable_thinking:
                body["reasoning_effort"] = "none"
        else:
            body["chat_template_kwargs"] = {"enable_thinking": cmd.enable_thinking}
    return body


def _is_ollama(ref: ServerRef, model: ServerModel | None) -> bool:
    return ref.base_url.rstrip("/").endswith(":11434/v1") or (model is not None and model.owned_by == "library")


_FINISH = {"stop": p.STOP_EOS, "length": p.STOP_MAX_TOKENS, "eos": p.STOP_EOS}


class _StreamRun:
    """One streamed request: its watchdog and its event translation."""

    def __init__(self, worker: RemoteWorker, cmd: p.GenerateCommand) -> None:
        self.w = worker
        self.cmd = cmd
        self.done = threading.Event()
        self.aborted = False
        self.t_send = time.monotonic()
        self.t_sent: float | None = None  # the request fully written to the socket
        self.t_headers: float | None = None
        self.t_activity = self.t_send
        self.n_chunks = 0
        self.usage: dict | None = None
        self.timings: dict | None = None
        self.ollama: dict | None = None
        self.finish_reason: str | None = None

    # --- watchdog ----------------------------------------------------------

    def check(self) -> None:
        """Abort once when the first byte or the next one is overdue."""
        if self.aborted:
            return
        st, now = self.w.settings, time.monotonic()
        if self.t_headers is None:
            if now - self.t_send > st.first_byte_timeout_s:
                self.aborted = True
                self.w._abort("first_byte")
        elif now - self.t_activity > st.idle_timeout_s:
            self.aborted = True
            self.w._abort("idle")

    # --- events ------------------------------------------------------------

    def events(self) -> Iterator[p.Event]:
        w, cmd, rid = self.w, self.cmd, self.cmd.request_id
        ref = w.ref
        path = "/completions" if cmd.raw_prompt is not None else "/chat/completions"
        body = request_body(cmd, w.model.id, _is_ollama(ref, w.model))
        self.splitter = ReasoningSplitter()
        # Chunks whose text may start a marker wait here until the splitter
        # knows their phase: (index, arrival time).
        self.waiting: deque[tuple[int, float]] = deque()
        self.index = 0
        try:
            with w._client.stream("POST", f"{ref.base_url}{path}", json=body,
                                  extensions={"trace": w._trace}) as resp:
                self.t_headers = self.t_activity = time.monotonic()
                if resp.status_code != 200:
                    text = _read_limited(resp)
                    yield self._error(describe_http_error(ref, resp.status_code, text, w.model.id), text)
                    return
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    text = _read_limited(resp)
                    msg = _server_message(text)
                    detail = f"content-type {ctype!r}: {text[:2000]}"
                    if msg:
                        yield self._error(f"The server at {ref.base_url} answered with an error: {msg}.", detail)
                    else:
                        yield self._error(
                            f"The server at {ref.base_url} did not answer with an event stream "
                            f"({ctype.split(';')[0] or 'no content type'}); check the base URL.", detail)
                    return
                yield from self._stream(resp)
        except SSEError as exc:
            yield self._error(f"The server at {ref.base_url} sent something that is not an event stream; "
                              "check the base URL.", str(exc))
        except httpx.HTTPError as exc:
            reason = w._abort_reason
            log.info("%s: %r (abort reason %s)", w.label, exc, reason)
            if reason is not None:
                yield from self._aborted(reason)
            elif self.t_headers is None:
                yield self._error(describe_transport_error(ref, exc, w.settings), repr(exc))
            else:
                yield from self._ended_early(repr(exc))

    def _stream(self, resp: httpx.Response) -> Iterator[p.Event]:
        w, rid = self.w, self.cmd.request_id
        ended = False
        for ev in iter_events(resp.iter_raw()):
            self.t_activity = ev.t
            if ev.comment:
                continue
            if ev.event == "error":
                yield self._error(self._stream_error_text(ev.data), ev.data[:2000])
                return
            data = ev.data.strip()
            if data == "[DONE]":
                ended = True
                break
            try:
                obj = json.loads(data)
            except ValueError:
                yield self._error(f"The server at {w.ref.base_url} sent a chunk that is not JSON; "
                                  "it may not be an OpenAI-compatible server.", data[:2000])
                return
            if not isinstance(obj, dict):
                yield self._error(f"The server at {w.ref.base_url} sent a chunk of the wrong shape; "
                                  "it may not be an OpenAI-compatible server.", data[:2000])
                return
            if "error" in obj:
                yield self._error(self._stream_error_text(data), data[:2000])
                return
            yield from self._chunk(obj, ev.t)
        if w._abort_reason is not None:
            yield from self._aborted(w._abort_reason)
            return
        if ended or self.finish_reason is not None:
            yield from self._finish(_FINISH.get(self.finish_reason or "stop", self.finish_reason or p.STOP_EOS))
        else:
            yield from self._ended_early("stream closed without [DONE] or finish_reason")

    def _chunk(self, obj: dict, t: float) -> Iterator[p.Event]:
        if isinstance(obj.get("usage"), dict):
            self.usage = obj["usage"]
        if isinstance(obj.get("timings"), dict):
            self.timings = obj["timings"]
        if "eval_count" in obj:
            self.ollama = obj
        choices = obj.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return
        ch = choices[0]
        if ch.get("finish_reason"):
            self.finish_reason = str(ch["finish_reason"])
        delta = ch.get("delta") if isinstance(ch.get("delta"), dict) else {}
        thinking = ""
        for key in ("reasoning_content", "reasoning", "thinking"):
            v = delta.get(key)
            if isinstance(v, str) and v:
                thinking += v
        content = delta.get("content") if "delta" in ch else ch.get("text")
        content = content if isinstance(content, str) else ""
        if thinking:
            self.n_chunks += 1
            yield p.Token(self.cmd.request_id, self.index, p.SERVER_CHUNK, t, THINKING, thinking, "")
            self.index += 1
        if content:
            self.n_chunks += 1
            # A chunk whose text is held back (a possible <think> marker) keeps
            # its arrival time; it is sent once its phase is known.
            self.waiting.append((self.index, t))
            self.index += 1
            yield from self._released(self.splitter.feed(content))

    def _flush_text(self) -> Iterator[p.Event]:
        yield from self._released(self.splitter.flush())

    def _released(self, parts) -> Iterator[p.Event]:
        for part in parts:
            index, t = self.waiting.popleft()
            yield p.Token(self.cmd.request_id, index, p.SERVER_CHUNK, t, part.phase, part.thinking, part.answer)

    def _figures(self, complete: bool, problem: str = "") -> p.ServerFigures:
        u, tm, ol = self.usage or {}, self.timings or {}, self.ollama or {}
        n_prompt = _int(u.get("prompt_tokens"))
        n_gen = _int(u.get("completion_tokens"))
        prompt_ms = gen_ms = prompt_tps = gen_tps = None
        n_cached = _int((u.get("prompt_tokens_details") or {}).get("cached_tokens")) \
            if isinstance(u.get("prompt_tokens_details"), dict) else None
        sources = []
        if u:
            sources.append("usage")
        if tm:
            sources.append("timings")
            prompt_ms, gen_ms = _float(tm.get("prompt_ms")), _float(tm.get("predicted_ms"))
            prompt_tps, gen_tps = _float(tm.get("prompt_per_second")), _float(tm.get("predicted_per_second"))
            if n_gen is None:
                n_gen = _int(tm.get("predicted_n"))
            if n_prompt is None and _int(tm.get("prompt_n")) is not None:
                n_prompt = _int(tm.get("prompt_n")) + (_int(tm.get("cache_n")) or 0)
            n_cached = _int(tm.get("cache_n")) if n_cached is None else n_cached
        if ol:
            sources.append("ollama")
            n_prompt = n_prompt if n_prompt is not None else _int(ol.get("prompt_eval_count"))
            n_gen = n_gen if n_gen is not None else _int(ol.get("eval_count"))
            if _float(ol.get("prompt_eval_duration")) is not None:
                prompt_ms = _float(ol.get("prompt_eval_duration")) / 1e6
            if _float(ol.get("eval_duration")) is not None:
                gen_ms = _float(ol.get("eval_duration")) / 1e6
        return p.ServerFigures(
            source="+".join(sources) or "none", n_prompt=n_prompt, n_generated=n_gen, prompt_ms=prompt_ms,
            gen_ms=gen_ms, prompt_tps=prompt_tps, gen_tps=gen_tps, n_cached=n_cached,
            send_ms=(self.t_sent - self.t_send) * 1000.0 if self.t_sent is not None else None, n_chunks=self.n_chunks, complete=complete, problem=problem,
        )

    def _finish(self, reason: str, complete: bool = True, problem: str = "") -> Iterator[p.Event]:
        yield from self._flush_text()
        fig = self._figures(complete, problem)
        yield p.Finished(
            request_id=self.cmd.request_id, stop_reason=reason, n_prompt=fig.n_prompt or 0,
            n_generated=fig.n_generated or 0, t_send=self.t_send, t_end=time.monotonic(), perf=None,
            n_threads=0, template_name="server", server=fig,
        )

    def _aborted(self, reason: str) -> Iterator[p.Event]:
        st, at = self.w.settings, self.w.ref.base_url
        if reason == "stop":
            yield from self._finish(p.STOP_USER, complete=False)
        elif reason == "first_byte":
            yield self._error(first_byte_message(self.w.ref, st))
        elif self.n_chunks:
            yield from self._finish(p.STOP_STREAM_CUT, complete=False, problem=(
                f"The server at {at} went silent for {st.idle_timeout_s:g} s mid-answer, so the stream was "
                "closed; the answer so far is kept."))
        else:
            yield self._error(f"The server at {at} sent no text for {st.idle_timeout_s:g} s, so the stream "
                              "was closed; check the server's log.")

    def _ended_early(self, detail: str) -> Iterator[p.Event]:
        at = self.w.ref.base_url
        log.info("%s: stream ended early: %s", self.w.label, detail)
        if self.n_chunks:
            yield from self._finish(p.STOP_STREAM_CUT, complete=False, problem=(
                f"The server at {at} cut the stream mid-answer; the partial answer is kept and marked."))
        else:
            yield self._error(f"The server at {at} closed the stream before sending any text; "
                              "check the server's log.", detail)

    def _stream_error_text(self, data: str) -> str:
        msg = _server_message(data)
        at = self.w.ref.base_url
        return f"The server at {at} reported an error mid-stream: {msg}." if msg else \
            f"The server at {at} reported an error mid-stream; see the log for details."

    def _error(self, message: str, detail: str = "") -> p.WorkerError:
        key = self.w._api_key
        if detail:
            log.info("%s: %s", self.w.label, redact(detail, key))
        return p.WorkerError(self.cmd.request_id, redact(message, key), redact(detail, key))


def _read_limited(resp: httpx.Response) -> str:
    out = b""
    try:
        for chunk in resp.iter_bytes():
            out += chunk
            if len(out) >= ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    return out[:ERROR_BODY_LIMIT].decode("utf-8", errors="replace")


def _int(v) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _float(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
