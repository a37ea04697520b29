"""One streamed request: its watchdog checks and the stream's translation into events."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import httpx

from gemmacompare.engine import protocol as p
from gemmacompare.engine.prompt_text import PromptTextError, check_all_utf8
from gemmacompare.engine.reasoning import THINKING, ReasoningSplitter, SplitPiece
from gemmacompare.engine.remote.client import (
    ServerModel,
    describe_http_error,
    describe_transport_error,
    first_byte_message,
    read_limited,
    server_message,
)
from gemmacompare.engine.remote.request import is_ollama, request_body
from gemmacompare.engine.remote.server_ref import ServerRef
from gemmacompare.engine.remote.sse import MAX_EVENT_BYTES, SSEError, iter_events
from gemmacompare.state.safe_json import BadJSONError, load_json_bounded
from gemmacompare.state.secrets import redact

if TYPE_CHECKING:
    from gemmacompare.engine.remote.worker import RemoteWorker

log = logging.getLogger(__name__)

_FINISH = {"stop": p.STOP_EOS, "length": p.STOP_MAX_TOKENS, "eos": p.STOP_EOS}

# Chunks are not tokens, so a stream is cut only well past max_tokens: every server we know
# sends at least one token per text chunk, bar Ollama's one extra chunk where thinking turns
# into the answer. A server that ignores max_tokens is stopped here, not run for ever.
CHUNKS_PER_TOKEN_LIMIT = 2
CHUNK_SLACK = 16
MAX_DRAFT_COUNT = 10_000_000  # draft tokens a server may report for one request (the run files' count bound)
# No token's text is this long; bounds the memory of an answer whose chunks are huge.
CHARS_PER_TOKEN_LIMIT = 256


def chunk_limit(max_tokens: int) -> int:
    return CHUNKS_PER_TOKEN_LIMIT * max_tokens + CHUNK_SLACK


def text_limit(max_tokens: int) -> int:
    return CHARS_PER_TOKEN_LIMIT * max_tokens + (64 << 10)


class StreamRun:
    """One streamed request: its watchdog and its event translation.

    `ref`, `model` and `client` are the worker's when the request began (set by its load).
    """

    def __init__(self, worker: RemoteWorker, cmd: p.GenerateCommand, ref: ServerRef, model: ServerModel,
                 client: httpx.Client) -> None:
        self.w = worker
        self.cmd = cmd
        self.ref = ref
        self.model = model
        self.client = client
        self.done = threading.Event()
        self.aborted = False
        self.t_send = time.monotonic()
        self.t_sent: float | None = None  # the request fully written to the socket
        self.t_headers: float | None = None
        # Progress is text: pings, role-only and empty deltas do not reset the idle timeout,
        # so a server that sends only those is closed (issue 24). None until the first text.
        self.t_progress: float | None = None
        self.n_chunks = 0
        self.n_events = 0  # every data event, with text or not: a server sending empty ones for ever ends too
        self.n_chars = 0
        self.over_limit = False
        self.usage: dict[str, Any] | None = None
        self.timings: dict[str, Any] | None = None
        self.ollama: dict[str, Any] | None = None
        self.finish_reason: str | None = None

    # --- watchdog ----------------------------------------------------------

    def check(self) -> None:
        """Abort once when the first text or the next is overdue.

        Until the first text the first-byte timeout counts from the request (the server may
        send headers and pings while it reads a long prompt); after it, the idle timeout
        counts from the last text.
        """
        if self.aborted:
            return
        st, now = self.w.settings, time.monotonic()
        if self.t_progress is None:
            if now - self.t_send > st.first_byte_timeout_s:
                self.aborted = True
                self.w._abort("first_byte")
        elif now - self.t_progress > st.idle_timeout_s:
            self.aborted = True
            self.w._abort("idle")

    # --- events ------------------------------------------------------------

    def events(self) -> Iterator[p.Event]:
        w, cmd = self.w, self.cmd
        ref = self.ref
        path = "/completions" if cmd.raw_prompt is not None else "/chat/completions"
        try:
            check_all_utf8([m.content for m in cmd.messages] + [cmd.raw_prompt or ""])
        except PromptTextError as exc:
            yield self._error(str(exc))
            return
        body = request_body(cmd, self.model.id, is_ollama(ref, self.model))
        self.splitter = ReasoningSplitter()
        # Chunks whose text may start a marker wait here until the splitter
        # knows their phase: (index, arrival time).
        self.waiting: deque[tuple[int, float]] = deque()
        self.index = 0
        try:
            with self.client.stream("POST", f"{ref.base_url}{path}", json=body,
                                  extensions={"trace": w._trace}) as resp:
                self.t_headers = time.monotonic()
                if resp.status_code != 200:
                    text = read_limited(resp)
                    yield self._error(describe_http_error(ref, resp.status_code, text, self.model.id), text)
                    return
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    text = read_limited(resp)
                    msg = server_message(text)
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
        w = self.w
        ended = False
        for ev in iter_events(resp.iter_raw()):
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
                obj = load_json_bounded(data.encode("utf-8", "replace"), MAX_EVENT_BYTES, what="a chunk")
            except BadJSONError as exc:
                yield self._error(self._bad_chunk_text(exc), data[:2000])
                return
            if not isinstance(obj, dict):
                yield self._error(f"The server at {self.ref.base_url} sent a chunk of the wrong shape; "
                                  "it may not be an OpenAI-compatible server.", data[:2000])
                return
            if "error" in obj:
                yield self._error(self._stream_error_text(data), data[:2000])
                return
            self.n_events += 1
            yield from self._chunk(obj, ev.t)
            if self._past_max_tokens():
                self.over_limit = True
                break
        if self.over_limit:
            yield from self._cut_at_max_tokens()
            return
        if w._abort_reason is not None:
            yield from self._aborted(w._abort_reason)
            return
        if ended or self.finish_reason is not None:
            yield from self._finish(_FINISH.get(self.finish_reason or "stop", self.finish_reason or p.STOP_EOS))
        else:
            yield from self._ended_early("stream closed without [DONE] or finish_reason")

    def _chunk(self, obj: dict[str, Any], t: float) -> Iterator[p.Event]:
        if isinstance(obj.get("usage"), dict):
            self.usage = obj["usage"]
        if isinstance(obj.get("timings"), dict):
            self.timings = obj["timings"]
        if "eval_count" in obj:
            self.ollama = obj
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        ch = choices[0]
        if isinstance(ch.get("finish_reason"), str) and ch["finish_reason"]:
            self.finish_reason = ch["finish_reason"][:64]
        delta = ch.get("delta")
        if not isinstance(delta, dict):
            delta = {}
        thinking = ""
        for key in ("reasoning_content", "reasoning", "thinking"):
            v = delta.get(key)
            if isinstance(v, str) and v:
                thinking += v
        content = delta.get("content") if "delta" in ch else ch.get("text")
        content = content if isinstance(content, str) else ""
        if thinking or content:
            self.t_progress = t
            self.n_chars += len(thinking) + len(content)
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

    def _past_max_tokens(self) -> bool:
        max_tokens = self.cmd.sampling.max_tokens
        # Empty events count too (a role chunk, the finish and the usage fit in the slack): only text is
        # progress for the idle timeout, and without this a stream of empty deltas would pass -n for ever.
        return (self.n_events > chunk_limit(max_tokens) or self.n_chunks > chunk_limit(max_tokens)
                or self.n_chars > text_limit(max_tokens))

    def _cut_at_max_tokens(self) -> Iterator[p.Event]:
        # Closing the stream is how the server is told; the answer so far is kept.
        self.w._abort("max_tokens")
        n = self.cmd.sampling.max_tokens
        if not self.n_chunks:  # nothing but empty chunks: no answer to keep
            yield self._error(f"The server at {self.ref.base_url} sent {self.n_events:,} chunks without any text "
                              f"(more than {n} tokens would take), so the stream was closed; check the server's log.")
            return
        yield from self._finish(p.STOP_MAX_TOKENS, complete=False, problem=(
            f"The server at {self.ref.base_url} went on past the limit of {n} tokens, so the stream was "
            "cut there; the answer so far is kept."))

    def _bad_chunk_text(self, exc: BadJSONError) -> str:
        at = self.ref.base_url
        if exc.reason == BadJSONError.TOO_DEEP:
            return (f"The server at {at} sent a chunk nested too deeply to read; "
                    "it may not be an OpenAI-compatible server.")
        return f"The server at {at} sent a chunk that is not JSON; it may not be an OpenAI-compatible server."

    def _flush_text(self) -> Iterator[p.Event]:
        yield from self._released(self.splitter.flush())

    def _released(self, parts: Iterable[SplitPiece]) -> Iterator[p.Event]:
        for part in parts:
            index, t = self.waiting.popleft()
            yield p.Token(self.cmd.request_id, index, p.SERVER_CHUNK, t, part.phase, part.thinking, part.answer)

    def _figures(self, complete: bool, problem: str = "") -> p.ServerFigures:
        u, tm, ol = self.usage or {}, self.timings or {}, self.ollama or {}
        n_prompt = _int(u.get("prompt_tokens"))
        n_gen = _int(u.get("completion_tokens"))
        prompt_ms: float | None = None
        gen_ms: float | None = None
        prompt_tps: float | None = None
        gen_tps: float | None = None
        n_cached = _int((u.get("prompt_tokens_details") or {}).get("cached_tokens")) \
            if isinstance(u.get("prompt_tokens_details"), dict) else None
        sources: list[str] = []
        if u:
            sources.append("usage")
        if tm:
            sources.append("timings")
            prompt_ms, gen_ms = _float(tm.get("prompt_ms")), _float(tm.get("predicted_ms"))
            prompt_tps, gen_tps = _float(tm.get("prompt_per_second")), _float(tm.get("predicted_per_second"))
            if n_gen is None:
                n_gen = _int(tm.get("predicted_n"))
            prompt_n = _int(tm.get("prompt_n"))
            if n_prompt is None and prompt_n is not None:
                n_prompt = prompt_n + (_int(tm.get("cache_n")) or 0)
            n_cached = _int(tm.get("cache_n")) if n_cached is None else n_cached
        if ol:
            sources.append("ollama")
            n_prompt = n_prompt if n_prompt is not None else _int(ol.get("prompt_eval_count"))
            n_gen = n_gen if n_gen is not None else _int(ol.get("eval_count"))
            prompt_ns, gen_ns = _float(ol.get("prompt_eval_duration")), _float(ol.get("eval_duration"))
            if prompt_ns is not None:
                prompt_ms = prompt_ns / 1e6
            if gen_ns is not None:
                gen_ms = gen_ns / 1e6
        return p.ServerFigures(
            source="+".join(sources) or "none", n_prompt=n_prompt, n_generated=n_gen, prompt_ms=prompt_ms,
            gen_ms=gen_ms, prompt_tps=prompt_tps, gen_tps=gen_tps, n_cached=n_cached,
            send_ms=(self.t_sent - self.t_send) * 1000.0 if self.t_sent is not None else None,
            n_chunks=self.n_chunks, complete=complete, problem=problem,
        )

    def _finish(self, reason: str, complete: bool = True, problem: str = "") -> Iterator[p.Event]:
        yield from self._flush_text()
        fig = self._figures(complete, problem)
        yield p.Finished(
            request_id=self.cmd.request_id, stop_reason=reason, n_prompt=fig.n_prompt or 0,
            n_generated=fig.n_generated or 0, t_send=self.t_send, t_end=time.monotonic(), perf=None,
            n_threads=0, template_name="server", server=fig, draft=server_draft(self.timings or {}),
        )

    def _aborted(self, reason: str) -> Iterator[p.Event]:
        st, at = self.w.settings, self.ref.base_url
        if reason == "stop":
            yield from self._finish(p.STOP_USER, complete=False)
        elif reason == "first_byte" and self.t_headers is None:
            yield self._error(first_byte_message(self.ref, st))
        elif reason == "first_byte":
            yield self._error(f"The server at {at} answered but sent no text within {st.first_byte_timeout_s:g} s "
                              "(keep-alive pings and empty chunks do not count), so the stream was closed; "
                              "check the server's log.")
        elif self.n_chunks:
            yield from self._finish(p.STOP_STREAM_CUT, complete=False, problem=(
                f"The server at {at} went silent for {st.idle_timeout_s:g} s mid-answer, so the stream was "
                "closed; the answer so far is kept."))
        else:
            yield self._error(f"The server at {at} sent no text for {st.idle_timeout_s:g} s, so the stream "
                              "was closed; check the server's log.")

    def _ended_early(self, detail: str) -> Iterator[p.Event]:
        at = self.ref.base_url
        log.info("%s: stream ended early: %s", self.w.label, detail)
        if self.n_chunks:
            yield from self._finish(p.STOP_STREAM_CUT, complete=False, problem=(
                f"The server at {at} cut the stream mid-answer; the partial answer is kept and marked."))
        else:
            yield self._error(f"The server at {at} closed the stream before sending any text; "
                              "check the server's log.", detail)

    def _stream_error_text(self, data: str) -> str:
        msg = server_message(data)
        at = self.ref.base_url
        return f"The server at {at} reported an error mid-stream: {msg}." if msg else \
            f"The server at {at} reported an error mid-stream; see the log for details."

    def _error(self, message: str, detail: str = "") -> p.WorkerError:
        key = self.w._api_key
        if detail:
            log.info("%s: %s", self.w.label, redact(detail, key))
        return p.WorkerError(self.cmd.request_id, redact(message, key), redact(detail, key))


def server_draft(timings: dict[str, Any]) -> p.DraftStats | None:
    """llama-server's speculative counts (`timings.draft_n`, `draft_n_accepted`: a draft model, n-gram
    lookup or an MTP head run by the server), or None where it sent none or sent nonsense."""
    n, ok = timings.get("draft_n"), timings.get("draft_n_accepted")
    if not (isinstance(n, int) and isinstance(ok, int)) or isinstance(n, bool) or isinstance(ok, bool):
        return None
    if not 0 <= ok <= n <= MAX_DRAFT_COUNT:
        return None
    return p.DraftStats("server", n, ok)


def _int(v: object) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _float(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
