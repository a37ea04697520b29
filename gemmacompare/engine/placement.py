"""Where llama.cpp put a model and what it allocated there: wire types.

llama.cpp's own account, read from its load log by the worker
(engine/local/llama_runtime.py), carried to the session in `Loaded` and kept
in run files, reports and the window's tooltips. Plain data: nothing here
touches llama.cpp, so every layer may hold it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterable

# Buffer and device name prefixes (GGML_CUDA_NAME, GGML_METAL_NAME, GGML_VK_NAME, ...)
# to the backend names people know.
_BACKEND_NAMES = {
    "CPU": "CPU", "CUDA": "CUDA", "ROCm": "ROCm", "HIP": "ROCm", "MUSA": "MUSA", "MTL": "Metal",
    "Metal": "Metal", "Vulkan": "Vulkan", "SYCL": "SYCL", "OpenCL": "OpenCL", "CANN": "CANN", "RPC": "RPC",
    "BLAS": "CPU", "AMX": "CPU",
}

# Buffer kinds as llama.cpp logs them, and what each holds.
MEMORY_PARTS: dict[str, str] = {
    "model": "weights", "KV": "KV cache", "RS": "recurrent state", "output": "output (logits)", "compute": "compute",
    # Not a kind llama.cpp logs: a speculating worker's draft model, all its buffers (weights, cache, compute).
    "draft": "draft model",
    # Nor this: the conversation cache's saved llama.cpp states (engine/local/prompt_cache.py),
    # host memory the worker holds after a reply.
    "checkpoints": "context checkpoints",
}
_ONLY_WHERE_HELD = ("recurrent state", "draft model", "context checkpoints")


def backend_name(buffer_or_device: str) -> str:
    """CUDA0 -> CUDA, CPU_Mapped -> CPU, CUDA_Host -> CPU (pinned host memory), MTL0 -> Metal."""
    if "_Host" in buffer_or_device:
        return "CPU"
    m = re.match(r"[A-Za-z]+?(?=\d|_|$)", buffer_or_device)
    prefix = m.group(0) if m else buffer_or_device
    return _BACKEND_NAMES.get(prefix, prefix)


# --- what is there and where a model went -----------------------------------------

@dataclass(frozen=True)
class Device:
    name: str  # llama.cpp's device name: CPU, CUDA0, Vulkan0, MTL0
    description: str  # the hardware, as the backend names it
    kind: str  # CPU | GPU | iGPU | accelerator
    memory_total: int
    memory_free: int

    @property
    def backend(self) -> str:
        return backend_name(self.name)


@dataclass(frozen=True)
class DeviceBuffer:
    kind: str  # model | KV | RS | output | compute | draft | checkpoints (keys of MEMORY_PARTS)
    buffer: str  # llama.cpp's buffer name, e.g. CUDA0, CPU_Mapped
    bytes: int

    @property
    def backend(self) -> str:
        return backend_name(self.buffer)

    @property
    def device(self) -> str:
        """The memory it takes: "CPU" for host buffers (mapped, repacked, pinned), else the device (CUDA0)."""
        if self.backend == "CPU":
            return "CPU"
        return self.buffer.split("_", 1)[0]


@dataclass(frozen=True)
class MemoryAccount:
    """What llama.cpp allocated for one model on one device, by part, in bytes.

    Weights count every model buffer: on a CPU whose kernels repack some
    weights (CPU_REPACK), those are held twice, once mapped from the file and
    once repacked, and llama.cpp reports both.
    """

    device: str
    weights: int = 0
    kv_cache: int = 0
    recurrent_state: int = 0
    output: int = 0
    compute: int = 0
    draft_model: int = 0
    context_checkpoints: int = 0

    @property
    def total(self) -> int:
        return (self.weights + self.kv_cache + self.recurrent_state + self.output + self.compute + self.draft_model
                + self.context_checkpoints)

    def parts(self) -> list[tuple[str, int]]:
        """(name, bytes) in MEMORY_PARTS order, the parts this model has (a recurrent state, a draft model,
        checkpoints only where it has them)."""
        values = (self.weights, self.kv_cache, self.recurrent_state, self.output, self.compute, self.draft_model,
                  self.context_checkpoints)
        return [(name, v) for name, v in zip(MEMORY_PARTS.values(), values) if v or name not in _ONLY_WHERE_HELD]

    def describe(self) -> str:
        parts = " + ".join(f"{name} {_mib(v)}" for name, v in self.parts())
        return f"{self.device}: {parts} = {_mib(self.total)}"


_ACCOUNT_FIELDS = {"model": "weights", "KV": "kv_cache", "RS": "recurrent_state", "output": "output",
                   "compute": "compute", "draft": "draft_model", "checkpoints": "context_checkpoints"}


def memory_accounts(buffers: Iterable[DeviceBuffer]) -> tuple[MemoryAccount, ...]:
    """llama.cpp's buffers summed by device and part, devices in the order llama.cpp logged them."""
    sums: dict[str, dict[str, int]] = {}
    for b in buffers:
        part = sums.setdefault(b.device, {})
        name = _ACCOUNT_FIELDS[b.kind]
        part[name] = part.get(name, 0) + b.bytes
    return tuple(MemoryAccount(device, **parts) for device, parts in sums.items())


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


@dataclass(frozen=True)
class Placement:
    """Where llama.cpp put one loaded model, from its own load log."""

    backend: str  # e.g. "CPU", "CUDA", "CUDA + CPU"
    layers_offloaded: int
    layers_total: int | None  # llama.cpp counts the output layer as one
    buffers: tuple[DeviceBuffer, ...] = field(default=())
    # The devices off the CPU that hold part of it, as "Vulkan0: llvmpipe (LLVM 15.0.6, 256 bits)".
    devices: tuple[str, ...] = field(default=())

    def with_devices(self, known: Iterable[Device]) -> Placement:
        """The same placement, naming the hardware behind each device it uses."""
        used = list(dict.fromkeys(b.device for b in self.buffers if b.device != "CPU" and b.bytes > 0))
        names = {d.name: d.description for d in known}
        return replace(self, devices=tuple(f"{u}: {names[u]}" if names.get(u) else u for u in used))

    def with_checkpoints(self, n_bytes: int | None) -> Placement:
        """The account with the conversation cache's checkpoints after a reply (host memory), where it holds any."""
        if not n_bytes or not self.buffers:
            return self
        return replace(self, buffers=(*self.buffers, DeviceBuffer("checkpoints", "CPU", n_bytes)))

    def device_bytes(self, kind: str | None = None) -> int:
        """Bytes llama.cpp allocated off the CPU (on a GPU), all kinds or one."""
        return sum(b.bytes for b in self.buffers if b.backend != "CPU" and (kind is None or b.kind == kind))

    @property
    def memory(self) -> tuple[MemoryAccount, ...]:
        """llama.cpp's account per device: weights, KV cache, recurrent state, output, compute."""
        return memory_accounts(self.buffers)

    @property
    def accounting(self) -> str:
        """llama.cpp's own account of what it allocated where, e.g. for a tooltip."""
        if not self.buffers:
            return "llama.cpp reported no buffer sizes"
        parts = [f"{b.kind} {b.bytes / 2**20:.0f} MiB on {b.buffer}" for b in self.buffers]
        gpu = self.device_bytes()
        head = f"device memory allocated by llama.cpp: {gpu / 2**20:.0f} MiB; " if gpu else ""
        return head + "llama.cpp buffers: " + ", ".join(parts)

    def memory_lines(self) -> list[str]:
        """One line per device, e.g. "CPU: weights 3.6 MiB + KV cache 1.0 MiB + ... = 12.1 MiB"."""
        return [a.describe() for a in self.memory]

    @property
    def summary(self) -> str:
        total = f"/{self.layers_total}" if self.layers_total is not None else ""
        on = f" on {', '.join(self.devices)}" if self.devices else ""
        return f"{self.backend}{on} · {self.layers_offloaded}{total} layers offloaded"
