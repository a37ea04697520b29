"""The window's run-file actions: save the latest round, open (replay) or rerun a run
file, check a claim, and a run file dropped on the window."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

from gemmacompare.engine.api import (
    RunFileError,
    compare_run_dict,
    is_server_ref,
    read_run_file,
    write_run_file,
)

from .claim_dialog import ClaimDialog
from .plain_label import widget_text
from .run_viewer import RunViewer

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)

RUN_FILES = "gemmacompare runs (*.gcrun *.gz)"


def is_run_file(path: str) -> bool:
    return path.endswith((".gcrun", ".gcrun.gz"))


class RunFileActions:
    def __init__(self, window: MainWindow) -> None:
        self.w = window

    def save_run(self, path: str, redact_prompts: bool = False) -> bool:
        """The latest round as a run file (engine/run_file.py); one sentence when it cannot be."""
        w = self.w
        state = w.runner.state
        r = state.result
        if r is None or not r.runs or state.in_progress:
            w.banner.setText("Nothing to save yet: send a prompt and let the answers finish first.")
            return False
        if w.arena.active and not (w.arena.round and w.arena.round.voted):
            w.banner.setText("Vote first: a saved run names the models.")
            return False
        panes = [w.panes[i] for i in r.indices if i < len(w.panes)]
        try:
            doc = compare_run_dict(r, [p.label for p in panes], [p.model_path or "" for p in panes],
                                   [p.settings for p in panes], state.prompt,
                                   redact_prompts=redact_prompts, names=[p.display_name for p in panes])
            arena = w.arena.run_file_part() if w.arena.active else None
            if arena is not None:
                doc["arena"] = arena
            write_run_file(path, doc)
        except OSError as exc:
            log.info("saving run to %s: %s", path, exc)
            w.banner.setText(f"Could not write {Path(path).name} ({exc.strerror or 'error'}); pick another folder.")
            return False
        w.statusBar().showMessage(f"Saved {Path(path).name}: replay it with File ▸ Open run… or "
                                  f"`gemmacompare replay`, rerun it with `gemmacompare rerun`", 8000)
        return True

    def run_folder(self) -> str:
        """Where a run-file dialog starts: the last folder used, else the user's documents (never
        the process's working folder, which may be a source checkout)."""
        last = self.w.settings.run_folder
        if last and Path(last).is_dir():
            return last
        docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return docs if docs and Path(docs).is_dir() else str(Path.home())

    def _remember_folder(self, path: str) -> None:
        folder = str(Path(path).parent)
        if folder != self.w.settings.run_folder:
            self.w.settings = replace(self.w.settings, run_folder=folder)
            self.w.save()

    def save_run_dialog(self) -> None:
        name = "arena-round.gcrun" if self.w.arena.active else "comparison.gcrun"
        path, _ = QFileDialog.getSaveFileName(self.w, "Save run", str(Path(self.run_folder(), name)), RUN_FILES)
        if path:
            self._remember_folder(path)
            self.save_run(path)

    def open_run(self, path: str) -> RunViewer | None:
        w = self.w
        try:
            run = read_run_file(path)
        except RunFileError as exc:
            w.banner.setText(widget_text(exc.message, 600))  # it names the file: a stranger's name
            return None
        except OSError as exc:
            w.banner.setText(widget_text(f"Cannot read {Path(path).name} ({exc.strerror or 'error'}); "
                                         "check the file.", 600))
            return None
        viewer = RunViewer(run, Path(path).name, w)
        viewer.busy_reason = w.busy_reason
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewer.place_over(w)
        viewer.show()
        viewer.start()
        return viewer

    def open_run_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Open run", self.run_folder(), f"{RUN_FILES};;All files (*)")
        if path:
            self._remember_folder(path)
            self.open_run(path)

    def rerun_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Rerun a run file on this machine", self.run_folder(),
                                              f"{RUN_FILES};;All files (*)")
        if path:
            self._remember_folder(path)
        viewer = self.open_run(path) if path else None
        if viewer is not None:
            viewer.open_rerun()

    def claim_choices(self) -> tuple[list[tuple[str, str]], list[str]]:
        """The local models to offer a claim check, the panes' first, and the panes' models as the default pair."""
        w = self.w
        choices: list[tuple[str, str]] = []
        seen: set[str] = set()

        def add(name: str, path: str | None) -> None:
            if path and path not in seen and not is_server_ref(path) and Path(path).is_file():
                seen.add(path)
                choices.append((name, path))

        for pane in w.panes:
            add(f"{pane.label}: {pane.display_name}", pane.model_path)
        for name, path in w.demos:
            add(name, path)
        for entry in (w.library.entries if w.library else []):
            add(entry.name, entry.path)
        return choices, [p.model_path or "" for p in w.panes]

    def open_claim_dialog(self) -> ClaimDialog:
        choices, defaults = self.claim_choices()
        dlg = ClaimDialog(choices, defaults, self.w, self.w.busy_reason)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def dropped_run_file(self, ev: QDropEvent) -> str | None:
        """The run file a drag brings, if it brings one (a .gguf goes to the pane it is dropped on)."""
        urls = ev.mimeData().urls()
        if urls and urls[0].isLocalFile() and is_run_file(urls[0].toLocalFile()):
            return urls[0].toLocalFile()
        return None


__all__ = ["RunFileActions", "is_run_file"]
