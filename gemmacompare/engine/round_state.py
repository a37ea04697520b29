"""What a compare session is doing, as one Qt-free value its observers render.

The session replaces its `RoundState` on every change and hands the new one to
its observers, as napari's camera model is watched by its Qt view: the window,
its panes, banner and buttons draw what the state says and keep no score of
their own. One `busy`, with one sentence saying why, serves the whole app.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gemmacompare.engine import protocol as p
from gemmacompare.engine.metrics import RunRecord
from gemmacompare.engine.modes import RACE, ThreadSplit
from gemmacompare.engine.report.speed_summary import busy_sentence, speed_summary


@dataclass
class CompareResult:
    mode: str
    threads_total: int
    runs: list[RunRecord] = field(default_factory=list)
    loaded: list[p.Loaded | None] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)  # the session slot of each run
    split: ThreadSplit | None = None
    user_stopped: bool = False

    @property
    def complete(self) -> bool:
        """Every model answered in full: a side-by-side replay is a fair picture."""
        return (not self.user_stopped and len(self.runs) >= 2 and
                all(r.finished is not None and r.finished.stop_reason != p.STOP_USER for r in self.runs))

    def verdict(self) -> str:
        """Who was faster, and a busy machine named; "" without two answers to compare.

        Only this round's answers are compared, never an older reply.
        """
        done = [r for r in self.runs if r.finished is not None and r.finished.stop_reason != p.STOP_USER]
        if len(done) < 2:
            return ""
        labels, stats = [r.label for r in done], [r.stats() for r in done]
        summary = speed_summary(labels, stats, race=self.mode == RACE)
        busy = busy_sentence(labels, stats)
        return f"{summary} · {busy}" if busy else summary


LOADING_REASON = "A model is loading; wait for it so the figures are not disturbed."
READY_AFTER_LOADING = "Loaded: press Ctrl+Enter to send."


@dataclass(frozen=True)
class RoundState:
    mode: str = RACE
    participants: tuple[int, ...] = ()
    running: frozenset[int] = frozenset()
    pending: tuple[int, ...] = ()  # fair mode: waiting for their turn
    user_stopped: bool = False
    split: ThreadSplit | None = None
    prompt: str = ""  # the round's question as the user typed it
    loading: frozenset[int] = frozenset()  # slots loading a model
    replaying: bool = False  # fair mode's side-by-side replay of the latest round is playing
    replayed: bool = False  # ... and has played to its end
    result: CompareResult | None = None  # the latest round's, once it has ended
    job: str = ""  # another job holds the machine (a benchmark): the sentence that says so

    @property
    def active(self) -> bool:
        """Models are running or waiting for their turn."""
        return bool(self.running or self.pending)

    @property
    def in_progress(self) -> bool:
        """A round or its replay: what Esc ends."""
        return self.active or self.replaying

    @property
    def busy(self) -> bool:
        """Nothing else may start now: a round, its replay, a load or another job."""
        return bool(self.in_progress or self.loading or self.job)

    @property
    def reason(self) -> str:
        """Why nothing else may start now, in one sentence; "" when idle."""
        if self.in_progress:
            return "A round is running in the window; wait for it (or press Esc) so the figures are not disturbed."
        if self.job:
            return self.job
        if self.loading:
            return LOADING_REASON
        return ""

    def slot_busy(self, index: int) -> bool:
        """Slot `index` is loading, or takes part in the round (or replay) in progress."""
        return index in self.loading or (self.in_progress and index in self.participants)

    def split_note(self, index: int) -> str:
        """Slot `index`'s part of the split, for its stats line ("race mode, 1 thread")."""
        if self.split is None or index not in self.participants:
            return ""
        return self.split.for_model(self.participants.index(index))

    @property
    def note(self) -> str:
        """The split in a few words: "race mode, 1 thread each"."""
        return self.split.short() if self.split else ""

    def headline(self) -> str:
        """The banner's sentence for the round: its split while it runs, its verdict at the end.

        Fair mode's verdict waits for the end of its replay, so the room watches the race
        without knowing who won.
        """
        fair = self.mode != RACE
        name = self.mode.capitalize()
        r = self.result
        # The replay starts from the round's end; a state published while the round's last run
        # is still being wound up may hold both, and the room is watching the replay.
        if self.replaying and r is not None and not r.user_stopped:
            return f"{name}: {self.note} · replaying side by side (Esc: jump to the end)"
        if self.active:
            return f"{name}: {self.split.describe()}." if self.split else ""
        if r is None:
            return ""
        if r.user_stopped:
            return f"Stopped ({self.note}); finished text and stats are kept."
        verdict = r.verdict()
        if not verdict:
            return ""
        if fair and self.replayed:
            return f"{name}: {verdict} · {self.note} · replayed side by side"
        return f"{name}: {verdict} · {self.note}"


__all__ = ["CompareResult", "RoundState"]
