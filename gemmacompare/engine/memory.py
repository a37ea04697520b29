"""Memory of each worker over time: RSS from psutil, VRAM from NVML per PID.

Sampled from the parent on one background thread at 10 Hz, so the workers'
own loops pay nothing for it; the memory chart redraws at most 2.5 times a
second, and each sample costs the parent CPU that, in a race, a model loses.
Without an NVIDIA GPU, VRAM is None ("no GPU"), never 0.
"""

from __future__ import annotations

import logging
import threading
import time

import psutil

from gemmacompare.engine.protocol import MemorySample, MemoryTrace

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 0.1
# An idle app keeps sampling; past an hour's worth, the older half is dropped
# so a window left open for days does not grow without bound.
MAX_SAMPLES = 72_000


class GpuMemoryReader:
    """Per-process used GPU memory via nvidia-ml-py, or unavailable."""

    def __init__(self) -> None:
        self.available = False
        self.reason = "no NVIDIA GPU"
        self._nvml = None
        self._handles: list = []
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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

    def reset(self, key: str) -> None:
        with self._lock:
            self._traces[key] = MemoryTrace(gpu_available=self.gpu.available)

    def trace(self, key: str) -> MemoryTrace:
        """A copy of what was sampled since the last reset."""
        with self._lock:
            tr = self._traces.get(key) or MemoryTrace(gpu_available=self.gpu.available)
            return MemoryTrace(list(tr.samples), tr.gpu_available)

    def samples_since(self, key: str, start: int) -> list[MemorySample]:
        with self._lock:
            tr = self._traces.get(key)
            return list(tr.samples[start:]) if tr else []

    def sample_once(self) -> None:
        with self._lock:
            procs = dict(self._procs)
        now = time.monotonic()
        vram = self.gpu.used_by({pr.pid for pr in procs.values()}) if self.gpu.available else {}
        readings: dict[str, MemorySample] = {}
        for key, proc in procs.items():
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            readings[key] = MemorySample(now, rss, vram.get(proc.pid, 0) if self.gpu.available else None)
        with self._lock:
            for key, sample in readings.items():
                samples = self._traces.setdefault(key, MemoryTrace(gpu_available=self.gpu.available)).samples
                samples.append(sample)
                if len(samples) > MAX_SAMPLES:
                    del samples[: MAX_SAMPLES // 2]

    def start(self) -> "MemorySampler":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_t += self.interval
            delay = next_t - time.monotonic()
            if delay < 0:
                next_t = time.monotonic()
                delay = 0
            self._stop.wait(delay)
