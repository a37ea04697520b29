"""The "Get models…" dialog: GGUFs from the Hugging Face Hub, with progress, cancel and resume.

The suggested pair (resources/suggested_models.json) comes first. Listing and
downloading run on worker threads; their results come back as signals.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.models.gguf_file import human_bytes
from gemmacompare.models.hub import (
    DownloadCancelled,
    HubError,
    Progress,
    RemoteModel,
    Suggestion,
    cached_path,
    download,
    list_models,
    load_suggestions,
    parse_repo_spec,
    pick_model,
)

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Carries worker-thread results to the dialog on the UI thread."""

    listed = Signal(str, object)  # repo id, list[RemoteModel] or HubError
    progress = Signal(object)  # Progress
    finished = Signal(object)  # Path, or HubError


class GetModelsDialog(QDialog):
    downloaded = Signal(str)  # path of the model's first file in the HF cache

    def __init__(self, parent: QWidget | None = None, suggestions: list[Suggestion] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Get models from the Hugging Face Hub")
        self.setObjectName("getModelsDialog")
        self.relay = _Relay()
        self.relay.listed.connect(self._on_listed)
        self.relay.progress.connect(self._on_progress)
        self.relay.finished.connect(self._on_finished)
        self.models: list[RemoteModel] = []
        self.cancel_event: threading.Event | None = None
        self._listing: object | None = None  # the listing in progress
        self.on_disk: dict[str, Path | None] = {}  # file name -> its cached path
        self.worker: threading.Thread | None = None
        self._pending: tuple[str, str] | None = None  # suggestion quant and file pattern for the next listing
        self.suggestions = load_suggestions() if suggestions is None else suggestions
        self._build()
        self.resize(760, 560)

    # --- layout --------------------------------------------------------------

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Suggested</b> — the pair from the news item, at Q4_K_M:"))
        self.suggested = QListWidget()
        self.suggested.setObjectName("suggestions")
        for s in self.suggestions:
            item = QListWidgetItem(f"{s.label}    {s.repo}\n{s.note}")
            item.setData(Qt.ItemDataRole.UserRole, s)
            item.setToolTip(s.note)
            self.suggested.addItem(item)
        self.suggested.setMaximumHeight(120)
        self.suggested.setWordWrap(True)
        self.suggested.itemClicked.connect(self._on_suggestion)
        lay.addWidget(self.suggested)

        row = QHBoxLayout()
        self.repo = QLineEdit()
        self.repo.setObjectName("repoId")
        self.repo.setPlaceholderText("ORG/REPO or ORG/REPO:QUANT, e.g. unsloth/Qwen3.5-4B-GGUF")
        self.repo.returnPressed.connect(self.list_files)
        self.list_button = QPushButton("List files")
        self.list_button.clicked.connect(self.list_files)
        row.addWidget(self.repo, 1)
        row.addWidget(self.list_button)
        lay.addLayout(row)

        self.table = QTableWidget(0, 3)
        self.table.setObjectName("remoteFiles")
        self.table.setHorizontalHeaderLabels(["File", "Quant", "Size"])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _i: self.start_download())
        lay.addWidget(self.table, 1)

        self.progress = QProgressBar()
        self.progress.setObjectName("downloadProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        lay.addWidget(self.progress)
        self.status = QLabel("Pick a suggestion or type a repository, then List files.")
        self.status.setObjectName("hubStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.status)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("downloadButton")
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        for b in (self.download_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self._update_buttons()

    # --- listing -------------------------------------------------------------

    def _on_suggestion(self, item: QListWidgetItem) -> None:
        s: Suggestion = item.data(Qt.ItemDataRole.UserRole)
        self.repo.setText(s.repo)
        self.list_files(pending=(s.quant, s.file_pattern))

    def list_files(self, pending: tuple[str, str] | None = None) -> None:
        if self.busy:
            return
        try:
            repo_id, quant = parse_repo_spec(self.repo.text())
        except HubError as exc:
            self._say(exc.message, error=True)
            return
        self._pending = pending if isinstance(pending, tuple) else ((quant, "") if quant else None)
        self.table.setRowCount(0)
        self.models = []
        self._say(f"Asking the Hub for the GGUF files of {repo_id}… (Cancel stops waiting)")
        self._listing = listing = object()  # a cancelled or superseded listing's answer is dropped
        self._run(lambda: self.relay.listed.emit(repo_id, (listing, self._list(repo_id))))

    @staticmethod
    def _list(repo_id: str) -> list[RemoteModel] | HubError:
        try:
            return list_models(repo_id)
        except HubError as exc:
            return exc

    def _on_listed(self, repo_id: str, answer: tuple[object, list[RemoteModel] | HubError]) -> None:
        listing, result = answer
        if listing is not self._listing:
            return  # cancelled while it listed
        self.worker, self._listing = None, None
        if isinstance(result, HubError):
            self._say(result.message, error=True)
            self._update_buttons()
            return
        self.models = list(result)
        self.table.setRowCount(len(self.models))
        self.on_disk = {m.filename: cached_path(m) for m in self.models}
        for r, m in enumerate(self.models):
            files = f"  (+{len(m.files) - 1} more shards)" if len(m.files) > 1 else ""
            disk = "  · on disk" if self.on_disk[m.filename] else ""
            for c, text in enumerate((m.filename + files + disk, m.quant, human_bytes(m.size))):
                self.table.setItem(r, c, QTableWidgetItem(text))
        pick = None
        try:
            quant, pattern = self._pending or (None, "")
            pick = pick_model(self.models, quant, pattern or None)
        except HubError:
            pass  # several choices and none preferred: the user picks
        if pick is not None:
            self.table.selectRow(self.models.index(pick))
        self._say(f"{repo_id}: {len(self.models)} GGUF model{'s' if len(self.models) != 1 else ''}. "
                  "Select one and press Download.")
        self._update_buttons()

    # --- download ------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.worker is not None and self.worker.is_alive()

    def selected_model(self) -> RemoteModel | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.models[rows[0].row()] if rows else None

    def start_download(self) -> None:
        model = self.selected_model()
        if model is None or self.busy:
            return
        here = self.on_disk.get(model.filename)
        if here is not None:
            # Already in the Hugging Face cache: load it, nothing is downloaded.
            self._say(f"{model.filename} is already on disk; it is in the pickers' model lists.")
            self.downloaded.emit(str(here))
            return
        self.cancel_event = threading.Event()
        cancel = self.cancel_event
        self.progress.setValue(0)
        self.progress.setFormat(f"{model.filename}: starting…")
        self._say(f"Downloading {model.filename} ({human_bytes(model.size)}) into the Hugging Face cache…")

        def work() -> None:
            result: Path | HubError
            try:
                result = download(model, self.relay.progress.emit, cancel)
            except HubError as exc:
                result = exc
            except Exception:  # noqa: BLE001 - never a dead thread; detail goes to the log
                log.exception("download failed")
                result = HubError(f"The download of {model.filename} failed unexpectedly; "
                                  "try again (details in the log).")
            self.relay.finished.emit(result)

        self._run(work)

    def _on_progress(self, p: Progress) -> None:
        self.progress.setValue(int(1000 * p.done / p.total) if p.total else 0)
        self.progress.setFormat(f"%p%  ·  {p.text()}")

    def _on_finished(self, result: Path | HubError) -> None:
        self.worker, self.cancel_event = None, None
        if isinstance(result, DownloadCancelled):
            self._say("Cancelled. Press Resume to start again; files already complete are kept.")
            self.download_button.setText("Resume")
        elif isinstance(result, HubError):
            self._say(result.message, error=True)
            self.download_button.setText("Resume")
        else:
            self.progress.setValue(1000)
            self.download_button.setText("Download")
            self._say(f"Done: {result.name} is in the Hugging Face cache; it is in both panes' model lists now.")
            self.downloaded.emit(str(result))
        self._update_buttons()

    def cancel(self) -> None:
        if self._listing is not None:
            # Listing cannot be interrupted inside huggingface_hub: its answer is dropped instead.
            self._listing, self.worker = None, None
            self._say("Stopped waiting for the Hub.")
            self._update_buttons()
            return
        if self.cancel_event is not None and self.busy:
            self.cancel_event.set()
            self._say("Cancelling…")

    # --- helpers -------------------------------------------------------------

    def _run(self, fn: Callable[[], None]) -> None:
        self.worker = threading.Thread(target=fn, name="hub", daemon=True)
        self.worker.start()
        self._update_buttons()

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("error", error)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    def _update_buttons(self) -> None:
        busy = self.busy
        downloading = busy and self.cancel_event is not None and not self.cancel_event.is_set()
        self.list_button.setEnabled(not busy)
        model = self.selected_model()
        self.download_button.setEnabled(not busy and model is not None)
        self.download_button.setText("Use (on disk)" if model is not None and self.on_disk.get(model.filename)
                                     else "Download" if self.download_button.text() != "Resume" else "Resume")
        self.cancel_button.setEnabled(downloading or self._listing is not None)
        self.cancel_button.setText("Cancel" if self._listing is not None else "Cancel download")

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: N802
        # Closing mid-download cancels it: no file is left half-written.
        self.cancel()
        super().closeEvent(ev)
