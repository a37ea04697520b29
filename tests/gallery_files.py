"""Hand-made run files standing for other machines, for the gallery's tests.

Each is a run file as gemmacompare writes one (read back by the real strict
reader): a token timeline at a chosen pace, so the figures the gallery shows
are known: `ms` ms per token, prefill of `n_prompt` tokens in `prefill_s`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

GPU_BOX = {"cpu_model": "AMD Ryzen 7 7840U", "cpu_cores": 8, "cpu_threads": 16, "gpu": "NVIDIA GeForce RTX 4060",
           "ram_bytes": 32 * 2**30, "os": "Linux", "python": "3.11", "llama_cpp_python": "0.3.36",
           "gemmacompare": "0.1"}
OLD_LAPTOP = {"cpu_model": "Intel Core i5-8250U", "cpu_cores": 4, "cpu_threads": 8, "gpu": "none",
              "ram_bytes": 8 * 2**30, "os": "Linux", "python": "3.11", "llama_cpp_python": "0.3.20",
              "gemmacompare": "0.1"}


def model_part(name: str, file_hash: str, ms: float, *, label: str = "A", n: int = 20, backend: str = "CPU",
               threads: int = 4, n_prompt: int = 40, prefill_s: float = 0.2, quant: str = "Q4_K_M",
               peak_rss: int = 300 * 2**20, busy: bool = False) -> dict[str, Any]:
    t0 = prefill_s + 0.01
    tokens = [[i, 100 + i, round(t0 + i * ms / 1000.0, 6), "answer", "", f"w{i} "] for i in range(n)]
    t_end = tokens[-1][2] + 0.001
    return {
        "label": label,
        "identity": {"display_name": name, "file_name": f"{name}.{quant}.gguf", "file_size": 100_000_000,
                     "quantization": quant, "architecture": "llama", "file_hash": file_hash,
                     "source": {"kind": "file"}},
        "settings": {"load": {"n_ctx": 2048}, "sampling": {"temperature": 0.0, "max_tokens": n}, "prompt": {}},
        "loaded": {"n_ctx": 2048, "n_batch": 512, "n_threads": threads, "n_gpu_layers": -1, "flash_attn": "auto",
                   "type_k": "f16", "type_v": "f16", "load_seconds": 0.5, "system_info": "AVX2 = 1",
                   "placement": {"backend": backend, "layers_offloaded": 0 if backend == "CPU" else 31,
                                 "layers_total": 31, "buffers": [], "devices": []}},
        "run": {"prompt": {"template_name": "chatml", "thinking_prefilled": False, "prompt_text": "hi"},
                "prefill": {"n_prompt": n_prompt, "t_start": 0.0, "t_end": prefill_s},
                "tokens": tokens,
                "finished": {"stop_reason": "length", "n_prompt": n_prompt, "n_generated": n, "t_send": 0.0,
                             "t_end": t_end, "n_threads": threads, "template_name": "chatml", "perf": None,
                             "server": None},
                "error": None,
                "memory": {"gpu_available": False, "gpu_source": "", "samples": [[0.1, peak_rss, None]]}},
        "stats": {"machine_busy": busy, "other_cpu_cores": 1.5 if busy else 0.0},
    }


def run_doc(machine: dict[str, Any], models: list[dict[str, Any]], created: str = "2026-11-30T10:00:00+00:00",
            claim_ms: list[list[float]] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "gemmacompare-run", "schema": 1, "kind": "compare", "created": created,
        "machine": copy.deepcopy(machine), "left_out": [], "mode": "fair", "threads_total": 4,
        "threads_per_model": [4] * len(models), "thread_split": "fair mode, 4 threads each",
        "prompt": "hi", "system_prompt": "", "raw": False, "models": models,
    }
    if claim_ms is not None:
        doc["claim"] = {"text": "A=10ms", "figures": [], "runs_ms_per_token": claim_ms, "runs_tokens": [],
                        "verdict": "checked"}
    return doc


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
