"""The main window's menu bar and the shortcuts that go with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu

from gemmacompare.state.defaults import MAX_MODELS

from .gallery_dialog import choose_gallery

if TYPE_CHECKING:
    from .main_window import MainWindow


def _action(w: MainWindow, menu: QMenu, text: str, slot: Callable[..., object],
            key: QKeySequence | QKeySequence.StandardKey | str | None = None,
            tip: str = "", checkable: bool = False, toggled: bool = False) -> QAction:
    act = QAction(text, w, checkable=checkable)
    if key is not None:
        act.setShortcut(QKeySequence(key))
    if tip:
        act.setToolTip(tip)
    # `triggered` is the user's change only; `toggled` follows setChecked too.
    (act.toggled if toggled else act.triggered).connect(slot)
    menu.addAction(act)
    return act


def build_menus(w: MainWindow) -> None:
    m = w.menuBar()
    file_menu = m.addMenu("&File")
    for i, pane in enumerate(w.panes):
        _action(w, file_menu, f"Open model for {pane.label}…", pane.open_dialog, "Ctrl+O" if i == 0 else "Ctrl+Shift+O")
    file_menu.addSeparator()
    w.save_run_action = _action(w, file_menu, "Save run…", w.files.save_run_dialog, QKeySequence.StandardKey.Save,
                                "A file anyone can replay, and rerun on their machine (gemmacompare rerun)")
    _action(w, file_menu, "Open run…", w.files.open_run_dialog, "Ctrl+Shift+R")
    _action(w, file_menu, "Open gallery…", lambda: choose_gallery(w, w.files.open_run, w.busy_reason), "Ctrl+Shift+G",
            "A folder of run files from many machines as one table and chart")
    _action(w, file_menu, "Rerun a run file on this machine…", w.files.rerun_dialog, "Ctrl+Shift+U",
            "Open a run file, find its models here, run them with its settings, theirs beside yours")
    _action(w, file_menu, "Check a claim…", w.files.open_claim_dialog, "Ctrl+K",
            'Does "A 45 ms/token, B 110" hold on this machine? Measured with a 95% interval')
    file_menu.addSeparator()
    w.copy_action = _action(w, file_menu, "Copy results as Markdown", w.copy_results, "Ctrl+Shift+C")
    _action(w, file_menu, "Export charts as PNG…", w.export_charts_dialog, "Ctrl+E")
    file_menu.addSeparator()
    _action(w, file_menu, "Quit", w.close, QKeySequence.StandardKey.Quit)

    chat_menu = m.addMenu("&Chat")
    w.add_action = _action(w, chat_menu, "Add a model", w.add_pane, "Ctrl+Shift+N",
                           f"A third or fourth pane (at most {MAX_MODELS})")
    w.add_action.setEnabled(len(w.panes) < MAX_MODELS)
    _action(w, chat_menu, "New chat", w.new_chat, "Ctrl+N")
    _action(w, chat_menu, "Stop all", w.stop, QKeySequence(Qt.Key.Key_Escape))
    w.pane_settings_menu = chat_menu.addMenu("Model settings")
    rebuild_pane_menu(w)

    models_menu = m.addMenu("&Models")
    _action(w, models_menu, "Get models from the Hugging Face Hub…", w.catalog.open_get_models, "Ctrl+Shift+M")
    _action(w, models_menu, "Add a folder of models…", w.catalog.add_folder)
    _action(w, models_menu, "Look for models again", w.catalog.rescan, "F5")

    view = m.addMenu("&View")
    w.show_charts_action = _action(w, view, "Show charts", w.set_charts_visible, "Ctrl+G", checkable=True)
    w.presentation_action = _action(w, view, "Presentation mode", w.set_presentation,
                                    QKeySequence(Qt.Key.Key_F11), checkable=True, toggled=True)
    view.addSeparator()
    w.blind_action = _action(w, view, "Blind arena", w.set_blind, QKeySequence(Qt.Key.Key_F8), checkable=True,
                             toggled=True)
    _action(w, view, "Benchmark tab", w.show_benchmark, "Ctrl+B")
    _action(w, view, "Arena leaderboard", w.arena.show_leaderboard, "Ctrl+L")
    QShortcut(QKeySequence("Ctrl+R"), w, w.arena.regenerate)
    theme_menu = view.addMenu("Theme")
    group = QActionGroup(w)
    for name in ("system", "light", "dark"):
        act = _action(w, theme_menu, name.capitalize(), lambda _=False, n=name: w.set_theme(n), checkable=True)
        act.setChecked(w.settings.theme == name)
        group.addAction(act)
    # Ctrl+Enter also works when focus is outside the prompt box.
    QShortcut(QKeySequence("Ctrl+Return"), w, w.send)


def rebuild_pane_menu(w: MainWindow) -> None:
    w.pane_settings_menu.clear()
    for pane in w.panes:
        act = QAction(f"{pane.label} settings…", w)
        act.triggered.connect(pane.edit_settings)
        w.pane_settings_menu.addAction(act)


__all__ = ["build_menus", "rebuild_pane_menu"]
