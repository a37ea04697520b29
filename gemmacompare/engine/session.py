"""The compare session: two to four models, one prompt, race or fair.

The one implementation of a round's scheduling. The window (through a thin Qt
adapter), `compare` and `bench` all drive it; none of them schedules models
itself. The session owns the participants (local workers, servers, replays),
splits the CPU threads by mode, stops, keeps a record per run and tells its
caller what happens through callbacks, called on the session's own threads.

The round's state (who takes part, who runs, who waits for its turn, whether
the user stopped it, who loads, the latest result, fair mode's replay) lives in
`RoundState` (engine/round_state.py), a Qt-free value that observers subscribe
to, as napari's camera model is watched by its Qt view.

Recorded runs play through the same rounds: a light session of `ReplayWorker`s
(`CompareSession.of_records`) serves fair mode's side-by-side replay, a run file
opened in the window and `gemmacompare replay` alike.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Mapping, Sequence, Union

from gemmacompare.engine import protocol as p
from gemmacompare.engine.machine_load import LoadMeter, OtherLoad
from gemmacompare.engine.memory import GpuMemoryReader, MemorySampler
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.modes import FAIR, MODES, RACE, ThreadSplit, default_threads, split_threads
from gemmacompare.engine.participant import Participant
from gemmacompare.engine.remote.server_ref import ServerRefError, is_server_ref, parse_server_ref
from gemmacompare.engine.replay import ReplayWorker
from gemmacompare.engine.round_state import CompareResult, RoundState
from gemmacompare.engine.run_settings import ServerSettings
from gemmacompare.state.defaults import MAX_MODELS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunStarted:
    """Participant `index` starts its run now (fair mode: its turn came)."""

    index: int
    t_send: float  # the run's time axis starts here
    n_threads: int


@dataclass(frozen=True)
class RunMeasured:
    """What the session measured around a run, sent just before its last event."""

    index: int
    other_load: OtherLoad | None  # CPU other programs took meanwhile


SessionEvent = Union[p.Event, RunStarted, RunMeasured]
EventCallback = Callable[[int, SessionEvent], None]


def engine_for(model: str, label: str, settings: ServerSettings | None = None) -> Participant:
    """The participant that runs `model`: a RemoteWorker for a server reference, else (a model
    file, or "" before one is chosen) a local ModelWorker."""
    if is_server_ref(model):
        from gemmacompare.engine.remote.worker import RemoteWorker  # the stream client only where a server takes part

        return RemoteWorker(label, settings)
    from gemmacompare.engine.local.model_worker import ModelWorker  # the worker process's modules only where one runs

    return ModelWorker(label)


class SessionBusy(Exception):
    """A round is running: the session cannot start another or change its models."""


@dataclass
class Slot:
    label: str
    worker: Participant
    path: str | None = None
    loaded: p.Loaded | None = None
    load_error: p.WorkerError | None = None


class CompareSession:
    """Owns the participants and the memory sampler; runs rounds on them."""

    def __init__(self, labels: Sequence[str] = ("A", "B"), server: ServerSettings | None = None,
                 sampler: MemorySampler | None = None) -> None:
        self.server = server
        self.sampler = sampler or MemorySampler().start()
        self._own_sampler = sampler is None
        self.slots: list[Slot] = []
        for label in labels:
            self.add_slot(label)
        self.state = RoundState()
        self._observers: list[Callable[[RoundState], None]] = []
        self._lock = threading.Lock()
        self._loaders: list[threading.Thread] = []
        self._stopped = threading.Event()
        self._round: threading.Thread | None = None
        self._replay: CompareSession | None = None  # fair mode's replay of the latest round, while it plays
        self.recorded = False  # a session of recorded runs (of_records): a stop jumps to the end

    @classmethod
    def of_records(cls, labels: Sequence[str], records: Sequence[RunRecord],
                   loaded: Sequence[p.Loaded | None] = (), speed: float = 1.0) -> "CompareSession":
        """A light session that plays recorded runs: no model is loaded, nothing is sampled."""
        # A sampler never started, without NVML: a replay has no process to sample.
        session = cls((), sampler=MemorySampler(gpu=GpuMemoryReader(probe=False)))
        session.recorded = True
        for k, (label, rec) in enumerate(zip(labels, records)):
            session.slots.append(Slot(label, ReplayWorker(label, rec, loaded[k] if k < len(loaded) else None,
                                                          speed)))
        for slot in session.slots:
            slot.loaded = slot.worker.loaded
        return session

    # --- participants -------------------------------------------------------

    def add_slot(self, label: str, participant: Participant | None = None) -> int:
        """A new slot holding `participant` (a replay, a test's stand-in), else a local worker
        that starts its process when a model loads."""
        if len(self.slots) >= MAX_MODELS:
            raise ValueError(f"At most {MAX_MODELS} models can be compared at once.")
        worker = participant if participant is not None else engine_for("", label)
        self.slots.append(Slot(label, worker, loaded=worker.loaded))
        return len(self.slots) - 1

    def remove_slot(self, index: int) -> None:
        if self.busy:
            raise SessionBusy("Stop the current round before removing a model.")
        slot = self.slots.pop(index)
        # The latest round named the slots as they were: it can no longer be replayed or saved.
        self._set_state(lambda st: replace(st, result=None, replayed=False, participants=()))
        self.sampler.watch(slot.label, None)
        self.sampler.set_device_bytes(slot.label, None)
        slot.worker.close()

    @property
    def labels(self) -> list[str]:
        return [s.label for s in self.slots]

    @property
    def loaded(self) -> list[p.Loaded | None]:
        return [s.loaded for s in self.slots]

    @property
    def load_errors(self) -> list[p.WorkerError | None]:
        return [s.load_error for s in self.slots]

    def worker(self, index: int) -> Participant:
        return self.slots[index].worker

    def set_participant(self, index: int, worker: Participant) -> None:
        """Put a participant of the caller's making in a slot (a replay, a test's stand-in)."""
        old = self.slots[index].worker
        if old is not worker:
            old.close()
        self.slots[index] = Slot(self.slots[index].label, worker, loaded=worker.loaded)

    @property
    def n_local(self) -> int:
        return sum(1 for s in self.slots if not s.worker.remote)

    def load_one(self, index: int, path: str, settings: p.LoadSettings = p.LoadSettings(),
                 server: ServerSettings | None = None) -> p.Loaded:
        """Blocking: (re)load slot `index`. Raises p.WorkerFailed with one sentence."""
        self._set_loading(index, True)
        try:
            return self._load(index, path, settings, server)
        finally:
            self._set_loading(index, False)

    def start_load(self, index: int, path: str, settings: p.LoadSettings, server: ServerSettings | None,
                   on_done: Callable[[int, p.Loaded | str], None]) -> bool:
        """(Re)load slot `index` on a thread of its own; False if the slot is busy.

        `on_done` gets the Loaded facts or one sentence saying why not, after the
        state says the slot has stopped loading: whoever sees the model ready may use it.
        """
        if self.state.slot_busy(index):
            return False
        self.claim(index, path)  # before the thread: the other slots' loads see it
        self._set_loading(index, True)

        def job() -> None:
            outcome: p.Loaded | str
            try:
                outcome = self._load(index, path, settings, server)
            except p.WorkerFailed as exc:
                outcome = exc.error.message
            except Exception as exc:  # noqa: BLE001 - turned into a message, never a dead thread
                log.exception("loading %s", path)
                outcome = f"Loading failed unexpectedly ({type(exc).__name__}); see the log for details."
            self._set_loading(index, False)
            on_done(index, outcome)

        t = threading.Thread(target=job, name=f"load-{index}", daemon=True)
        self._loaders = [x for x in self._loaders if x.is_alive()] + [t]
        t.start()
        return True

    def _set_loading(self, index: int, on: bool) -> None:
        # A loading slot cannot be removed (remove_slot refuses), so its index holds until the load ends.
        self._set_state(lambda st: replace(st, loading=st.loading | {index} if on else st.loading - {index}))

    def _load(self, index: int, path: str, settings: p.LoadSettings, server: ServerSettings | None) -> p.Loaded:
        slot = self.slots[index]
        server = self._with_servers_in_run(index, str(path), server or self.server)
        engine = engine_for(str(path), slot.label, server)
        # A server model takes its current timeouts: a new engine each time.
        if type(engine) is not type(slot.worker) or engine.remote:
            slot.worker.close()
            slot.worker = engine
        else:
            engine.close()
        slot.path, slot.loaded, slot.load_error = str(path), None, None
        self._set_device_bytes(slot, 0)  # the old model's device buffers go with it
        try:
            slot.worker.close()
            slot.loaded = slot.worker.load(str(path), settings)
        except p.WorkerFailed as exc:
            slot.load_error = exc.error
            raise
        self.sampler.watch(slot.label, slot.worker.pid)
        placement = slot.loaded.placement
        self._set_device_bytes(slot, placement.device_bytes() if placement else 0)
        return slot.loaded

    def _set_device_bytes(self, slot: Slot, n: int) -> None:
        """llama.cpp's device buffers of the slot's model, for the GPU memory curve where
        NVML cannot see them; a slot that never held any keeps no curve."""
        if n or self.sampler.device_bytes(slot.label) is not None:
            self.sampler.set_device_bytes(slot.label, n)

    def claim(self, index: int, path: str) -> None:
        """Say which model slot `index` is about to load, before its load starts: loads run at
        once, and each server's API key depends on the others (see _with_servers_in_run)."""
        self.slots[index].path = str(path)

    def _with_servers_in_run(self, index: int, path: str, server: ServerSettings | None,
                             others: Sequence[str] | None = None) -> ServerSettings | None:
        """Server settings that name every server of the run, so a shared API key goes to
        one server only (state/secrets.py): those the caller named, else `others` and the
        other slots' models with this one."""
        if not is_server_ref(path) or (server is not None and server.servers_in_run):
            return server
        if others is None:
            others = [s.path for k, s in enumerate(self.slots) if k != index and s.path]
        urls = []
        for ref_text in (*others, path):
            try:
                if is_server_ref(ref_text):
                    urls.append(parse_server_ref(str(ref_text)).base_url)
            except ServerRefError:
                pass  # said when that model loads
        return replace(server or ServerSettings(), servers_in_run=tuple(urls))

    def load(self, paths: Sequence[str],
             settings: p.LoadSettings | Sequence[p.LoadSettings] = p.LoadSettings()) -> list[p.WorkerError | None]:
        """Load every slot at once (one settings for all, or one each); returns an error (or None) per model."""
        each = [settings] * len(paths) if isinstance(settings, p.LoadSettings) else list(settings)
        while len(self.slots) < len(paths):
            self.add_slot(chr(ord("A") + len(self.slots)))

        def one(i: int) -> None:
            server = self._with_servers_in_run(i, str(paths[i]), self.server, others=[str(x) for x in paths])
            try:
                self.load_one(i, str(paths[i]), each[i], server)
            except p.WorkerFailed:
                pass  # kept in the slot: said once, where loading failed

        threads = [threading.Thread(target=one, args=(i,), name=f"load-{i}") for i in range(len(paths))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.load_errors[:len(paths)]

    # --- round state --------------------------------------------------------

    def subscribe(self, observer: Callable[[RoundState], None]) -> None:
        """Called with the new state on every change (from the session's threads)."""
        self._observers.append(observer)

    def _set_state(self, change: Callable[[RoundState], RoundState]) -> None:
        # Race mode's runs change the state from their own threads: read and write under one lock.
        with self._lock:
            self.state = state = change(self.state)
        for observer in list(self._observers):
            observer(state)

    @property
    def busy(self) -> bool:
        return self.state.busy

    def forget_result(self) -> None:
        """A new conversation: the latest round is no longer there to replay or save."""
        if not self.state.in_progress:
            self._set_state(lambda st: replace(st, result=None, replayed=False))

    def set_job(self, sentence: str) -> None:
        """Another job holds the machine (a benchmark): rounds wait; "" when it is done."""
        self._set_state(lambda st: replace(st, job=sentence))

    def split_for(self, indices: Sequence[int], mode: str, threads_total: int | None = None,
                  chosen: Sequence[int] = ()) -> ThreadSplit:
        remote = [self.slots[i].worker.remote for i in indices]
        return split_threads(mode, threads_total or default_threads(), remote, chosen)

    # --- rounds -------------------------------------------------------------

    def start(self, commands: Mapping[int, p.Request], mode: str = RACE, threads_total: int | None = None,
              on_event: EventCallback | None = None,
              on_finished: Callable[[CompareResult], None] | None = None, prompt: str = "") -> CompareResult:
        """Start a round in the background on the slots in `commands` (in that order
        for fair mode); returns its result object, filled as the round goes."""
        if mode not in MODES:
            raise ValueError(f"Unknown mode {mode!r}; use race or fair.")
        if self.busy:
            raise SessionBusy(self.state.reason or "A round is running; stop it or wait for it to finish.")
        indices = list(commands)
        # A command's own thread count is the user's choice for that model; it wins over the mode's share.
        split = self.split_for(indices, mode, threads_total, [commands[i].n_threads or 0 for i in indices])
        result = CompareResult(mode, split.total, [RunRecord(self.slots[i].label, 0.0) for i in indices],
                               [self.slots[i].loaded for i in indices], indices, split)
        self._stopped.clear()
        self._set_state(lambda st: RoundState(mode, tuple(indices), frozenset(), tuple(indices), False, split,
                                              prompt, loading=st.loading, job=st.job))
        self.sampler.resume()

        def round_() -> None:
            try:
                self._run_round(commands, result, on_event)
            finally:
                self.sampler.pause()
                result.user_stopped = self.state.user_stopped
                self._set_state(lambda st: replace(st, running=frozenset(), pending=(), result=result))
                if on_finished is not None:
                    on_finished(result)

        self._round = threading.Thread(target=round_, name="compare-round", daemon=True)
        self._round.start()
        return result

    def run(self, make_command: Callable[[int], p.Request] | Mapping[int, p.Request],
            mode: str = RACE, threads_total: int | None = None,
            on_event: EventCallback | None = None) -> CompareResult:
        """A whole round, blocking; every slot takes part unless a mapping names them."""
        commands = make_command if isinstance(make_command, Mapping) else \
            {i: make_command(i) for i in range(len(self.slots))}
        result = self.start(commands, mode, threads_total, on_event)
        self.wait()
        return result

    def wait(self, timeout: float | None = None) -> bool:
        """Until the round in progress has ended; False on timeout."""
        t = self._round
        if t is not None:
            t.join(timeout)
            return not t.is_alive()
        return True

    def _run_round(self, commands: Mapping[int, p.Request], result: CompareResult,
                   on_event: EventCallback | None) -> None:
        assert result.split is not None
        jobs = [(k, i) for k, i in enumerate(result.indices)]
        if result.mode == RACE:
            threads = [threading.Thread(target=self._run_one, args=(k, i, commands[i], result, on_event),
                                        name=f"run-{self.slots[i].label}") for k, i in jobs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            for k, i in jobs:
                self._run_one(k, i, commands[i], result, on_event)

    def _run_one(self, k: int, i: int, cmd: p.Request, result: CompareResult,
                 on_event: EventCallback | None) -> None:
        slot = self.slots[i]
        rec = result.runs[k]
        n_threads = result.split.threads[k] if result.split else 0
        cmd = replace(cmd, n_threads=n_threads or None)
        rec.t_send = time.monotonic()
        self._set_state(lambda st: replace(st, pending=tuple(x for x in st.pending if x != i)))
        if slot.load_error is not None:
            rec.add(slot.load_error)  # already said once, where loading failed
            return
        if self._stopped.is_set():
            # Its turn never came: recorded as stopped, shown nowhere.
            rec.add(p.Finished(cmd.request_id, p.STOP_USER, 0, 0, rec.t_send, rec.t_send, None, n_threads))
            return
        self._set_state(lambda st: replace(st, running=st.running | {i}))
        self.sampler.reset(slot.label)
        self.sampler.sample_now(slot.label)  # the first point at the run's start, whatever the sampler's tick
        self.sampler.resume()
        if on_event:
            on_event(i, RunStarted(i, rec.t_send, n_threads))
        stop_sent = False
        meter = LoadMeter(self._participant_pids).start()
        try:
            for ev in slot.worker.generate(cmd):
                if isinstance(ev, p.PromptReady):
                    # A worker that crashed earlier was restarted by generate: a new pid.
                    self.sampler.watch(slot.label, slot.worker.pid)
                if self._stopped.is_set() and not stop_sent:
                    slot.worker.stop()  # a stop that landed before the request started
                    stop_sent = True
                if isinstance(ev, (p.Finished, p.WorkerError)):
                    # The last point at the run's end, before anyone is told it ended (the pane takes
                    # its trace then): with the first, every run has a line, however short.
                    self.sampler.sample_now(slot.label)
                if isinstance(ev, (p.Finished, p.WorkerError)) and rec.other_load is None:
                    rec.other_load = meter.stop()
                    if on_event:
                        on_event(i, RunMeasured(i, rec.other_load))
                rec.add(ev)
                if on_event:
                    on_event(i, ev)
        except Exception as exc:  # noqa: BLE001 - one model's failure is that model's message
            log.exception("%s: run failed", slot.label)
            err = p.WorkerError(cmd.request_id, "Generation failed unexpectedly; see the log for details.",
                                f"{type(exc).__name__}: {exc}")
            rec.add(err)
            if on_event:
                on_event(i, err)
        finally:
            if rec.other_load is None:
                rec.other_load = meter.stop()
            rec.memory = self.sampler.trace(slot.label)
            self._set_state(lambda st: replace(st, running=st.running - {i}))

    # --- replays -------------------------------------------------------------

    def play(self, on_event: EventCallback | None = None,
             on_finished: Callable[[CompareResult], None] | None = None) -> CompareResult:
        """A session of recorded runs (of_records): play them all at once, from a common start.

        Nothing runs, so the result carries the recorded memory and machine load, moved
        onto the replay's clock.
        """
        replays = [s.worker for s in self.slots]

        def finished(result: CompareResult) -> None:
            for rec, worker in zip(result.runs, replays):
                if isinstance(worker, ReplayWorker):
                    rec.memory = worker.memory_from(rec.t_send)
                    rec.other_load = worker.record.other_load
            if on_finished is not None:
                on_finished(result)

        commands = {k: p.GenerateCommand(request_id=k + 1) for k in range(len(self.slots))}
        return self.start(commands, RACE, max(1, len(self.slots)), on_event, finished)

    def replay(self, on_event: EventCallback | None = None,
               on_finished: Callable[[CompareResult], None] | None = None) -> bool:
        """Fair mode's side-by-side replay of the latest round, in a light session of its own
        (this one keeps its loaded models); events name this session's slots. False when
        there is nothing whole to replay or the session is busy."""
        last = self.state.result
        if last is None or not last.complete or self.busy:
            return False
        labels = [self.slots[i].label for i in last.indices]
        replay = CompareSession.of_records(labels, last.runs, last.loaded)

        indices = list(last.indices)

        def event(k: int, ev: SessionEvent) -> None:
            if isinstance(ev, (RunStarted, RunMeasured)):
                ev = replace(ev, index=indices[k])
            if on_event is not None:
                on_event(indices[k], ev)

        def finished(result: CompareResult) -> None:
            self._replay = None  # nothing to close: a replay holds no process
            self._set_state(lambda st: replace(st, replaying=False, replayed=True))
            if on_finished is not None:
                on_finished(result)

        self._replay = replay
        self._set_state(lambda st: replace(st, replaying=True, replayed=False))
        replay.play(event, finished)
        return True

    def _participant_pids(self) -> list[int]:
        """Processes whose CPU is the comparison's own: workers, and a server on this machine."""
        return [pid for s in self.slots if (pid := s.worker.pid)]

    def stop(self) -> None:
        """Stop the round: the running models stop, the waiting ones never start.

        A replay is not cut short: it jumps to its end, whole and with its figures.
        """
        replay = self._replay
        if replay is not None:
            replay.stop()
            return
        if self.recorded:
            for s in self.slots:
                s.worker.stop()  # a session of recorded runs: each jumps to its end
            return
        if self.state.active:
            self._set_state(lambda st: replace(st, user_stopped=True))
        self._stopped.set()
        for s in self.slots:
            s.worker.stop()

    def close(self, timeout: float = 1.0) -> None:
        self.stop()
        self.wait(2.0)
        for t in self._loaders:
            t.join(1.0)
        replay = self._replay
        if replay is not None:
            replay.close()
        if self._own_sampler:
            self.sampler.stop()
        # All models wind down at once, so closing costs one model's time.
        closers = [threading.Thread(target=s.worker.close, args=(timeout,)) for s in self.slots]
        for t in closers:
            t.start()
        for t in closers:
            t.join()

    def __enter__(self) -> "CompareSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["FAIR", "RACE", "CompareResult", "CompareSession", "RoundState", "RunMeasured", "RunStarted", "SessionBusy",
           "SessionEvent", "SessionJob"]


class SessionJob:
    """Work on a compare session of its own (a benchmark, a rerun, a claim check) that another
    thread may stop at any time: a stop reaches the session's running round."""

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._session: CompareSession | None = None
        self._lock = threading.Lock()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            if self._session is not None:
                self._session.stop()

    @contextmanager
    def own_session(self, labels: Sequence[str], server: ServerSettings | None = None) -> Iterator[CompareSession]:
        with CompareSession(labels, server=server) as session:
            with self._lock:
                self._session = session
            try:
                yield session
            finally:
                with self._lock:
                    self._session = None
