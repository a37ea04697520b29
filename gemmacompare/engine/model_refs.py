"""What a model argument means, for the window, `compare`, `bench` and `models` alike.

- A server reference (http://…, https://…, ollama-server:NAME:TAG) is kept as given.
- `ollama:NAME:TAG` means "this model from Ollama": Ollama's GGUF on disk when the
  library finds it (run here by llama.cpp); otherwise the Ollama server at
  $OLLAMA_HOST when it answers and serves that model (returned as
  `ollama-server:ID`); otherwise one sentence saying both were checked.
- Everything else (paths, demo keys, library names) is the library's business.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from gemmacompare.engine.remote.client import RemoteError, list_models
from gemmacompare.engine.remote.server_ref import OLLAMA_PREFIX, ServerRef, is_server_ref, ollama_base_url
from gemmacompare.engine.run_settings import ServerSettings
from gemmacompare.models.library import (
    AmbiguousModelRef,
    LibraryScan,
    ModelRefError,
    closest_refs,
    needs_scan,
    resolve_model_ref,
    scan_library,
)

log = logging.getLogger(__name__)

OLLAMA_SHORT = "ollama:"


def resolve_model(arg: str | None, index: int, scan: LibraryScan | None = None,
                  settings: ServerSettings | None = None) -> str | Path:
    """A path for a local model, a server reference (str) for a served one.

    Raises ModelRefError with one sentence when the argument names nothing.
    """
    if arg is not None and is_server_ref(arg):
        return arg
    try:
        return resolve_model_ref(arg, index, scan)
    except AmbiguousModelRef:
        raise  # several on disk: the user picks one of those names
    except ModelRefError:
        if arg is None or not arg.strip().lower().startswith(OLLAMA_SHORT):
            raise
        return _ollama_server_model(arg.strip(), scan or scan_library(), settings or ServerSettings())


def resolve_models(args: Sequence[str | None], settings: ServerSettings | None = None,
                   scan: LibraryScan | None = None) -> list[str | Path]:
    """Several arguments with at most one library scan."""
    if scan is None and any(needs_scan(a) for a in args if a is None or not is_server_ref(a)):
        scan = scan_library()
    return [resolve_model(a, i, scan, settings) for i, a in enumerate(args)]


def _ollama_server_model(arg: str, scan: LibraryScan, settings: ServerSettings) -> str:
    name = arg[len(OLLAMA_SHORT):].strip()
    ref = ServerRef(ollama_base_url(), None)
    host = ref.base_url.removesuffix("/v1")
    close = closest_refs(arg, scan.entries)
    on_disk = f"No Ollama model '{name}' on disk" + (f" (closest: {', '.join(close)})" if close else "")
    try:
        served = [m.id for m in list_models(ref, settings)]
    except RemoteError as exc:
        log.info("Ollama server at %s: %s (%s)", host, exc.message, exc.detail)
        raise ModelRefError(f"{on_disk}, and no Ollama server answers at {host} ($OLLAMA_HOST); "
                            "start Ollama or use `gemmacompare models` for the names on disk.") from None
    for want in (name, f"{name}:latest"):
        if want in served:
            return f"{OLLAMA_PREFIX}{want}"
    shown = ", ".join(served[:5]) + (" …" if len(served) > 5 else "")
    serves = f"it serves {shown}" if served else "it serves none"
    raise ModelRefError(f"{on_disk}, and the Ollama server at {host} does not serve it ({serves}); "
                        f"pull it there (ollama pull {name}) or pick one of those.")


__all__ = ["OLLAMA_SHORT", "resolve_model", "resolve_models"]
