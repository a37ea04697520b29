"""API keys for servers: read from the environment, or stored only when the user asks.

A key belongs to one server (host and port) and is never sent to another.
Where a server's key comes from, in order:
1. GEMMACOMPARE_API_KEY_<HOST>_<PORT>, that server's own variable (the host in
   capitals, every character but letters and digits as `_`: 127.0.0.1:8080 ->
   GEMMACOMPARE_API_KEY_127_0_0_1_8080);
2. the shared variable the user named (CLI `--api-key-env NAME`), else
   GEMMACOMPARE_API_KEY, but only while the run uses servers on one host and
   port: one shared key with two servers would reach a server it was not meant for,
   so with two or more it is sent to none (each then needs its own key, 1 or 3);
3. a key typed in the window for this session, or one the user chose to remember
   for that server (its scheme://host:port): in the OS keyring when one is
   available, else in `api-keys.json` (0600) in the config folder.

Keys never go into settings.json, the chat history, logs or exports; nothing
here logs a key, and `redact` scrubs one out of any text that is about to be shown.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from gemmacompare.state.paths import app_dirs, private_file, write_private_text
from gemmacompare.state.safe_json import load_json_bounded

log = logging.getLogger(__name__)

ENV_VAR = "GEMMACOMPARE_API_KEY"
KEYRING_SERVICE = "gemmacompare"
KEYRING, FILE = "keyring", "file"


class SecretStoreError(Exception):
    """The key could not be stored or read; the message is one sentence."""


def server_key_id(base_url: str) -> str:
    """Keys belong to a server (scheme://host:port), not to one of its paths or models."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def keys_file() -> Path:
    return app_dirs().config / "api-keys.json"


class _Keyring(Protocol):
    """The part of the `keyring` module used here."""

    def get_password(self, service_name: str, username: str) -> str | None: ...
    def set_password(self, service_name: str, username: str, password: str) -> None: ...
    def delete_password(self, service_name: str, username: str) -> None: ...


def _keyring() -> _Keyring | None:
    """The keyring module when a real backend is there (none on a bare Linux box)."""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
            return None
        return keyring
    except Exception:  # noqa: BLE001 - any keyring trouble means "no keyring"
        return None


def keyring_available() -> bool:
    return _keyring() is not None


# Keys typed in the window but not to be remembered: this process only, memory only.
_SESSION: dict[str, str] = {}


def use_for_session(base_url: str, key: str) -> None:
    _SESSION[server_key_id(base_url)] = key


def server_env_var(base_url: str) -> str:
    """The environment variable that holds this server's own key (see the module's docstring)."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = re.sub(r"[^A-Z0-9]", "_", (parts.hostname or "").upper())
    return f"{ENV_VAR}_{host}_{port}"


def _where(base_url: str) -> str:
    """host:port: a server as far as its key is concerned (http and https on one port are one server)."""
    return server_key_id(base_url).split("://", 1)[1]


def find_api_key(base_url: str, env_var: str | None = None,
                 servers_in_run: Collection[str] = ()) -> str | None:
    """The key to send to the server at base_url, or None.

    servers_in_run: the base URLs of every server the run uses (this one may be among
    them); the shared variable is used only when they are all this server.
    """
    own = os.environ.get(server_env_var(base_url), "").strip()
    if own:
        return own
    shared = os.environ.get(env_var or ENV_VAR, "").strip()
    if shared and all(_where(u) == _where(base_url) for u in servers_in_run):
        return shared
    if shared:
        log.warning("%s is not sent to %s: this run uses %d servers (host and port); set %s for it",
                    env_var or ENV_VAR, _where(base_url), len({_where(u) for u in servers_in_run}),
                    server_env_var(base_url))
    return _SESSION.get(server_key_id(base_url)) or stored_api_key(base_url)


def stored_api_key(base_url: str) -> str | None:
    key_id = server_key_id(base_url)
    kr = _keyring()
    if kr is not None:
        try:
            value = kr.get_password(KEYRING_SERVICE, key_id)
            if value:
                return value
        except Exception:  # noqa: BLE001
            log.warning("the OS keyring could not be read; trying the key file")
    return _read_file().get(key_id)


def store_api_key(base_url: str, key: str, where: str = KEYRING) -> str:
    """Remember a key for this server; returns where it went (keyring or file)."""
    key_id = server_key_id(base_url)
    if where == KEYRING:
        kr = _keyring()
        if kr is not None:
            try:
                kr.set_password(KEYRING_SERVICE, key_id, key)
                return KEYRING
            except Exception:  # noqa: BLE001
                log.warning("the OS keyring refused the key; using the 0600 key file instead")
    keys = _read_file()
    keys[key_id] = key
    try:
        write_private_text(keys_file(), json.dumps(keys, indent=1))
    except OSError as exc:
        raise SecretStoreError(f"Could not save the key in {keys_file()} ({exc.strerror}); "
                               "it is used for this session only.") from None
    return FILE


def _read_file() -> dict[str, str]:
    path = keys_file()
    if not path.exists():
        return {}
    try:
        private_file(path)  # an older or hand-made file gets 0600 too
        data = load_json_bounded(path, 1 << 20, what=path.name)  # bounded: a damaged file must not hang or crash
    except (OSError, ValueError):
        log.warning("the API key file %s is unreadable; ignoring it", path)
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every given secret replaced by ***."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text
