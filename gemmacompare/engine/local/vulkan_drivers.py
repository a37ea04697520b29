"""The Vulkan driver files named in the environment, checked before the Vulkan loader reads them.

The Vulkan loader parses every driver manifest that VK_ICD_FILENAMES (and its
newer names) points at with a recursive JSON parser: a manifest nested 100,000
deep overflows its stack and the process dies of SIGSEGV inside the loader,
with nothing to say why. Before llama.cpp is loaded, each named file is read
here within bounds; one that is not a driver manifest is taken out of the
variable (one sentence in the log names it), so Vulkan starts with the others
and the process lives.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from gemmacompare.state.safe_json import BadJSONError, load_json_bounded

log = logging.getLogger(__name__)

DRIVER_VARS = ("VK_ICD_FILENAMES", "VK_DRIVER_FILES", "VK_ADD_DRIVER_FILES")
MAX_MANIFEST_BYTES = 1 << 20  # a real manifest is a few hundred bytes
MAX_MANIFEST_DEPTH = 16  # a real one is 3 deep


def _problem(path: Path) -> str | None:
    """Why the file is not a driver manifest the loader can read safely, or None (a missing file is the
    loader's to skip, as it does)."""
    if not path.is_file():
        return None
    try:
        doc = load_json_bounded(path, MAX_MANIFEST_BYTES, what=path.name, max_depth=MAX_MANIFEST_DEPTH)
    except BadJSONError as exc:
        return exc.message
    except OSError as exc:
        return f"{path.name} cannot be read ({exc.strerror or 'error'})"
    if not isinstance(doc, dict) or not isinstance(doc.get("ICD"), dict):
        return f"{path.name} is not a Vulkan driver manifest (it has no ICD part)"
    return None


def drop_bad_driver_files(environ: dict[str, str] | None = None) -> list[str]:
    """Takes the unsafe files out of the driver variables; one sentence per file taken out."""
    env = os.environ if environ is None else environ
    said = []
    for var in DRIVER_VARS:
        value = env.get(var)
        if not value:
            continue
        keep = []
        for part in value.split(os.pathsep):
            problem = _problem(Path(part)) if part else None
            if problem is None:
                keep.append(part)
            else:
                said.append(f"The Vulkan driver file {part} (from {var}) was left out: "
                            f"{problem.rstrip('.')}.")
        if len(keep) != len(value.split(os.pathsep)):
            if keep:
                env[var] = os.pathsep.join(keep)
            else:
                del env[var]
    for sentence in said:
        log.warning("%s", sentence)
    return said


def driver_files_named() -> str:
    """The driver files the environment names, for a sentence about a process that died in Vulkan."""
    named = [f"{var}={os.environ[var]}" for var in DRIVER_VARS if os.environ.get(var)]
    return "; ".join(named)


__all__ = ["DRIVER_VARS", "drop_bad_driver_files", "driver_files_named"]
