"""The main window: two to four panes, live charts, one prompt box, race or fair.

The window schedules nothing and keeps no score: Send hands each ready pane's
request to the compare session (through its Qt adapter, SessionRunner), the
panes show what the session reports, and the banner and buttons render the
session's published state (engine/round_state.py). Fair mode's side-by-side
replay is the session's too: its replay player plays the recorded runs.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine.api import (
    FAIR,
    LOADING_REASON,
    RACE,
    READY_AFTER_LOADING,
    CompareResult,
    CompareSession,
    MemorySampler,
    RoundState,
    RunStarted,
    default_threads,
    markdown_table,
    stats_rows,
)
from gemmacompare.engine.api import protocol as p
from gemmacompare.models.library import LibraryScan
from gemmacompare.state.chat_log import ChatLog
from gemmacompare.state.defaults import MAX_MODELS
from gemmacompare.state.settings import AppSettings, LoadedSettings, PaneSettings, save_settings
from gemmacompare.state.settings_table import window_defaults

from .arena_blind import BlindArena
from .arena_board import LeaderboardTab
from .bench_tab import BenchmarkTab
from .charts import LiveCharts
from .gc_guard import collect_in_gui_thread_only
from .get_models import GetModelsDialog
from .menus import build_menus, rebuild_pane_menu
from .model_catalog import ModelCatalog
from .pane import ModelPane
from .prompt_box import PromptEdit, examples_strip
from .run_file_actions import RunFileActions
from .session_runner import SessionRunner
from .speculation_ab import MODE_LABEL, SpeculationABDialog, open_ab
from .stats_format import ttft_by_turn
from .sweep_tab import SweepTab
from .theme import PANE_COLOURS, apply_theme
from .window_geometry import first_start_geometry, opens_maximized

log = logging.getLogger(__name__)

LABELS = ["A", "B", "C", "D"][:MAX_MODELS]
# At 1024x640 the charts left each answer two lines; below this window height they fold away.
CHARTS_FOLD_BELOW_PX = 700
BENCH_JOB = "A benchmark is running; its figures and these would disturb each other. Stop it first."
SWEEP_JOB = "A context sweep is running; its figures and these would disturb each other. Stop it first."


CHARTS_FOLDED_NOTE = (f"Charts folded away below {CHARTS_FOLD_BELOW_PX} px of window height, "
                      "so the answers have room; Ctrl+G shows them.")


class MainWindow(QMainWindow):
    compare_finished = Signal()  # every pane done with the current prompt (and its replay, in fair mode)
    # Made by menus.build_menus:
    save_run_action: QAction
    copy_action: QAction
    add_action: QAction
    show_charts_action: QAction
    presentation_action: QAction
    blind_action: QAction
    pane_settings_menu: QMenu

    def __init__(self, loaded: LoadedSettings, initial_models: list[str] | None = None) -> None:
        super().__init__()
        self.setWindowTitle("gemmacompare")
        self.setAcceptDrops(True)  # a dropped .gcrun replays (a .gguf goes to the pane it is dropped on)
        self.settings: AppSettings = loaded.settings
        self.total_threads = default_threads()
        self.sampler = MemorySampler().start()
        self.sampler.pause()  # resumed while a reply streams
        self.chat_log: ChatLog | None = None
        self.presentation = False
        self.closing = False
        self._base_point = QApplication.font().pointSizeF()
        initial = list(initial_models or [])
        self.catalog = ModelCatalog(self, initial)
        self.files = RunFileActions(self)
        self.save_run, self.open_run = self.files.save_run, self.files.open_run
        self.open_get_models, self.refresh_model_choices = self.catalog.open_get_models, self.catalog.refresh

        # As many panes as were open last time, or as models named at start (two to four).
        n_panes = max(len(self.settings.panes), min(MAX_MODELS, len(initial)))
        if n_panes > len(self.settings.panes):
            extra = n_panes - len(self.settings.panes)
            self.settings = replace(self.settings, panes=(*self.settings.panes, *([window_defaults()] * extra)),
                                    models=(*self.settings.models, *([""] * extra)))
        self.session = CompareSession(LABELS[:n_panes], sampler=self.sampler)
        self.runner = SessionRunner(self.session, self)
        self.runner.loaded.connect(self._on_loaded)
        self.runner.load_failed.connect(lambda i, msg: self.panes[i].on_load_failed(msg))
        self.runner.events.connect(lambda i, batch: self.panes[i].on_events(batch))
        self.runner.run_started.connect(self._on_run_started)
        self.runner.round_finished.connect(self._on_round_finished)
        self.runner.replay_started.connect(self._on_replay_started)
        self.runner.replay_events.connect(lambda i, batch: self.panes[i].on_replay_events(batch))
        self.runner.replay_finished.connect(self._on_replay_finished)
        self.runner.state_changed.connect(self._on_state)
        self.panes: list[ModelPane] = []
        for i in range(n_panes):
            self._make_pane(i, LABELS[i], self.settings.panes[i])
        self.charts = LiveCharts([p.label for p in self.panes], [p.colour for p in self.panes])
        self.charts.sources = [pane.series for pane in self.panes]
        self.charts.now = lambda: max((p.elapsed() for p in self.panes), default=0.0)
        self._build()
        build_menus(self)
        self.bench_tab.running_changed.connect(lambda on: self.session.set_job(BENCH_JOB if on else ""))
        self.sweep_tab.running_changed.connect(lambda on: self.session.set_job(SWEEP_JOB if on else ""))
        self._charts_folded = False
        self._charts_forced = False
        self._place_charts()
        self.show_charts_action.setChecked(self.settings.charts_visible)
        if not (self.settings.geometry and
                self.restoreGeometry(QByteArray.fromBase64(self.settings.geometry.encode()))):
            available = (self.screen() or QApplication.primaryScreen()).availableGeometry()
            self.setGeometry(first_start_geometry(available, self.minimumSizeHint()))
            if opens_maximized(available):
                # Maximized, not a window as large as the screen: that put the
                # title bar off screen and shrank by the frame at each restore.
                self.setWindowState(Qt.WindowState.WindowMaximized)
        self._apply_look()
        if loaded.message:
            self.banner.setText(loaded.message)
        # Before the first background thread: garbage collection must stay in this thread.
        collect_in_gui_thread_only()
        self.catalog.start()
        self._update_buttons()
        # A newcomer types a question first thing; it must land in the prompt.
        self.prompt.setFocus()

    @property
    def demos(self) -> list[tuple[str, str]]:
        return self.catalog.demos

    @property
    def library(self) -> LibraryScan | None:
        return self.catalog.library

    @property
    def get_models_dialog(self) -> GetModelsDialog | None:
        return self.catalog.get_models_dialog

    def _make_pane(self, index: int, label: str, settings: PaneSettings) -> ModelPane:
        pane = ModelPane(index, label, PANE_COLOURS[LABELS.index(label)], self.runner, settings)
        pane.finished.connect(self._on_pane_finished)
        pane.state_changed.connect(self._update_buttons)
        pane.model_chosen.connect(self._on_model_chosen)
        pane.settings_changed.connect(self._save_pane_settings)
        pane.get_models_requested.connect(self.catalog.open_get_models)
        pane.add_folder_requested.connect(self.catalog.add_folder)
        pane.remove_requested.connect(self.remove_pane)
        self.panes.insert(index, pane)
        return pane

    # --- adding and removing models -------------------------------------------

    @property
    def busy(self) -> bool:
        """The session is busy (a round, its replay, a load or a benchmark); busy_reason says why."""
        return self.runner.state.busy

    def busy_reason(self) -> str:
        """Why a round, a rerun or a claim check must wait now, or ""."""
        return self.runner.state.reason

    def add_pane(self) -> ModelPane | None:
        """A third or fourth model: its own pane, colour, curves and stats line."""
        if len(self.panes) >= MAX_MODELS:
            self.banner.setText(f"At most {MAX_MODELS} models side by side; remove one (its ✕) to add another.")
            return None
        if self.runner.state.in_progress or self.arena.active:
            self.banner.setText("Wait for the answers (or press Esc), and leave blind mode, before adding a model.")
            return None
        label = next(x for x in LABELS if x not in {p.label for p in self.panes})
        index = self.session.add_slot(label)
        pane = self._make_pane(index, label, window_defaults())
        pane.set_compact(self.presentation)
        self.arena.watch_pane(pane)
        self.hsplit.addWidget(pane)
        self._panes_changed()
        pane.set_choices(self.demos, list(self.settings.recent_models), self.library)
        self.catalog.refresh()
        pane.chooser.setFocus()
        added = f"Model {label} added: pick its model above the new pane."
        self.banner.setText(added)
        # Once its model is in, the sentence is stale (any other sentence since is left alone).
        def loaded(_index: int) -> None:
            if pane.ready and self.banner.text() == added:
                self.banner.setText("")

        pane.state_changed.connect(loaded)
        return pane

    def remove_pane(self, index: int) -> None:
        if len(self.panes) <= 2:
            self.banner.setText("Two models at least: pick another model in this pane instead.")
            return
        if self.busy:
            self.banner.setText("Wait for the answers or the load to finish (or press Esc) before removing a model.")
            return
        pane = self.panes.pop(index)
        self.session.remove_slot(index)
        for i, other in enumerate(self.panes):
            other.index = i
        pane.hide()
        pane.setParent(None)
        pane.deleteLater()
        self._panes_changed()
        self.catalog.refresh()
        # The last round's verdict ranked this model: it went with it (the session forgot the round).
        self.banner.setText(f"Model {pane.label} removed.")

    def _panes_changed(self) -> None:
        """Charts, menus, settings and the Benchmark tab follow the panes."""
        self.charts.set_labels([p.label for p in self.panes], [p.colour for p in self.panes])
        self.charts.sources = [pane.series for pane in self.panes]
        for pane in self.panes:
            pane.set_removable(len(self.panes) > 2)
        self.add_action.setEnabled(len(self.panes) < MAX_MODELS)
        self.settings = replace(self.settings, models=tuple(p.model_path or "" for p in self.panes),
                                panes=tuple(p.settings for p in self.panes))
        self.bench_tab.set_models([p.model_path for p in self.panes if p.model_path],
                                  [p.display_name for p in self.panes if p.model_path])
        self.sweep_tab.set_models([p.model_path for p in self.panes if p.model_path],
                                  [p.display_name for p in self.panes if p.model_path])
        rebuild_pane_menu(self)
        self.save()
        self._update_buttons()

    # --- layout --------------------------------------------------------------

    def _build(self) -> None:
        compare = QWidget()
        outer = QVBoxLayout(compare)
        outer.setContentsMargins(6, 6, 6, 6)
        self.vsplit = QSplitter(Qt.Orientation.Vertical)
        self.hsplit = QSplitter(Qt.Orientation.Horizontal)
        for pane in self.panes:
            self.hsplit.addWidget(pane)
        self.vsplit.addWidget(self.hsplit)
        self.vsplit.addWidget(self.charts)
        self.vsplit.setStretchFactor(0, 2)
        self.vsplit.setStretchFactor(1, 1)
        self.vsplit.setSizes([560, 280])
        # Title, axis and label take ~90 px; below this a 720p screen left no
        # room for the curves themselves.
        self.charts.setMinimumHeight(205)
        outer.addWidget(self.vsplit, 1)

        self.banner = QLabel("")
        self.banner.setTextFormat(Qt.TextFormat.PlainText)  # it quotes file and model names: a stranger's
        self.banner.setObjectName("raceBanner")
        self.banner.setWordWrap(True)
        outer.addWidget(self.banner)
        self.arena = BlindArena(self)
        outer.addWidget(self.arena.bar)
        self.prompt = PromptEdit()
        self.examples = examples_strip(self, self.prompt.use)
        outer.addWidget(self.examples)

        bottom = QHBoxLayout()
        self.prompt.setObjectName("prompt")
        self.prompt.setPlaceholderText("Ask the models… (Ctrl+Enter to send, Esc to stop)")
        self.prompt.setFixedHeight(self.prompt.fontMetrics().lineSpacing() * 3 + 16)
        self.prompt.submitted.connect(self.send)
        bottom.addWidget(self.prompt, 1)
        # Two buttons a row: the prompt row stays three lines high, which leaves the
        # answers their room on a 720-line screen and in presentation mode.
        col = QGridLayout()
        self.send_button = QPushButton("Send  (Ctrl+Enter)")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop  (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.new_button = QPushButton("New chat")
        self.new_button.clicked.connect(self.new_chat)
        self.replay_button = QPushButton("Replay side by side")
        self.replay_button.setToolTip("Play the fair-mode answers at their recorded speeds, starting together")
        self.replay_button.clicked.connect(self.start_replay)
        modes = QHBoxLayout()
        # Shortcuts of their own, shown in the labels (Alt+F and Alt+C already open menus).
        self.race_radio = QRadioButton("Race  Ctrl+1")
        self.race_radio.setToolTip("All models at once, CPU threads split between them (Ctrl+1)")
        self.fair_radio = QRadioButton("Fair  Ctrl+2")
        self.fair_radio.setToolTip("One after the other with all threads each, then replayed side by side (Ctrl+2)")
        self.ab_radio = QRadioButton("A/B  Ctrl+3")
        self.ab_radio.setToolTip(f"{MODE_LABEL}: pane A's model without and with the speculation its ⚙ sets, "
                                 "fair, a few runs, with the speed-up and the draft's acceptance (Ctrl+3)")
        self.ab_dialog: SpeculationABDialog | None = None
        for key, radio in (("Ctrl+1", self.race_radio), ("Ctrl+2", self.fair_radio), ("Ctrl+3", self.ab_radio)):
            QShortcut(QKeySequence(key), self, lambda r=radio: r.isEnabled() and r.setChecked(True))
        group = QButtonGroup(self)
        group.addButton(self.race_radio)
        group.addButton(self.fair_radio)
        group.addButton(self.ab_radio)
        (self.fair_radio if self.settings.mode == FAIR else self.race_radio).setChecked(True)
        self.race_radio.toggled.connect(self._on_mode)
        self.ab_radio.toggled.connect(self._on_mode)
        modes.addWidget(self.race_radio)
        modes.addWidget(self.fair_radio)
        modes.addWidget(self.ab_radio)
        col.addLayout(modes, 0, 0, 1, 2)
        for k, b in enumerate((self.send_button, self.stop_button, self.new_button, self.replay_button)):
            col.addWidget(b, 1 + k // 2, k % 2)
        bottom.addLayout(col)
        outer.addLayout(bottom)

        self.tabs = QTabWidget()
        self.tabs.addTab(compare, "Compare")
        self.bench_tab = BenchmarkTab()
        self.tabs.addTab(self.bench_tab, "Benchmark")
        self.tabs.setTabToolTip(1, "Benchmark several prompts or a task file, with scores (Ctrl+B)")
        self.leaderboard = LeaderboardTab(self.arena.store)
        self.tabs.addTab(self.leaderboard, "Arena")
        self.tabs.setTabToolTip(2, "The blind arena's leaderboard (Ctrl+L)")
        self.sweep_tab = SweepTab()
        self.tabs.addTab(self.sweep_tab, "Context sweep")
        self.tabs.setTabToolTip(3, "Speed and memory as the context grows, the panes' models side by side")
        self.arena.vote_stored.connect(self.leaderboard.refresh)
        self.tabs.currentChanged.connect(self._on_tab)
        self.setCentralWidget(self.tabs)
        self.statusBar().showMessage(f"{self.total_threads} CPU threads · mode: {self.mode}")
        for pane in self.panes:
            pane.set_removable(len(self.panes) > 2)

    # --- models --------------------------------------------------------------

    def _on_model_chosen(self, index: int, path: str) -> None:
        self.arena.on_model_changed(index)
        # The Benchmark tab compares whatever the panes hold.
        self.bench_tab.set_models([p.model_path for p in self.panes if p.model_path],
                                  [p.display_name for p in self.panes if p.model_path])
        self.sweep_tab.set_models([p.model_path for p in self.panes if p.model_path],
                                  [p.display_name for p in self.panes if p.model_path])
        self.settings = replace(self.settings, models=tuple(p.model_path or "" for p in self.panes))
        if not any(path == d[1] for d in self.demos):
            self.settings = self.settings.with_recent(path)
        self.catalog.refresh()
        self.save()

    def _save_pane_settings(self, index: int) -> None:
        self.settings = replace(self.settings, panes=tuple(p.settings for p in self.panes))
        self.save()

    def _on_loaded(self, index: int, ev: p.Loaded) -> None:
        self.panes[index].on_loaded(ev)
        self.charts.refresh()  # a model on a GPU: the memory plot's title says what llama.cpp put there

    # --- the round: sent here, run and published by the session -----------------

    @property
    def mode(self) -> str:
        """The session's mode; the A/B runs fair (its own session: engine/speculation_ab.py)."""
        return RACE if self.race_radio.isChecked() else FAIR

    def _on_mode(self) -> None:
        self.settings = replace(self.settings, mode=self.mode)
        shown = MODE_LABEL if self.ab_radio.isChecked() else self.mode
        self.statusBar().showMessage(f"{self.total_threads} CPU threads · mode: {shown}")
        self.save()

    def _on_state(self, state: RoundState) -> None:
        self._update_buttons()
        # Send pressed while a model loaded was refused with a sentence; once loading ends it is stale.
        if not state.busy and self.banner.text() == LOADING_REASON:
            self.banner.setText(READY_AFTER_LOADING)

    def _update_buttons(self, *_args: object) -> None:
        state = self.runner.state
        going = state.in_progress
        self.send_button.setEnabled(any(p.ready for p in self.panes) and not state.busy)
        self.stop_button.setEnabled(going)
        self.new_button.setEnabled(not going)
        self.race_radio.setEnabled(not going)
        self.fair_radio.setEnabled(not going)
        self.ab_radio.setEnabled(not going and not self.arena.active)
        r = state.result
        self.replay_button.setEnabled(not state.busy and r is not None and r.mode == FAIR and r.complete)

    def send(self) -> None:
        text = self.prompt.toPlainText().strip()
        if not text or self.runner.state.in_progress:
            return
        if self.arena.active and not self.arena.before_send(text):
            return
        if self.runner.state.busy:
            self.banner.setText(self.runner.state.reason)
            return
        if self.ab_radio.isChecked() and not self.arena.active:
            opened = open_ab(sorted(self.panes, key=self.hsplit.indexOf), text, self, self.busy_reason)
            if isinstance(opened, str):
                self.banner.setText(opened)
                return
            self.ab_dialog = opened
            self.banner.setText(f"Speculation A/B running in its own window: {opened.windowTitle()}")
            self.prompt.remember(text)
            self.prompt.clear()
            return
        # Left to right, so fair mode runs whichever model is on the left first; a blind
        # round runs only the pair it drew.
        taking_part = self.arena.round.order if self.arena.active and self.arena.round else self.panes
        ready = [p.index for p in sorted(taking_part, key=self.hsplit.indexOf) if p.ready]
        if not ready:
            self.banner.setText("No model is ready yet: wait for loading to finish or pick a model.")
            return
        mode = self.mode
        commands = {i: self.panes[i].command(text, **self.arena.sampling_for(i)) for i in ready}
        # Replies from the same models stay on one scale, Send after Send.
        if not self.runner.start_round(commands, mode, self.total_threads, prompt=text):
            self.banner.setText(self.runner.state.reason or "The models are busy; wait for them and send again.")
            return
        self.charts.clear(keep_scales=self.charts.same_models(tuple(pane.model_path for pane in self.panes)))
        if self.chat_log is None:
            self.chat_log = ChatLog.new()
        self.chat_log.append({"role": "user", "content": text, "mode": mode,
                              "models": [p.model_path for p in self.panes]})
        self.prompt.remember(text)
        self.prompt.clear()
        self.examples.hide()  # the first question is asked: the room has seen how
        self.banner.setText(self.runner.state.headline())  # the split: names no model, blind or not
        for k, i in enumerate(ready):
            self.panes[i].clear_run()  # fair mode: a waiting model shows no curve of the last round
            if mode == FAIR and k:
                self.panes[i].show_waiting(f"Waiting for its turn: fair mode runs one model at a time ({k} before it).")
        self.charts.start()
        self._update_buttons()
        self.prompt.setFocus()

    def _on_run_started(self, index: int, started: RunStarted) -> None:
        state = self.runner.state
        self.panes[index].begin_run(state.prompt, started, state.split_note(index))

    def stop(self) -> None:
        """Esc: the round stops; a replay jumps to its end (whole answers, the same stats)."""
        self.runner.stop()
        self._update_buttons()
        self.prompt.setFocus()

    def new_chat(self) -> None:
        if self.runner.state.in_progress:
            return
        for pane in self.panes:
            pane.new_chat()
        self.charts.clear(keep_scales=True)  # a new conversation, the same models
        self.banner.setText("")
        self.chat_log = None
        self.session.forget_result()
        self.examples.show()
        self.arena.on_new_chat()
        self._update_buttons()
        self.prompt.setFocus()

    def _on_pane_finished(self, index: int) -> None:
        pane = self.panes[index]
        rec = pane.record
        if self.chat_log is not None and rec is not None:
            self.chat_log.append({
                "role": "assistant", "pane": pane.label, "model": pane.model_path, "mode": self.runner.state.mode,
                "content": rec.answer, "thinking": rec.thinking,
                "error": rec.error.message if rec.error else None,
                "stats": rec.stats().to_dict() if rec.finished else None,
            })
        self._update_buttons()

    def _on_round_finished(self, result: CompareResult) -> None:
        for pane in self.panes:
            pane.round_ended()
        self.charts.stop()
        # Fair mode replays its answers side by side; the verdict waits for the replay's end.
        if not (result.mode == FAIR and self.start_replay()):
            self._announce()
            self.compare_finished.emit()
        self._update_buttons()

    def _announce(self) -> None:
        """The banner says what the session's state says (the arena announces its rounds without names)."""
        text = self.runner.state.headline()
        turns = ttft_by_turn({pane.label: pane.turn_ttfts for pane in self.panes})
        if turns:
            text = f"{text} · {turns}" if text else turns
        if text and not self.arena.active:
            self.banner.setText(text)

    def start_replay(self) -> bool:
        if not self.runner.start_replay():
            return False
        self.charts.clear(keep_scales=True)
        self.charts.start()
        self._update_buttons()
        return True

    def _on_replay_started(self, index: int, started: RunStarted) -> None:
        self.panes[index].begin_replay(started)
        self._announce()

    def _on_replay_finished(self, _result: CompareResult) -> None:
        self.charts.stop()
        self._announce()
        self._update_buttons()
        self.prompt.setFocus()
        self.compare_finished.emit()

    # --- tabs, charts and results -------------------------------------------

    def set_blind(self, on: bool) -> None:
        if not self.arena.set_active(on):
            self.blind_action.blockSignals(True)
            self.blind_action.setChecked(self.arena.active)
            self.blind_action.blockSignals(False)

    def _on_tab(self, index: int) -> None:
        if self.tabs.widget(index) is self.leaderboard:
            self.leaderboard.refresh()

    def set_charts_visible(self, on: bool) -> None:
        if not on and self._charts_folded:
            # Ctrl+G on folded charts means "show them": shown all the same on this small window.
            self._charts_forced = True
            self.show_charts_action.blockSignals(True)
            self.show_charts_action.setChecked(True)
            self.show_charts_action.blockSignals(False)
            self._place_charts()
            return
        self._charts_forced = on and self._charts_fold()
        self.settings = replace(self.settings, charts_visible=on)
        self._place_charts()
        self.save()

    def _charts_fold(self) -> bool:
        """Below this height the charts would leave each answer two lines: they fold away."""
        return self.height() < CHARTS_FOLD_BELOW_PX

    def _place_charts(self) -> None:
        folded = self.settings.charts_visible and self._charts_fold() and not self._charts_forced
        self.charts.setVisible(self.settings.charts_visible and not folded)
        if folded != self._charts_folded:
            self._charts_folded = folded
            if folded and self.isVisible():  # not for a brief size before the first show
                self.statusBar().showMessage(CHARTS_FOLDED_NOTE, 8000)
            elif not folded and self.statusBar().currentMessage() == CHARTS_FOLDED_NOTE:
                self.statusBar().clearMessage()

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(ev)
        if hasattr(self, "_charts_forced"):  # not before __init__ has built everything
            self._place_charts()

    def export_charts(self, path: str) -> bool:
        self.charts.refresh()
        return self.charts.grab().save(path)

    def export_charts_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export charts", "gemmacompare-charts.png", "PNG images (*.png)")
        if path and not self.export_charts(path):
            self.banner.setText(f"Could not write {path}; pick another folder.")

    def results_markdown(self) -> str:
        runs = [p.record for p in self.panes if p.record is not None]
        if not runs:
            return ""
        result = CompareResult(self.runner.state.mode, self.total_threads, runs=runs,
                               loaded=[p.loaded for p in self.panes if p.record is not None])
        labels = [self.arena.display_label(p) for p in self.panes if p.record is not None]
        return markdown_table(stats_rows(result, labels))

    def copy_results(self) -> None:
        md = self.results_markdown()
        if md:
            QApplication.clipboard().setText(md)
            self.statusBar().showMessage("Results copied as Markdown", 3000)

    def dragEnterEvent(self, ev: QDragEnterEvent) -> None:  # noqa: N802
        if self.files.dropped_run_file(ev):
            ev.acceptProposedAction()

    def dropEvent(self, ev: QDropEvent) -> None:  # noqa: N802
        path = self.files.dropped_run_file(ev)
        if path:
            ev.acceptProposedAction()
            self.open_run(path)

    # --- looks ---------------------------------------------------------------

    def _apply_look(self) -> None:
        app = QApplication.instance()
        assert isinstance(app, QApplication)  # a window needs one
        self.theme_name = apply_theme(app, self.settings.theme, self.presentation, self._base_point)
        self.charts.set_dark(self.theme_name != "light")
        self.bench_tab.charts.set_dark(self.theme_name != "light")
        self.sweep_tab.charts.set_dark(self.theme_name != "light")
        self.leaderboard.set_dark(self.theme_name != "light")
        # A label's rich text keeps the link colour of the look it was first laid out in (pure blue
        # on black after F11); laid out again, it takes the new palette's.
        links = self.examples.text()
        self.examples.setText("")
        self.examples.setText(links)

    def set_theme(self, name: str) -> None:
        self.settings = replace(self.settings, theme=name)
        self._apply_look()
        self.save()

    def set_presentation(self, on: bool) -> None:
        self.presentation = on
        self._apply_look()
        # Large type leaves the answers little room, more so with three or four panes: the
        # facts lines (the picker names the model, its tooltip has the rest) and a prompt
        # line give it back, and the charts may shrink further.
        for pane in self.panes:
            pane.facts_label.setVisible(not on and not self.arena.active)
            pane.set_compact(on)
        self.charts.setMinimumHeight(150 if on else 205)
        self.arena.refresh_reveal()  # the reveal table is compact in large type
        self.prompt.setFixedHeight(self.prompt.fontMetrics().lineSpacing() * (2 if on else 3) + 16)
        # Full screen on top of the window's state, so leaving it gives back the state it had
        # (maximised, or the size it was); showNormal() made a maximised window small.
        full = Qt.WindowState.WindowFullScreen
        self.setWindowState(self.windowState() | full if on else self.windowState() & ~full)
        self.show()
        # The keyboard stays with the window: typed text and Alt+F4 went nowhere until a click.
        self.activateWindow()
        self.prompt.setFocus()

    # --- persistence and shutdown -------------------------------------------

    def save(self) -> None:
        # Before the window is shown its geometry is Qt's 640x480 placeholder;
        # saving that made every first start open small.
        if not self.presentation and self.isVisible():
            geo = bytes(self.saveGeometry().toBase64().data()).decode()
            self.settings = replace(self.settings, geometry=geo)
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.statusBar().showMessage(f"Could not save settings: {exc.strerror}", 5000)

    def show_benchmark(self) -> None:
        if not self.tabs.isTabEnabled(self.tabs.indexOf(self.bench_tab)):
            self.banner.setText("The Benchmark tab names the models: it opens with blind mode off (F8).")
            return
        self.tabs.setCurrentWidget(self.bench_tab)

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: N802
        if not self.closing:
            self.closing = True
            self.save()  # while shown: the geometry is saved only then
            # The workers' shutdown takes a moment (longer on a loaded machine); the window goes
            # at once and the shutdown finishes behind it (settings and votes are already saved).
            self.hide()
            self.bench_tab.shutdown(timeout=1.0)
            self.sweep_tab.shutdown(timeout=1.0)
            self.runner.begin_close()
            self.runner.release()
            self.sampler.stop()
        super().closeEvent(ev)
