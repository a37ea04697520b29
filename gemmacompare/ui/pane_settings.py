"""The per-pane ⚙ settings dialog: one row per setting that the settings table gives a label."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from gemmacompare.state.settings import PaneSettings
from gemmacompare.state.settings_table import SETTINGS, Setting, value_of, with_values

SPIN_MAX = 2**31 - 1  # QSpinBox holds a C int


class PaneSettingsDialog(QDialog):
    def __init__(self, title: str, settings: PaneSettings, thinking_switch: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._base = settings
        self.fields: dict[str, QWidget] = {}
        form = QFormLayout(self)
        for s in (s for s in SETTINGS if s.spec.label):
            widget = _widget(s, value_of(settings, s.name))
            self.fields[s.name] = widget
            if s.kind == "bool":
                form.addRow("", widget)
            else:
                form.addRow(s.spec.label, widget)
        thinking = self.fields["thinking"]
        thinking.setEnabled(thinking_switch)
        if not thinking_switch:
            thinking.setToolTip("This model's chat template has no thinking switch")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def value(self) -> PaneSettings:
        return with_values(self._base, {name: _read(w) for name, w in self.fields.items()})


def _widget(s: Setting, value: Any) -> QWidget:
    w: QWidget
    if s.kind == "bool":
        w = QCheckBox(s.spec.label)
        w.setChecked(bool(value) if value is not None else bool(s.window_default))
    elif s.spec.choices:
        w = QComboBox()
        w.addItems(list(s.spec.choices))
        w.setCurrentText(str(value))
    elif s.kind == "int":
        w = QSpinBox(minimum=int(s.spec.lo if s.spec.lo is not None else -SPIN_MAX),
                     maximum=int(min(s.spec.hi if s.spec.hi is not None else SPIN_MAX, SPIN_MAX)),
                     singleStep=s.spec.step)
        w.setValue(int(value))
        if s.spec.special:
            w.setSpecialValueText(s.spec.special)
    elif s.kind == "float":
        w = QDoubleSpinBox(decimals=2, minimum=float(s.spec.lo or 0.0), maximum=float(s.spec.hi or 1e9),
                           singleStep=0.1)
        w.setValue(float(value))
    elif s.spec.multiline:
        w = QPlainTextEdit(str(value))
        w.setPlaceholderText(f"Optional {s.spec.label.lower()}")
        w.setFixedHeight(70)
    elif s.kind == "str":  # one line of text: a file's path (the draft model)
        w = QLineEdit(str(value))
        w.setPlaceholderText(f"Optional {s.spec.label.lower()}")
    else:
        raise TypeError(f"no ⚙ widget for the setting {s.name} ({s.kind})")
    if s.spec.help:
        w.setToolTip(s.spec.help)
    return w


def _read(w: QWidget) -> Any:
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentText()
    if isinstance(w, (QSpinBox, QDoubleSpinBox)):
        return w.value()
    if isinstance(w, QPlainTextEdit):
        return w.toPlainText().strip()
    if isinstance(w, QLineEdit):
        return w.text().strip()
    raise TypeError(f"no value from {type(w).__name__}")
