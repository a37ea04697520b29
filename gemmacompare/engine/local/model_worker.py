"""The parent side of a model worker: start, load, generate, stop, close.

`ModelWorker.generate` yields the worker's events one by one; it is meant to be
driven from one background thread per model (the GUI's pane thread, the CLI's
race thread). Stop and close may be called from any thread.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import select
import signal
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Iterator

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.child import worker_main
from gemmacompare.engine.local.vulkan_drivers import driver_files_named

log = logging.getLogger(__name__)

# Past this, a stop the worker has not answered is enforced by killing it.
STOP_GRACE_S = 0.4


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped responding"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            return "was killed (SIGKILL; out of memory, or killed from outside)"
        if name == "SIGABRT":
            return "aborted inside llama.cpp (SIGABRT, e.g. a GGML_ASSERT)"
        return f"died from {name}"
    return f"exited with status {exitcode}"


class ModelWorker:
    remote = False  # RemoteWorker (engine/remote/) has this interface with remote = True

    def __init__(self, label: str = "") -> None:
        self.label = label
        self._ctx = mp.get_context("spawn")
        self._proc: mp.process.BaseProcess | None = None
        self._conn: Connection[p.Command, p.Event | p.TokenBatch] | None = None
        self._stop = self._ctx.RawValue(ctypes.c_int, 0)
        self._stop_requested_at: float | None = None
        self._send_lock = threading.Lock()
        self._last_load: p.LoadCommand | None = None
        self.loaded: p.Loaded | None = None
        self.log_path: Path | None = None
        self._request_ids = iter(range(1, 1 << 62))

    # --- lifecycle ---------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def start(self) -> None:
        if self.alive:
            return
        if self._conn is not None:
            self._conn.close()  # the pipe of a worker that died
        parent, child = self._ctx.Pipe(duplex=True)
        self.log_path = _worker_log_path(self.label)
        self._proc = self._ctx.Process(
            target=worker_main,
            args=(child, self._stop, str(self.log_path) if self.log_path else None),
            name=f"gemmacompare-worker-{self.label}",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._conn = parent
        self.loaded = None

    def load(self, path: str, settings: p.LoadSettings = p.LoadSettings()) -> p.Loaded:
        """Blocking load. Raises WorkerFailed with a one-sentence message."""
        self.start()
        cmd = p.LoadCommand(str(path), settings)
        self._last_load = cmd
        self._send(cmd)
        while True:
            ev = self._recv(timeout=None)
            if isinstance(ev, p.Loaded):
                self.loaded = ev
                return ev
            if isinstance(ev, p.WorkerError):
                raise p.WorkerFailed(ev)

    def close(self, timeout: float = 1.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.is_alive():
            self._stop.value = 1
            try:
                self._send(p.ShutdownCommand())
            except (OSError, BrokenPipeError):
                pass
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        if self._conn is not None:
            self._conn.close()
        if self.log_path is not None and proc.exitcode == 0:
            self.log_path.unlink(missing_ok=True)  # kept only when something went wrong
        self.loaded = None

    def kill(self) -> None:
        """Hard kill (used by stop when the worker does not answer)."""
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(1.0)

    # --- generation --------------------------------------------------------

    def stop(self) -> None:
        """Ask the running generation to stop; enforced by kill after STOP_GRACE_S."""
        self._stop.value = 1
        self._stop_requested_at = time.monotonic()

    def generate(self, cmd: p.Request | None = None, **kwargs: Any) -> Iterator[p.Event]:
        """Run one request (a generation, or a depth measurement) and yield its events, ending with
        Finished or WorkerError.

        A worker that died since the last call is restarted and reloaded first.
        """
        if cmd is None:
            cmd = p.GenerateCommand(request_id=next(self._request_ids), **kwargs)
        if not self.alive and self._last_load is not None:
            try:
                self.load(self._last_load.path, self._last_load.settings)
            except p.WorkerFailed as exc:
                yield exc.error
                return
        self._stop.value = 0
        self._stop_requested_at = None
        try:
            self._send(cmd)
        except (OSError, BrokenPipeError):
            yield self._death_event(cmd.request_id)
            return
        n_tokens, last_msg, slowest_step = 0, time.monotonic(), 0.0
        while True:
            try:
                ev = self._recv(timeout=0.05)
            except (EOFError, OSError):
                yield self._death_event(cmd.request_id)
                return
            if ev is None:
                if not self.alive:
                    yield self._death_event(cmd.request_id)
                    return
                # A stop lands between two decode steps: llama.cpp checks it inside a
                # step on the CPU only, so a step on a slow GPU runs to its end. While
                # tokens flow, allow twice the slowest step seen; a step longer than
                # that (a huge prefill on a slow GPU path, say) is stuck: the user asked
                # to stop, so kill; the next generate restarts the worker, same model.
                grace = max(STOP_GRACE_S, 2 * slowest_step + 0.1) if n_tokens else STOP_GRACE_S
                if self._stop_requested_at and time.monotonic() - self._stop_requested_at > grace:
                    self.kill()
                    yield p.Finished(cmd.request_id, p.STOP_USER, 0, n_tokens, self._stop_requested_at,
                                     time.monotonic(), None, 0)
                    return
                continue
            now = time.monotonic()
            if isinstance(ev, p.TokenBatch):
                if n_tokens:
                    slowest_step = max(slowest_step, now - last_msg)
                last_msg = now
                for tok in ev.tokens():
                    n_tokens += tok.token_id >= 0
                    yield tok
                continue
            if isinstance(ev, p.DepthMeasured) and ev.test == p.TEST_TG and ev.n_tokens:
                # A depth run stops between two of its tokens: allow twice the slowest.
                n_tokens += ev.n_tokens
                slowest_step = max(slowest_step, ev.seconds / ev.n_tokens)
            last_msg = now
            yield ev
            if (isinstance(ev, (p.Finished, p.WorkerError))
                    and getattr(ev, "request_id", None) in (cmd.request_id, None)):
                return

    # --- plumbing ----------------------------------------------------------

    def _send(self, msg: p.Command) -> None:
        if self._conn is None:
            raise BrokenPipeError("worker not started")
        with self._send_lock:
            self._conn.send(msg)

    def _recv(self, timeout: float | None) -> p.Event | p.TokenBatch | None:
        conn = self._conn
        if conn is None:  # not reached: load and generate send first, which starts the worker
            raise BrokenPipeError("worker not started")
        if timeout is None:
            try:
                while not conn.poll(0.1):
                    if not self.alive:
                        raise p.WorkerFailed(self._death_event(None))
                return conn.recv()
            except (EOFError, OSError):
                raise p.WorkerFailed(self._death_event(None)) from None
        # select() on the fd directly: Connection.poll builds a selector per
        # call, which was most of the parent's cost per event.
        ready, _, _ = select.select([conn.fileno()], [], [], timeout)
        return conn.recv() if ready else None

    def _death_event(self, request_id: int | None) -> p.WorkerError:
        proc = self._proc
        if proc is not None:
            proc.join(0.5)
        code = proc.exitcode if proc is not None else None
        how = describe_exit(code)
        name = self.loaded.facts.name if self.loaded else (self.label or "the model")
        tail = self.log_tail()
        return p.WorkerError(
            request_id,
            f"The worker for {name} {how}; it restarts on the next prompt{_exit_advice(code, tail)}",
            detail=f"exitcode={code}\n{tail}",
            fatal=True,
        )

    def log_tail(self, lines: int = 20) -> str:
        """The last lines llama.cpp wrote in this worker (an assert message, say)."""
        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


_OUT_OF_MEMORY_WORDS = ("out of memory", "failed to allocate", "cannot allocate", "bad_alloc", "memoryerror")


def _exit_advice(exitcode: int | None, log_tail: str) -> str:
    """The end of the sentence about a dead worker: advice only where the
    evidence points (a kill that looks like the OOM killer, memory words in the
    log), and the log's last line quoted whole, never a guess."""
    last = next((ln.strip() for ln in reversed(log_tail.splitlines()) if ln.strip()), "")
    if any(w in log_tail.lower() for w in _OUT_OF_MEMORY_WORDS):
        advice = " (memory ran out: lower the context size or pick a smaller model)"
    elif exitcode == -signal.SIGKILL:  # the kernel's OOM killer sends SIGKILL, but so do people
        advice = " (if memory ran out, lower the context size or pick a smaller model)"
    elif exitcode == -signal.SIGSEGV and driver_files_named():  # a driver the user's environment points at
        advice = f" (Vulkan was pointed at {driver_files_named()}: check that driver file, or unset the variable)"
    else:
        advice = ""
    quote = f"; its log ends: \u201c{last}\u201d" if last else ""
    return f"{advice}{quote}."


def _worker_log_path(label: str) -> Path | None:
    from gemmacompare.state.paths import app_dirs, private_dir

    try:
        folder = private_dir(app_dirs().log)
    except OSError:
        return None
    safe = "".join(c if c.isalnum() else "_" for c in label) or "model"
    return folder / f"worker-{safe}-{os.getpid()}.log"
