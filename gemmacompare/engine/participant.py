"""The interface every model in a comparison has, local, remote or replayed.

The session holds participants through this type only: a local worker process
(`ModelWorker`), a model on a server (`RemoteWorker`) and a recorded run
played back at its recorded speed (`ReplayWorker`) all implement it.
"""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

from gemmacompare.engine import protocol as p


@runtime_checkable
class Participant(Protocol):
    label: str
    remote: bool  # on a server: takes no CPU threads here, counts chunks unless the server counts tokens
    loaded: p.Loaded | None

    @property
    def pid(self) -> int | None:
        """The process whose memory is sampled (a worker, a server on this machine), if any."""
        ...

    def load(self, path: str, settings: p.LoadSettings) -> p.Loaded:
        """Blocking; raises WorkerFailed with one sentence."""
        ...

    def generate(self, cmd: p.Request) -> Iterator[p.Event]:
        """The request's events, ending with Finished or WorkerError. (A local ModelWorker also takes a
        DepthCommand: the context sweep runs on local models only.)"""
        ...

    def stop(self) -> None:
        """Ask the running request to end soon (any thread)."""
        ...

    def close(self, timeout: float = 1.0) -> None:
        ...

