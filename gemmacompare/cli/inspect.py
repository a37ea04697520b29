"""`gemmacompare inspect`: a GGUF file's facts, without loading it."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from gemmacompare.cli.exit_codes import EXIT_OK
from gemmacompare.engine.api import RuntimeInfo, runtime_info
from gemmacompare.models.gguf_file import ModelFacts, ModelFileError, human_bytes, read_model_facts
from gemmacompare.models.memory_estimate import MemoryEstimate
from gemmacompare.state.untrusted import terminal_safe

# A line holds a path or a stranger's metadata (name, architecture, template problem): long enough for
# any real path, short enough that one field cannot fill the screen.
_MAX_LINE = 1024


def runs_on(info: RuntimeInfo) -> dict[str, Any]:
    """Where a model would run with the default GPU layers ("all"), as llama.cpp's devices say."""
    gpus = info.gpu_devices
    if gpus:
        dev = gpus[0]
        return {"backend": dev.backend, "device": f"{dev.name} ({dev.description})", "layers_offloaded": "all",
                "llama_cpp_backends": list(info.backends)}
    return {"backend": "CPU", "device": info.devices[0].description if info.devices else "CPU",
            "layers_offloaded": 0, "llama_cpp_backends": list(info.backends)}


def runs_on_line(where: dict[str, Any]) -> str:
    if where["layers_offloaded"] == "all":
        layers = f"all layers offloaded to {where['device']}"
    elif where["llama_cpp_backends"] != ["CPU"]:
        layers = "0 layers offloaded (no GPU device found)"  # a GPU backend is built in, no device
    else:
        layers = "0 layers offloaded (no GPU backend)"
    backends = ", ".join(where["llama_cpp_backends"])
    return f"runs on:        {where['backend']} · {layers} · llama.cpp backends: {backends}"


def memory_estimates(facts: ModelFacts, contexts: list[int | str], swa_full: bool = False) -> list[MemoryEstimate]:
    """llama.cpp's allocation at each asked context ("max": the model's own), as this app loads it."""
    sizes = [facts.context_length if c == "max" else int(c) for c in contexts]
    found = [facts.memory_at(n, swa_full=swa_full) for n in dict.fromkeys(x for x in sizes if x)]
    return [e for e in found if e is not None]


def memory_line(e: MemoryEstimate, other_kv: int | None, swa_full: bool = False) -> str:
    """e.g. "memory @ 4,096: 3.2 GiB = weights 2.9 GiB + KV cache 128 MiB + recurrent state 50 MiB"."""
    parts = [f"weights {human_bytes(e.weights)}", f"KV cache {human_bytes(e.kv_cache)}"]
    if e.recurrent_state:
        parts.append(f"recurrent state {human_bytes(e.recurrent_state)}")
    line = f"memory @ {e.n_ctx:,}: {human_bytes(e.total)} = " + " + ".join(parts)
    if other_kv is not None and other_kv != e.kv_cache:
        # Sliding-window layers: window-sized by default (llama.cpp's tools, and this app),
        # full-size with swa_full (the C API's default, so llama-cpp-python's).
        line += (f" (KV {human_bytes(other_kv)} window-sized, as llama-server and llama-bench size it)" if swa_full
                 else f" (KV {human_bytes(other_kv)} with a full-size sliding-window cache, --swa-full)")
    return line


def _memory_json(e: MemoryEstimate, facts: ModelFacts, swa_full: bool) -> dict[str, Any]:
    window = _other_kv(facts, e, True) if swa_full else (e.kv_cache if e.kv_cache_swa else None)
    return {**asdict(e), "total": e.total, "swa_full": swa_full, "kv_cache_swa_window_sized": window}


def _other_kv(facts: ModelFacts, e: MemoryEstimate, swa_full: bool) -> int | None:
    """The KV cache with the other sliding-window choice; None for a model without such layers."""
    if not e.kv_cache_swa:
        return None
    other = facts.memory_at(e.n_ctx, swa_full=not swa_full)
    return other.kv_cache if other else None


def cmd_inspect(args: argparse.Namespace) -> int:
    status = EXIT_OK
    out = []
    where = None
    for f in args.files:
        try:
            facts = read_model_facts(f)
        except ModelFileError as exc:
            print(f"error: {terminal_safe(exc.message, _MAX_LINE)}", file=sys.stderr)
            status = exc.problem.value
            continue
        if where is None:
            where = runs_on(runtime_info())
        swa_full = bool(getattr(args, "swa_full", False))
        estimates = memory_estimates(facts, getattr(args, "ctx", []), swa_full)
        if args.json:
            d = dict(facts.__dict__)
            d["has_chat_template"] = facts.has_chat_template
            d["runs_on"] = where
            d["memory_estimates"] = [_memory_json(e, facts, swa_full) for e in estimates]
            out.append(d)
        else:
            # Escaped: an ESC in a model's name could retitle the terminal or hide a line.
            print("\n".join(terminal_safe(line, _MAX_LINE) for line in facts.summary_lines()))
            print(runs_on_line(where))
            for e in estimates:
                print(memory_line(e, _other_kv(facts, e, swa_full), swa_full))
            if estimates:
                print("                compute buffers come on top; llama.cpp reports them at load (compare's table)")
            print()
    if args.json:
        print(json.dumps(out, indent=2))  # ensure_ascii (the default) escapes control and bidi characters
    return status
