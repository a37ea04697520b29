"""The models the window can offer: the demo models, the library found on disk,
recent files, and the models named at start (a name may need the library)."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from gemmacompare.engine.api import is_server_ref, resolve_model
from gemmacompare.models.demo import demo_models
from gemmacompare.models.library import LibraryScan, ModelRefError, scan_library

from .get_models import GetModelsDialog

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)


class ModelCatalog(QObject):
    demos_found = Signal(list)
    library_found = Signal(object)  # (LibraryScan, {pane: model or ModelRefError}), from the scan thread

    def __init__(self, window: MainWindow, initial_models: list[str]) -> None:
        super().__init__(window)
        self.w = window
        self.demos: list[tuple[str, str]] = []
        self.library: LibraryScan | None = None
        self.get_models_dialog: GetModelsDialog | None = None
        self._initial_models = initial_models
        self.demos_found.connect(self._on_demos)
        self.library_found.connect(self._on_library)

    def start(self) -> None:
        threading.Thread(target=self._find_demos, name="demo-models", daemon=True).start()

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
            scan = scan_library(folders=self.w.settings.model_folders)
        except Exception as exc:  # noqa: BLE001 - the app works without the library
            log.warning("model library scan failed: %s", exc, exc_info=True)
            scan = LibraryScan([], [], [f"scan failed: {type(exc).__name__}"])
        # Names given at start are resolved here too: `ollama:` may ask the Ollama server.
        wanted: dict[int, str | ModelRefError] = {}
        for i in range(len(self.w.panes)):
            name = self._wanted_model(i)
            if name and not Path(name).expanduser().exists() and _is_library_name(name):
                try:
                    wanted[i] = str(resolve_model(name, i, scan))
                except ModelRefError as exc:
                    wanted[i] = exc
        self.library_found.emit((scan, wanted))

    def rescan(self) -> None:
        threading.Thread(target=self._scan_library, name="model-library", daemon=True).start()

    def refresh(self) -> None:
        """Every picker: demos, the library, recent files; each marks its neighbour pane's model."""
        panes = self.w.panes
        for pane in panes:
            pane.set_choices(self.demos, list(self.w.settings.recent_models), self.library)
        for i, pane in enumerate(panes):
            other = panes[(i + 1) % len(panes)]
            pane.chooser.set_other(other.model_path, other.label)
        # A name may have come with the library (an Ollama model's): the Benchmark tab uses it too.
        self.w.bench_tab.set_models([p.model_path for p in panes if p.model_path],
                                    [p.display_name for p in panes if p.model_path])

    def _wanted_model(self, i: int) -> str:
        models = self.w.settings.models
        saved = models[i] if i < len(models) else ""
        return (self._initial_models[i] if i < len(self._initial_models) else "") or saved

    def _on_demos(self, demos: list[tuple[str, str]]) -> None:
        w = self.w
        if w.closing:
            return  # found after the window closed: loading now would start workers nobody closes
        self.demos = demos
        self.refresh()
        wanted: dict[int, str] = {}
        for i, pane in enumerate(w.panes):
            path = self._wanted_model(i)
            if path and not Path(path).expanduser().exists() and _is_library_name(path):
                continue  # a library name: loaded once the scan is in
            if not path and i < len(demos):
                path = demos[i][1]
            if path and pane.model_path is None:
                wanted[i] = path
        # Every pane's server is known before any loads: a shared API key then goes to none
        # of two servers, whichever pane's load runs first (state/secrets.py).
        for i, path in wanted.items():
            if is_server_ref(path):
                w.session.claim(i, path)
        for i, path in wanted.items():
            w.panes[i].set_model(path)
        if not demos and not any(p.model_path for p in w.panes):
            w.banner.setText("No demo models installed: open two GGUF files (File ▸ Open, or drop them on the "
                             "panes).")

    def _on_library(self, found: tuple[LibraryScan, dict[int, str | ModelRefError]]) -> None:
        scan, wanted = found
        self.library = scan
        self.refresh()
        problems = []
        for i, pane in enumerate(self.w.panes):
            model = wanted.get(i)
            if pane.model_path is None and model is not None:
                if isinstance(model, ModelRefError):
                    problems.append(str(model))
                else:
                    pane.set_model(model)
        if problems:
            self.w.banner.setText(" ".join(problems))

    def open_get_models(self) -> None:
        if self.get_models_dialog is None:
            self.get_models_dialog = GetModelsDialog(self.w)
            self.get_models_dialog.downloaded.connect(lambda _path: self.rescan())
        self.get_models_dialog.show()
        self.get_models_dialog.raise_()
        self.get_models_dialog.activateWindow()

    def add_folder(self) -> None:
        w = self.w
        folder = QFileDialog.getExistingDirectory(w, "Add a folder of GGUF models")
        if folder and folder not in w.settings.model_folders:
            w.settings = replace(w.settings, model_folders=(*w.settings.model_folders, folder))
            w.save()
            self.rescan()


def _is_library_name(text: str) -> bool:
    if is_server_ref(text):
        return False  # a server model: the pane connects to it directly
    return ":" in text and not text.lower().endswith(".gguf") or "/" not in text and "\\" not in text


__all__ = ["ModelCatalog"]
