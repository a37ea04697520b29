"""Facts about the machine, the software and the model files, kept with every result.

A speed figure without the machine it was measured on cannot be compared
with anything, so every benchmark run stores these beside its numbers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

# Hashing a multi-GB GGUF whole takes longer than the benchmark; the header
# (metadata, tensor table) and the tail (last tensors) plus the exact size
# tell apart any two files a user plausibly has.
HASH_CHUNK = 4 * 1024 * 1024
HASH_METHOD = "sha256(size + first 4 MiB + last 4 MiB)"


@dataclass(frozen=True)
class MachineFacts:
    cpu_model: str
    cpu_cores: int  # physical
    cpu_threads: int  # logical
    gpu: str  # "none" without an NVIDIA GPU
    ram_bytes: int
    os: str
    python: str
    llama_cpp_python: str
    gemmacompare: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            import subprocess

            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                 timeout=5)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def gpu_names() -> str:
    try:
        import pynvml

        pynvml.nvmlInit()
        names = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h).total
            names.append(f"{name.decode() if isinstance(name, bytes) else name} ({mem // 2**20} MiB)")
        return ", ".join(names) or "none"
    except Exception:  # noqa: BLE001 - any NVML failure means "no NVIDIA GPU"
        return "none"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_facts() -> MachineFacts:
    return MachineFacts(
        cpu_model=cpu_model(),
        cpu_cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        cpu_threads=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        gpu=gpu_names(),
        ram_bytes=psutil.virtual_memory().total,
        os=platform.platform(),
        python=platform.python_version(),
        llama_cpp_python=package_version("llama-cpp-python"),
        gemmacompare=package_version("gemmacompare"),
    )


def file_hash_prefix(path: str | os.PathLike[str], length: int = 16) -> str:
    """A quick fingerprint of a model file; see HASH_METHOD."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(size.to_bytes(8, "little"))
    with path.open("rb") as f:
        h.update(f.read(HASH_CHUNK))
        if size > HASH_CHUNK:
            f.seek(max(HASH_CHUNK, size - HASH_CHUNK))
            h.update(f.read(HASH_CHUNK))
    return h.hexdigest()[:length]
