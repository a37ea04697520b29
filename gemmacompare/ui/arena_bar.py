"""The blind arena's bar under the panes: vote buttons, a room's show of hands, reveal."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.arena.battles import BOTH_BAD, ONE_BETTER, OUTCOME_LABELS, OUTCOMES, TIE, TWO_BETTER, VoteCounts

HELP = ("Blind arena: which model sits left (Model 1) or right (Model 2) is drawn at random for every prompt, "
        "and names stay hidden until you vote. Speed curves and stats stay visible: speed is part of what "
        "people judge, and hiding it would be a different experiment.")

VOTE_KEYS = {ONE_BETTER: "1", TWO_BETTER: "2", TIE: "3", BOTH_BAD: "4"}


class CountBox(QSpinBox):
    submitted = Signal()

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802
        if ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.interpretText()
            self.submitted.emit()
            return
        super().keyPressEvent(ev)


class VoteBar(QFrame):
    voted = Signal(object)  # VoteCounts: one vote, or a room's show of hands
    regenerate = Signal()
    new_round = Signal()
    save_round = Signal()  # after the vote: the round as a run file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("arenaBar")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        self.hint = QLabel(HELP)
        self.hint.setObjectName("arenaHint")
        self.hint.setWordWrap(True)
        lay.addWidget(self.hint)

        row = QHBoxLayout()
        self.vote_buttons: dict[str, QPushButton] = {}
        for outcome in OUTCOMES:
            b = QPushButton(f"{OUTCOME_LABELS[outcome]}  ({VOTE_KEYS[outcome]})")
            b.setObjectName(f"vote_{outcome}")
            b.clicked.connect(lambda _=False, o=outcome: self.voted.emit(VoteCounts.single(o)))
            self.vote_buttons[outcome] = b
            row.addWidget(b)
        row.addSpacing(12)
        self.hands_button = QPushButton("Show of hands…  (H)")
        self.hands_button.setToolTip("Enter how many people in the room chose each answer")
        self.hands_button.clicked.connect(self.open_hands)
        row.addWidget(self.hands_button)
        row.addStretch(1)
        lay.addLayout(row)
        # A row of their own: in presentation mode's large type one row of all seven buttons
        # was wider than a 1024-pixel screen and pushed the right-hand answer off it.
        row2 = QHBoxLayout()
        row2.addStretch(1)
        self.regen_button = QPushButton("Regenerate  (Ctrl+R)")
        self.regen_button.setToolTip("Same prompt, new seed, sides drawn again")
        self.regen_button.clicked.connect(self.regenerate)
        self.new_button = QPushButton("New round  (Ctrl+N)")
        self.new_button.clicked.connect(self.new_round)
        self.save_button = QPushButton("Save round…  (Ctrl+S)")
        self.save_button.setToolTip("After the vote: this round, its answers, figures and vote, as a run file "
                                    "anyone can replay")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_round)
        row2.addWidget(self.regen_button)
        row2.addWidget(self.new_button)
        row2.addWidget(self.save_button)
        lay.addLayout(row2)

        # A room's show of hands: four counts, Tab between them, Enter records.
        self.hands = QWidget()
        hands = QHBoxLayout(self.hands)
        hands.setContentsMargins(0, 0, 0, 0)
        hands.addWidget(QLabel("Show of hands:"))
        self.counts: dict[str, QSpinBox] = {}
        for outcome in OUTCOMES:
            spin = CountBox()
            spin.setRange(0, 100_000)
            spin.setObjectName(f"hands_{outcome}")
            spin.setAccessibleName(OUTCOME_LABELS[outcome])
            spin.submitted.connect(self._record_hands)
            hands.addWidget(QLabel(OUTCOME_LABELS[outcome]))
            hands.addWidget(spin)
            self.counts[outcome] = spin
        self.record_button = QPushButton("Record show of hands  (Enter)")
        self.record_button.clicked.connect(self._record_hands)
        hands.addWidget(self.record_button)
        hands.addStretch(1)
        self.hands.hide()
        lay.addWidget(self.hands)

        self.result = QLabel("")
        self.result.setObjectName("arenaResult")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.result)

        self.shortcuts: list[QShortcut] = []
        self.set_voting(False)

    def install_shortcuts(self, window: QWidget) -> None:
        """Keys 1–4 and H, live only while a vote is open (the prompt box is off then)."""
        for outcome, key in VOTE_KEYS.items():
            sc = QShortcut(QKeySequence(key), window, lambda o=outcome: self._key_vote(o))
            self.shortcuts.append(sc)
        self.shortcuts.append(QShortcut(QKeySequence("H"), window, self.open_hands))
        for sc in self.shortcuts:
            sc.setEnabled(False)

    def _key_vote(self, outcome: str) -> None:
        if self.vote_buttons[outcome].isEnabled() and not self.hands.isVisible():
            self.voted.emit(VoteCounts.single(outcome))

    def set_voting(self, on: bool) -> None:
        for b in (*self.vote_buttons.values(), self.hands_button, self.record_button):
            b.setEnabled(on)
        for sc in self.shortcuts:
            sc.setEnabled(on)
        if not on:
            self.hands.hide()

    def open_hands(self) -> None:
        if not self.hands_button.isEnabled():
            return
        for spin in self.counts.values():
            spin.setValue(0)
        self.hands.show()
        # While the counts are open, digits go into them, not to the vote keys.
        for sc in self.shortcuts:
            sc.setEnabled(False)
        first = self.counts[ONE_BETTER]
        first.setFocus()
        first.selectAll()

    def _record_hands(self) -> None:
        votes = VoteCounts(*(spin.value() for spin in self.counts.values()))
        if votes.total == 0:
            self.result.setText("Enter at least one hand before recording the show of hands.")
            return
        self.hands.hide()
        self.voted.emit(votes)
