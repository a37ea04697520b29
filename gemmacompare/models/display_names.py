"""One name per model, the one people recognise, used everywhere it is shown.

The picker's name wins: a demo model's label, a library entry's name (an Ollama
model by its Ollama name, never its `sha256-…` blob), else the file's name. A
file's `general.name` ("Smollm2 135M 8k Lc100K Mix1 Ep2") is what its converter
wrote, not what the user picked, so it is only the last resort (an Ollama blob
with no name known). Long names are elided in the middle, where the end keeps
the quantisation ("gemma-4-E2B…Q4_K_M").
"""

from __future__ import annotations

import re
from pathlib import PurePath

from gemmacompare.models.demo import demo_models

OLLAMA_BLOB_PREFIX = "sha256-"
# A library name as typed (ollama:NAME:TAG, lmstudio:PUB/MODEL, hf:ORG/REPO): a source word, then
# a colon; a Windows drive (C:) has a one-letter "source" and is a path.
LIBRARY_REF = re.compile(r"^[a-z][a-z0-9.+-]+:(?![\\/])")


def file_display_name(path: str, general_name: str = "") -> str:
    """A model file by its name without .gguf; an Ollama blob by the name inside it."""
    name = PurePath(path).name
    if name.startswith(OLLAMA_BLOB_PREFIX):
        return general_name or name[:20] + "…"
    return name[:-5] if name.lower().endswith(".gguf") else name


def demo_label(path: str) -> str | None:
    """The demo's label ("SmolLM2-135M-Instruct Q4_1") when `path` is a demo model."""
    for d in demo_models():
        if str(d.path) == str(path):
            return d.label.removesuffix(" (demo)")
    return None


def display_name(path: str, general_name: str = "", arg: str | None = None) -> str:
    """The name for `path`; `arg` is what the user typed for it (a library or Ollama name)."""
    if arg and LIBRARY_REF.match(arg):
        return arg.split(":", 1)[1]  # ollama:gemma3:4b -> gemma3:4b, lmstudio:pub/model -> pub/model
    return demo_label(path) or file_display_name(path, general_name)


def elide_middle(text: str, limit: int = 48) -> str:
    """At most `limit` characters, cut in the middle so both ends (family and quantisation) show."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    head = (keep + 1) // 2
    return text[:head] + "…" + text[len(text) - (keep - head):]
