"""A benchmark run as a run file, and back (see engine/run_file.py for the format).

A bench run keeps per item its answer, its score and its figures (RunStats),
not a token timeline: a replay of it shows its summary table, the same as
`bench --show` printed on the author's machine.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import PurePath
from typing import Any

from gemmacompare.bench.records import BenchConfig, ItemResult, ModelInfo, StoredRun
from gemmacompare.bench.tasks import Task
from gemmacompare.engine.machine import HASH_METHOD
from gemmacompare.engine.remote.server_ref import is_server_ref
from gemmacompare.engine.run_file import (
    RunFile,
    RunFileError,
    model_source,
    private_words,
    run_envelope,
    scrub,
    settings_to_dict,
)


def _public_name(path: str) -> str:
    return "" if is_server_ref(path) else PurePath(path).name


def bench_run_dict(run: StoredRun, redact_prompts: bool = False) -> dict[str, Any]:
    """The run file's JSON for a stored benchmark run."""
    words = private_words()
    settings = settings_to_dict(run.config.run_settings())
    models = []
    for i, path in enumerate(run.config.models):
        info = run.models[i] if i < len(run.models) else None
        ident = {"display_name": info.name if info else run.labels[i], "file_name": _public_name(path),
                 "file_size": info.file_size if info else None, "quantization": info.quantization if info else "",
                 "architecture": info.architecture if info else "", "parameters": info.parameters if info else None,
                 "file_hash": (info.file_hash or None) if info else None,
                 "hash_method": HASH_METHOD if info and info.file_hash else None, "source": model_source(path)}
        loaded = None
        if info is not None:
            loaded = {"n_ctx": info.n_ctx, "n_batch": info.n_batch, "n_threads": info.n_threads,
                      "n_gpu_layers": info.n_gpu_layers, "flash_attn": info.flash_attn, "type_k": info.type_k,
                      "type_v": info.type_v, "load_seconds": info.load_seconds,
                      "system_info": scrub(info.system_info, words), "placement": info.placement,
                      "llama_build": info.llama_build, "template": info.template}
        models.append({"label": run.labels[i], "identity": ident, "settings": settings, "loaded": loaded, "run": {},
                       "stats": {}})
    config = run.config.to_dict()
    config["models"] = [_public_name(m) or f"model {i + 1}" for i, m in enumerate(run.config.models)]
    if "/" in config["suite"] or "\\" in config["suite"]:  # a task file of the author's: its name only
        config["suite"] = _public_name(config["suite"])
    tasks = [asdict(t) for t in run.tasks]
    if redact_prompts:
        for t in tasks:
            t["prompt"] = None
            t["choices"] = []
        config["instruction"] = None
    items = [asdict(it) for it in run.items]
    for it in items:
        if it["error"]:
            it["error"] = scrub(it["error"], words)
    bench = {"config": config, "suite_name": run.suite_name, "status": run.status, "run_id": run.id,
             "created": run.created, "tasks": tasks, "items": items}
    return run_envelope("bench", {
        "mode": run.config.mode, "threads_total": run.config.threads,
        "thread_split": f"{run.config.mode} mode, {run.config.threads or 'all'} threads",
        "prompt": None if redact_prompts else "", "system_prompt": None if redact_prompts else "",
        "raw": False, "models": models, "bench": bench}, redact_prompts)


def stored_run_from_file(run: RunFile) -> StoredRun:
    """The benchmark in a run file as a StoredRun (id 0), for its summary; RunFileError if damaged."""
    b = run.bench or {}
    try:
        config = BenchConfig.from_dict(b["config"])
        tasks = tuple(Task(str(t["id"]), str(t.get("prompt") or ""), tuple(str(x) for x in t["expected"]),
                           str(t["match"]), str(t.get("category", "")), tuple(t.get("choices") or ()))
                      for t in b["tasks"])
        known = {f.name for f in fields(ItemResult)}
        items = tuple(ItemResult(**{k: v for k, v in it.items() if k in known}) for it in b["items"])
        for it in items:
            if not isinstance(it.stats, dict) or not isinstance(it.model_index, int) \
                    or not 0 <= it.model_index < len(run.models):
                raise ValueError("bad item")
        models = []
        for m in run.models:
            ld, ident = m.loaded, m.identity
            models.append(None if ld is None else ModelInfo(
                path=str(ident.get("file_name") or ""), name=m.display_name,
                architecture=str(ident.get("architecture") or ""), parameters=int(ident.get("parameters") or 0),
                quantization=str(ident.get("quantization") or ""), file_size=int(ident.get("file_size") or 0),
                file_hash=str(ident.get("file_hash") or ""), n_ctx=ld.n_ctx, n_threads=ld.n_threads,
                n_gpu_layers=ld.n_gpu_layers, system_info=ld.system_info, load_seconds=ld.load_seconds,
                flash_attn=ld.flash_attn, type_k=ld.type_k, type_v=ld.type_v, n_batch=ld.n_batch))
    except (KeyError, TypeError, ValueError) as exc:
        raise RunFileError(f"The benchmark part of the run file is damaged ({type(exc).__name__}), "
                           "so it was not shown.") from None
    return StoredRun(id=int(b.get("run_id") or 0), created=str(b.get("created", run.created)),
                     updated=str(b.get("created", run.created)), status=str(b.get("status", "")), config=config,
                     suite_name=str(b.get("suite_name", "")), tasks=tasks, machine=run.machine,
                     models=tuple(models), items=items)


__all__ = ["bench_run_dict", "stored_run_from_file"]
