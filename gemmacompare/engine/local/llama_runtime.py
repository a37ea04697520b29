"""What llama.cpp runs on: its backends, the CPU variant it picked, and where a model went.

Everything here is llama.cpp's own account, read through its C API or its load
log, never guessed from our settings:

- A portable build (GGML_BACKEND_DL) keeps each backend in its own library,
  e.g. one CPU library per instruction-set level. llama.cpp looks for them
  beside the executable, which for Python is the interpreter's folder, so we
  load them from llama-cpp-python's own lib folder before the first model.
- Which backend holds a model and how many layers were offloaded come from the
  lines llama.cpp logs while loading ("offloaded 31/31 layers to GPU", "CUDA0
  model buffer size = ..."); the same lines are its accounting of the device
  memory it allocated for weights, KV cache and compute buffers.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from gemmacompare.engine.placement import Device, DeviceBuffer, Placement

log = logging.getLogger(__name__)

# ggml_backend_dev_type (ggml-backend.h)
DEVICE_TYPES = {0: "CPU", 1: "GPU", 2: "iGPU", 3: "accelerator", 4: "meta"}
_GPU_TYPES = {1, 2}

_OFFLOAD_RE = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
# llama.cpp's load-time lines (llama-model.cpp, llama-kv-cache.cpp, llama-memory-recurrent.cpp,
# llama-context.cpp): "CPU_Mapped model buffer size", "CPU KV buffer size", "CPU RS buffer
# size" (a recurrent state, e.g. Qwen3.5's DeltaNet layers), "CPU  output buffer size" (the
# logits), "CPU compute buffer size". An iSWA model (Gemma) prints two KV lines, one per cache.
_BUFFER_RE = re.compile(r"(\S+) +(model|KV|RS|output|compute) buffer size = *([\d.]+) MiB")

_lock = threading.Lock()
_ggml: ctypes.CDLL | None = None


# --- the libraries ---------------------------------------------------------------

def llama_lib_dir() -> Path:
    """llama-cpp-python's folder of shared libraries (also inside a PyInstaller bundle)."""
    import llama_cpp

    return Path(llama_cpp.__file__).resolve().parent / "lib"


def _libggml_loaded_by_libllama(folder: Path) -> ctypes.CDLL:
    """The very libggml that libllama loaded, not another copy of it.

    A wheel cannot hold symlinks, so libggml.so, libggml.so.0 and libggml.so.0.x
    are three copies of one file. Opening a different copy by path gives a
    second backend registry: a portable (GGML_BACKEND_DL) build then loads its
    CPU backend into the copy libllama never sees, and every model load fails
    with "no backends are loaded". RTLD_NOLOAD finds the one already in memory.
    """
    names = {"win32": ["ggml.dll"], "darwin": ["libggml.dylib"]}.get(sys.platform, ["libggml.so"])
    candidates = [folder / n for n in names]
    candidates += sorted(folder.glob("libggml.so*")) + sorted(folder.glob("libggml*.dylib"))
    noload = getattr(os, "RTLD_NOLOAD", 0)
    if noload:
        for c in candidates:
            try:
                return ctypes.CDLL(c.name, mode=noload)
            except OSError:
                continue
    path = next((c for c in candidates if c.exists()), None)
    if path is None:
        raise OSError(f"libggml not found in {folder}")
    return ctypes.CDLL(str(path))


def _ggml_lib() -> ctypes.CDLL:
    global _ggml
    if _ggml is None:
        import llama_cpp  # noqa: F401 - loads libllama and with it libggml

        lib = _libggml_loaded_by_libllama(llama_lib_dir())
        vp, sz, cp = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
        for name, res, args in (
            ("ggml_backend_reg_count", sz, []),
            ("ggml_backend_reg_get", vp, [sz]),
            ("ggml_backend_reg_name", cp, [vp]),
            ("ggml_backend_dev_count", sz, []),
            ("ggml_backend_dev_get", vp, [sz]),
            ("ggml_backend_dev_name", cp, [vp]),
            ("ggml_backend_dev_description", cp, [vp]),
            ("ggml_backend_dev_type", ctypes.c_int, [vp]),
            ("ggml_backend_dev_memory", None, [vp, ctypes.POINTER(sz), ctypes.POINTER(sz)]),
            ("ggml_backend_load_all_from_path", None, [cp]),
        ):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        _ggml = lib
    return _ggml


def load_backends() -> None:
    """Registers llama.cpp's backends; call before the first model loads.

    A build with backends compiled in has them registered already; a portable
    (GGML_BACKEND_DL) build has none until its libraries are loaded from our lib
    folder. llama.cpp's own fallback would search the executable's folder only.
    """
    with _lock:
        lib = _ggml_lib()
        process_log()
        if lib.ggml_backend_reg_count() == 0:
            lib.ggml_backend_load_all_from_path(str(llama_lib_dir()).encode())
        if lib.ggml_backend_reg_count() == 0:
            raise OSError(f"llama.cpp found no backend libraries in {llama_lib_dir()}")


_log: LoadLog | None = None


def process_log() -> LoadLog:
    """The process's one receiver of llama.cpp's log (llama.cpp holds a single callback).
    Its informational lines ("load_backend: loaded CPU backend from /full/path") are not
    for a terminal: only warnings and errors pass; a worker captures the rest at load."""
    global _log
    if _log is None:
        _log = LoadLog()
    return _log


# --- what is there ---------------------------------------------------------------

@dataclass(frozen=True)
class RuntimeInfo:
    llama_cpp_python: str
    backends: tuple[str, ...]  # registered backends, llama.cpp's names
    devices: tuple[Device, ...]
    cpu_variant: str
    system_info: str

    @property
    def gpu_devices(self) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.kind in ("GPU", "iGPU"))


def runtime_info() -> RuntimeInfo:
    import llama_cpp

    load_backends()
    lib = _ggml_lib()
    backends = tuple(
        (lib.ggml_backend_reg_name(lib.ggml_backend_reg_get(i)) or b"?").decode(errors="replace")
        for i in range(lib.ggml_backend_reg_count())
    )
    return RuntimeInfo(
        llama_cpp_python=getattr(llama_cpp, "__version__", "?"),
        backends=backends,
        devices=devices(),
        cpu_variant=cpu_variant(),
        system_info=llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
    )


def devices() -> tuple[Device, ...]:
    """llama.cpp's devices, with their memory as each backend reports it."""
    load_backends()
    lib = _ggml_lib()
    found = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        found.append(
            Device(
                name=(lib.ggml_backend_dev_name(dev) or b"?").decode(errors="replace"),
                description=(lib.ggml_backend_dev_description(dev) or b"").decode(errors="replace").strip(),
                kind=DEVICE_TYPES.get(lib.ggml_backend_dev_type(dev), "other"),
                memory_total=total.value,
                memory_free=free.value,
            )
        )
    return tuple(found)


def gpu_offload_available() -> bool:
    import llama_cpp

    load_backends()
    return bool(llama_cpp.llama_supports_gpu_offload())


def cpu_variant(maps_path: str = "/proc/self/maps") -> str:
    """The CPU library a portable build chose for this processor (e.g. "haswell").

    llama.cpp scores each libggml-cpu-<variant> by the instruction sets this CPU
    has and loads the best; the loaded file is the answer. A build with the CPU
    code compiled in has no variants.
    """
    try:
        text = Path(maps_path).read_text()
    except OSError:
        text = ""
    found = sorted(set(re.findall(r"libggml-cpu-([A-Za-z0-9_.]+?)\.(?:so|dylib|dll)", text)))
    if found:
        return ", ".join(found)
    if re.search(r"libggml-cpu\.(?:so|dylib)", text):
        return "one built-in CPU library (no runtime dispatch)"
    return "unknown (cannot see the loaded libraries on this system)"


def parse_load_log(text: str, n_layer: int | None = None) -> Placement:
    """Placement from the text llama.cpp logged while loading a model and its context.

    n_layer (llama_model_n_layer) gives the total when llama.cpp printed no
    offload line, which it skips when no GPU backend is built in.
    """
    offloaded, total = 0, (n_layer + 1 if n_layer is not None else None)
    m = _OFFLOAD_RE.search(text)
    if m:
        offloaded, total = int(m.group(1)), int(m.group(2))
    buffers = tuple(
        DeviceBuffer(kind, name, int(float(mib) * 1024 * 1024)) for name, kind, mib in _BUFFER_RE.findall(text)
    )
    accelerators = list(dict.fromkeys(b.backend for b in buffers
                                      if b.kind == "model" and b.bytes > 0 and b.backend != "CPU"))
    if not accelerators or offloaded == 0:
        backend = "CPU"
    elif total is not None and offloaded < total:
        backend = " + ".join([*accelerators, "CPU"])  # a partial offload
    else:
        # All layers offloaded; the token embeddings stay in a CPU buffer by design.
        backend = " + ".join(accelerators)
    return Placement(backend, offloaded, total, buffers)


_ALLOC_SIZED_RE = re.compile(r"failed to allocate (\S+) buffer of size (\d+)")
_ALLOC_RE = re.compile(r"unable to allocate (\S+) buffer")
_ALLOC_WHAT_RE = re.compile(r"failed to allocate (?:buffer for (kv cache|rs cache)|(compute) (?:pp |tg )?buffers)")


@dataclass(frozen=True)
class AllocationFailure:
    """llama.cpp could not allocate memory for a model on a device (from its load log)."""

    device: str  # "Vulkan0", "CUDA0"; "CPU" for host memory
    what: str  # weights | KV cache | recurrent state | compute buffers
    bytes: int | None


def allocation_failure(text: str) -> AllocationFailure | None:
    """The first memory allocation llama.cpp reported failing while loading, if any."""
    sized, named = _ALLOC_SIZED_RE.search(text), _ALLOC_RE.search(text)
    what = _ALLOC_WHAT_RE.search(text)
    if not (sized or named or what):
        return None
    found = sized or named
    buffer = found.group(1) if found else ""
    kind = "weights" if named else "memory"
    if what:
        kind = {"kv cache": "KV cache", "rs cache": "recurrent state"}.get(what.group(1) or "", "compute buffers")
    device = DeviceBuffer("model", buffer, 0).device if buffer else "?"
    return AllocationFailure(device, kind, int(sized.group(2)) if sized else None)


# ggml_log_level (ggml.h)
_GGML_LOG_WARN, _GGML_LOG_ERROR, _GGML_LOG_CONT = 3, 4, 5


class LoadLog:
    """Collects what llama.cpp logs (via llama_log_set) while `capturing()` is active.

    Warnings and errors still go to stderr, which in a worker is its log file,
    as llama-cpp-python's own logger did with verbose=False.
    """

    def __init__(self) -> None:
        import llama_cpp

        self._parts: list[str] | None = None
        self._last_level = 0

        def on_log(level: int, text: bytes, _user: object) -> None:
            s = text.decode("utf-8", errors="replace") if text else ""
            if self._parts is not None:
                self._parts.append(s)
            if level == _GGML_LOG_CONT:  # the rest of the line before
                level = self._last_level
            self._last_level = level
            if level in (_GGML_LOG_WARN, _GGML_LOG_ERROR):
                print(s, end="", file=sys.stderr, flush=True)

        self._callback = llama_cpp.llama_log_callback(on_log)  # kept: llama.cpp holds a raw pointer
        llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))

    def start(self) -> None:
        self._parts = []

    def stop(self) -> str:
        text, self._parts = "".join(self._parts or []), None
        return text
