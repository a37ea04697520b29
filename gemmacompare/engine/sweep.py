"""The context sweep: speed and memory as the context grows, models side by side.

The one implementation behind `gemmacompare sweep` and the window's *Context sweep*. At each depth
(tokens of context already there), every model in turn (fair mode: each alone with all threads)
prefills that much filler untimed, then times a generation of `n_gen` tokens and a prefill of
`n_pp` tokens after it, `reps` times from the same depth: llama-bench's `-d`, on the app's own
worker (engine/local/depth_run.py says where the two differ). llama.cpp's own account of the
memory of a context sized for each depth comes with it, beside the estimate from the GGUF facts
(models/memory_estimate.py, the figures `inspect --ctx` prints).

Each model loads once, at the context of the deepest depth it takes, and keeps it between depths.
A depth past a model's trained context, or one whose estimated memory exceeds what the machine
has free, is left out for that model with one sentence. A stop, between depths or inside one,
keeps everything measured until then.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from gemmacompare.engine import protocol as p
from gemmacompare.engine.modes import FAIR, default_threads
from gemmacompare.engine.placement import DeviceBuffer, MemoryAccount, memory_accounts
from gemmacompare.engine.report.intervals import format_positive, positive_interval
from gemmacompare.engine.run_file import hash_of, loaded_dict, model_identity, run_envelope
from gemmacompare.engine.session import CompareSession, SessionEvent, SessionJob
from gemmacompare.models.display_names import display_name
from gemmacompare.models.gguf_file import ModelFacts
from gemmacompare.models.memory_estimate import MemoryEstimate

DEFAULT_DEPTHS = (0, 1024, 4096, 16384)
MAX_DEPTH = 1 << 22  # 4M tokens: past every model's context; a bigger number is a typo


def parse_depths(text: str) -> tuple[int, ...]:
    """"0,1k,4k,16k" -> (0, 1024, 4096, 16384), sorted and unique; ValueError with one sentence."""
    found = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        scale = 1
        if part[-1:] in ("k", "m"):
            scale = 1024 if part[-1] == "k" else 1024 * 1024
            part = part[:-1]
        if not part.isdigit() or len(part) > 8:
            raise ValueError(f"depths are whole numbers of tokens like 0,1k,4k,16k; {part!r} is not one.")
        value = int(part) * scale
        if value > MAX_DEPTH:
            raise ValueError(f"a depth of {value:,} tokens is past every model's context (at most {MAX_DEPTH:,}).")
        found.append(value)
    if not found:
        raise ValueError("give at least one depth, e.g. 0,1k,4k.")
    if len(found) > 64:
        raise ValueError("at most 64 depths in one sweep.")
    return tuple(sorted(set(found)))


@dataclass(frozen=True)
class SweepSettings:
    depths: tuple[int, ...] = DEFAULT_DEPTHS
    n_gen: int = 64
    n_pp: int = 512
    reps: int = 3
    threads: int = 0  # each model's, alone (0: all physical cores)
    load: p.LoadSettings = p.LoadSettings()  # n_ctx is the sweep's; the rest (flash attention, KV types) as set

    def n_ctx_at(self, depth: int) -> int:
        return p.DepthCommand(0, depth, self.n_gen, self.n_pp).n_ctx


@dataclass
class SweepPoint:
    """One model at one depth: what was measured, and llama.cpp's account at that context size."""

    label: str
    depth: int
    n_ctx: int
    tg_ms: list[float] = field(default_factory=list)  # ms per generated token, one per repetition
    pp_tps: list[float] = field(default_factory=list)  # prefill tokens per second, one per repetition
    tg_perf_ms: list[float] = field(default_factory=list)  # llama.cpp's own counter, ms per token
    pp_perf_tps: list[float] = field(default_factory=list)
    tg_graphs_reused: list[int] = field(default_factory=list)  # decodes of each tg run that reused the last graph
    buffers: tuple[DeviceBuffer, ...] = ()  # the context's (KV, recurrent state, output, compute)
    weights: tuple[DeviceBuffer, ...] = ()  # the model's, from its load
    fill_seconds: float = 0.0
    estimate: MemoryEstimate | None = None

    @property
    def memory(self) -> tuple[MemoryAccount, ...]:
        return memory_accounts((*self.weights, *self.buffers))

    @property
    def memory_total(self) -> int:
        return sum(a.total for a in self.memory)

    def part(self, kind: str) -> int:
        """Bytes of one kind of buffer (KV, RS, compute, output) on every device."""
        return sum(b.bytes for b in self.buffers if b.kind == kind)

    def tg(self) -> tuple[float, float | None, float | None]:
        return positive_interval(self.tg_ms)

    def pp(self) -> tuple[float, float | None, float | None]:
        return positive_interval(self.pp_tps)

    def to_dict(self) -> dict[str, Any]:
        tg, pp = self.tg(), self.pp()
        e = self.estimate
        return {
            "label": self.label, "depth": self.depth, "n_ctx": self.n_ctx,
            "tg_ms_per_token": self.tg_ms, "tg_ms_mean": tg[0] if self.tg_ms else None, "tg_ms_interval": tg[1:],
            "pp_tokens_per_s": self.pp_tps, "pp_mean": pp[0] if self.pp_tps else None, "pp_interval": pp[1:],
            "llama_counter_tg_ms_per_token": self.tg_perf_ms, "llama_counter_pp_tokens_per_s": self.pp_perf_tps,
            "tg_graphs_reused": self.tg_graphs_reused,
            "fill_seconds": self.fill_seconds,
            "memory": [{"device": a.device, "weights": a.weights, "kv_cache": a.kv_cache,
                        "recurrent_state": a.recurrent_state, "output": a.output, "compute": a.compute,
                        "total": a.total} for a in self.memory],
            "estimate": None if e is None else {"weights": e.weights, "kv_cache": e.kv_cache,
                                                "recurrent_state": e.recurrent_state, "total": e.total},
        }


@dataclass
class SweepModel:
    label: str
    path: str
    facts: ModelFacts | None = None
    depths: tuple[int, ...] = ()  # the depths it takes part in
    left_out: list[str] = field(default_factory=list)  # one sentence per depth refused or skipped
    loaded: p.Loaded | None = None
    error: str = ""  # it could not load, or failed at a depth (one sentence)

    @property
    def name(self) -> str:
        """The name people know it by, as the window shows it."""
        return display_name(self.path, self.facts.name if self.facts else "") or self.label

    @property
    def n_ctx_train(self) -> int | None:
        return self.facts.context_length if self.facts else None

    def estimate(self, n_ctx: int, load: p.LoadSettings) -> MemoryEstimate | None:
        """The estimate from the GGUF facts at n_ctx, as `inspect --ctx` gives it for these settings."""
        if self.facts is None:
            return None
        return self.facts.memory_at(n_ctx, type_k=load.type_k, type_v=load.type_v, swa_full=load.swa_full)


@dataclass
class SweepResult:
    settings: SweepSettings
    models: list[SweepModel]
    points: list[SweepPoint] = field(default_factory=list)
    stopped: bool = False
    threads: int = 0
    notes: list[str] = field(default_factory=list)  # e.g. how each model was loaded
    gpu_memory: dict[str, int] = field(default_factory=dict)  # device -> total bytes, where llama.cpp sees a GPU

    def point(self, label: str, depth: int) -> SweepPoint | None:
        return next((x for x in self.points if x.label == label and x.depth == depth), None)

    def to_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            "settings": {"depths": list(s.depths), "n_gen": s.n_gen, "n_pp": s.n_pp, "reps": s.reps,
                         "threads": self.threads, "mode": FAIR, "flash_attn": s.load.flash_attn,
                         "type_k": s.load.type_k, "type_v": s.load.type_v, "swa_full": s.load.swa_full},
            "stopped": self.stopped,
            "notes": self.notes,
            "gpu_memory": self.gpu_memory,
            "models": [{"label": m.label, "name": m.name, "n_ctx_train": m.n_ctx_train, "depths": list(m.depths),
                        "n_ctx_loaded": m.loaded.n_ctx if m.loaded else None, "left_out": m.left_out,
                        "error": m.error,
                        # The GGUF estimate (weights + KV + recurrent state) out to the trained context.
                        "estimate_curve": [[n, b] for n, b in estimate_curve(m, s.load, curve_sizes(m.n_ctx_train))]
                        if m.n_ctx_train else []} for m in self.models],
            "points": [x.to_dict() for x in self.points],
        }


@dataclass(frozen=True)
class SweepProgress:
    """Where the sweep is: for a progress line or bar."""

    depth: int
    label: str
    elapsed_s: float
    left_s: float | None  # None until each model has given a figure to estimate from
    done: int  # tests measured (one per repetition and test)
    total: int
    message: str


def plan(models: Sequence[SweepModel], settings: SweepSettings, free_bytes: int | None) -> None:
    """Which depths each model takes: those that fit its trained context and, by the GGUF estimate,
    the memory free; one sentence for each left out."""
    for m in models:
        keep = []
        for d in settings.depths:
            n_ctx = settings.n_ctx_at(d)
            train = m.n_ctx_train
            if train and n_ctx > train:
                m.left_out.append(f"Depth {d:,} is left out for {m.name}: with the tests after it, it needs "
                                  f"{n_ctx:,} tokens of context, past the {train:,} the model was trained for.")
                continue
            e = m.estimate(n_ctx, settings.load)
            if e is not None and free_bytes is not None and e.total > free_bytes:
                m.left_out.append(f"Depth {d:,} is skipped for {m.name}: llama.cpp would need about "
                                  f"{e.total / 2**30:.1f} GiB at {n_ctx:,} tokens, more than the "
                                  f"{free_bytes / 2**30:.1f} GiB free here.")
                continue
            keep.append(d)
        m.depths = tuple(keep)


def free_memory() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return None


class ContextSweep(SessionJob):
    """A context sweep in a session of its own; `stop()` from any thread keeps what was measured."""

    def __init__(self, paths: Sequence[str], settings: SweepSettings, labels: Sequence[str] | None = None,
                 free_bytes: Callable[[], int | None] = free_memory) -> None:
        super().__init__()
        self.paths = [str(x) for x in paths]
        self.settings = settings
        self.labels = list(labels or [chr(ord("A") + k) for k in range(len(paths))])
        self._free_bytes = free_bytes
        self.result: SweepResult | None = None  # the sweep so far, while it runs (read by the window's charts)

    def run(self, on_progress: Callable[[SweepProgress], None] | None = None) -> SweepResult:
        """Blocking. A model that cannot load is said in its `error`; the others go on."""
        from gemmacompare.models.gguf_file import ModelFileError, read_model_facts

        s = self.settings
        threads = s.threads or default_threads()
        models = [SweepModel(label, path) for label, path in zip(self.labels, self.paths)]
        for m in models:
            try:
                m.facts = read_model_facts(m.path)
            except ModelFileError as exc:
                m.error = exc.message
        plan([m for m in models if not m.error], s, self._free_bytes())
        out = self.result = SweepResult(s, models, threads=threads)
        say = on_progress or (lambda _x: None)
        with self.own_session(self.labels) as session:
            self._load(session, out)
            self._depths(session, out, say)
        out.stopped = self.stopped
        return out

    def _load(self, session: CompareSession, out: SweepResult) -> None:
        s = self.settings
        paths, each = [], []
        for m in out.models:
            # llama.cpp makes at least 256 cells (its padding) whatever is asked.
            n_ctx = max(256, max((s.n_ctx_at(d) for d in m.depths), default=s.n_ctx_at(0)))
            paths.append(m.path)
            each.append(replace(s.load, n_ctx=n_ctx))
        errors = session.load(paths, each)
        for m, err, ld in zip(out.models, errors, session.loaded):
            if err is not None and not m.error:
                m.error = err.message
            m.loaded = ld
            if ld is not None and m.depths:
                out.notes.append(f"{m.label} ({m.name}) loaded once with a {ld.n_ctx:,}-token context (its "
                                 f"deepest depth, {max(m.depths):,}, with its tests) and kept between depths.")

    def _depths(self, session: CompareSession, out: SweepResult, say: Callable[[SweepProgress], None]) -> None:
        s = self.settings
        todo = [(d, k) for d in s.depths for k, m in enumerate(out.models) if d in m.depths and not m.error]
        clock = _Clock(s, todo, out.models)
        rid = 0
        for depth in s.depths:
            if self.stopped:
                return
            commands = {}
            for k, m in enumerate(out.models):
                if depth in m.depths and not m.error and m.loaded is not None:
                    rid += 1
                    commands[k] = p.DepthCommand(rid, depth, s.n_gen, s.n_pp, s.reps, seed=depth)
            if not commands:
                continue

            def on_event(k: int, ev: SessionEvent, depth: int = depth) -> None:
                self._take(out, k, depth, ev)
                if isinstance(ev, (p.DepthMeasured, p.DepthMemory)):
                    clock.advance(k, ev)
                    say(clock.progress(depth, out.models[k].label))

            result = session.run(commands, mode=FAIR, threads_total=out.threads, on_event=on_event)
            if self.stopped or result.user_stopped:
                return

    def _take(self, out: SweepResult, k: int, depth: int, ev: SessionEvent) -> None:
        m = out.models[k]
        if isinstance(ev, p.WorkerError):
            m.error = ev.message
            return
        if isinstance(ev, p.DepthMemory):
            out.gpu_memory.update(ev.gpu_memory)
            weights = m.loaded.placement.buffers if m.loaded and m.loaded.placement else ()
            out.points.append(SweepPoint(m.label, depth, ev.n_ctx, buffers=ev.buffers,
                                         weights=tuple(b for b in weights if b.kind == "model"),
                                         fill_seconds=ev.fill_seconds,
                                         estimate=m.estimate(ev.n_ctx, self.settings.load)))
            return
        point = out.point(m.label, depth)
        if isinstance(ev, p.DepthMeasured) and point is not None and ev.n_tokens and ev.seconds > 0:
            if ev.test == p.TEST_TG:
                point.tg_ms.append(ev.seconds * 1000.0 / ev.n_tokens)
                point.tg_perf_ms.append(ev.perf_ms / ev.n_tokens)
                point.tg_graphs_reused.append(ev.graphs_reused)
            else:
                point.pp_tps.append(ev.n_tokens / ev.seconds)
                if ev.perf_ms > 0:
                    point.pp_perf_tps.append(ev.n_tokens * 1000.0 / ev.perf_ms)


class _Clock:
    """Elapsed time and an estimate of what is left, from each model's own rates so far: its filler
    rate (tokens a second) and the time of one repetition, scaled by depth as prefill cost grows."""

    def __init__(self, s: SweepSettings, todo: list[tuple[int, int]], models: Sequence[SweepModel]) -> None:
        self.s, self.todo, self.models = s, todo, models
        self.t0 = time.monotonic()
        self.total = len(todo) * s.reps * 2
        self.done = 0
        self.fill_rate: dict[int, float] = {}  # model -> filler tokens per second
        self.rep_s: dict[int, float] = {}  # model -> seconds of the latest tg + pp pair
        self._pair: dict[int, float] = {}
        self.current: tuple[int, int] | None = None
        self.reps_done = 0

    def advance(self, k: int, ev: p.DepthMeasured | p.DepthMemory) -> None:
        if isinstance(ev, p.DepthMemory):
            self.current, self.reps_done = (ev.depth, k), 0
            if ev.depth and ev.fill_seconds > 0:
                self.fill_rate[k] = ev.depth / ev.fill_seconds
            return
        self.done += 1
        self._pair[k] = self._pair.get(k, 0.0) + ev.seconds
        if ev.test == p.TEST_PP:
            self.rep_s[k], self._pair[k] = self._pair[k], 0.0
            self.reps_done += 1

    def left(self) -> float | None:
        if self.current is None:
            return None
        at = self.todo.index(self.current) if self.current in self.todo else len(self.todo)
        total = 0.0
        for d, k in self.todo[at:]:
            if k not in self.rep_s:
                return None
            reps = self.s.reps - self.reps_done if (d, k) == self.current else self.s.reps
            fill = 0.0
            if (d, k) != self.current and d:
                if k not in self.fill_rate:
                    return None
                fill = d / self.fill_rate[k]
            total += fill + reps * self.rep_s[k]
        return total

    def progress(self, depth: int, label: str) -> SweepProgress:
        elapsed = time.monotonic() - self.t0
        left = self.left()
        est = f", about {_duration(left)} left" if left is not None else ", estimating what is left"
        msg = f"depth {depth:,}, model {label}: {self.done}/{self.total} tests, {_duration(elapsed)} elapsed{est}"
        return SweepProgress(depth, label, elapsed, left, self.done, self.total, msg)


def _duration(s: float) -> str:
    s = max(0.0, s)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def sweep_run_dict(result: SweepResult, refs: Sequence[str] | None = None) -> dict[str, Any]:
    """The run file's JSON for a sweep: the models (file names, not paths) as a compare run names them,
    and the sweep's settings, figures and notes."""
    models = []
    for k, m in enumerate(result.models):
        ref = (refs or [""] * len(result.models))[k] if refs else ""
        models.append({"label": m.label, "identity": model_identity(m.path, m.loaded, m.label, hash_of(m.path), ref),
                       "loaded": loaded_dict(m.loaded, result.threads)})
    return run_envelope("sweep", {"mode": FAIR, "threads_total": result.threads, "models": models,
                                  "sweep": result.to_dict()}, False)


def estimate_curve(m: SweepModel, load: p.LoadSettings, sizes: Sequence[int]) -> list[tuple[int, int]]:
    """(context size, estimated bytes) at each size up to the model's trained context, for a dashed line."""
    limit = m.n_ctx_train or max(sizes, default=0)
    out = []
    for n in sizes:
        if n > limit:
            break
        e = m.estimate(n, load)
        if e is not None:
            out.append((n, e.total))
    return out


def curve_sizes(largest: int, smallest: int = 256) -> list[int]:
    """Context sizes for an estimate curve: powers of two from `smallest` up to and including `largest`."""
    sizes, n = [], smallest
    while n < largest:
        sizes.append(n)
        n *= 2
    sizes.append(largest)
    return sizes


def sweep_table(result: SweepResult) -> str:
    """A plain table: one row per model and depth, ms/token and prefill t/s with their 95% intervals
    (log scale), then llama.cpp's memory at that context beside the estimate; the notes below it."""
    head = ("model", "depth", "n_ctx", "tg ms/token [95%]", "pp t/s [95%]", "KV + state", "memory", "estimate")
    rows = [head]
    for depth in result.settings.depths:
        for m in result.models:
            x = result.point(m.label, depth)
            if x is None:
                continue
            kv = x.part("KV") + x.part("RS")
            est = x.estimate.total if x.estimate else None
            rows.append((f"{m.label} {m.name}"[:40], f"{depth:,}", f"{x.n_ctx:,}",
                         format_positive(x.tg_ms, 2), format_positive(x.pp_tps, 1),
                         _mib(kv), _mib(x.memory_total), _mib(est) if est is not None else "-"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if len(rows) == 1:
        lines.append("(nothing was measured)")
    lines += [
        f"fair mode: each model alone with {result.threads} thread{'s' if result.threads != 1 else ''}; "
        f"tg: {result.settings.n_gen} tokens, "
        f"pp: {result.settings.n_pp} tokens, {result.settings.reps} repetitions at each depth; memory is "
        "llama.cpp's own account (weights + KV cache + recurrent state + output + compute); the estimate "
        "(from the GGUF file) leaves compute out.",
        *result.notes,
        *_max_context_lines(result),
    ]
    if result.stopped:
        lines.append("Stopped: the figures above are what was measured until then.")
    return "\n".join(lines)


def _max_context_lines(result: SweepResult) -> list[str]:
    """Each model's estimate at its trained context, where the curves end."""
    lines = []
    for m in result.models:
        e = m.estimate(m.n_ctx_train, result.settings.load) if m.n_ctx_train else None
        if e is not None:
            state = f" + recurrent state {_mib(e.recurrent_state)}" if e.recurrent_state else ""
            lines.append(f"{m.label} at its trained context of {e.n_ctx:,} tokens, by the file: {_mib(e.total)} = "
                         f"weights {_mib(e.weights)} + KV cache {_mib(e.kv_cache)}{state} (compute not included).")
    return lines


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


__all__ = ["DEFAULT_DEPTHS", "ContextSweep", "SweepModel", "SweepPoint", "SweepProgress", "SweepResult",
           "SweepSettings", "curve_sizes", "estimate_curve", "parse_depths", "plan", "sweep_run_dict", "sweep_table"]
