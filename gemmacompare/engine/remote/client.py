"""Talking to an OpenAI-compatible server: the client, its errors in one sentence, model listing."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import httpx
import psutil

from gemmacompare.engine.remote.server_ref import ServerRef
from gemmacompare.engine.run_settings import ServerSettings
from gemmacompare.state.safe_json import BadJSONError, load_json_bounded
from gemmacompare.state.secrets import server_env_var

log = logging.getLogger(__name__)

REMOTE_ARCHITECTURE = "remote"
ERROR_BODY_LIMIT = 64 * 1024
# A model list with thousands of entries is a few hundred KB; one that never ends must not grow memory.
MODELS_BODY_LIMIT = 4 << 20


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
    server_msg = server_message(body)
    if status in (401, 403):
        var = server_env_var(ref.base_url)
        return (f"The server at {at} refused the API key (HTTP {status}); set its key in "
                + (f"{var} (or GEMMACOMPARE_API_KEY when it is the only server) or " if var else "")
                + "the server dialog.")
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


def server_message(body: str, limit: int = 200) -> str:
    """The human part of an error body ({"error": {"message": ...}} or {"error": "..."}), whole or not at all."""
    try:
        # Bounded: a deeply nested error body is data, not a RecursionError.
        obj = load_json_bounded(body.encode("utf-8", "replace"), ERROR_BODY_LIMIT, what="the error body")
    except BadJSONError:
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
        status, raw = _get_models_body(ref, settings, client)
        body = raw[:ERROR_BODY_LIMIT].decode("utf-8", errors="replace")
        if status != 200:
            raise RemoteError(describe_http_error(ref, status, body), body)
        return _parse_model_list(ref, raw)
    finally:
        if own:
            client.close()


def _get_models_body(ref: ServerRef, settings: ServerSettings, client: httpx.Client) -> tuple[int, bytes]:
    """GET {base}/models: the status and at most MODELS_BODY_LIMIT bytes, within the first-byte
    timeout for the whole body (a list that never ends, or trickles, is refused, not awaited)."""
    deadline = time.monotonic() + settings.first_byte_timeout_s
    try:
        with client.stream("GET", f"{ref.base_url}/models") as resp:
            if resp.status_code != 200:  # an error body: its start is enough for the sentence and the log
                return resp.status_code, read_limited(resp).encode("utf-8")
            raw = read_bounded_body(resp, MODELS_BODY_LIMIT, deadline)
            if raw is None:
                raise RemoteError(
                    f"The model list at {ref.base_url}/models is larger than {MODELS_BODY_LIMIT >> 20} MiB or "
                    f"did not end within {settings.first_byte_timeout_s:g} s; check the base URL.")
            return resp.status_code, raw
    except httpx.HTTPError as exc:
        log.info("listing models at %s failed: %r", ref.base_url, exc)
        raise RemoteError(describe_transport_error(ref, exc, settings), repr(exc)) from None


def _parse_model_list(ref: ServerRef, raw: bytes) -> list[ServerModel]:
    not_a_list = (f"{ref.base_url}/models did not answer with an OpenAI-style model list; "
                  "check the base URL (it usually ends in /v1).")
    try:
        data = load_json_bounded(raw, MODELS_BODY_LIMIT, what=f"The model list at {ref.base_url}/models")
    except BadJSONError as exc:
        detail = raw[:2000].decode("utf-8", errors="replace")
        # Too deep is said as such; anything else that is not JSON is "not a model list".
        raise RemoteError(exc.message if exc.reason == BadJSONError.TOO_DEEP else not_a_list, detail) from None
    rows = data.get("data") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise RemoteError(not_a_list, raw[:2000].decode("utf-8", errors="replace"))
    return [_server_model(r) for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)]


def _server_model(row: dict[str, Any]) -> ServerModel:
    meta = row.get("meta")
    if not isinstance(meta, dict):
        meta = {}
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
                return int(conn.pid)
    except (psutil.Error, OSError):
        return None
    return None


def read_bounded_body(resp: httpx.Response, limit: int, deadline: float) -> bytes | None:
    """At most `limit` bytes of a body; None when there is more, or it is still coming at `deadline`.

    Each read still waits at most the client's read timeout; the deadline bounds a body
    that trickles in forever.
    """
    parts: list[bytes] = []
    size = 0
    for chunk in resp.iter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size > limit or time.monotonic() > deadline:
            return None
    return b"".join(parts)


def read_limited(resp: httpx.Response, limit: int = ERROR_BODY_LIMIT, within_s: float = 10.0) -> str:
    """An error body for the log and one sentence: the first `limit` bytes read within `within_s`."""
    parts: list[bytes] = []
    size = 0
    deadline = time.monotonic() + within_s
    try:
        for chunk in resp.iter_bytes():
            parts.append(chunk)
            size += len(chunk)
            if size >= limit or time.monotonic() > deadline:
                break
    except httpx.HTTPError:
        pass
    return b"".join(parts)[:limit].decode("utf-8", errors="replace")


