"""Blind mode on the Compare tab: random sides, hidden names, the vote, the reveal.

The loaded models stay in their panes (reloading would cost seconds per
prompt); a round instead moves the pane widgets in the splitter, so "Model 1"
is whichever pane is on the left. With three or four models loaded, each round
draws two of them at random, as LMArena does; the others are hidden for it. Colours, chart legends and titles follow the
position, never the pane, so nothing on screen tells the models apart except
what they write and how fast.
"""

from __future__ import annotations

import html
import logging
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from gemmacompare.arena.battles import Battle, Contender, Side, SideDraw, VoteCounts, arrange, not_counted_reason
from gemmacompare.arena.store import ArenaStore, ArenaStoreError, now_iso
from gemmacompare.engine.api import file_hash_prefix
from gemmacompare.state.settings_table import to_flat

from .arena_bar import VoteBar
from .theme import PANE_COLOURS

if TYPE_CHECKING:
    from .main_window import MainWindow
    from .pane import ModelPane

log = logging.getLogger(__name__)

SIDE_NAMES = ("Model 1", "Model 2")
# Ends with the app name, so window managers do not append it a second time.
BLIND_TITLE = "Blind arena — gemmacompare"
# Greedy decoding gives the same answer for every seed; a regenerate samples instead.
REGENERATE_TEMPERATURE = 0.7


@dataclass
class Round:
    prompt: str
    swapped: bool
    order: list[ModelPane]  # the two drawn panes, left to right
    contenders: tuple[Contender, Contender]
    serial: int = 0
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)  # per pane index, e.g. a regenerate's seed
    battle: Battle | None = None  # set when both answers are in
    voted: bool = False


class BlindArena(QObject):
    vote_stored = Signal()  # the leaderboard should refresh

    def __init__(self, window: MainWindow, store: ArenaStore | None = None, seed: int | None = None) -> None:
        super().__init__(window)
        self.w = window
        self.store = store or ArenaStore(timeout=1.0)
        self.reseed(seed)
        self.active = False
        self.round: Round | None = None
        self.unsaved: dict[int, Battle] = {}  # round serial -> a state the history could not take yet
        self._serial = 0
        self.save_error = ""  # the history's sentence when the latest write failed
        # Per pane index: a regenerate's seed, used by the next send.
        self._next_overrides: dict[int, dict[str, Any]] = {}
        self._hashes: dict[str, str] = {}
        self._facts: dict[int, tuple[str, str]] = {}  # pane index -> facts text and tooltip while hidden
        self._stats_tips: dict[int, str] = {}
        self.bar = VoteBar()
        self.bar.hide()
        self.bar.install_shortcuts(window)
        self.bar.voted.connect(self.vote)
        self.bar.regenerate.connect(self.regenerate)
        self.bar.new_round.connect(self.new_round)
        self.bar.save_round.connect(window.files.save_run_dialog)
        for pane in window.panes:
            self.watch_pane(pane)
        window.compare_finished.connect(self._on_compare_finished)


    def reseed(self, seed: int | None) -> None:
        """Every draw (sides, pairs, regenerate seeds) from `seed`: None for random, a number to repeat them."""
        self.draw = SideDraw(seed)
        self._regen_rng = random.Random(seed)
        self._pair_rng = random.Random(seed)
    def watch_pane(self, pane: ModelPane) -> None:
        """Every pane, also one added later, keeps its stats tooltip and facts off screen while blind."""
        pane.finished.connect(self._on_pane_finished)
        # A model (a server's, say) that finishes loading while blind writes its facts again.
        pane.state_changed.connect(self._on_pane_state)

    # --- turning blind mode on and off -----------------------------------------

    def set_active(self, on: bool) -> bool:
        if on == self.active:
            return True
        if any(p.busy for p in self.w.panes):
            self.w.banner.setText("Wait for the current answers (or press Esc) before switching blind mode.")
            return False

        self.active = on
        self.w.new_chat()  # earlier replies carry model names in their titles
        if on:
            self._hide_identities()
            self.bar.show()
            self.bar.result.setText("")
            self.w.banner.setText("Blind arena: type a prompt and press Ctrl+Enter; sides are drawn at random.")
        else:
            self._place(self.w.panes)
            for pane in self.w.panes:
                pane.show()
            self._show_identities()
            self.bar.hide()
            self.w.banner.setText("Blind mode off.")
        self._set_tabs()
        return True

    def _set_tabs(self) -> None:
        # The Benchmark and Context sweep tabs name the files; the leaderboard's speed column
        # beside the live curves would tell the sides apart before the vote.
        tabs = self.w.tabs
        for tab in (self.w.bench_tab, self.w.sweep_tab):
            tabs.setTabEnabled(tabs.indexOf(tab), not self.active)
        open_round = self.active and self.round is not None and not self.round.voted
        tabs.setTabEnabled(tabs.indexOf(self.w.leaderboard), not open_round)
        # A saved run names the models: Ctrl+S is off until the vote, as the Save round button is.
        self.w.save_run_action.setEnabled(not open_round)

    def _place(self, order: list[ModelPane]) -> None:
        """Put the panes left to right; colours, titles and legends follow the place while blind."""
        for pos, pane in enumerate(order):
            self.w.hsplit.insertWidget(pos, pane)
            colour = PANE_COLOURS[pos] if self.active else pane.colour
            pane.swatch.setStyleSheet(f"background:{colour}; border-radius:3px;")
            pane.title.setText(f"<b>{side_name(pos) if self.active else pane.label}</b>")
            pane.reply_title = side_name(pos) if self.active else None
            pane.settings_button.setToolTip(f"Generation settings for {pane.reply_title or pane.label}")
        # Only a drawn pair takes part in a round; the others would tell nothing but take room.
        hidden = self._hidden()
        self.w.charts.set_memory_visible(not hidden)
        self.w.pane_settings_menu.setEnabled(not self.active)  # its entries name panes A, B, ...
        for pane in self.w.panes:
            pane.set_blind(hidden)
            pane.remove_button.setVisible(not self.active and len(self.w.panes) > 2)
            # Hidden while blind, and its tooltip would still name the pane's letter.
            pane.remove_button.setToolTip("" if self.active else f"Remove model {pane.label} from the comparison")
            pane.setVisible(pane in order or not (self.active and self.round is not None))
            if self.active and pane not in order:
                pane.title.setText("<b>not in this round</b>")  # an earlier reveal's name goes too
        self.w.charts.sources = [pane.series for pane in order]
        self.w.charts.set_labels([side_name(i) for i in range(len(order))] if self.active else
                                 [p.label for p in order],
                                 [PANE_COLOURS[i] if self.active else p.colour for i, p in enumerate(order)])

    def _hide_identities(self) -> None:
        self.w.setWindowTitle(BLIND_TITLE)
        for pane in self.w.panes:
            self._take_facts(pane)
            pane.facts_label.hide()
            pane.chooser.blockSignals(True)
            pane.chooser.clear()
            pane.chooser.blockSignals(False)
            pane.chooser.hide()
        self._place(self.round.order if self.round else self.w.panes)

    def _show_identities(self) -> None:
        self.w.setWindowTitle("gemmacompare")
        for pane in self.w.panes:
            text, tip = self._facts.pop(pane.index, (pane.facts_label.text(), pane.facts_label.toolTip()))
            pane.facts_label.setText(text)
            pane.facts_label.setToolTip(tip)
            pane.facts_label.show()
            pane.chooser.show()
        self.w.refresh_model_choices()

    def show_leaderboard(self) -> None:
        if not self.w.tabs.isTabEnabled(self.w.tabs.indexOf(self.w.leaderboard)):
            self.w.banner.setText("The leaderboard opens after the vote: its speed column would give the sides away.")
            return
        self.w.tabs.setCurrentWidget(self.w.leaderboard)

    def _take_facts(self, pane: ModelPane) -> None:
        """Keep the pane's facts text for the reveal and blank it on screen."""
        if pane.facts_label.text():
            self._facts[pane.index] = (pane.facts_label.text(), pane.facts_label.toolTip())
        pane.facts_label.setText("")
        pane.facts_label.setToolTip("")

    def _hidden(self) -> bool:
        return self.active and not (self.round is not None and self.round.voted)

    def _on_pane_state(self, index: int) -> None:
        if self._hidden():
            self._take_facts(self.w.panes[index])

    def on_model_changed(self, index: int) -> None:
        """A model was opened or dropped while blind: keep its facts for the reveal, not on screen."""
        if self._hidden():
            self._hide_identities()

    def display_label(self, pane: ModelPane) -> str:
        """How exports and copies name a pane: its side until the vote, then the model too."""
        if not self.active or self.round is None:
            return f"{pane.label}: {pane.display_name}"
        if pane not in self.round.order:
            return f"{pane.label}: not in this round"
        pos = self.round.order.index(pane)
        if not self.round.voted:
            return SIDE_NAMES[pos]
        return f"{SIDE_NAMES[pos]}: {self.round.contenders[pos].name}"

    # --- a round -----------------------------------------------------------------

    def sampling_for(self, index: int) -> dict[str, Any]:
        """The round's sampling changes for pane `index` (a regenerate's seed), which the window
        puts in that model's request; none outside a blind round."""
        r = self.round
        return dict(r.overrides.get(index, {})) if self.active and r is not None and r.battle is None else {}

    def before_send(self, text: str) -> bool:
        """Called by the window's Send in blind mode; False stops the send."""
        r = self.round
        if r is not None and r.battle is not None and not r.voted:
            self.w.banner.setText("Vote first (keys 1–4, or H for a show of hands), or start a New round (Ctrl+N).")
            return False
        if not all(p.ready for p in self.w.panes):
            self.w.banner.setText("Blind mode needs every model loaded and idle; wait for loading to finish.")
            return False
        # Two at a time: with three or four loaded, a pair drawn at random (the round stores which).
        panes = sorted(self._pair_rng.sample(self.w.panes, 2), key=lambda p: p.index) if len(self.w.panes) > 2 \
            else list(self.w.panes)
        try:
            contenders = [self._contender(p) for p in panes]
        except OSError as exc:
            log.info("model file hash: %s", exc)
            self.w.banner.setText("A model file cannot be read any more; open it again with blind mode off (F8).")
            return False
        overrides, self._next_overrides = self._next_overrides, {}
        for pane in self.w.panes:
            pane.new_chat()
        swapped = self.draw.next_swapped()
        order = list(arrange(panes[0], panes[1], swapped))
        left, right = arrange(contenders[0], contenders[1], swapped)
        self._serial += 1
        self.round = Round(text, swapped, order, (left, right), self._serial,
                           {p.index: dict(overrides.get(p.index, {})) for p in panes})
        self._stats_tips.clear()
        self._hide_identities()
        self.bar.result.setText("")
        self.bar.set_voting(False)
        self._set_tabs()
        return True

    def _contender(self, pane: ModelPane) -> Contender:
        path, facts = pane.model_path or "", pane.facts  # only loaded panes take part
        if path not in self._hashes:
            # A server model has no file to fingerprint: its name is its identity.
            self._hashes[path] = file_hash_prefix(path) if Path(path).is_file() else ""
        return Contender(name=pane.display_name, file_name=Path(path).name,
                         file_hash=self._hashes[path], architecture=facts.architecture if facts else "",
                         quantization=facts.quantization if facts else "")

    def _on_pane_finished(self, index: int) -> None:
        # The stats tooltip names the chat template: keep it for the reveal.
        pane = self.w.panes[index]
        if self.active and pane.reply is not None and self.round is not None and not self.round.voted:
            self._stats_tips[index] = pane.reply.stats.toolTip()
            pane.reply.stats.setToolTip("")

    def _on_compare_finished(self) -> None:
        r = self.round
        if not self.active or r is None or r.battle is not None:
            return
        left, right = (self._side(pane, c, r.overrides.get(pane.index, {})) for pane, c in zip(r.order, r.contenders))
        sides = (left, right)
        battle = Battle(prompt=r.prompt, sides=sides, mode=self.w.mode, swapped=r.swapped, created=now_iso(),
                        not_counted=not_counted_reason(sides, False))
        r.battle = self._save(r.serial, battle)
        self.w.prompt.setEnabled(False)
        self.bar.set_voting(True)
        self.bar.vote_buttons["1"].setFocus()
        note = f" This round will not count: {battle.not_counted}." if battle.not_counted else ""
        self.w.banner.setText("Both answers are in. Vote with 1–4 (1 better, 2 better, tie, both bad) "
                              "or H for a room's show of hands." + note)

    def _side(self, pane: ModelPane, contender: Contender, override: dict[str, Any]) -> Side:
        rec = pane.record
        settings = {**to_flat(pane.settings), **override, "mode": self.w.mode}
        if rec is None:  # never started: the round was stopped before its turn (fair mode)
            return Side(contender, settings=settings, stop_reason="")
        fin = rec.finished
        if fin is not None:
            settings["n_threads_used"] = fin.n_threads
        return Side(contender, answer=rec.answer, thinking=rec.thinking, settings=settings,
                    speed=rec.stats().to_dict() if fin else {},
                    stop_reason=fin.stop_reason if fin else ("error" if rec.error else ""),
                    error=rec.error.message if rec.error else "")

    def _save(self, serial: int, battle: Battle) -> Battle:
        """Write a round's latest state, and whatever an earlier failure left; one sentence on failure.

        Returns the battle with its id once stored. Unsaved rounds stay in
        this window and are retried on the next write, so a locked or
        full disk loses no vote while the app runs.
        """
        self.unsaved[serial] = battle
        self.save_error = ""
        for key in sorted(self.unsaved):
            b = self.unsaved[key]
            try:
                if b.id is None:
                    b = replace(b, id=self.store.add_battle(b))
                elif b.votes is not None:
                    self.store.set_votes(b.id, b.votes, b.not_counted)
            except ArenaStoreError as exc:
                self.save_error = exc.message
                self.w.banner.setText(exc.message)
                break
            del self.unsaved[key]
            if key == serial:
                battle = b
        if self.store.notice:
            self.w.statusBar().showMessage(self.store.notice, 15000)
            self.store.notice = ""
        return battle

    # --- the vote and the reveal --------------------------------------------------

    def vote(self, votes: VoteCounts) -> None:
        r = self.round
        if r is None or r.battle is None or r.voted:
            return
        r.battle = self._save(r.serial, replace(r.battle, votes=votes, voted=now_iso()))
        r.voted = True
        self.bar.set_voting(False)
        self.bar.save_button.setEnabled(True)
        self.w.prompt.setEnabled(True)
        self.w.prompt.setFocus()
        self._reveal(r)
        self._set_tabs()
        self.vote_stored.emit()

    def _reveal(self, r: Round) -> None:
        self._show_identities()
        self.w.charts.set_memory_visible(True)
        for pane in r.order:
            pane.set_blind(False)
        for pos, (pane, c) in enumerate(zip(r.order, r.contenders)):
            pane.title.setText(f"<b>{SIDE_NAMES[pos]}: {html.escape(c.name)}</b>")
            if pane.reply is not None:
                pane.reply.title.setText(f"{SIDE_NAMES[pos]}: {c.name}")
                pane.reply.stats.setToolTip(self._stats_tips.get(pane.index, ""))
        b = r.battle
        if b is None or b.votes is None:  # a vote made the battle and its counts
            return
        counted = f" Not counted: {b.not_counted}." if b.not_counted else ""
        unsaved = (f" Not saved yet: {self.save_error} The vote stays in this window and is saved with the next one."
                   if r.serial in self.unsaved else "")
        self.w.banner.setText(f"Vote {b.votes.winner_text()}: Model 1 was {r.contenders[0].name}, "
                              f"Model 2 was {r.contenders[1].name}.{counted}{unsaved}")
        self.bar.result.setText(reveal_table(b, compact=self.w.presentation))

    def run_file_part(self) -> dict[str, Any] | None:
        """The voted round for a run file: which model was Model 1 and 2, and the vote; None before a vote."""
        r = self.round
        if r is None or not r.voted or r.battle is None or r.battle.votes is None:
            return None
        b, votes = r.battle, r.battle.votes
        return {"sides": [pane.label for pane in r.order], "side_names": list(SIDE_NAMES),
                "votes": asdict(votes), "result": votes.winner_text(), "counted": b.counted,
                "not_counted": b.not_counted}

    def refresh_reveal(self) -> None:
        """Draw the reveal table again for the current look (compact in presentation mode)."""
        r = self.round
        if self.active and r is not None and r.voted and r.battle is not None:
            self.bar.result.setText(reveal_table(r.battle, compact=self.w.presentation))

    def regenerate(self) -> None:
        """Same prompt, a new seed for both, sides drawn again; the old round stays stored as it was."""
        r = self.round
        if r is None or any(p.busy for p in self.w.panes):
            return
        seed = self._regen_rng.randrange(1, 2**31)
        self._next_overrides = {p.index: {"seed": seed} if p.settings.sampling.temperature else
                                {"seed": seed, "temperature": REGENERATE_TEMPERATURE} for p in self.w.panes}
        self.round = None  # an unvoted round stays stored, unvoted, never counted
        self.bar.set_voting(False)
        self.bar.save_button.setEnabled(False)
        self.w.prompt.setEnabled(True)
        self.w.prompt.setPlainText(r.prompt)
        self.w.send()
        if self.round is not None:
            greedy = (f" (temperature {REGENERATE_TEMPERATURE}: at 0 every seed gives the same answer)"
                      if any("temperature" in o for o in self.round.overrides.values()) else "")
            self.w.banner.setText(f"Regenerating with seed {seed}{greedy}; sides drawn again.")

    def new_round(self) -> None:
        self.w.new_chat()

    def on_new_chat(self) -> None:
        """The window cleared its panes: an unvoted round is left as stored, unvoted."""
        self.round = None
        self.bar.set_voting(False)
        self.bar.save_button.setEnabled(False)
        self.bar.result.setText("")
        self.w.prompt.setEnabled(True)
        self.w.prompt.setFocus()
        if self.active:
            self._hide_identities()
            self.w.banner.setText("New round: type a prompt and press Ctrl+Enter.")
        self._set_tabs()


def side_name(pos: int) -> str:
    """The blind name of a place: Model 1 on the left, Model 2 beside it (3, 4 before a pair is drawn)."""
    return SIDE_NAMES[pos] if pos < len(SIDE_NAMES) else f"Model {pos + 1}"


def _fmt(v: float | None, spec: str, unit: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{unit}"


def reveal_table(b: Battle, compact: bool = False) -> str:
    """Who was who, with the full stats, as a small rich-text table; compact (presentation
    mode): fewer columns, so in large type it stays one line a side and the answers stay in view."""
    head = ("side", "model", "file", "gen t/s", "ms/token p50", "TTFT", "time to answer", "tokens", "stop")
    keep = (0, 1, 4, 6, 7) if compact else tuple(range(len(head)))
    rows = []
    for pos, s in enumerate(b.sides):
        sp = s.speed
        cells = (SIDE_NAMES[pos], s.contender.name, f"{s.contender.file_name} · {s.contender.file_hash[:8]}",
                 _fmt(sp.get("gen_tps"), ".1f"), _fmt(sp.get("ms_per_token_p50"), ".1f", " ms"),
                 _fmt(sp.get("ttft_s") and sp["ttft_s"] * 1000, ".0f", " ms"),
                 _fmt(sp.get("time_to_answer_s"), ".2f", " s"), str(sp.get("n_tokens", "-")),
                 (s.error or s.stop_reason or "not run").replace("_", " "))
        rows.append(cells)
    th = "".join(f"<th align='left'>{html.escape(head[k])}&nbsp;&nbsp;</th>" for k in keep)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(r[k])}&nbsp;&nbsp;</td>" for k in keep) + "</tr>" for r in rows)
    return f"<table cellspacing='0'><tr>{th}</tr>{trs}</table>"
