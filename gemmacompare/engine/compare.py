"""Two models, one prompt: race (at once, threads split) or fair (one after the other).

Used by the CLI and the benchmark; the GUI drives the same ModelWorker per pane.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from gemmacompare.engine import protocol as p
from gemmacompare.engine.model_worker import ModelWorker, WorkerFailed
from gemmacompare.engine.memory import MemorySampler
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.remote import RemoteSettings, engine_for
from gemmacompare.engine.worker import default_threads

log = logging.getLogger(__name__)

RACE = "race"
FAIR = "fair"
MODES = (RACE, FAIR)


def threads_for_mode(mode: str, total: int | None = None, n_models: int = 2) -> int:
    """Threads each model gets: the whole machine in fair mode, a share in race mode."""
    total = total or default_threads()
    return total if mode == FAIR else max(1, total // n_models)


@dataclass
class CompareResult:
    mode: str
    threads_total: int
    runs: list[RunRecord] = field(default_factory=list)
    loaded: list[p.Loaded | None] = field(default_factory=list)


EventCallback = Callable[[int, p.Event], None]


class ComparePair:
    """Owns two workers and a memory sampler; runs prompts on both."""

    def __init__(self, labels: Sequence[str] = ("A", "B"), remote: RemoteSettings | None = None) -> None:
        self.workers = [ModelWorker(label) for label in labels]
        self.remote_settings = remote
        self.sampler = MemorySampler().start()
        self.loaded: list[p.Loaded | None] = [None] * len(self.workers)
        # A model that failed to load keeps its one sentence; run() does not send to it.
        self.load_errors: list[p.WorkerError | None] = [None] * len(self.workers)
        # Set by stop(); fair mode checks it before each model, and a stop that
        # lands before a worker's request started is re-sent once it has.
        self._stopped = threading.Event()

    def load(self, paths: Sequence[str], settings: p.LoadSettings = p.LoadSettings()) -> list[p.WorkerError | None]:
        """Load all models at once; returns an error (or None) per model."""
        errors: list[p.WorkerError | None] = [None] * len(paths)
        for i, path in enumerate(paths):
            engine = engine_for(str(path), self.workers[i].label, self.remote_settings)
            if type(engine) is not type(self.workers[i]):
                self.workers[i].close()
                self.workers[i] = engine

        def one(i: int) -> None:
            try:
                self.loaded[i] = self.workers[i].load(paths[i], settings)
                self.sampler.watch(self.workers[i].label, self.workers[i].pid)
            except WorkerFailed as exc:
                errors[i] = exc.error

        self.load_errors = errors

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(paths))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return errors

    def run(
        self,
        make_command: Callable[[int], p.GenerateCommand],
        mode: str = RACE,
        threads_total: int | None = None,
        on_event: EventCallback | None = None,
    ) -> CompareResult:
        total = threads_total or default_threads()
        # A model on a server takes no threads here: race splits among local ones only.
        n_threads = threads_for_mode(mode, total, max(1, self.n_local))
        result = CompareResult(mode, total, loaded=list(self.loaded))
        result.runs = [RunRecord(w.label, 0.0) for w in self.workers]

        self._stopped.clear()

        def one(i: int) -> None:
            w = self.workers[i]
            rec = result.runs[i]
            cmd = make_command(i)
            cmd = p.GenerateCommand(
                cmd.request_id, cmd.messages, cmd.raw_prompt, cmd.sampling, cmd.enable_thinking, n_threads
            )
            self.sampler.reset(w.label)
            rec.t_send = time.monotonic()
            if self.load_errors[i] is not None:
                rec.add(self.load_errors[i])  # already said once, where loading failed
                return
            if self._stopped.is_set():
                rec.add(p.Finished(cmd.request_id, p.STOP_USER, 0, 0, rec.t_send, rec.t_send, None, n_threads))
                return
            stop_sent = False
            for ev in w.generate(cmd):
                if isinstance(ev, p.PromptReady):
                    # The worker may have been restarted (new pid) by generate.
                    self.sampler.watch(w.label, w.pid)
                if self._stopped.is_set() and not stop_sent:
                    w.stop()
                    stop_sent = True
                rec.add(ev)
                if on_event:
                    on_event(i, ev)
            rec.memory = self.sampler.trace(w.label)

        if mode == RACE:
            threads = [threading.Thread(target=one, args=(i,)) for i in range(len(self.workers))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for i in range(len(self.workers)):
                one(i)
        return result

    @property
    def n_local(self) -> int:
        return sum(1 for w in self.workers if not w.remote)

    def stop(self) -> None:
        self._stopped.set()
        for w in self.workers:
            w.stop()

    def close(self) -> None:
        self.sampler.stop()
        for w in self.workers:
            w.close()

    def __enter__(self) -> "ComparePair":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
