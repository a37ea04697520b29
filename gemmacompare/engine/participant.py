"""The interface every model in a comparison has, local, remote or replayed.

The session holds participants through this type only: a local worker process
(`ModelWorker`), a model on a server (`RemoteWorker`) and a recorded run
played back at its recorded speed (`ReplayWorker`) all implement it.
"""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

from gemmacompare.engine import protocol as p
from gemmacompare.engine.remote.server_ref import is_server_ref
from gemmacompare.engine.run_settings import ServerSettings


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

    def generate(self, cmd: p.GenerateCommand) -> Iterator[p.Event]:
        """The request's events, ending with Finished or WorkerError."""
        ...

    def stop(self) -> None:
        """Ask the running request to end soon (any thread)."""
        ...

    def close(self, timeout: float = 1.0) -> None:
        ...


def engine_for(model: str, label: str, settings: ServerSettings | None = None) -> Participant:
    """A RemoteWorker for a server reference, else a local ModelWorker."""
    from gemmacompare.engine.local.model_worker import ModelWorker
    from gemmacompare.engine.remote.worker import RemoteWorker

    return RemoteWorker(label, settings) if is_server_ref(model) else ModelWorker(label)
