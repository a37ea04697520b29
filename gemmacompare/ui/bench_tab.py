"""The Benchmark tab: run a task suite on the panes' models, live table, charts, history.

The runner (gemmacompare.bench.runner) works on a plain background thread; its
callbacks emit signals of a QObject living in the GUI thread, so Qt queues
them and every widget is touched on the GUI thread only. Charts are redrawn
by a timer when new items arrived, never once per item burst.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, SignalInstance, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.bench.conversation_bench import ConversationBench
from gemmacompare.bench.conversations import (
    ConversationFileError,
    builtin_conversation_suites,
    is_conversation_suite,
    load_conversations,
)
from gemmacompare.bench.export import write_exports
from gemmacompare.bench.records import (
    STATUS_INTERRUPTED,
    STATUS_STOPPED,
    BenchConfig,
    BenchProgress,
    ItemResult,
    StoredRun,
)
from gemmacompare.bench.run_file import bench_run_dict
from gemmacompare.bench.runner import BenchError, BenchRunner, create_run
from gemmacompare.bench.stats import summarize_run, summary_table
from gemmacompare.bench.store import BenchStore, BenchStoreError
from gemmacompare.bench.tasks import DEFAULT_SUITE, TaskFileError, builtin_suites
from gemmacompare.engine.api import FAIR, RACE, ConversationResult, model_label, write_run_file
from gemmacompare.engine.api import protocol as p

from .bench_charts import BenchCharts, write_chart_pngs
from .bench_chat_rows import turn_cells

log = logging.getLogger(__name__)

CHART_REFRESH_MS = 250
ITEM_COLUMNS = ["rep", "task", "model", "expected", "extracted", "verdict", "tokens", "gen t/s", "TTFT (s)", "time (s)",
                "answer"]
OPEN_FILE = "Open JSONL file…"


class _Bridge(QObject):
    """Signals emitted from the benchmark thread, delivered queued on the GUI thread."""

    started = Signal(object)  # StoredRun
    items = Signal(object)  # list[ItemResult]
    progress = Signal(object)  # BenchProgress
    finished = Signal(int, str, str)  # run id, status, message
    conversation = Signal(int, object)  # repetition, ConversationResult (a conversation suite's)
    conversations_done = Signal(str)  # a conversation suite ended: one sentence


def _fmt(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _tokens_cell(it: ItemResult) -> str:
    """Tokens as counted; a server model's count is the server's, or only chunks (never called tokens)."""
    if not it.stats.get("remote"):
        return _fmt(it.stat("n_tokens"), 0)
    n = it.stat("server_n_generated")
    if n is not None:
        return f"{n:.0f} (server-reported)"
    chunks = it.stat("n_chunks")
    return "–" if chunks is None else f"{chunks:.0f} chunks"


def _speed_cell(it: ItemResult) -> str:
    """Generation t/s by the client's clock; a server's own figure beside it; chunks/s where no counts came."""
    if not it.stats.get("remote"):
        return _fmt(it.stat("gen_tps"))
    client, server = it.stat("gen_tps"), it.stat("server_gen_tps")
    if client is None and server is None:
        rate = it.stat("chunk_rate")
        return "–" if rate is None else f"{rate:.1f} chunks/s"
    return _fmt(client) + (f" · server {server:.1f}" if server is not None else "")


def _open_store() -> tuple[BenchStore | None, str]:
    """The history and no problem, or None and the one sentence that says why it cannot be used."""
    try:
        return BenchStore(), ""
    except BenchStoreError as exc:
        log.warning("benchmark history: %s", exc)
        return None, str(exc)


class _Page(QWidget):
    """The tab's content in its scroll area. Its wrapped labels give it a height-for-width, and the
    scroll area takes that as the least height, which is the preferred one: the tab then scrolled
    even at 1600 x 1000. The least height is the layout's minimum."""

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        lay = self.layout()
        return lay.totalMinimumHeightForWidth(width) if lay is not None else -1


TABLE_MIN_H = 130  # the items table: a header and four rows
CHARTS_MIN_H = 240  # the legend row and three charts with their axes: bars a reader can compare


class BenchmarkTab(QWidget):
    run_finished = Signal(int, str)  # run id, status
    running_changed = Signal(bool)  # a benchmark started or ended: the window's session waits meanwhile

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models: list[str] = []
        self.names: list[str] = []  # as the panes show them
        # None when the history cannot be opened (in use, or damaged past setting aside):
        # the tab then says so in one sentence and the rest of the window works on.
        self.store, self.store_problem = _open_store()
        self.run_id: int | None = None
        self._said_running = False  # what running_changed last said
        self.labels: list[str] = []
        self.items: list[ItemResult] = []
        self._runner: BenchRunner | ConversationBench | None = None
        self._thread: threading.Thread | None = None
        # The store is closed by whoever is last: shutdown() when no benchmark
        # thread is working, else that thread as it ends (never under its feet).
        self._store_lock = threading.Lock()
        self._workers = 0  # benchmark threads not yet ended (a resume may start before the last one is out)
        self._close_store_when_idle = False
        self._shut = False
        self._t_start = 0.0
        self._dirty = False
        self._bridge = _Bridge(self)
        self._bridge.started.connect(self._on_started)
        self._bridge.items.connect(self._on_items)
        self._bridge.progress.connect(self._on_progress)
        self._bridge.finished.connect(self._on_finished)
        self._bridge.conversation.connect(self._on_conversation)
        self._bridge.conversations_done.connect(self._on_conversations_done)
        self._build()
        self._chart_timer = QTimer(self)
        self._chart_timer.setInterval(CHART_REFRESH_MS)
        self._chart_timer.timeout.connect(self._refresh_charts)  # runs while there is something to draw
        self.refresh_history()
        self._update_buttons()
        if self.store_problem:
            self._show_error(self.store_problem)
        elif self.store is not None and self.store.notice:
            self.status_label.setText(self.store.notice)  # a damaged file was set aside: said once

    # --- layout -------------------------------------------------------------

    def _build(self) -> None:
        # On a small screen (1024 x 640) the tab scrolls rather than squeezing the charts to a
        # strip: each part keeps a height it can be read at.
        scroll = QScrollArea()
        scroll.setObjectName("benchScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        page = _Page()
        scroll.setWidget(page)
        self.scroll_area = scroll
        holder = QVBoxLayout(self)
        holder.setContentsMargins(0, 0, 0, 0)
        holder.addWidget(scroll)
        outer = QVBoxLayout(page)
        top = QHBoxLayout()
        setup = QGroupBox("Benchmark")
        form = QFormLayout(setup)
        self.models_label = QLabel("the two demo models")
        self.models_label.setWordWrap(True)
        self.models_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Models:", self.models_label)
        self.suite_combo = QComboBox()
        for name in builtin_suites():
            self.suite_combo.addItem(name, name)
        for name in builtin_conversation_suites():  # measured per turn, the cache kept
            self.suite_combo.addItem(f"{name} (conversations)", name)
        self.suite_combo.addItem(OPEN_FILE, None)
        idx = self.suite_combo.findData(DEFAULT_SUITE)
        self.suite_combo.setCurrentIndex(max(0, idx))
        self.suite_combo.activated.connect(self._on_suite_chosen)
        form.addRow("Suite:", self.suite_combo)
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(0, 100000)
        self.limit_spin.setSpecialValueText("all")
        self.limit_spin.setValue(10)
        self.limit_spin.setToolTip("How many tasks: the first N, or N at random (0 = all)")
        form.addRow("Tasks:", self.limit_spin)
        pick = QHBoxLayout()
        self.random_check = QCheckBox("random pick, seed")
        self.random_check.setToolTip("Take N tasks at random (reproducible with the seed) instead of the first N")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setEnabled(False)
        self.random_check.toggled.connect(self.seed_spin.setEnabled)
        pick.addWidget(self.random_check)
        pick.addWidget(self.seed_spin, 1)
        form.addRow("", pick)
        self.runs_spin = QSpinBox()
        self.runs_spin.setRange(1, 100)
        self.runs_spin.setValue(2)
        form.addRow("Repetitions:", self.runs_spin)
        self.warmup_spin = QSpinBox()
        self.warmup_spin.setRange(0, 10)
        self.warmup_spin.setValue(1)
        form.addRow("Warm-up:", self.warmup_spin)
        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(8, 32768)
        self.tokens_spin.setValue(256)
        form.addRow("Max tokens:", self.tokens_spin)
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("fair (one after the other)", FAIR)
        self.mode_combo.addItem("race (at once, threads split)", RACE)
        form.addRow("Mode:", self.mode_combo)
        self.think_check = QCheckBox("thinking on (where the template supports it)")
        self.think_check.setTristate(True)
        self.think_check.setCheckState(Qt.CheckState.PartiallyChecked)
        self.think_check.setToolTip("Partly checked: the template's default")
        form.addRow("Thinking:", self.think_check)
        top.addWidget(setup, 1)

        right = QVBoxLayout()
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume")
        self.export_button = QPushButton("Export…")
        self.save_run_button = QPushButton("Save run…")
        self.save_run_button.setToolTip("The run as a file anyone can open (gemmacompare replay) and rerun")
        self.save_run_button.clicked.connect(self.save_run_dialog)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        self.export_button.clicked.connect(self.export_dialog)
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        right.addLayout(buttons)
        # The files a run leaves go on a row of their own: five buttons in one row made the
        # window wider than an 800-pixel screen.
        files = QHBoxLayout()
        files.addWidget(self.export_button)
        files.addWidget(self.save_run_button)
        right.addLayout(files)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        right.addWidget(self.progress)
        self.status_label = QLabel("")
        self.status_label.setObjectName("notice")
        self.status_label.setWordWrap(True)
        right.addWidget(self.status_label)
        hist = QHBoxLayout()
        hist.addWidget(QLabel("History:"))
        self.history_combo = QComboBox()
        self.history_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.history_combo.activated.connect(self._on_history_chosen)
        hist.addWidget(self.history_combo, 1)
        hist.addWidget(QLabel("compare with:"))
        self.compare_combo = QComboBox()
        self.compare_combo.setToolTip("Show another past run's summary under this one")
        self.compare_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_combo.activated.connect(self._on_compare_chosen)
        hist.addWidget(self.compare_combo, 1)
        right.addLayout(hist)
        right.addStretch(1)
        top.addLayout(right, 2)
        outer.addLayout(top)

        # The summary spans the window's width: beside the settings its dozen columns
        # needed a horizontal scroll bar even at 1600 pixels.
        self.summary_table = QTableWidget(0, 0)
        self.summary_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary_table.verticalHeader().setVisible(False)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.summary_table)
        self.table = QTableWidget(0, len(ITEM_COLUMNS))
        self.table.setHorizontalHeaderLabels(ITEM_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(len(ITEM_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(TABLE_MIN_H)
        split.addWidget(self.table)
        self.charts = BenchCharts()
        self.charts.setMinimumHeight(CHARTS_MIN_H)
        split.addWidget(self.charts)
        split.setChildrenCollapsible(False)
        split.setSizes([110, 220, 250])
        outer.addWidget(split, 1)
        self._update_buttons()

    # --- public -------------------------------------------------------------

    def set_models(self, paths: list[str], names: list[str] | None = None) -> None:
        """The models to benchmark (the main window passes its panes' files and the names they show)."""
        given = [(str(p), n) for p, n in zip(paths, names or [""] * len(paths)) if p]
        self.models = [p for p, _ in given]
        self.names = [n for _, n in given]
        self.models_label.setText("\n".join(n or model_label(p) for p, n in given) or "the two demo models")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def config(self) -> BenchConfig:
        state = self.think_check.checkState()
        thinking = None if state == Qt.CheckState.PartiallyChecked else state == Qt.CheckState.Checked
        return BenchConfig(
            models=tuple(self.models), suite=str(self.suite_combo.currentData() or DEFAULT_SUITE),
            limit=None if self.random_check.isChecked() else (self.limit_spin.value() or None),
            sample=(self.limit_spin.value() or None) if self.random_check.isChecked() else None,
            seed=self.seed_spin.value(), runs=self.runs_spin.value(), warmup=self.warmup_spin.value(),
            mode=str(self.mode_combo.currentData()), names=tuple(self.names),
            settings={"thinking": thinking, "max_tokens": self.tokens_spin.value()},
        )

    @Slot()
    def start(self) -> None:
        if self.running:
            return
        config = self.config()
        if not config.models:
            try:
                from gemmacompare.models.demo import resolve_model_arg

                config = BenchConfig(**{**config.to_dict(), "names": (),
                                        "models": (str(resolve_model_arg(None, 0)), str(resolve_model_arg(None, 1)))})
            except LookupError as exc:
                self._show_error(str(exc))
                return
        if is_conversation_suite(config.suite):
            self._start_conversations(config)
            return
        if self.store is None:
            self._show_error(self.store_problem)
            return
        try:
            run_id = create_run(self.store, config)
        except (TaskFileError, BenchError, BenchStoreError) as exc:
            self._show_error(str(exc))
            return
        self._launch(run_id)

    @Slot()
    def resume(self) -> None:
        if self.running or self.run_id is None:
            return
        self._launch(self.run_id)

    @Slot()
    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self.status_label.setText("Stopping… finished items are kept.")

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop a running benchmark and wait up to `timeout` s for its thread (window closing).

        The history is closed only once the thread has ended: a thread still
        finishing its item after the timeout keeps it open and closes it itself
        (or, being a daemon, dies with the process; the finished items are on
        disk either way and the run reads as interrupted). Closing it under the
        thread's feet would fail the run with a ProgrammingError.
        """
        self._shut = True
        self._chart_timer.stop()
        if self._runner is not None:
            self._runner.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._store_lock:
            if self._close_store_when_idle:
                return  # shut down before
            if self._workers:
                self._close_store_when_idle = True
                log.debug("benchmark thread still finishing; it closes the history when done")
            else:
                self._close_store_when_idle = True
                if self.store is not None:
                    self.store.close()

    def load_run(self, run_id: int) -> StoredRun | None:
        run = self._get_run(run_id)
        if run is None:
            return None
        self.run_id = run.id
        self.labels = run.labels
        self.items = list(run.items)
        self.table.setRowCount(0)
        self._append_rows(self.items)
        self._show_summary(run)
        self.progress.setRange(0, max(1, run.n_planned))
        self.progress.setValue(len(run.items))
        self.progress.setFormat(f"#{run.id} {run.status}: {len(run.items)}/{run.n_planned}")
        self.status_label.setText(run.message)
        self._mark_dirty()
        self._update_buttons(run)
        return run

    def _get_run(self, run_id: int) -> StoredRun | None:
        """The stored run, or None (no history, no such run, or a damaged record: said in one sentence)."""
        if self.store is None:
            return None
        try:
            return self.store.get_run(run_id)
        except BenchStoreError as exc:
            self._show_error(str(exc))
            return None

    def refresh_history(self) -> None:
        self.history_combo.clear()
        self.compare_combo.clear()
        if self.store is None:
            return
        try:
            counts = self.store.item_counts()
            runs = self.store.list_runs()[:200]
        except BenchStoreError as exc:
            self._show_error(str(exc))
            return
        for r in runs:
            text = (f"#{r.id} {r.created[:16].replace('T', ' ')} {r.suite_name} {r.config.mode} "
                    f"{counts.get(r.id, 0)}/{r.n_planned} {r.status}")
            self.history_combo.addItem(text, r.id)
            self.compare_combo.addItem(text, r.id)
        if self.run_id is not None:
            self.history_combo.setCurrentIndex(max(0, self.history_combo.findData(self.run_id)))

    @Slot()
    def export_dialog(self) -> None:
        if self.run_id is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Export benchmark to folder")
        if folder:
            self.export(Path(folder))

    def export(self, folder: Path) -> list[Path]:
        run = self._get_run(self.run_id) if self.run_id is not None else None
        if run is None:
            return []
        charts = write_chart_pngs(run, folder) if run.items else []
        files = write_exports(run, folder, [str(c) for c in charts]) + charts
        self.status_label.setText(f"Exported {len(files)} files to {folder}")
        return files

    def save_run_dialog(self) -> None:
        if self.run_id is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save benchmark run", f"bench-{self.run_id}.gcrun",
                                              "gemmacompare runs (*.gcrun *.gz)")
        if path:
            self.save_run(Path(path))

    def save_run(self, path: Path) -> bool:
        """The shown run as a run file (bench/run_file.py); one sentence in the status line either way."""
        run = self._get_run(self.run_id) if self.run_id is not None else None
        if run is None:
            return False
        try:
            write_run_file(path, bench_run_dict(run))
        except OSError as exc:
            log.info("saving bench run to %s: %s", path, exc)
            self.status_label.setText(f"Could not write {path.name} ({exc.strerror or 'error'}); pick another folder.")
            return False
        self.status_label.setText(f"Saved {path.name}: open it with `gemmacompare replay` or rerun it.")
        return True

    # --- a conversation suite -------------------------------------------------------

    def _start_conversations(self, config: BenchConfig) -> None:
        """A conversation suite plays on a thread of its own, turn by turn with the cache kept;
        its turns fill the item table. Not kept in the history (its items are not scored tasks)."""
        try:
            suite = load_conversations(config.suite).subset(config.limit)
            settings = config.run_settings()
        except (ConversationFileError, ValueError) as exc:
            self._show_error(getattr(exc, "message", str(exc)))
            return
        bench = ConversationBench(config.models, settings, p.CACHE_KEEP, config.mode, config.threads, config.runs,
                                  config.warmup)
        self._runner, bridge = bench, self._bridge
        self.labels = [n or model_label(m) for m, n in zip(config.models, [*config.names, *[""] * len(config.models)])]
        self.table.setRowCount(0)
        self.summary_table.setRowCount(0)
        self.progress.setRange(0, max(1, len(suite) * config.runs))
        self.progress.setValue(0)
        self.progress.setFormat(f"0/{len(suite) * config.runs} conversations")
        self.status_label.setText("Loading models…")

        def emit(signal: SignalInstance, *args: object) -> None:
            try:
                signal.emit(*args)
            except RuntimeError:  # the window is gone
                log.debug("benchmark view is gone; result not shown", exc_info=True)

        def work() -> None:
            try:
                results = bench.run(suite, on_conversation=lambda rep, r: emit(bridge.conversation, rep, r))
                stopped = " (stopped)" if bench.stopped else ""
                emit(bridge.conversations_done, f"Conversation suite {suite.name}: {len(results)} conversations "
                                               f"played{stopped}, the cache kept between turns; not kept in the "
                                               "history.")
            except Exception as exc:  # noqa: BLE001 - becomes a message on the GUI thread
                log.debug("conversation benchmark failed", exc_info=True)
                emit(bridge.conversations_done, f"⚠ {str(exc) or type(exc).__name__}")
            finally:
                self._worker_done()

        with self._store_lock:
            self._workers += 1
        self._thread = threading.Thread(target=work, name="bench-conversations", daemon=True)
        self._thread.start()
        self._update_buttons()

    @Slot(int, object)
    def _on_conversation(self, rep: int, result: ConversationResult) -> None:
        if self._shut:
            return
        self.progress.setValue(self.progress.value() + 1)
        self.progress.setFormat(f"{self.progress.value()}/{self.progress.maximum()} conversations")
        self.status_label.setText(f"Played {result.conversation.id}…")
        for cells in turn_cells(result, rep, self.labels):
            row = self.table.rowCount()
            self.table.insertRow(row)
            for col, text in enumerate(cells):
                self.table.setItem(row, col, QTableWidgetItem(text))

    @Slot(str)
    def _on_conversations_done(self, message: str) -> None:
        if self._shut:
            return
        if self._thread is not None:
            self._thread.join(1.0)
        self._thread = None
        self._runner = None
        self.status_label.setText(message)
        self._update_buttons()

    # --- background thread ------------------------------------------------------

    def _launch(self, run_id: int) -> None:
        run = self.load_run(run_id)
        if run is None or self.store is None:  # no run without a store
            return
        runner = self._runner = BenchRunner(self.store)
        self._t_start = time.monotonic()
        self.status_label.setText("Loading models…")
        self._bridge.started.emit(run)
        bridge = self._bridge

        def emit(signal: SignalInstance, *args: object) -> None:
            # After the window is gone the bridge may be deleted; the run must
            # still end as stopped, not fail on a dead signal.
            try:
                signal.emit(*args)
            except RuntimeError:
                log.debug("benchmark view is gone; result not shown", exc_info=True)

        def work() -> None:
            try:
                out = runner.run(run_id, on_progress=lambda pr: emit(bridge.progress, pr),
                                 on_item=lambda items: emit(bridge.items, items))
                emit(bridge.finished, run_id, out.status, out.message)
            except Exception as exc:  # noqa: BLE001 - becomes a message on the GUI thread
                log.debug("benchmark failed", exc_info=True)
                emit(bridge.finished, run_id, "failed", str(exc) or type(exc).__name__)
            finally:
                self._worker_done()

        with self._store_lock:
            self._workers += 1
        self._thread = threading.Thread(target=work, name=f"bench-{run_id}", daemon=True)
        try:
            self._thread.start()
        except BaseException:
            self._worker_done()
            raise
        self._update_buttons()

    def _worker_done(self) -> None:
        """Called on the benchmark thread as it ends."""
        with self._store_lock:
            self._workers -= 1
            if self._close_store_when_idle and not self._workers and self.store is not None:
                self.store.close()

    @Slot(object)
    def _on_started(self, run: StoredRun) -> None:
        if self._shut:
            return
        self.refresh_history()

    @Slot(object)
    def _on_items(self, items: list[ItemResult]) -> None:
        if self._shut:
            return
        self.items.extend(items)
        self._append_rows(items)
        self._mark_dirty()

    @Slot(object)
    def _on_progress(self, pr: BenchProgress) -> None:
        if self._shut:
            return
        self.progress.setRange(0, max(1, pr.total))
        self.progress.setValue(pr.done)
        eta = "?" if pr.eta_s is None else f"{int(pr.eta_s) // 60}:{int(pr.eta_s) % 60:02d}"
        self.progress.setFormat(f"{pr.done}/{pr.total} items · ETA {eta}")
        self.status_label.setText(f"Running #{pr.run_id}…")

    @Slot(int, str, str)
    def _on_finished(self, run_id: int, status: str, message: str) -> None:
        if self._shut:
            return  # the window is closing; the history may be closed already
        if self._thread is not None:
            self._thread.join(1.0)
        self._thread = None
        self._runner = None
        run = self.load_run(run_id)
        if status == "failed":
            self._show_error(message)
        elif message:
            self.status_label.setText(message)
        else:
            self.status_label.setText(f"Benchmark #{run_id} {status}.")
        self.refresh_history()
        self._update_buttons(run)
        self.run_finished.emit(run_id, status)

    # --- drawing ----------------------------------------------------------------

    def _append_rows(self, items: list[ItemResult]) -> None:
        for it in items:
            row = self.table.rowCount()
            self.table.insertRow(row)
            verdict = "error" if it.error else ("✓" if it.correct else "✗")
            cells = [
                str(it.rep + 1), it.task_id,
                self.labels[it.model_index] if it.model_index < len(self.labels) else str(it.model_index),
                it.expected, it.extracted if it.extracted is not None else "–", verdict,
                _tokens_cell(it), _speed_cell(it), _fmt(it.stat("ttft_s"), 2),
                _fmt(it.stat("total_s"), 2), (it.error or it.answer).replace("\n", " ")[:300],
            ]
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if col == len(cells) - 1:
                    cell.setToolTip(it.error or it.answer)
                self.table.setItem(row, col, cell)
        if items:
            self.table.scrollToBottom()

    def _show_summary(self, run: StoredRun, *others: StoredRun) -> None:
        rows: list[list[str]] = []
        for r in (run, *others):
            table = summary_table(r, summarize_run(r))
            if not rows:
                rows.append(["run", *table[0]])
            rows += [[f"#{r.id} {r.config.mode}", *row] for row in table[1:]]
        self.summary_table.clear()
        self.summary_table.setColumnCount(len(rows[0]))
        self.summary_table.setRowCount(len(rows) - 1)
        # A unit on a line of its own under its name: columns as narrow as their figures.
        self.summary_table.setHorizontalHeaderLabels([h.replace(" (", "\n(") for h in rows[0]])
        for k, row in enumerate(rows[1:]):
            for c, text in enumerate(row):
                self.summary_table.setItem(k, c, QTableWidgetItem(text))
        self.summary_table.resizeColumnsToContents()
        # Every model's row in view without scrolling (up to eight: a comparison of two runs of four).
        shown = self.summary_table
        rows_h = sum(shown.rowHeight(k) for k in range(min(shown.rowCount(), 8)))
        shown.setMinimumHeight(shown.horizontalHeader().sizeHint().height() + rows_h + 2 * shown.frameWidth() + 4)

    def _mark_dirty(self) -> None:
        """Charts to redraw at the next tick; the timer sleeps while nothing changes."""
        self._dirty = True
        if not self._shut and not self._chart_timer.isActive():
            self._chart_timer.start()

    @Slot()
    def _refresh_charts(self) -> None:
        if not self._dirty or self._shut:
            self._chart_timer.stop()
            return
        self._dirty = False
        self.charts.set_items(self.items, self.labels)
        if self.run_id is not None and self.running:
            run = self._get_run(self.run_id)
            if run is not None:
                self._show_summary(run)

    def _update_buttons(self, run: StoredRun | None = None) -> None:
        busy = self.running
        if busy != self._said_running:
            self._said_running = busy
            self.running_changed.emit(busy)
        self.start_button.setEnabled(not busy and self.store is not None)
        self.stop_button.setEnabled(busy)
        resumable = run is not None and run.status in (STATUS_STOPPED, STATUS_INTERRUPTED, "failed") and \
            len(run.items) < run.n_planned
        self.resume_button.setEnabled(not busy and resumable)
        self.export_button.setEnabled(not busy and self.run_id is not None)
        self.save_run_button.setEnabled(not busy and self.run_id is not None)
        for w in (self.suite_combo, self.limit_spin, self.runs_spin, self.warmup_spin, self.tokens_spin,
                  self.mode_combo, self.think_check, self.history_combo, self.compare_combo, self.random_check):
            w.setEnabled(not busy)
        self.seed_spin.setEnabled(not busy and self.random_check.isChecked())

    def _show_error(self, message: str) -> None:
        self.status_label.setText(f"⚠ {message}")

    @Slot(int)
    def _on_suite_chosen(self, index: int) -> None:
        if self.suite_combo.itemData(index) is not None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open task file", "", "JSON lines (*.jsonl *.json);;All files (*)")
        if path:
            self.suite_combo.insertItem(0, Path(path).name, path)
            self.suite_combo.setCurrentIndex(0)
        else:
            self.suite_combo.setCurrentIndex(max(0, self.suite_combo.findData(DEFAULT_SUITE)))

    @Slot(int)
    def compare_with(self, run_id: int) -> bool:
        """Show a past run's summary rows under the current run's."""
        current = self._get_run(self.run_id) if self.run_id is not None else None
        other = self._get_run(run_id)
        if current is None or other is None:
            return False
        self._show_summary(current, *(() if other.id == current.id else (other,)))
        return True

    def _on_compare_chosen(self, index: int) -> None:
        run_id = self.compare_combo.itemData(index)
        if run_id is not None:
            self.compare_with(int(run_id))

    def _on_history_chosen(self, index: int) -> None:
        run_id = self.history_combo.itemData(index)
        if run_id is not None and not self.running:
            self.load_run(int(run_id))


__all__ = ["BenchmarkTab"]
