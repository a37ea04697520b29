"""`gemmacompare inspect`: a GGUF file's facts, without loading it."""

from __future__ import annotations

import json
import sys

from gemmacompare.cli.exit_codes import EXIT_OK
from gemmacompare.engine.local.llama_runtime import RuntimeInfo, runtime_info
from gemmacompare.models.gguf_file import ModelFileError, read_model_facts
from gemmacompare.state.untrusted import terminal_safe

# A line holds a path or a stranger's metadata (name, architecture, template problem): long enough for
# any real path, short enough that one field cannot fill the screen.
_MAX_LINE = 1024


def runs_on(info: RuntimeInfo) -> dict:
    """Where a model would run with the default GPU layers ("all"), as llama.cpp's devices say."""
    gpus = info.gpu_devices
    if gpus:
        dev = gpus[0]
        return {"backend": dev.backend, "device": f"{dev.name} ({dev.description})", "layers_offloaded": "all",
                "llama_cpp_backends": list(info.backends)}
    return {"backend": "CPU", "device": info.devices[0].description if info.devices else "CPU",
            "layers_offloaded": 0, "llama_cpp_backends": list(info.backends)}


def runs_on_line(where: dict) -> str:
    layers = "all layers offloaded" if where["layers_offloaded"] == "all" else "0 layers offloaded (no GPU backend)"
    backends = ", ".join(where["llama_cpp_backends"])
    return f"runs on:        {where['backend']} · {layers} · llama.cpp backends: {backends}"


def cmd_inspect(args) -> int:
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
        if args.json:
            d = dict(facts.__dict__)
            d["has_chat_template"] = facts.has_chat_template
            d["runs_on"] = where
            out.append(d)
        else:
            # Escaped: an ESC in a model's name could retitle the terminal or hide a line.
            print("\n".join(terminal_safe(line, _MAX_LINE) for line in facts.summary_lines()))
            print(runs_on_line(where))
            print()
    if args.json:
        print(json.dumps(out, indent=2))  # ensure_ascii (the default) escapes control and bidi characters
    return status
