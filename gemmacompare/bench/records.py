"""The benchmark's records: what to run, what one item gave, what a stored run is.

Kept apart from the runner and the store so both (and the UI) can share them
without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from gemmacompare.bench.tasks import Task
from gemmacompare.engine.modes import FAIR
from gemmacompare.engine.remote.server_ref import is_server_ref, model_label
from gemmacompare.state import defaults
from gemmacompare.state.settings_table import RunSettings, SettingError, is_setting, to_flat, value_of, with_values

STATUS_RUNNING = "running"
STATUS_STOPPED = "stopped"
STATUS_DONE = "done"
STATUS_FAILED = "failed"
STATUS_INTERRUPTED = "interrupted"  # shown for a "running" run whose process is gone

# The instruction appended to every task: it gives small models a fixed phrase
# to end on, which is what the scorer looks for first.
ANSWER_INSTRUCTION = 'Think step by step in a few short sentences, then end with "The answer is X."'


# A benchmark's own starting point: greedy (answers are scored and compared) in a context
# that holds every built-in task, on the CPU unless the door asks for GPU layers.
BENCH_BASE = with_values(RunSettings(), {"temperature": 0.0, "n_ctx": defaults.HEADLESS_N_CTX, "n_gpu_layers": 0})
# How runs stored before the settings table named their settings (config_json in the history).
_LEGACY_NAMES = {"n_ctx": "n_ctx", "gpu_layers": "n_gpu_layers", "flash_attn": "flash_attn", "type_k": "type_k",
                 "type_v": "type_v", "max_tokens": "max_tokens", "ignore_eos": "ignore_eos", "thinking": "thinking"}


@dataclass(frozen=True)
class BenchConfig:
    models: tuple[str, ...]
    suite: str = "reasoning"  # built-in name or JSONL path
    limit: int | None = None  # first N tasks
    sample: int | None = None  # or N random tasks (with seed)
    seed: int = 0
    runs: int = 1  # repetitions of the whole task list
    warmup: int = 1  # unrecorded generations per model before measuring
    mode: str = FAIR
    threads: int = 0  # total CPU threads; 0 = all physical cores
    instruction: str = ANSWER_INSTRUCTION
    names: tuple[str, ...] = ()  # display names given by the door (the window's pickers); else from the files
    # Every model's settings the door set, by the settings table's names (the rest: BENCH_BASE).
    settings: Mapping[str, Any] = field(default_factory=dict)

    def run_settings(self) -> RunSettings:
        """Every model's settings; always greedy, so answers can be scored and compared.
        SettingError (one sentence) for a value the table refuses."""
        return with_values(BENCH_BASE, {**self.settings, "temperature": 0.0})

    def setting(self, name: str) -> Any:
        return value_of(self.run_settings(), name)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["models"] = list(self.models)
        d["settings"] = to_flat(self.run_settings())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BenchConfig":
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["models"] = tuple(kw.get("models", ()))
        kw["names"] = tuple(kw.get("names", ()))
        given = kw.get("settings") or {}
        if not isinstance(given, Mapping):
            raise SettingError("The benchmark's settings are not an object.")
        settings = {new: d[old] for old, new in _LEGACY_NAMES.items() if old in d}
        settings.update({k: v for k, v in given.items() if is_setting(k)})  # a newer file's others are left
        kw["settings"] = settings
        config = cls(**kw)
        config.run_settings()  # every value checked now, not when the run starts
        return config


@dataclass(frozen=True)
class ItemResult:
    """One model's answer to one task in one repetition."""

    rep: int
    task_index: int
    task_id: str
    model_index: int
    expected: str
    match: str
    answer: str
    thinking: str
    extracted: str | None
    correct: bool
    stats: dict[str, Any]  # metrics.RunStats as a dict
    error: str | None = None
    extract_rule: str = ""  # which scoring rule read `extracted` out of the answer

    def stat(self, key: str) -> float | None:
        v = self.stats.get(key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@dataclass(frozen=True)
class ModelInfo:
    """A loaded model, as recorded with the run."""

    path: str
    name: str
    architecture: str
    parameters: int
    quantization: str
    file_size: int
    file_hash: str
    n_ctx: int
    n_threads: int  # threads per generation in the run's mode
    n_gpu_layers: int
    system_info: str
    load_seconds: float
    template: str = ""
    flash_attn: str = "auto"
    type_k: str = "f16"
    type_v: str = "f16"
    n_batch: int = 0
    # llama.cpp's own account per device, from its load log: dicts of MemoryAccount's fields
    # (device, weights, kv_cache, recurrent_state, output, compute), bytes.
    memory: tuple[dict[str, Any], ...] = ()
    # Where llama.cpp put the model (engine.placement.Placement as a dict) and the llama.cpp build
    # that ran it (llama_runtime.build_facts); None in runs recorded before they were kept.
    placement: dict[str, Any] | None = None
    llama_build: dict[str, Any] | None = None

    def memory_total(self, part: str) -> int | None:
        """One part (e.g. "kv_cache") summed over devices; None for a run recorded without it."""
        return sum(int(d.get(part, 0)) for d in self.memory) if self.memory else None

    @property
    def model_type(self) -> str:
        """llama-bench's model_type: architecture, size, quantisation."""
        from gemmacompare.models.gguf_file import human_count

        return f"{self.architecture} {human_count(self.parameters)} {self.quantization}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelInfo":
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["memory"] = tuple(x for x in kw.get("memory", ()) if isinstance(x, dict))
        return cls(**kw)


@dataclass(frozen=True)
class StoredRun:
    id: int
    created: str
    updated: str
    status: str
    config: BenchConfig
    suite_name: str
    tasks: tuple[Task, ...]
    machine: dict[str, Any]
    models: tuple[ModelInfo | None, ...]
    message: str = ""
    items: tuple[ItemResult, ...] = field(default=())

    @property
    def n_planned(self) -> int:
        return len(self.tasks) * self.config.runs * len(self.config.models)

    @property
    def labels(self) -> list[str]:
        out = []
        for i, m in enumerate(self.models):
            path = self.config.models[i] if i < len(self.config.models) else ""
            # A server model by its name and where it is served (the same file may run locally beside it).
            if m is None:  # not loaded yet (or it failed): the name the door gave, else the file's
                given = self.config.names[i] if i < len(self.config.names) else ""
                out.append(given or (model_label(path) if path else f"model {i + 1}"))
            else:
                out.append(model_label(path, m.name) if is_server_ref(path) else m.name)
        # Two files of the same model must still be told apart in tables.
        return [f"{x} ({i + 1})" if out.count(x) > 1 else x for i, x in enumerate(out)]


@dataclass(frozen=True)
class BenchProgress:
    run_id: int
    done: int  # items (task x rep x model) finished, including earlier sessions
    total: int
    elapsed_s: float  # this session
    eta_s: float | None
    latest: tuple[ItemResult, ...] = ()

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0
