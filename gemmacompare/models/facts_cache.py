"""GGUF facts remembered between runs, keyed by (path, size, mtime).

The path is the one the library found (a snapshot link, an Ollama blob), as the
user would load it.

A changed or replaced file has a new size or mtime, so its entry is simply
missed and read again. The file is a rebuildable cache: if it is unreadable it
is ignored and rewritten.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gemmacompare.models.gguf_file import FileProblem, ModelFacts, ModelFileError, read_model_facts
from gemmacompare.models.gguf_header import peek_header
from gemmacompare.state.paths import app_dirs
from gemmacompare.state.safe_json import load_json_bounded

log = logging.getLogger(__name__)

CACHE_VERSION = 3  # 2: synthetic and layout (older entries would say a synthetic file is real); 3: memory_shape
# Hundreds of models with their chat templates are a few MB; a larger file is damaged.
MAX_CACHE_BYTES = 64 << 20


def default_cache_path() -> Path:
    return app_dirs().cache / "library-facts.json"


class FactsCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self._lock = threading.Lock()
        self._dirty = False
        self._items: dict[str, dict[str, Any]] = {}
        try:
            doc = load_json_bounded(self.path, MAX_CACHE_BYTES, what=f"the facts cache {self.path}")
            if isinstance(doc, dict) and doc.get("version") == CACHE_VERSION and isinstance(doc.get("items"), dict):
                # Entries that are not objects would break every lookup; the rest are still good.
                self._items = {k: v for k, v in doc["items"].items() if isinstance(v, dict)}
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:  # BadJSONError is a ValueError: too large, too deep, not JSON
            log.info("facts cache %s unreadable (%s); starting afresh", self.path, exc)

    def _slot(self, key: str, st: os.stat_result) -> dict[str, Any]:
        with self._lock:
            item = self._items.get(key)
            if not item or item.get("size") != st.st_size or item.get("mtime_ns") != st.st_mtime_ns:
                item = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
                self._items[key] = item
                self._dirty = True
            return item

    def peek(self, path: str, st: os.stat_result) -> dict[str, Any]:
        """The file's first header keys (gguf_header.peek_header); raises what it raises. st: os.stat(path)."""
        item = self._slot(path, st)
        if not isinstance(item.get("peek"), dict):  # not read yet, or a damaged cache entry
            item["peek"] = peek_header(path)
            self._dirty = True
        peek: dict[str, Any] = item["peek"]
        return peek

    def facts(self, path: str) -> ModelFacts:
        """Full facts (read_model_facts); a file's error is remembered too. Raises ModelFileError."""
        st = os.stat(path)
        item = self._slot(str(path), st)
        if "facts" in item:
            cached = _facts_from_item(item, str(path))
            if cached is not None:
                return cached
        elif "error" in item:
            error = _error_from_item(item)
            if error is not None:
                raise error
        item.pop("facts", None)
        item.pop("error", None)
        try:
            facts = read_model_facts(path)
        except ModelFileError as exc:
            item["error"] = [exc.problem.name, exc.message]
            self._dirty = True
            raise
        item["facts"] = asdict(facts)
        self._dirty = True
        return facts

    def cached_facts(self, path: str, st: os.stat_result | None = None) -> ModelFacts | None:
        """Facts only if already known for this exact file; never reads it."""
        try:
            st = st or os.stat(path)
        except OSError:
            return None
        with self._lock:
            item = self._items.get(str(path))
        if item and item.get("size") == st.st_size and item.get("mtime_ns") == st.st_mtime_ns and "facts" in item:
            return _facts_from_item(item, str(path))
        return None

    def save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            doc = json.dumps({"version": CACHE_VERSION, "items": self._items})
            self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(doc, encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("could not save the facts cache %s: %s", self.path, exc)


def _facts_from_item(item: dict[str, Any], path: str) -> ModelFacts | None:
    """Facts from a cache entry, or None when the entry is damaged (then the file is read again)."""
    try:
        return ModelFacts(**{**item["facts"], "path": path})
    except (TypeError, KeyError) as exc:
        log.info("facts cache entry for %s unusable (%s); reading the file again", path, exc)
        return None


def _error_from_item(item: dict[str, Any]) -> ModelFileError | None:
    try:
        problem, message = item["error"]
        return ModelFileError(FileProblem[problem], str(message))
    except (TypeError, KeyError, ValueError):
        return None
