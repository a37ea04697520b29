"""The per-pane generation settings dialog."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from gemmacompare.state.settings import FLASH_ATTN_CHOICES, KV_CACHE_TYPES, PaneSettings


class PaneSettingsDialog(QDialog):
    def __init__(self, title: str, settings: PaneSettings, thinking_switch: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._base = settings
        form = QFormLayout(self)
        self.temperature = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=2.0, singleStep=0.1,
                                          value=settings.temperature)
        self.temperature.setToolTip("0 = greedy: the same answer every time (best for comparing speed)")
        self.max_tokens = QSpinBox(minimum=1, maximum=32768, value=settings.max_tokens)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=settings.seed)
        self.n_ctx = QSpinBox(minimum=256, maximum=262144, singleStep=1024, value=settings.n_ctx)
        self.n_threads = QSpinBox(minimum=0, maximum=256, value=settings.n_threads)
        self.n_threads.setSpecialValueText("auto (by mode)")
        self.n_gpu_layers = QSpinBox(minimum=-1, maximum=999, value=settings.n_gpu_layers)
        self.n_gpu_layers.setSpecialValueText("all")
        self.flash_attn = _choice(FLASH_ATTN_CHOICES, settings.flash_attn,
                                  "auto (llama.cpp's default): on where the backend supports it")
        self.type_k = _choice(KV_CACHE_TYPES, settings.type_k, "KV cache type for keys; f16 is llama.cpp's default")
        self.type_v = _choice(KV_CACHE_TYPES, settings.type_v,
                              "KV cache type for values; f16 is llama.cpp's default (quantized needs flash attention)")
        self.thinking = QCheckBox("Let the model think first")
        self.thinking.setChecked(settings.thinking)
        self.thinking.setEnabled(thinking_switch)
        if not thinking_switch:
            self.thinking.setToolTip("This model's chat template has no thinking switch")
        self.raw_mode = QCheckBox("Raw completion (no chat template)")
        self.raw_mode.setChecked(settings.raw_mode)
        self.system_prompt = QPlainTextEdit(settings.system_prompt)
        self.system_prompt.setPlaceholderText("Optional system prompt")
        self.system_prompt.setFixedHeight(70)
        form.addRow("Temperature", self.temperature)
        form.addRow("Max tokens", self.max_tokens)
        form.addRow("Seed", self.seed)
        form.addRow("Context size", self.n_ctx)
        form.addRow("CPU threads", self.n_threads)
        form.addRow("GPU layers", self.n_gpu_layers)
        form.addRow("Flash attention", self.flash_attn)
        form.addRow("K cache type", self.type_k)
        form.addRow("V cache type", self.type_v)
        form.addRow("", self.thinking)
        form.addRow("", self.raw_mode)
        form.addRow("System prompt", self.system_prompt)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def value(self) -> PaneSettings:
        return replace(
            self._base,
            temperature=self.temperature.value(),
            max_tokens=self.max_tokens.value(),
            seed=self.seed.value(),
            n_ctx=self.n_ctx.value(),
            n_threads=self.n_threads.value(),
            n_gpu_layers=self.n_gpu_layers.value(),
            flash_attn=self.flash_attn.currentText(),
            type_k=self.type_k.currentText(),
            type_v=self.type_v.currentText(),
            thinking=self.thinking.isChecked(),
            raw_mode=self.raw_mode.isChecked(),
            system_prompt=self.system_prompt.toPlainText().strip(),
        )


def _choice(options: tuple[str, ...], current: str, tip: str) -> QComboBox:
    box = QComboBox()
    box.addItems(list(options))
    box.setCurrentText(current)
    box.setToolTip(tip)
    return box
