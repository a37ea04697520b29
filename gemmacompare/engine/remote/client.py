"""Talking to an OpenAI-compatible server: the client, its errors in one sentence, model listing."""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from pathlib import PurePosixPath

import httpx
import psutil

from gemmacompare.engine.remote.server_ref import ServerRef
from gemmacompare.engine.run_settings import ServerSettings

log = logging.getLogger(__name__)

REMOTE_ARCHITECTURE = "remote"
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
    server_msg = server_message(body)
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


def server_message(body: str, limit: int = 200) -> str:
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




def read_limited(resp: httpx.Response) -> str:
    out = b""
    try:
        for chunk in resp.iter_bytes():
            out += chunk
            if len(out) >= ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    return out[:ERROR_BODY_LIMIT].decode("utf-8", errors="replace")


