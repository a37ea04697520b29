"""Memory of each worker over time: RSS from psutil, GPU memory from NVML per PID.

Without NVML (Vulkan, Metal, ROCm: no per-process reading we can take from
outside the worker), a model's GPU memory is llama.cpp's own account of the
device buffers it allocated at load (weights, KV cache, compute), a step that
is there while the model is loaded and 0 once it is unloaded; each trace says
which of the two its figures are (MemoryTrace.gpu_source).

Sampled from the parent on one background thread 4 times a second, so the
workers' own loops pay nothing for it; the memory chart redraws once a second.
Each sample costs the parent CPU that, in a race, a model loses: on a virtual
machine a wake-up and a read of /proc cost 0.5-0.9 ms, 10 Hz was most of a
percent of a core. The window pauses sampling while nothing runs.
With neither, GPU memory is None ("no GPU"), never 0.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psutil

from gemmacompare.engine.protocol import GPU_FROM_LLAMA, GPU_FROM_NVML, MemorySample, MemoryTrace

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 0.25
# A sampler that is never paused (a long benchmark) keeps sampling; past an
# hour's worth, the older half is dropped so it does not grow without bound.
MAX_SAMPLES = 72_000


class GpuMemoryReader:
    """Per-process used GPU memory via nvidia-ml-py, or unavailable."""

    def __init__(self, probe: bool = True) -> None:
        self.available = False
        self.reason = "no NVIDIA GPU"
        self._nvml = None
        self._handles: list[Any] = []  # pynvml device handles
        if not probe:
            return  # a sampler with nothing to sample (a replay's) asks NVML nothing
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._nvml = pynvml
            self.available = count > 0
            if not self.available:
                self.reason = "no NVIDIA GPU"
        except Exception as exc:  # noqa: BLE001 - any NVML failure means "no GPU"
            self.reason = f"no NVIDIA GPU ({type(exc).__name__})"

    def used_by(self, pids: set[int]) -> dict[int, int]:
        if not self.available:
            return {}
        out: dict[int, int] = {}
        nv = self._nvml
        for h in self._handles:
            procs = []
            for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
                try:
                    procs.extend(getattr(nv, getter)(h))
                except Exception:  # noqa: BLE001 - a getter can be unsupported
                    continue
            for proc in procs:
                if proc.pid in pids and proc.usedGpuMemory is not None:
                    out[proc.pid] = out.get(proc.pid, 0) + int(proc.usedGpuMemory)
        return out


class MemorySampler:
    """Samples the memory of named processes until stopped."""

    def __init__(self, interval: float = SAMPLE_INTERVAL_S, gpu: GpuMemoryReader | None = None) -> None:
        self.interval = interval
        self.gpu = gpu or GpuMemoryReader()
        self._lock = threading.Lock()
        self._pids: dict[str, int] = {}
        self._procs: dict[str, psutil.Process] = {}
        self._traces: dict[str, MemoryTrace] = {}
        self._device: dict[str, int] = {}  # llama.cpp's device buffers per key, where NVML is missing
        self._wake = threading.Condition()
        self._stopping = False
        self._paused = False
        self._thread: threading.Thread | None = None

    def pause(self) -> None:
        """No samples (and no wake-ups) until resume(): nothing is running."""
        with self._wake:
            self._paused = True

    def resume(self) -> None:
        """Sample again, the first time at once."""
        with self._wake:
            self._paused = False
            self._wake.notify_all()

    def watch(self, key: str, pid: int | None) -> None:
        with self._lock:
            if pid is None:
                self._pids.pop(key, None)
                self._procs.pop(key, None)
                return
            if self._pids.get(key) != pid:
                self._pids[key] = pid
                try:
                    self._procs[key] = psutil.Process(pid)
                except psutil.Error:
                    self._procs.pop(key, None)

    def set_device_bytes(self, key: str, n: int | None) -> None:
        """llama.cpp's device buffers for the model under `key` (0: unloaded, None: it has none)."""
        with self._lock:
            if n is None:
                self._device.pop(key, None)
            else:
                self._device[key] = n

    def device_bytes(self, key: str) -> int | None:
        with self._lock:
            return self._device.get(key)

    def gpu_source(self, key: str) -> str:
        return self._empty_trace(key).gpu_source

    def _empty_trace(self, key: str) -> MemoryTrace:
        if self.gpu.available:
            return MemoryTrace(gpu_available=True, gpu_source=GPU_FROM_NVML)
        if key in self._device:
            return MemoryTrace(gpu_available=True, gpu_source=GPU_FROM_LLAMA)
        return MemoryTrace()

    def reset(self, key: str) -> None:
        with self._lock:
            self._traces[key] = self._empty_trace(key)

    def trace(self, key: str) -> MemoryTrace:
        """A copy of what was sampled since the last reset."""
        with self._lock:
            tr = self._traces.get(key) or self._empty_trace(key)
            return MemoryTrace(list(tr.samples), tr.gpu_available, tr.gpu_source)

    def samples_since(self, key: str, start: int) -> list[MemorySample]:
        with self._lock:
            tr = self._traces.get(key)
            return list(tr.samples[start:]) if tr else []

    def sample_now(self, key: str) -> None:
        """One reading of `key`'s process, at once, on the caller's thread: at a run's start and end, so
        a reply shorter than an interval (4 tokens in 0.3 s) still has a memory line of two points."""
        self.sample_once(key)

    def sample_once(self, only: str | None = None) -> None:
        with self._lock:
            procs = {k: v for k, v in self._procs.items() if only is None or k == only}
            device = dict(self._device)
        now = time.monotonic()
        vram = self.gpu.used_by({pr.pid for pr in procs.values()}) if self.gpu.available else {}
        readings: dict[str, MemorySample] = {}
        for key, proc in procs.items():
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            gpu = vram.get(proc.pid, 0) if self.gpu.available else device.get(key)
            readings[key] = MemorySample(now, rss, gpu)
        with self._lock:
            for key, sample in readings.items():
                if key not in self._traces:
                    self._traces[key] = self._empty_trace(key)
                samples = self._traces[key].samples
                if samples and sample.t < samples[-1].t:
                    continue  # taken before a reading of the run's start or end that landed first: in time order
                samples.append(sample)
                if len(samples) > MAX_SAMPLES:
                    del samples[: MAX_SAMPLES // 2]

    def start(self) -> "MemorySampler":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None

    def _run(self) -> None:
        next_t = time.monotonic()
        while True:
            with self._wake:
                while self._paused and not self._stopping:
                    self._wake.wait()
                    next_t = time.monotonic()
                if self._stopping:
                    return
            self.sample_once()
            next_t += self.interval
            delay = next_t - time.monotonic()
            if delay < 0:
                next_t = time.monotonic()
                delay = 0
            with self._wake:
                if not self._stopping:
                    self._wake.wait(delay)
