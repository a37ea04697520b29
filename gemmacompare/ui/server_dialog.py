"""Pick a model on an OpenAI-compatible server: base URL, its /v1/models, an optional key."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine.api import (
    RemoteError,
    ServerRef,
    ServerRefError,
    ServerSettings,
    display_name,
    list_models,
    parse_server_ref,
)
from gemmacompare.state.secrets import (
    KEYRING,
    SecretStoreError,
    find_api_key,
    keyring_available,
    store_api_key,
    use_for_session,
)

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8080/v1"
# Listing models should answer at once; a dead address must not freeze the dialog long.
LIST_SETTINGS = ServerSettings(connect_timeout_s=3.0, first_byte_timeout_s=8.0)


class ServerDialog(QDialog):
    def __init__(self, title: str, url: str = "", parent: QWidget | None = None,
                 timeouts: tuple[float, float, float] = (5.0, 120.0, 60.0),
                 other_servers: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        # The other panes' servers: the shared GEMMACOMPARE_API_KEY goes to this one only when
        # there is no other (state/secrets.py), listing models included.
        self.other_servers = other_servers
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        self.url = QLineEdit(url or DEFAULT_URL)
        self.url.setPlaceholderText("http://127.0.0.1:8080/v1  ·  Ollama: http://127.0.0.1:11434/v1")
        self.list_button = QPushButton("List models")
        self.list_button.clicked.connect(self.refresh)
        row = QHBoxLayout()
        row.addWidget(self.url, 1)
        row.addWidget(self.list_button)
        self.model = QComboBox()
        self.model.setEditable(True)
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("optional; or set GEMMACOMPARE_API_KEY")
        where = "the OS keyring" if keyring_available() else "a private (0600) file"
        self.remember = QCheckBox(f"Remember the key in {where}")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        form = QFormLayout()
        form.addRow("Server base URL", row)
        form.addRow("Model", self.model)
        form.addRow("API key", self.key)
        form.addRow("", self.remember)
        # Connect, first byte, silence mid-stream: each ends the wait with one sentence in the pane.
        self.timeouts = []
        trow = QHBoxLayout()
        for name, value, tip in (("connect", timeouts[0], "seconds to connect to the server"),
                                 ("first byte", timeouts[1], "seconds until the server starts answering "
                                                              "(a long prompt on a busy server takes a while)"),
                                 ("idle", timeouts[2], "seconds of silence mid-answer before giving up")):
            spin = QDoubleSpinBox()
            spin.setRange(0.1, 3600.0)
            spin.setDecimals(1)
            spin.setSuffix(" s")
            spin.setValue(value)
            spin.setToolTip(tip)
            spin.setAccessibleName(f"{name} timeout")
            trow.addWidget(QLabel(name))
            trow.addWidget(spin)
            self.timeouts.append(spin)
        trow.addStretch(1)
        form.addRow("Timeouts", trow)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addWidget(buttons)

    def _ref(self) -> ServerRef | None:
        try:
            return parse_server_ref(self.url.text().strip())
        except ServerRefError as exc:
            self.status.setText(str(exc))
            return None

    def _key(self, ref: ServerRef) -> str | None:
        return self.key.text().strip() or find_api_key(ref.base_url, None, (*self.other_servers, ref.base_url))

    def refresh(self) -> None:
        ref = self._ref()
        if ref is None:
            return
        self.status.setText(f"Asking {ref.base_url}/models …")
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            QApplication.processEvents()
            models = list_models(ref, LIST_SETTINGS, self._key(ref))
        except RemoteError as exc:
            self.status.setText(exc.message)
            return
        finally:
            QApplication.restoreOverrideCursor()
        self.model.clear()
        for m in models:
            self.model.addItem(display_name(m.id), m.id)
        warn = " Plain http to another machine: prompts and key travel unencrypted." if ref.insecure else ""
        self.status.setText(f"{len(models)} model{'s' if len(models) != 1 else ''} served.{warn}")

    def accept(self) -> None:
        ref = self._ref()
        if ref is None:
            return
        key = self.key.text().strip()
        if key:
            if self.remember.isChecked():
                try:
                    store_api_key(ref.base_url, key, KEYRING)
                except SecretStoreError as exc:
                    self.status.setText(str(exc))
            use_for_session(ref.base_url, key)
        super().accept()

    def timeout_values(self) -> tuple[float, float, float]:
        """Connect, first-byte and idle timeouts in seconds."""
        connect, first, idle = (spin.value() for spin in self.timeouts)
        return connect, first, idle

    def value(self) -> str:
        """The model reference (base URL#model id) for the pane."""
        ref = self._ref()
        i = self.model.currentIndex()
        model = self.model.itemData(i) if i >= 0 and self.model.itemText(i) == self.model.currentText() else None
        model = model or self.model.currentText().strip() or None
        return ServerRef(ref.base_url, model).text() if ref else ""
