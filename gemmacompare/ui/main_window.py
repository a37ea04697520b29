"""The main window: two to four panes, live charts, one prompt box, race or fair.

The window schedules nothing: Send hands each ready pane's request to the compare
session (through its Qt adapter, SessionRunner), and the panes show what the
session reports.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine import protocol as p
from gemmacompare.engine.memory import MemorySampler
from gemmacompare.engine.model_refs import resolve_model
from gemmacompare.engine.modes import FAIR, RACE, default_threads
from gemmacompare.engine.remote.server_ref import is_server_ref
from gemmacompare.engine.report.speed_summary import busy_sentence, speed_summary
from gemmacompare.engine.report.stats_table import markdown_table, stats_rows
from gemmacompare.engine.run_file import RunFileError, compare_run_dict, read_run_file, write_run_file
from gemmacompare.engine.session import CompareResult, CompareSession, RunStarted
from gemmacompare.models.demo import DEMO_PROMPTS, demo_models
from gemmacompare.models.library import LibraryScan, ModelRefError, scan_library
from gemmacompare.state.chat_log import ChatLog
from gemmacompare.state.defaults import MAX_MODELS
from gemmacompare.state.settings import AppSettings, LoadedSettings, save_settings, window_defaults

from .arena_blind import BlindArena
from .arena_board import LeaderboardTab
from .bench_tab import BenchmarkTab
from .charts import LiveCharts
from .claim_dialog import ClaimDialog
from .gc_guard import collect_in_gui_thread_only
from .get_models import GetModelsDialog
from .pane import ModelPane
from .run_viewer import RunViewer
from .session_runner import SessionRunner
from .theme import PANE_COLOURS, apply_theme
from .window_geometry import first_start_geometry, opens_maximized

log = logging.getLogger(__name__)

LABELS = ["A", "B", "C", "D"][:MAX_MODELS]
# At 1024x640 the charts left each answer two lines; below this window height they fold away.
CHARTS_FOLD_BELOW_PX = 700


class PromptEdit(QPlainTextEdit):
    """The prompt box: Ctrl+Enter sends; Up in an empty box recalls earlier prompts, Down goes back."""

    submitted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = []
        self._recalled = 0  # how far back Up has gone; 0: not recalling

    def remember(self, text: str) -> None:
        if not self.history or self.history[-1] != text:
            self.history.append(text)
        self._recalled = 0

    def keyPressEvent(self, ev) -> None:  # noqa: N802
        if ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submitted.emit()
            return
        recalling = self._recalled and self.toPlainText() == self.history[-self._recalled]
        if ev.key() == Qt.Key.Key_Up and self.history and (not self.toPlainText() or recalling) \
                and self._recalled < len(self.history):
            self._recall(self._recalled + 1)
            return
        if ev.key() == Qt.Key.Key_Down and recalling:
            self._recall(self._recalled - 1)
            return
        super().keyPressEvent(ev)

    def _recall(self, depth: int) -> None:
        self._recalled = depth
        self.setPlainText(self.history[-depth] if depth else "")
        self.moveCursor(QTextCursor.MoveOperation.End)


class MainWindow(QMainWindow):
    demos_found = Signal(list)
    library_found = Signal(object)  # (LibraryScan, {pane: model or ModelRefError}), from the scan thread
    compare_finished = Signal()  # both panes done with the current prompt (and replay, in fair mode)

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
        self._base_point = QApplication.font().pointSizeF()
        self._last_mode = RACE  # the mode of the latest Send
        self._last_result: CompareResult | None = None  # the latest round's, from the session
        self._note = ""
        self._split = None  # the latest round's ThreadSplit
        self._text = ""
        self._replay_t0 = 0.0
        self._closing = False
        self.demos: list[tuple[str, str]] = []
        self.library: LibraryScan | None = None
        self.get_models_dialog: GetModelsDialog | None = None
        self._initial_models = list(initial_models or [])

        # As many panes as were open last time, or as models named at start (two to four).
        n_panes = max(len(self.settings.panes), min(MAX_MODELS, len(self._initial_models)))
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
        self.runner.busy_changed.connect(self._update_buttons)
        self.panes: list[ModelPane] = []
        for i in range(n_panes):
            self._make_pane(i, LABELS[i], self.settings.panes[i])
        self.charts = LiveCharts([p.label for p in self.panes], [p.colour for p in self.panes])
        self.charts.sources = [pane.series for pane in self.panes]
        self.charts.now = self._chart_now
        self._chart_models: tuple = ()  # the models whose replies the charts' scales were grown for
        self._replay_timer = QTimer(self)
        self._replay_timer.setInterval(30)
        self._replay_timer.timeout.connect(self._replay_tick)
        self._build()
        self._build_menus()
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
        self.demos_found.connect(self._on_demos)
        self.library_found.connect(self._on_library)
        # Before the first background thread: garbage collection must stay in this thread.
        collect_in_gui_thread_only()
        threading.Thread(target=self._find_demos, name="demo-models", daemon=True).start()
        self._update_buttons()
        # A newcomer types a question first thing; it must land in the prompt.
        self.prompt.setFocus()

    def _make_pane(self, index: int, label: str, settings) -> ModelPane:
        pane = ModelPane(index, label, PANE_COLOURS[LABELS.index(label)], self.runner, settings)
        pane.finished.connect(self._on_pane_finished)
        pane.state_changed.connect(self._update_buttons)
        pane.model_chosen.connect(self._on_model_chosen)
        pane.settings_changed.connect(self._save_pane_settings)
        pane.get_models_requested.connect(self.open_get_models)
        pane.add_folder_requested.connect(self.add_model_folder)
        pane.remove_requested.connect(self.remove_pane)
        self.panes.insert(index, pane)
        return pane

    # --- adding and removing models -------------------------------------------

    @property
    def busy(self) -> bool:
        """A round (or its fair-mode replay) is in progress."""
        return self.runner.round_active or self._replay_timer.isActive()

    def add_pane(self) -> ModelPane | None:
        """A third or fourth model: its own pane, colour, curves and stats line."""
        if len(self.panes) >= MAX_MODELS:
            self.banner.setText(f"At most {MAX_MODELS} models side by side; remove one (its ✕) to add another.")
            return None
        if self.busy or self.arena.active:
            self.banner.setText("Wait for the answers (or press Esc), and leave blind mode, before adding a model.")
            return None
        label = next(x for x in LABELS if x not in {p.label for p in self.panes})
        index = self.session.add_slot(label)
        pane = self._make_pane(index, label, window_defaults())
        self.arena.watch_pane(pane)
        self.hsplit.addWidget(pane)
        self._panes_changed()
        pane.set_choices(self.demos, list(self.settings.recent_models), self.library)
        self.refresh_model_choices()
        pane.chooser.setFocus()
        self.banner.setText(f"Model {label} added: pick its model above the new pane.")
        return pane

    def remove_pane(self, index: int) -> None:
        if len(self.panes) <= 2:
            self.banner.setText("Two models at least: pick another model in this pane instead.")
            return
        if self.busy or self.panes[index].busy:
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
        self.refresh_model_choices()

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
        self._rebuild_pane_menu()
        self.save()
        self._update_buttons()

    def _rebuild_pane_menu(self) -> None:
        self.pane_settings_menu.clear()
        for pane in self.panes:
            act = QAction(f"{pane.label} settings…", self)
            act.triggered.connect(pane.edit_settings)
            self.pane_settings_menu.addAction(act)

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
        self.banner.setObjectName("raceBanner")
        self.banner.setWordWrap(True)
        outer.addWidget(self.banner)
        self.arena = BlindArena(self)
        outer.addWidget(self.arena.bar)
        outer.addWidget(self._build_examples())

        bottom = QHBoxLayout()
        self.prompt = PromptEdit()
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
        for key, radio in (("Ctrl+1", self.race_radio), ("Ctrl+2", self.fair_radio)):
            QShortcut(QKeySequence(key), self, activated=lambda r=radio: r.isEnabled() and r.setChecked(True))
        group = QButtonGroup(self)
        group.addButton(self.race_radio)
        group.addButton(self.fair_radio)
        (self.fair_radio if self.settings.mode == FAIR else self.race_radio).setChecked(True)
        self.race_radio.toggled.connect(self._on_mode)
        modes.addWidget(self.race_radio)
        modes.addWidget(self.fair_radio)
        col.addLayout(modes, 0, 0, 1, 2)
        for k, b in enumerate((self.send_button, self.stop_button, self.new_button, self.replay_button)):
            col.addWidget(b, 1 + k // 2, k % 2)
        bottom.addLayout(col)
        outer.addLayout(bottom)

        self.tabs = QTabWidget()
        self.tabs.addTab(compare, "Compare")
        self.bench_tab = BenchmarkTab()
        self.tabs.addTab(self.bench_tab, "Benchmark")
        self.leaderboard = LeaderboardTab(self.arena.store)
        self.tabs.addTab(self.leaderboard, "Arena")
        self.arena.vote_stored.connect(self.leaderboard.refresh)
        self.tabs.currentChanged.connect(self._on_tab)
        self.setCentralWidget(self.tabs)
        self.statusBar().showMessage(f"{self.total_threads} CPU threads · mode: {self.mode}")
        for pane in self.panes:
            pane.set_removable(len(self.panes) > 2)

    def _build_examples(self) -> QWidget:
        """A few prompts both demo models really answer, for a first try: a click or Alt+1..3 fills the box.

        One wrapping line of links, not a row of buttons: buttons set a minimum width
        that made the window wider than a small screen.
        """
        links = " &nbsp;·&nbsp; ".join(f"<a href='{k}'>{k} {html.escape(text)}</a>"
                                       for k, (text, _expected) in enumerate(DEMO_PROMPTS, start=1))
        self.examples = QLabel(f"Try (Alt+1..{len(DEMO_PROMPTS)}): {links}")
        self.examples.setObjectName("examples")
        self.examples.setTextFormat(Qt.TextFormat.RichText)
        self.examples.setWordWrap(True)
        self.examples.setContentsMargins(6, 0, 6, 0)
        self.examples.linkActivated.connect(lambda k: self.use_example(DEMO_PROMPTS[int(k) - 1][0]))
        for k, (text, _expected) in enumerate(DEMO_PROMPTS, start=1):
            QShortcut(QKeySequence(f"Alt+{k}"), self, activated=lambda t=text: self.use_example(t))
        return self.examples

    def use_example(self, text: str) -> None:
        self.prompt.setPlainText(text)
        self.prompt.moveCursor(QTextCursor.MoveOperation.End)
        self.prompt.setFocus()

    def _build_menus(self) -> None:
        m = self.menuBar()
        file_menu = m.addMenu("&File")
        for i, pane in enumerate(self.panes):
            act = QAction(f"Open model for {pane.label}…", self)
            act.setShortcut(QKeySequence("Ctrl+O" if i == 0 else "Ctrl+Shift+O"))
            act.triggered.connect(pane.open_dialog)
            file_menu.addAction(act)
        file_menu.addSeparator()
        self.save_run_action = QAction("Save run…", self)
        self.save_run_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_run_action.setToolTip("A file anyone can replay, and rerun on their machine (gemmacompare rerun)")
        self.save_run_action.triggered.connect(self.save_run_dialog)
        file_menu.addAction(self.save_run_action)
        open_run = QAction("Open run…", self)
        open_run.setShortcut(QKeySequence("Ctrl+Shift+R"))
        open_run.triggered.connect(self.open_run_dialog)
        file_menu.addAction(open_run)
        rerun = QAction("Rerun a run file on this machine…", self)
        rerun.setShortcut(QKeySequence("Ctrl+Shift+U"))
        rerun.setToolTip("Open a run file, find its models here, run them with its settings, theirs beside yours")
        rerun.triggered.connect(self.rerun_dialog)
        file_menu.addAction(rerun)
        claim = QAction("Check a claim…", self)
        claim.setShortcut(QKeySequence("Ctrl+K"))
        claim.setToolTip('Does "A 45 ms/token, B 110" hold on this machine? Measured with a 95% interval')
        claim.triggered.connect(self.open_claim_dialog)
        file_menu.addAction(claim)
        file_menu.addSeparator()
        self.copy_action = QAction("Copy results as Markdown", self)
        self.copy_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_action.triggered.connect(self.copy_results)
        file_menu.addAction(self.copy_action)
        export = QAction("Export charts as PNG…", self)
        export.setShortcut(QKeySequence("Ctrl+E"))
        export.triggered.connect(self.export_charts_dialog)
        file_menu.addAction(export)
        file_menu.addSeparator()
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        chat_menu = m.addMenu("&Chat")
        self.add_action = QAction("Add a model", self)
        self.add_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.add_action.setToolTip(f"A third or fourth pane (at most {MAX_MODELS})")
        self.add_action.triggered.connect(self.add_pane)
        self.add_action.setEnabled(len(self.panes) < MAX_MODELS)
        chat_menu.addAction(self.add_action)
        new = QAction("New chat", self)
        new.setShortcut(QKeySequence("Ctrl+N"))
        new.triggered.connect(self.new_chat)
        chat_menu.addAction(new)
        stop = QAction("Stop all", self)
        stop.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        stop.triggered.connect(self.stop)
        chat_menu.addAction(stop)
        self.pane_settings_menu = chat_menu.addMenu("Model settings")
        self._rebuild_pane_menu()

        models_menu = m.addMenu("&Models")
        get = QAction("Get models from the Hugging Face Hub…", self)
        get.setShortcut(QKeySequence("Ctrl+Shift+M"))
        get.triggered.connect(self.open_get_models)
        models_menu.addAction(get)
        add = QAction("Add a folder of models…", self)
        add.triggered.connect(self.add_model_folder)
        models_menu.addAction(add)
        rescan = QAction("Look for models again", self)
        rescan.setShortcut(QKeySequence("F5"))
        rescan.triggered.connect(self.rescan_library)
        models_menu.addAction(rescan)

        view = m.addMenu("&View")
        self.show_charts_action = QAction("Show charts", self, checkable=True)
        self.show_charts_action.setShortcut(QKeySequence("Ctrl+G"))
        self.show_charts_action.triggered.connect(self.set_charts_visible)  # the user's, not setChecked's
        view.addAction(self.show_charts_action)
        self.presentation_action = QAction("Presentation mode", self, checkable=True)
        self.presentation_action.setShortcut(QKeySequence(Qt.Key.Key_F11))
        self.presentation_action.toggled.connect(self.set_presentation)
        view.addAction(self.presentation_action)
        view.addSeparator()
        self.blind_action = QAction("Blind arena", self, checkable=True)
        self.blind_action.setShortcut(QKeySequence(Qt.Key.Key_F8))
        self.blind_action.toggled.connect(self.set_blind)
        view.addAction(self.blind_action)
        board = QAction("Arena leaderboard", self)
        board.setShortcut(QKeySequence("Ctrl+L"))
        board.triggered.connect(self.arena.show_leaderboard)
        view.addAction(board)
        QShortcut(QKeySequence("Ctrl+R"), self, activated=self.arena.regenerate)
        theme_menu = view.addMenu("Theme")
        group = QActionGroup(self)
        for name in ("system", "light", "dark"):
            act = QAction(name.capitalize(), self, checkable=True)
            act.setChecked(self.settings.theme == name)
            act.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            group.addAction(act)
            theme_menu.addAction(act)
        # Ctrl+Enter also works when focus is outside the prompt box.
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.send)

    # --- models --------------------------------------------------------------

    def _find_demos(self) -> None:
        try:
            found = [(d.label, str(d.path)) for d in demo_models()]
        except Exception as exc:  # noqa: BLE001 - the app works without demos
            log.warning("demo models unavailable: %s", exc)
            found = []
        self.demos_found.emit(found)
        self._scan_library()

    def _scan_library(self) -> None:
        """Runs on a worker thread: the window never waits for the disk."""
        try:
            scan = scan_library(folders=self.settings.model_folders)
        except Exception as exc:  # noqa: BLE001 - the app works without the library
            log.warning("model library scan failed: %s", exc, exc_info=True)
            scan = LibraryScan([], [], [f"scan failed: {type(exc).__name__}"])
        # Names given at start are resolved here too: `ollama:` may ask the Ollama server.
        wanted: dict[int, str | ModelRefError] = {}
        for i in range(len(self.panes)):
            name = self._wanted_model(i)
            if name and not Path(name).expanduser().exists() and self._is_library_name(name):
                try:
                    wanted[i] = str(resolve_model(name, i, scan))
                except ModelRefError as exc:
                    wanted[i] = exc
        self.library_found.emit((scan, wanted))

    def rescan_library(self) -> None:
        threading.Thread(target=self._scan_library, name="model-library", daemon=True).start()

    def refresh_model_choices(self) -> None:
        """Every picker: demos, the library, recent files; each marks its neighbour pane's model."""
        for pane in self.panes:
            pane.set_choices(self.demos, list(self.settings.recent_models), self.library)
        for i, pane in enumerate(self.panes):
            other = self.panes[(i + 1) % len(self.panes)]
            pane.chooser.set_other(other.model_path, other.label)
        # A name may have come with the library (an Ollama model's): the Benchmark tab uses it too.
        self.bench_tab.set_models([p.model_path for p in self.panes if p.model_path],
                                  [p.display_name for p in self.panes if p.model_path])

    def _wanted_model(self, i: int) -> str:
        saved = self.settings.models[i] if i < len(self.settings.models) else ""
        return (self._initial_models[i] if i < len(self._initial_models) else "") or saved

    def _on_demos(self, demos: list) -> None:
        if self._closing:
            return  # found after the window closed: loading now would start workers nobody closes
        self.demos = demos
        self.refresh_model_choices()
        wanted: dict[int, str] = {}
        for i, pane in enumerate(self.panes):
            path = self._wanted_model(i)
            if path and not Path(path).expanduser().exists() and self._is_library_name(path):
                continue  # a library name: loaded once the scan is in
            if not path and i < len(demos):
                path = demos[i][1]
            if path and pane.model_path is None:
                wanted[i] = path
        # Every pane's server is known before any loads: a shared API key then goes to none
        # of two servers, whichever pane's load runs first (state/secrets.py).
        for i, path in wanted.items():
            if is_server_ref(path):
                self.session.claim(i, path)
        for i, path in wanted.items():
            self.panes[i].set_model(path)
        if not demos and not any(p.model_path for p in self.panes):
            self.banner.setText("No demo models installed: open two GGUF files (File ▸ Open, or drop them on the "
                                "panes).")

    @staticmethod
    def _is_library_name(text: str) -> bool:
        if is_server_ref(text):
            return False  # a server model: the pane connects to it directly
        return ":" in text and not text.lower().endswith(".gguf") or "/" not in text and "\\" not in text

    def _on_library(self, found: tuple[LibraryScan, dict]) -> None:
        scan, wanted = found
        self.library = scan
        self.refresh_model_choices()
        problems = []
        for i, pane in enumerate(self.panes):
            model = wanted.get(i)
            if pane.model_path is None and model is not None:
                if isinstance(model, ModelRefError):
                    problems.append(str(model))
                else:
                    pane.set_model(model)
        if problems:
            self.banner.setText(" ".join(problems))

    def open_get_models(self) -> None:
        if self.get_models_dialog is None:
            self.get_models_dialog = GetModelsDialog(self)
            self.get_models_dialog.downloaded.connect(lambda _path: self.rescan_library())
        self.get_models_dialog.show()
        self.get_models_dialog.raise_()
        self.get_models_dialog.activateWindow()

    def add_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of GGUF models")
        if folder and folder not in self.settings.model_folders:
            self.settings = replace(self.settings, model_folders=(*self.settings.model_folders, folder))
            self.save()
            self.rescan_library()

    def _on_model_chosen(self, index: int, path: str) -> None:
        self.arena.on_model_changed(index)
        # The Benchmark tab compares whatever the panes hold.
        self.bench_tab.set_models([p.model_path for p in self.panes if p.model_path],
                                  [p.display_name for p in self.panes if p.model_path])
        self.settings = replace(self.settings, models=tuple(p.model_path or "" for p in self.panes))
        if not any(path == d[1] for d in self.demos):
            self.settings = self.settings.with_recent(path)
        self.refresh_model_choices()
        self.save()

    def _save_pane_settings(self, index: int) -> None:
        self.settings = replace(self.settings, panes=tuple(p.settings for p in self.panes))
        self.save()

    # --- prompt / modes ----------------------------------------------------

    @property
    def mode(self) -> str:
        return FAIR if self.fair_radio.isChecked() else RACE

    def _on_mode(self) -> None:
        self.settings = replace(self.settings, mode=self.mode)
        self.statusBar().showMessage(f"{self.total_threads} CPU threads · mode: {self.mode}")
        self.save()

    def _on_loaded(self, index: int, ev) -> None:
        self.panes[index].on_loaded(ev)
        self.charts.refresh()  # a model on a GPU: the memory plot's title says what llama.cpp put there

    def _update_buttons(self, *_args) -> None:
        busy = self.busy
        ready = [p for p in self.panes if p.ready]
        self.send_button.setEnabled(bool(ready) and not busy)
        self.stop_button.setEnabled(busy)
        self.new_button.setEnabled(not busy)
        self.race_radio.setEnabled(not busy)
        self.fair_radio.setEnabled(not busy)
        self.replay_button.setEnabled(not busy and self._last_mode == FAIR and self._replayable())

    def send(self) -> None:
        text = self.prompt.toPlainText().strip()
        if not text or self.busy:
            return
        if self.arena.active and not self.arena.before_send(text):
            return
        if self.bench_tab.running:
            self.banner.setText("A benchmark is running; sending now would disturb its numbers. Stop it first.")
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
        if not self.runner.start_round(commands, mode, self.total_threads):
            self.banner.setText("The models are busy; wait for them (or press Esc) and send again.")
            return
        split = self.session.state.split  # the session's split for this round, made as it started
        assert split is not None
        if self.chat_log is None:
            self.chat_log = ChatLog.new()
        self._last_mode = mode
        self._last_result = None
        self.chat_log.append({"role": "user", "content": text, "mode": mode,
                              "models": [p.model_path for p in self.panes]})
        self.prompt.remember(text)
        self.prompt.clear()
        self.examples.hide()  # the first question is asked: the room has seen how
        self.banner.setText(f"{mode.capitalize()}: {split.describe()}.")
        # Replies from the same models stay on one scale, Send after Send.
        models = tuple(p.model_path for p in self.panes)
        self.charts.clear(keep_scales=models == self._chart_models)
        self._chart_models = models
        for k, i in enumerate(ready):
            self.panes[i].clear_run()  # fair mode: a waiting model shows no curve of the last round
            if mode == FAIR and k:
                self.panes[i].show_waiting(f"Waiting for its turn: fair mode runs one model at a time ({k} before it).")
        self._note = split.short()
        self._split = split
        self._text = text
        self.charts.start()
        self._update_buttons()
        self.prompt.setFocus()

    def _on_run_started(self, index: int, started: RunStarted) -> None:
        self.panes[index].begin_run(self._text, started, self._split.for_model(self._split_index(index)))

    def _split_index(self, pane_index: int) -> int:
        order = self.session.state.participants
        return order.index(pane_index) if pane_index in order else 0

    def stop(self) -> None:
        if self._replay_timer.isActive():
            self._finish_replay()  # a replay jumps to its end: whole answers, the same stats
            return
        self.runner.stop()
        self._update_buttons()
        self.prompt.setFocus()

    def new_chat(self) -> None:
        if self.busy:
            return
        for pane in self.panes:
            pane.new_chat()
        self.charts.clear(keep_scales=True)  # a new conversation, the same models
        self.banner.setText("")
        self.chat_log = None
        self._last_result = None
        self.examples.show()
        self.arena.on_new_chat()
        self._update_buttons()
        self.prompt.setFocus()

    def _on_pane_finished(self, index: int) -> None:
        pane = self.panes[index]
        rec = pane.record
        if self.chat_log is not None and rec is not None:
            self.chat_log.append({
                "role": "assistant", "pane": pane.label, "model": pane.model_path, "mode": self._last_mode,
                "content": rec.answer, "thinking": rec.thinking,
                "error": rec.error.message if rec.error else None,
                "stats": rec.stats().to_dict() if rec.finished else None,
            })
        self._update_buttons()

    def _on_round_finished(self, result: CompareResult) -> None:
        self._last_result = result
        for pane in self.panes:
            pane.round_ended()
        self.charts.stop()
        self._announce()
        if result.mode == FAIR and self._replayable():
            self.start_replay()
        else:
            self.compare_finished.emit()
        self._update_buttons()

    def _participant_panes(self) -> list[ModelPane]:
        r = self._last_result
        if r is None:
            return []
        return [self.panes[i] for i in r.indices if i < len(self.panes)]

    def _replayable(self) -> bool:
        """Every model answered this prompt in full: a replay would be a fair picture."""
        r = self._last_result
        return (r is not None and r.complete and
                all(p.record is not None and p.record.finished is not None for p in self._participant_panes()))

    def _announce(self) -> None:
        if self.arena.active:
            return  # the arena announces the round without names
        r = self._last_result
        if r is None:
            return
        if r.user_stopped:
            self.banner.setText(f"Stopped ({self._note}); finished text and stats are kept.")
            return
        # Only this prompt's answers are compared, never a pane's older reply.
        done = [(pane, pane.record.stats()) for pane in self._participant_panes()
                if pane.record and pane.record.finished and pane.record.finished.stop_reason != p.STOP_USER]
        if len(done) < 2:
            return
        summary = speed_summary([x.label for x, _ in done], [st for _, st in done], race=r.mode == RACE)
        busy = busy_sentence([x.label for x, _ in done], [st for _, st in done])
        summary += f" · {busy}" if busy else ""
        if r.mode == RACE:
            self.banner.setText(f"Race: {summary} · {self._note}")
        else:
            self.banner.setText(f"Fair: {summary} · {self._note} · replaying side by side")

    # --- replay and charts ---------------------------------------------------

    def start_replay(self) -> None:
        if self.runner.round_active or self._replay_timer.isActive() or not self._replayable():
            return
        for pane in self._participant_panes():
            pane.replay_start()
        self._replay_t0 = time.monotonic()
        self.charts.clear(keep_scales=True)
        self.charts.start()
        self._replay_timer.start()
        self._update_buttons()

    def _replay_tick(self) -> None:
        t = time.monotonic() - self._replay_t0
        done = [pane.replay_to(t) for pane in self._participant_panes()]
        if all(done):
            self._finish_replay()

    def _finish_replay(self) -> None:
        for pane in self._participant_panes():
            pane.replay_to(float("inf"))
        self._replay_timer.stop()
        self.charts.stop()
        self.banner.setText(self.banner.text().replace(" · replaying side by side", " · replayed side by side"))
        self._update_buttons()
        self.prompt.setFocus()
        self.compare_finished.emit()

    def _chart_now(self) -> float:
        if self._replay_timer.isActive():
            return time.monotonic() - self._replay_t0
        return max((p.elapsed() for p in self.panes), default=0.0)

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
            if folded:
                self.statusBar().showMessage(f"Charts folded away below {CHARTS_FOLD_BELOW_PX} px of window "
                                             "height, so the answers have room; Ctrl+G shows them.", 8000)

    def resizeEvent(self, ev) -> None:  # noqa: N802
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
        result = CompareResult(self._last_mode, self.total_threads, runs=runs,
                               loaded=[p.loaded for p in self.panes if p.record is not None])
        labels = [self.arena.display_label(p) for p in self.panes if p.record is not None]
        return markdown_table(stats_rows(result, labels))

    def copy_results(self) -> None:
        md = self.results_markdown()
        if md:
            QApplication.clipboard().setText(md)
            self.statusBar().showMessage("Results copied as Markdown", 3000)

    # --- run files -------------------------------------------------------------

    def save_run(self, path: str, redact_prompts: bool = False) -> bool:
        """The latest round as a run file (engine/run_file.py); one sentence when it cannot be."""
        r = self._last_result
        if r is None or not r.runs or self.busy:
            self.banner.setText("Nothing to save yet: send a prompt and let the answers finish first.")
            return False
        if self.arena.active and not (self.arena.round and self.arena.round.voted):
            self.banner.setText("Vote first: a saved run names the models.")
            return False
        panes = [self.panes[i] for i in r.indices if i < len(self.panes)]
        try:
            doc = compare_run_dict(r, [p.label for p in panes], [p.model_path or "" for p in panes],
                                   [p.settings for p in panes], self._text,
                                   redact_prompts=redact_prompts, names=[p.display_name for p in panes])
            arena = self.arena.run_file_part() if self.arena.active else None
            if arena is not None:
                doc["arena"] = arena
            write_run_file(path, doc)
        except OSError as exc:
            log.info("saving run to %s: %s", path, exc)
            self.banner.setText(f"Could not write {Path(path).name} ({exc.strerror or 'error'}); pick another folder.")
            return False
        self.statusBar().showMessage(f"Saved {Path(path).name}: replay it with File ▸ Open run… or "
                                     f"`gemmacompare replay`, rerun it with `gemmacompare rerun`", 8000)
        return True

    def save_run_dialog(self) -> None:
        name = "arena-round.gcrun" if self.arena.active else "comparison.gcrun"
        path, _ = QFileDialog.getSaveFileName(self, "Save run", name, "gemmacompare runs (*.gcrun *.gz)")
        if path:
            self.save_run(path)

    def open_run(self, path: str) -> RunViewer | None:
        try:
            run = read_run_file(path)
        except RunFileError as exc:
            self.banner.setText(exc.message)
            return None
        viewer = RunViewer(run, Path(path).name, self)
        viewer.busy_reason = self.busy_reason
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewer.resize(self.size() * 0.9)
        viewer.show()
        viewer.start()
        return viewer

    def open_run_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open run", "", "gemmacompare runs (*.gcrun *.gz);;All files (*)")
        if path:
            self.open_run(path)

    def rerun_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Rerun a run file on this machine", "",
                                              "gemmacompare runs (*.gcrun *.gz);;All files (*)")
        viewer = self.open_run(path) if path else None
        if viewer is not None:
            viewer.open_rerun()

    def busy_reason(self) -> str:
        """Why a rerun or a claim check must wait (it would disturb, or be disturbed by, a round), or ""."""
        if self.busy:
            return "A round is running in the window; wait for it (or press Esc) so the figures are not disturbed."
        if self.bench_tab.running:
            return "A benchmark is running; its figures and these would disturb each other. Stop it first."
        return ""

    def claim_choices(self) -> tuple[list[tuple[str, str]], list[str]]:
        """The local models to offer a claim check, the panes' first, and the panes' models as the default pair."""
        choices: list[tuple[str, str]] = []
        seen: set[str] = set()

        def add(name: str, path: str | None) -> None:
            if path and path not in seen and not is_server_ref(path) and Path(path).is_file():
                seen.add(path)
                choices.append((name, path))

        for pane in self.panes:
            add(f"{pane.label}: {pane.display_name}", pane.model_path)
        for name, path in self.demos:
            add(name, path)
        for entry in (self.library.entries if self.library else []):
            add(entry.name, entry.path)
        return choices, [p.model_path or "" for p in self.panes]

    def open_claim_dialog(self) -> ClaimDialog:
        choices, defaults = self.claim_choices()
        dlg = ClaimDialog(choices, defaults, self, self.busy_reason)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def dragEnterEvent(self, ev) -> None:  # noqa: N802
        urls = ev.mimeData().urls()
        if urls and urls[0].isLocalFile() and _is_run_file(urls[0].toLocalFile()):
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:  # noqa: N802
        urls = ev.mimeData().urls()
        if urls and urls[0].isLocalFile() and _is_run_file(urls[0].toLocalFile()):
            ev.acceptProposedAction()
            self.open_run(urls[0].toLocalFile())

    # --- looks ---------------------------------------------------------------

    def _apply_look(self) -> None:
        self.theme_name = apply_theme(QApplication.instance(), self.settings.theme, self.presentation, self._base_point)
        self.charts.set_dark(self.theme_name != "light")
        self.bench_tab.charts.set_dark(self.theme_name != "light")
        self.leaderboard.set_dark(self.theme_name != "light")

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
        self.charts.setMinimumHeight(150 if on else 205)
        self.arena.refresh_reveal()  # the reveal table is compact in large type
        self.prompt.setFixedHeight(self.prompt.fontMetrics().lineSpacing() * (2 if on else 3) + 16)
        if on:
            self.showFullScreen()
        else:
            self.showNormal()

    # --- persistence and shutdown -------------------------------------------

    def save(self) -> None:
        # Before the window is shown its geometry is Qt's 640x480 placeholder;
        # saving that made every first start open small.
        if not self.presentation and self.isVisible():
            geo = bytes(self.saveGeometry().toBase64()).decode()
            self.settings = replace(self.settings, geometry=geo)
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.statusBar().showMessage(f"Could not save settings: {exc.strerror}", 5000)

    def closeEvent(self, ev) -> None:  # noqa: N802
        if not self._closing:
            self._closing = True
            self.save()
            self._replay_timer.stop()
            self.bench_tab.shutdown(timeout=1.0)
            self.runner.begin_close()
            self.runner.release()
            self.sampler.stop()
        super().closeEvent(ev)


def _is_run_file(path: str) -> bool:
    return path.endswith((".gcrun", ".gcrun.gz"))
