"""How a model on a server is named: a base URL, optionally with a model id.

    http://127.0.0.1:8080/v1                 the server's only model
    http://127.0.0.1:8000/v1#Qwen/Qwen3-4B   a given model id (after '#', never sent as part of the URL)
    ollama-server:qwen3:4b                   Ollama at $OLLAMA_HOST (default 127.0.0.1:11434)

A URL without a path gets `/v1`, the OpenAI-compatible root of every server we
support.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import urlsplit, urlunsplit

OLLAMA_DEFAULT = "http://127.0.0.1:11434"
# "ollama:NAME" is the model library's name for Ollama's GGUF on disk (run locally);
# this prefix runs the same model in the Ollama server instead.
OLLAMA_PREFIX = "ollama-server:"


class ServerRefError(ValueError):
    """Not a usable server reference; the message is one sentence."""


@dataclass(frozen=True)
class ServerRef:
    base_url: str  # ends in /v1 (or whatever root the user gave), no trailing slash
    model: str | None = None  # None: the server's only model

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def insecure(self) -> bool:
        """Plain http to another machine: prompts and key travel readable."""
        return urlsplit(self.base_url).scheme == "http" and not self.is_loopback

    def text(self) -> str:
        return f"{self.base_url}#{self.model}" if self.model else self.base_url

    @property
    def where(self) -> str:
        """host:port, as a person would say where the server is."""
        return urlsplit(self.base_url).netloc.rpartition("@")[2]

    def label(self, name: str = "") -> str:
        """Short, for a pane title or table header: model id @ host:port (`name`: the model's name as loaded)."""
        return f"{name or self.model or 'server model'} @ {self.where}"


def is_server_ref(text: str | os.PathLike[str] | None) -> bool:
    if text is None:
        return False
    s = str(text)
    return s.startswith(("http://", "https://", OLLAMA_PREFIX))


def model_label(text: str, name: str = "") -> str:
    """A model argument as shown in lists: a file by its name, a server model as 'model-id @ host:port'.

    `name` is the model's name as loaded, for a base URL that left the id to the server.
    """
    if not is_server_ref(text):
        return PurePath(text).name
    try:
        return parse_server_ref(text).label(name)
    except ServerRefError:
        return str(text)


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ollama_base_url() -> str:
    host = os.environ.get("OLLAMA_HOST", "").strip() or OLLAMA_DEFAULT
    if "://" not in host:
        host = f"http://{host}"
    parts = urlsplit(host)
    netloc = parts.netloc
    if parts.port is None:
        netloc = f"{netloc}:11434"
    if parts.hostname in ("0.0.0.0", "::"):
        netloc = netloc.replace(parts.hostname, "127.0.0.1", 1)  # a bind address, not one to call
    return urlunsplit((parts.scheme, netloc, "/v1", "", ""))


def parse_server_ref(text: str) -> ServerRef:
    s = str(text).strip()
    if s.startswith(OLLAMA_PREFIX):
        name = s[len(OLLAMA_PREFIX) :]
        if not name:
            raise ServerRefError(f"Give the Ollama model after '{OLLAMA_PREFIX}', e.g. {OLLAMA_PREFIX}qwen3:4b.")
        return ServerRef(ollama_base_url(), name)
    url, _, model = s.partition("#")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ServerRefError(f"'{_without_credentials(url)}' is not a server URL; use e.g. http://127.0.0.1:8080/v1.")
    if parts.username or parts.password:
        raise ServerRefError("Do not put credentials in the server URL; set the API key in GEMMACOMPARE_API_KEY.")
    try:
        parts.port
    except ValueError:
        raise ServerRefError(f"The port in '{url}' is not a number.") from None
    path = parts.path.rstrip("/") or "/v1"
    for tail in ("/chat/completions", "/completions", "/models"):
        if path.endswith(tail):
            path = path[: -len(tail)] or "/v1"  # a pasted endpoint URL: keep its root
    base = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return ServerRef(base, model.strip() or None)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(parts.password, "***")
    return url
