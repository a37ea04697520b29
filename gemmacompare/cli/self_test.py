"""`gemmacompare --self-test`: proves an install or a bundle works, one step at a time.

Each step prints one line with its time. The first failure names its step and
the command exits non-zero; later steps are reported as skipped. Whatever
happens, the worker is closed and the command checks that it left no process
behind.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

import psutil

from gemmacompare.cli.exit_codes import EXIT_ERROR, EXIT_OK
from gemmacompare.engine.api import protocol as p
from gemmacompare.engine.api import runtime_info
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.models.demo import demo_models
from gemmacompare.models.gguf_file import ModelFileError, human_bytes, read_model_facts

log = logging.getLogger(__name__)

N_TOKENS = 16
PROMPT = "The history of the printing press begins"
# A worker that was asked to shut down has this long to be gone.
EXIT_WAIT_S = 5.0

STEPS = ("llama.cpp", "model", "worker", "window", "processes")


class StepFailed(Exception):
    """A step's one-sentence reason for failing."""


@dataclass
class StepResult:
    name: str
    status: str  # ok | FAILED | skipped
    seconds: float
    detail: str


class SelfTest:
    """The steps in order; `window` opens, paints and closes the main window, returning a detail line.

    The window step is passed in because only ui/ may import Qt.
    """

    def __init__(self, model: str | None, window: Callable[[], str] | None, out: TextIO = sys.stdout,
                 only: tuple[str, ...] = (), expect_backend: str | None = None) -> None:
        # `only` runs some steps (those they need are added): `--only window`
        # measures a cold start to the first painted window.
        self.steps = [s for s in STEPS if not only or s in only or s == "processes"
                      or (s == "model" and "worker" in only)]
        self.model_arg = model
        self.expect_backend = expect_backend
        self.window = window
        self.out = out
        self.model_path: Path | None = None
        self.worker: ModelWorker | None = None
        self.results: list[StepResult] = []

    def run(self) -> int:
        print(f"gemmacompare self-test (python {sys.version.split()[0]}, {'bundle' if _frozen() else 'installed'})",
              file=self.out, flush=True)
        failed: str | None = None
        try:
            for name in self.steps:
                if failed is not None and name != "processes":
                    self._report(StepResult(name, "skipped", 0.0, f"after the failure in '{failed}'"))
                    continue
                if not self._step(name):
                    failed = failed or name
        finally:
            if self.worker is not None:
                self.worker.close()
        if failed:
            print(f"self-test FAILED at step '{failed}'", file=self.out, flush=True)
            return EXIT_ERROR
        print("self-test passed", file=self.out, flush=True)
        return EXIT_OK

    def _step(self, name: str) -> bool:
        fn = {
            "llama.cpp": self.step_llama,
            "model": self.step_model,
            "worker": self.step_worker,
            "window": self.step_window,
            "processes": self.step_processes,
        }[name]
        t0 = time.monotonic()
        try:
            detail, status = fn(), "ok"
        except StepFailed as exc:
            detail, status = str(exc), "FAILED"
        except Exception as exc:  # noqa: BLE001 - a self-test reports every failure as its step's
            log.warning("self-test step %s failed", name, exc_info=True)
            detail, status = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())}", "FAILED"
        self._report(StepResult(name, status, time.monotonic() - t0, detail))
        return status == "ok"

    def _report(self, r: StepResult) -> None:
        self.results.append(r)
        print(f"  {r.status:<7} {r.name:<10} {r.seconds:6.2f} s  {r.detail}", file=self.out, flush=True)

    # --- the steps -------------------------------------------------------------

    def step_llama(self) -> str:
        info = runtime_info()
        devices = ", ".join(f"{d.name} ({d.kind}: {d.description})" for d in info.devices)
        return (f"llama-cpp-python {info.llama_cpp_python} · backends: {', '.join(info.backends)} · "
                f"devices: {devices} · CPU variant: {info.cpu_variant} · system info: {info.system_info}")

    def step_model(self) -> str:
        if self.model_arg:
            path, source = Path(self.model_arg), "--model"
        else:
            demos = demo_models()
            if not demos:
                raise StepFailed(
                    "No model found: no demo model is bundled or installed; pass --model PATH to a GGUF file."
                )
            path, source = demos[0].path, f"demo '{demos[0].key}'"
        try:
            facts = read_model_facts(path)
        except ModelFileError as exc:
            raise StepFailed(exc.message) from None
        self.model_path = path
        size = human_bytes(facts.file_size)
        return f"{facts.name} ({facts.architecture}, {facts.quantization}, {size}) from {source}: {path}"

    def step_worker(self) -> str:
        self.worker = ModelWorker("self-test")
        t0 = time.monotonic()
        try:
            loaded = self.worker.load(str(self.model_path), p.LoadSettings(n_ctx=512))
        except p.WorkerFailed as exc:
            raise StepFailed(exc.error.message) from None
        pid = self.worker.pid
        load_s = time.monotonic() - t0
        finished: p.Finished | None = None
        first_t = None
        n = 0
        for ev in self.worker.generate(raw_prompt=PROMPT, sampling=p.SamplingSettings(max_tokens=N_TOKENS)):
            if isinstance(ev, p.Token) and ev.token_id >= 0:
                n += 1
                first_t = first_t or ev.t
            elif isinstance(ev, p.WorkerError):
                raise StepFailed(ev.message)
            elif isinstance(ev, p.Finished):
                finished = ev
        if finished is None or finished.n_generated != N_TOKENS or n != N_TOKENS:
            got = finished.n_generated if finished else n
            why = f" (stopped: {finished.stop_reason})" if finished else ""
            raise StepFailed(f"The worker generated {got} of {N_TOKENS} tokens{why}; try another model with --model.")
        self.worker.close()
        self.worker = None
        if pid is not None and _alive(pid):
            raise StepFailed(f"The worker (pid {pid}) did not exit after it was closed.")
        perf = finished.perf
        rate = f"{perf.n_eval / (perf.t_eval_ms / 1000):.0f} t/s (llama.cpp)" if perf and perf.t_eval_ms > 0 else ""
        where = loaded.placement.summary if loaded.placement else "placement not reported"
        backend = loaded.placement.backend if loaded.placement else "?"
        if self.expect_backend and backend.lower() != self.expect_backend.lower():
            raise StepFailed(f"The model ran on {backend}, not on {self.expect_backend} as expected ({where}).")
        return (f"{N_TOKENS} tokens through a spawned worker (pid {pid}, exited) · loaded in {load_s:.2f} s · "
                f"{rate} · {where}")

    def step_window(self) -> str:
        if self.window is None:
            raise StepFailed("The window cannot be opened from this command.")
        return self.window()

    def step_processes(self) -> str:
        deadline = time.monotonic() + EXIT_WAIT_S
        while True:
            # multiprocessing's resource tracker reads a pipe from this process
            # and ends with it; anything else still running is a leak.
            left = [c for c in psutil.Process().children(recursive=True)
                    if _alive(c.pid) and "multiprocessing.resource_tracker" not in _cmdline(c)]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if left:
            names = ", ".join(f"{c.pid} ({_name(c)})" for c in left)
            for c in left:
                c.kill()
            raise StepFailed(f"Processes were left running and had to be killed: {names}.")
        return "no worker or other child process left"


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _name(proc: psutil.Process) -> str:
    return _cmdline(proc)[:80] or "?"


def _frozen() -> bool:
    return bool(getattr(sys, "frozen", False))
