"""Benchmark runner: every task of a suite, on every model, for N repetitions.

Each (repetition, task) is one compare-session round over all models, in fair mode
(one after the other, each with the whole machine) by default or race mode.
The engine clears the KV cache before every request, so prefill is always
measured cold. Results go to the history database as each task finishes; a
stopped or killed run resumes where it left off.

The runner is synchronous; the CLI calls it directly and the window drives it
from a background thread (callbacks are then called on that thread).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

from gemmacompare.bench.records import (
    STATUS_DONE,
    STATUS_FAILED,
    STATUS_STOPPED,
    BenchConfig,
    BenchProgress,
    ItemResult,
    ModelInfo,
    StoredRun,
)
from gemmacompare.bench.scoring import score
from gemmacompare.bench.store import BenchStore
from gemmacompare.bench.tasks import Task, load_suite
from gemmacompare.engine import protocol as p
from gemmacompare.engine.machine import file_hash_prefix, machine_facts
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.modes import MODES, default_threads
from gemmacompare.engine.remote.server_ref import is_server_ref
from gemmacompare.engine.run_settings import ServerSettings, command_for
from gemmacompare.engine.session import CompareResult, CompareSession, SessionJob
from gemmacompare.models.display_names import display_name
from gemmacompare.models.gguf_file import ModelFileError, read_model_facts
from gemmacompare.state.settings_table import SettingError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[BenchProgress], None]
ItemCallback = Callable[[list[ItemResult]], None]


class BenchError(Exception):
    """A benchmark that cannot start or go on; the message is one sentence."""


class BenchBusyError(BenchError):
    """The run is being run right now, by another process or another thread of this one."""


def busy_message(run_id: int, pid: int | None = None) -> str:
    where = f"process {pid}" if pid is not None else "this program"
    return (f"Benchmark run #{run_id} is still running in {where}; stop it there or wait for it to finish "
            "before resuming.")


# Runs being run by this process, by (database file, run id): the pid check in
# the store cannot tell two threads of one process apart.
_ACTIVE: set[tuple[str, int]] = set()
_ACTIVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class BenchOutcome:
    run_id: int
    status: str  # done | stopped | failed
    message: str = ""


def build_command(task: Task, config: BenchConfig, request_id: int = 1) -> p.GenerateCommand:
    """The request every model gets for a task (the overhead benchmark reuses it)."""
    text = task.question_text()
    if config.instruction:
        text = f"{text}\n{config.instruction}"
    return command_for(config.run_settings(), (), text, request_id=request_id)


def create_run(store: BenchStore, config: BenchConfig) -> int:
    """Record a new run (suite resolved and frozen into the database); nothing runs yet.

    Raises TaskFileError for a bad suite and BenchError for a bad configuration.
    """
    if not config.models:
        raise BenchError("Choose at least one model to benchmark.")
    if config.mode not in MODES:
        raise BenchError(f"Unknown mode {config.mode!r}; use fair or race.")
    if config.runs < 1:
        raise BenchError("Repetitions must be at least 1.")
    for what, value, low in (("The task limit", config.limit, 1), ("The sample size", config.sample, 1),
                             ("Warm-up", config.warmup, 0)):
        if value is not None and value < low:
            raise BenchError(f"{what} must be at least {low}, not {value}.")
    try:
        config.run_settings()
    except SettingError as exc:
        raise BenchError(str(exc)) from None
    for path in config.models:
        if is_server_ref(path):
            continue  # checked when the run loads it (the server may start later)
        try:
            read_model_facts(path)
        except ModelFileError as exc:
            raise BenchError(exc.message) from None
    suite = load_suite(config.suite).subset(config.limit, config.sample, config.seed)
    if not suite.tasks:
        raise BenchError("The task selection is empty; raise --limit or --sample.")
    return store.create_run(config, suite.name, suite.tasks)


class BenchRunner(SessionJob):
    """Runs (or resumes) one stored run in a session of its own; `stop()` may be called from any thread."""

    def __init__(self, store: BenchStore, remote: ServerSettings | None = None) -> None:
        super().__init__()
        self.store = store
        self.remote = remote

    def run(
        self,
        run_id: int,
        on_progress: ProgressCallback | None = None,
        on_item: ItemCallback | None = None,
    ) -> BenchOutcome:
        run = self.store.get_run(run_id)
        if run is None:
            raise BenchError(f"There is no benchmark run #{run_id} in the history.")
        self._stopped.clear()
        key = (str(self.store.path.resolve()), run_id)
        with _ACTIVE_LOCK:
            if key in _ACTIVE:
                raise BenchBusyError(busy_message(run_id))
            owner = self.store.claim_run(run_id)  # marks it running here, unless a live process has it
            if owner is not None:
                raise BenchBusyError(busy_message(run_id, owner))
            _ACTIVE.add(key)
        try:
            try:
                outcome = self._run(run, on_progress, on_item)
            except BaseException as exc:
                # KeyboardInterrupt included: the finished items are safe, say so.
                status = STATUS_STOPPED if isinstance(exc, KeyboardInterrupt) else STATUS_FAILED
                msg = str(exc) or type(exc).__name__
                self.store.set_status(run_id, status, msg)
                raise
            self.store.set_status(run_id, outcome.status, outcome.message)
            return outcome
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(key)

    def _run(self, run: StoredRun, on_progress: ProgressCallback | None, on_item: ItemCallback | None) -> BenchOutcome:
        config = run.config
        n_models = len(config.models)
        done_keys = {(it.rep, it.task_index) for it in run.items}
        # A (rep, task) counts as done only when every model answered it.
        per_key: dict[tuple[int, int], int] = {}
        for it in run.items:
            per_key[(it.rep, it.task_index)] = per_key.get((it.rep, it.task_index), 0) + 1
        done_keys = {k for k in done_keys if per_key[k] >= n_models}
        todo = [(rep, ti) for rep in range(config.runs) for ti in range(len(run.tasks)) if (rep, ti) not in done_keys]
        total = len(run.tasks) * config.runs * n_models
        done = len(done_keys) * n_models
        if not todo:
            return BenchOutcome(run.id, STATUS_DONE)

        labels = [chr(ord("A") + i) if i < 26 else f"M{i}" for i in range(n_models)]
        with self.own_session(labels, server=self.remote) as session:
            models = self._load(session, run)
            threads_total = config.threads or default_threads()
            self._warm_up(session, run, threads_total)
            t0 = time.monotonic()
            done_now = 0
            for rep, ti in todo:
                if self.stopped:
                    break
                task = run.tasks[ti]
                result = session.run(lambda i: build_command(task, config), config.mode, threads_total)
                if self.stopped:
                    # The item in progress was cut short: its figures would be
                    # wrong, so it is dropped and redone on resume.
                    break
                items = [self._item(rep, ti, task, i, rec) for i, rec in enumerate(result.runs)]
                self.store.add_items(run.id, items)
                self._remember_round(run.id, models, result)
                done += n_models
                done_now += n_models
                if on_item:
                    on_item(items)
                if on_progress:
                    elapsed = time.monotonic() - t0
                    eta = elapsed / done_now * (total - done) if done_now else None
                    on_progress(BenchProgress(run.id, done, total, elapsed, eta, tuple(items)))
        if self.stopped and done < total:
            return BenchOutcome(run.id, STATUS_STOPPED, f"Stopped after {done} of {total} items; resume to finish.")
        return BenchOutcome(run.id, STATUS_DONE)

    def _load(self, session: CompareSession, run: StoredRun) -> list[ModelInfo]:
        config = run.config
        settings = config.run_settings().load
        # A server's model has no file here to hash: its id stands in.
        hashes = ["server" if is_server_ref(path) else file_hash_prefix(path) for path in config.models]
        for i, (old, new) in enumerate(zip(run.models, hashes)):
            if old is not None and old.file_hash != new:
                raise BenchError(
                    f"{config.models[i]} changed since this run started (file hash differs); start a new run."
                )
        errors = session.load(list(config.models), settings)
        for path, err in zip(config.models, errors):
            if err is not None:
                raise BenchError(f"{path}: {err.message}")
        models = []
        for i, path in enumerate(config.models):
            ld = session.loaded[i]
            if ld is None:
                raise BenchError(f"{path}: the model worker could not be started; see the log for details.")
            f = ld.facts
            models.append(ModelInfo(
                path=str(path), name=self._name(config, i, f.name), architecture=f.architecture,
                parameters=f.parameters,
                quantization=f.quantization, file_size=f.file_size, file_hash=hashes[i], n_ctx=ld.n_ctx,
                n_threads=0, n_gpu_layers=ld.n_gpu_layers, system_info=ld.system_info,
                load_seconds=ld.load_seconds, flash_attn=ld.flash_attn, type_k=ld.type_k, type_v=ld.type_v,
                n_batch=ld.n_batch,
                memory=tuple(asdict(a) for a in ld.placement.memory) if ld.placement else (),
                placement=asdict(ld.placement) if ld.placement else None, llama_build=ld.llama_build,
            ))
        self.store.set_environment(run.id, machine_facts().to_dict(), models)
        return models

    @staticmethod
    def _name(config: BenchConfig, i: int, general_name: str) -> str:
        """The name people know the model by (the picker's), never a blob's hash."""
        if i < len(config.names) and config.names[i]:
            return config.names[i]
        path = config.models[i]
        return general_name if is_server_ref(path) else display_name(path, general_name)

    def _warm_up(self, session: CompareSession, run: StoredRun, threads_total: int) -> None:
        # Warm-up pays for first-touch page faults and CPU clock ramp-up, which
        # would otherwise land on the first measured item only.
        for _ in range(run.config.warmup):
            if self.stopped:
                return
            task = run.tasks[0]
            session.run(lambda i: build_command(task, run.config), run.config.mode, threads_total)

    def _remember_round(self, run_id: int, models: list[ModelInfo], result: CompareResult) -> None:
        """What a round tells of each model: its chat template, and the threads the session gave it."""
        changed = False
        for i, rec in enumerate(result.runs):
            name = rec.prompt.template_name if rec.prompt else ""
            threads = result.split.threads[i] if result.split else 0
            new = {k: v for k, v in (("template", name), ("n_threads", threads)) if v}
            if any(getattr(models[i], k) != v for k, v in new.items()):
                models[i] = ModelInfo(**{**models[i].to_dict(), **new})
                changed = True
        if changed:
            run = self.store.get_run(run_id)
            self.store.set_environment(run_id, run.machine if run else {}, models)

    @staticmethod
    def _item(rep: int, ti: int, task: Task, i: int, rec: RunRecord) -> ItemResult:
        verdict = score(rec.answer, task.expected, task.match)
        return ItemResult(
            rep=rep, task_index=ti, task_id=task.id, model_index=i, expected=task.answer, match=task.match,
            answer=rec.answer, thinking=rec.thinking, extracted=verdict.extracted, extract_rule=verdict.rule,
            correct=verdict.correct and rec.error is None, stats=rec.stats().to_dict(),
            error=rec.error.message if rec.error else None,
        )


def run_benchmark(
    config: BenchConfig,
    store: BenchStore | None = None,
    on_progress: ProgressCallback | None = None,
    on_item: ItemCallback | None = None,
) -> BenchOutcome:
    """Create and run a benchmark in one call (scripts, tests)."""
    own = store is None
    store = store or BenchStore()
    try:
        run_id = create_run(store, config)
        return BenchRunner(store).run(run_id, on_progress, on_item)
    finally:
        if own:
            store.close()


__all__ = ["BenchBusyError", "BenchError", "BenchOutcome", "BenchRunner", "build_command",
           "create_run", "run_benchmark"]
