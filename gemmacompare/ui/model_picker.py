"""A pane's model picker: find by typing, grouped by source, with facts and size.

A button shows the pane's model; clicking it (or Ctrl+P in the pane) opens a
popup with a search box over every model the library found, the demo models
and recent files. Enter picks the first match. The model loaded in the other
pane is marked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.models.gguf_file import human_bytes
from gemmacompare.models.library import LibraryEntry, LibraryScan

PATH_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1
POPUP_SIZE = (720, 440)  # px: the columns (name, quant, size, facts) at a glance; less on a small screen

OPEN_FILE, ADD_FOLDER, GET_MODELS, SERVER = "open", "add-folder", "get-models", "server"


@dataclass(frozen=True)
class PickerRow:
    group: str
    title: str
    quant: str
    size: str
    detail: str  # architecture · parameters · context
    path: str
    search: str  # lower-case text the filter matches against

    @classmethod
    def from_entry(cls, e: LibraryEntry) -> "PickerRow":
        facts = " · ".join(x for x in (e.architecture, e.params_label,
                                       f"ctx {e.context_length}" if e.context_length else "") if x and x != "?")
        shards = f" ({e.shards} files)" if e.shards > 1 else ""
        search = " ".join((e.title, e.ref, e.source, e.source_label, e.quant, e.architecture)).lower()
        return cls(e.source_label, e.title, e.quant, human_bytes(e.size) + shards, facts, e.path, search)

    @classmethod
    def plain(cls, group: str, title: str, path: str) -> "PickerRow":
        try:
            size = human_bytes(os.path.getsize(path))
        except OSError:
            size = "missing"
        return cls(group, title, "", size, "", path, f"{title} {group} {Path(path).name}".lower())


def picker_rows(demos: list[tuple[str, str]], recents: list[str], scan: LibraryScan | None,
                label: Callable[[str], str] = lambda path: Path(path).name) -> list[PickerRow]:
    rows = [PickerRow.plain("Demo models", label, path) for label, path in demos]
    if scan is not None:
        rows += [PickerRow.from_entry(e) for e in scan.entries]
    known = {r.path for r in rows}
    rows += [PickerRow.plain("Recent", label(r), r) for r in recents if r not in known]
    return rows


class PickerPopup(QFrame):
    chosen = Signal(str)
    action = Signal(str)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("modelPickerPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.search = QLineEdit()
        self.search.setObjectName("modelSearch")
        self.search.setPlaceholderText("Find a model: name, source, quantisation…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        self.search.returnPressed.connect(self._choose_first)
        self.search.installEventFilter(self)
        lay.addWidget(self.search)
        self.note = QLabel("")
        self.note.setObjectName("pickerNote")
        self.note.setWordWrap(True)
        self.note.hide()
        lay.addWidget(self.note)
        self.tree = QTreeWidget()
        self.tree.setObjectName("modelTree")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Model", "Quant", "Size", "Facts"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in (1, 2, 3):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.tree.itemActivated.connect(self._on_item)
        self.tree.itemClicked.connect(self._on_item)
        lay.addWidget(self.tree, 1)
        buttons = QHBoxLayout()
        for text, key in (("Open GGUF…", OPEN_FILE), ("Add folder…", ADD_FOLDER), ("Get models…", GET_MODELS),
                          ("Model on a server…", SERVER)):
            b = QPushButton(text)
            b.setObjectName(f"picker-{key}")
            b.clicked.connect(lambda _=False, k=key: self._act(k))
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.count_label = QLabel("")
        buttons.addWidget(self.count_label)
        lay.addLayout(buttons)
        self.resize(*POPUP_SIZE)

    def fill(self, rows: list[PickerRow], current: str | None, other: tuple[str, str] | None,
             note: str = "") -> None:
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        other_path, other_label = other or ("", "")
        for r in rows:
            g = groups.get(r.group)
            if g is None:
                g = QTreeWidgetItem([r.group])
                g.setFlags(Qt.ItemFlag.ItemIsEnabled)
                f = g.font(0)
                f.setBold(True)
                g.setFont(0, f)
                g.setFirstColumnSpanned(True)
                self.tree.addTopLevelItem(g)
                g.setFirstColumnSpanned(True)
                groups[r.group] = g
            title = r.title
            marks = []
            if r.path == current:
                marks.append("this pane")
            if other_path and r.path == other_path:
                marks.append(f"loaded in {other_label}")
            if marks:
                title += f"   ◆ {', '.join(marks)}"
            item = QTreeWidgetItem([title, r.quant, r.size, r.detail])
            item.setData(0, PATH_ROLE, r.path)
            item.setData(0, SEARCH_ROLE, r.search)
            item.setToolTip(0, r.path)
            g.addChild(item)
        self.tree.expandAll()
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.apply_filter(self.search.text())

    def apply_filter(self, text: str) -> None:
        words = text.lower().split()
        shown = 0
        first: QTreeWidgetItem | None = None
        for gi in range(self.tree.topLevelItemCount()):
            g = self.tree.topLevelItem(gi)
            if g is None:
                continue
            visible = 0
            for ci in range(g.childCount()):
                c = g.child(ci)
                if c is None:
                    continue
                hit = all(w in c.data(0, SEARCH_ROLE) for w in words)
                c.setHidden(not hit)
                if hit:
                    visible += 1
                    first = first or c
            g.setHidden(visible == 0)
            shown += visible
        self.count_label.setText(f"{shown} model{'s' if shown != 1 else ''}")
        if first is not None:
            self.tree.setCurrentItem(first)

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802
        # Up/Down in the search box move through the list, as in a launcher.
        if obj is self.search and isinstance(ev, QKeyEvent) and ev.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            self.tree.setFocus()
            self.tree.keyPressEvent(ev)
            return True
        return super().eventFilter(obj, ev)

    def _choose_first(self) -> None:
        item = self.tree.currentItem()
        if item is not None and item.data(0, PATH_ROLE) and not item.isHidden():
            self._on_item(item)

    def _on_item(self, item: QTreeWidgetItem, _col: int = 0) -> None:
        path = item.data(0, PATH_ROLE)
        if path:
            self.hide()
            self.chosen.emit(path)

    def _act(self, key: str) -> None:
        self.hide()
        self.action.emit(key)


# A quantisation in a model's title: Q4_K_M, IQ2_XS, Q8_0, F16, BF16, MXFP4.
_QUANT = re.compile(r"\b(?:I?Q\d\w*|B?F(?:16|32)|MXFP4\w*)\b", re.IGNORECASE)
GROUP_SEP = "  ·  "  # between a library entry's title and where it comes from
MIN_HEAD = 8  # characters of the name kept before the group is given up


def elide_keeping_quant(text: str, fm: QFontMetrics, room: int) -> str:
    """The title within `room` pixels, cut in its name, never in its quantisation and marks: "SmolLM2-1… Q4_1
    (demo)", not "SmolLM2-1…_1 (demo)" (two models of one family differ only there). Where it comes from
    ("  ·  LM Studio") goes first; a title without a quantisation is cut in the middle."""
    if fm.horizontalAdvance(text) <= room:
        return text
    quants = list(_QUANT.finditer(text.split(GROUP_SEP)[0]))
    if not quants:
        return fm.elidedText(text, Qt.TextElideMode.ElideMiddle, room)
    head, tail = text[:quants[-1].start()].rstrip(), text[quants[-1].start():]
    quant = quants[-1].group(0)
    plain = tail.split(GROUP_SEP)[0]
    mark = re.search(r"\(.*\)$", plain)  # "(demo)"
    short = f"{quant} {mark.group(0)}" if mark else quant
    # Given up in this order: where it comes from, words between the quantisation and the mark ("base"),
    # the name down to its first letters, then the mark.
    for t, keep in ((tail, MIN_HEAD), (plain, MIN_HEAD), (short, MIN_HEAD), (short, 2), (quant, 2)):
        head_room = room - fm.horizontalAdvance(" " + t)
        if fm.horizontalAdvance(head) <= head_room:
            return f"{head} {t}"
        if head_room >= fm.horizontalAdvance(head[:keep] + "…"):
            return f"{fm.elidedText(head, Qt.TextElideMode.ElideRight, head_room)} {t}"
    return fm.elidedText(f"{head[:2]}… {quant}", Qt.TextElideMode.ElideRight, room)


class ModelPicker(QPushButton):
    """The button in the pane's header; opens the popup."""

    chosen = Signal(str)
    action = Signal(str)

    def __init__(self, pane_label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelChooser")
        self.pane_label = pane_label
        self.setText("Choose a model…")
        self.setToolTip(f"Choose the model for {pane_label} (Ctrl+P in the pane)")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setStyleSheet("text-align: left; padding: 3px 8px;")
        self.rows: list[PickerRow] = []
        self.current: str | None = None
        self.other: tuple[str, str] | None = None
        self.note = ""
        self.popup = PickerPopup(self)
        self.popup.chosen.connect(self.chosen)
        self.popup.action.connect(self.action)
        self.clicked.connect(self.open_popup)
        self.setShortcut(QKeySequence())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(160, super().minimumSizeHint().height())

    def set_rows(self, rows: list[PickerRow], note: str = "") -> None:
        self.rows, self.note = rows, note
        if self.popup.isVisible():
            self.popup.fill(self.rows, self.current, self.other, self.note)

    def set_current(self, path: str | None, title: str | None = None) -> None:
        self.current = path
        if path is None:
            self.setText("Choose a model…")
            return
        row = next((r for r in self.rows if r.path == path), None)
        # Library entries say where they come from; demo and recent rows name themselves.
        text = title or (f"{row.title}  ·  {row.group}" if row and row.quant else row.title if row else Path(path).name)
        self._full_text = text
        self._elide()
        self.setToolTip(f"{text}\n{path}")

    def current_title(self) -> str:
        """The current model's name as listed (a demo's label, a library entry's title), '' if none."""
        row = next((r for r in self.rows if r.path == self.current), None)
        return row.title.removesuffix(" (demo)") if row else ""

    def _elide(self) -> None:
        text = getattr(self, "_full_text", "")
        if text:
            room = max(40, self.width() - self.fontMetrics().horizontalAdvance("  ▾") - 24)
            self.setText(elide_keeping_quant(text, self.fontMetrics(), room) + "  ▾")

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(ev)
        self._elide()

    def clear(self) -> None:
        """Forget every name (the blind arena hides which model is where)."""
        self.rows, self.current, self.other, self.note = [], None, None, ""
        self.popup.hide()
        self.popup.tree.clear()
        self.setText("")
        self.setToolTip("")

    def set_other(self, path: str | None, label: str) -> None:
        self.other = (path, label) if path else None

    def open_popup(self) -> None:
        self.popup.fill(self.rows, self.current, self.other, self.note)
        # Under the button, within its screen: pane C's or D's picker sits near the right edge,
        # and a 1280-wide screen has no room for the popup's full width there.
        screen = (self.screen() or QApplication.primaryScreen()).availableGeometry()
        width, height = min(POPUP_SIZE[0], screen.width()), min(POPUP_SIZE[1], screen.height())
        self.popup.resize(width, height)
        below = self.mapToGlobal(self.rect().bottomLeft())
        above = self.mapToGlobal(self.rect().topLeft()).y() - height
        y = below.y() if below.y() + height <= screen.bottom() + 1 or above < screen.top() else above
        x = max(screen.left(), min(below.x(), screen.right() + 1 - width))
        self.popup.move(x, max(screen.top(), min(y, screen.bottom() + 1 - height)))
        self.popup.search.clear()
        self.popup.show()
        self.popup.search.setFocus()
