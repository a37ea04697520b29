"""One side of the comparison: model chooser, facts, load state, chat."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gemmacompare.engine.api import (
    MemorySampler,
    Participant,
    RunMeasured,
    RunRecord,
    RunStarted,
    ServerRefError,
    command_for,
    is_server_ref,
    parse_server_ref,
)
from gemmacompare.engine.api import protocol as p
from gemmacompare.models.base_models import is_base_model
from gemmacompare.models.display_names import display_name, elide_middle
from gemmacompare.models.gguf_file import FileProblem, ModelFacts, ModelFileError, human_bytes, read_model_facts
from gemmacompare.models.library import LibraryScan
from gemmacompare.state.settings import PaneSettings

from .charts import GrowingArray, SeriesData
from .chat_view import ChatView, ReplyWidget, record_batch
from .model_picker import ADD_FOLDER, GET_MODELS, OPEN_FILE, SERVER, ModelPicker, picker_rows
from .pane_settings import PaneSettingsDialog
from .run_file_actions import is_run_file
from .server_dialog import ServerDialog
from .session_runner import SessionRunner
from .stats_format import stats_line, stats_tooltip

log = logging.getLogger(__name__)

EMPTY, LOADING, READY, GENERATING, ERROR = "empty", "loading", "ready", "generating", "error"


class ModelPane(QFrame):
    finished = Signal(int)  # pane index, after a reply (or its error)
    state_changed = Signal(int)
    model_chosen = Signal(int, str)  # pane index, path (for recents / settings)
    settings_changed = Signal(int)
    get_models_requested = Signal()
    add_folder_requested = Signal()
    remove_requested = Signal(int)  # pane index
    facts_read = Signal(str, object)  # path, ModelFacts or ModelFileError (from the reading thread)

    def __init__(self, index: int, label: str, colour: str, runner: SessionRunner,
                 settings: PaneSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index, self.label, self.colour = index, label, colour
        self.setObjectName("pane")
        self.setAcceptDrops(True)
        self.runner = runner  # the window's door to the compare session; this pane is its slot `index`
        self.sampler: MemorySampler = runner.session.sampler
        self.settings = settings
        self.state = EMPTY
        self.facts_read.connect(self._on_facts_read)
        self.model_path: str | None = None
        self.facts: ModelFacts | None = None
        self.loaded: p.Loaded | None = None
        self.messages: list[p.ChatMessage] = []
        self.turn_ttfts: list[float] = []  # this conversation's time to first token, a turn each (the banner's)
        self.record: RunRecord | None = None
        self.replay_record: RunRecord | None = None  # the replay of `record`, as far as it has played
        self.reply: ReplyWidget | None = None
        self.mode_note = ""
        self.reply_title: str | None = None  # blind mode: the side's name instead of the model's
        # Blind mode until the vote: memory, stop reason, prompt size and load facts tell models apart.
        self.blind = False
        self.compact = False  # presentation mode: a short stats line, the answer gets the room
        self._state_text = self._state_tip = ""
        self._token_times = GrowingArray()  # seconds since Send, per token
        self._load_started = 0.0
        self._build()
        self._load_timer = QTimer(self)
        self._load_timer.setInterval(100)
        self._load_timer.timeout.connect(self._tick_loading)
        self._set_state(EMPTY, "No model yet: pick one above or drop a .gguf file here.")

    # --- layout --------------------------------------------------------------

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        head = QHBoxLayout()
        swatch = QLabel()
        swatch.setFixedSize(6, 26)
        swatch.setStyleSheet(f"background:{self.colour}; border-radius:3px;")
        self.title = QLabel(f"<b>{self.label}</b>")
        self.chooser = ModelPicker(self.label)
        self.chooser.chosen.connect(self._on_chosen)
        self.chooser.action.connect(self._on_picker_action)
        # Ctrl+P as in editors' quick open; Ctrl+L is the window's leaderboard.
        find = QShortcut(QKeySequence("Ctrl+P"), self, self.chooser.open_popup)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.settings_button = QToolButton()
        self.settings_button.setText("⚙")
        self.settings_button.setToolTip(f"Generation settings for {self.label}")
        self.settings_button.clicked.connect(self.edit_settings)
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setToolTip(f"Remove model {self.label} from the comparison")
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self.index))
        self.remove_button.hide()
        self.swatch = swatch
        head.addWidget(swatch)
        head.addWidget(self.title)
        head.addWidget(self.chooser, 1)
        head.addWidget(self.settings_button)
        head.addWidget(self.remove_button)
        lay.addLayout(head)
        self.facts_label = QLabel("")
        self.facts_label.setObjectName("facts")
        self.facts_label.setWordWrap(True)
        # Two lines always, so both panes' chats start at the same height.
        self.facts_label.setMinimumHeight(self.facts_label.fontMetrics().lineSpacing() * 2)
        self.state_label = QLabel("")
        self.state_label.setObjectName("state")
        self.state_label.setWordWrap(True)
        lay.addWidget(self.facts_label)
        lay.addWidget(self.state_label)
        self.chat = ChatView()
        lay.addWidget(self.chat, 1)

    def set_removable(self, on: bool) -> None:
        """Only a third or fourth pane can go: a comparison needs two."""
        self.remove_button.setVisible(on)

    def set_choices(self, demos: list[tuple[str, str]], recents: list[str], library: LibraryScan | None = None) -> None:
        """Fill the picker: demo models, what the library found, recent files."""
        note = ""
        if library is not None and not library.entries:
            note = ("No GGUF models found in other tools' folders (LM Studio, Ollama, Hugging Face cache, "
                    f"llama.cpp, GPT4All, Jan). Looked in: {library.looked_in()}")
        self.chooser.set_rows(picker_rows(demos, recents, library, _choice_label), note)
        self._select_current()

    def _select_current(self) -> None:
        path = self.model_path
        self.chooser.set_current(path, _choice_label(path) if path and is_server_ref(path) else None)

    def _on_chosen(self, path: str) -> None:
        if path != self.model_path:
            self.set_model(path)

    def _on_picker_action(self, key: str) -> None:
        if key == OPEN_FILE:
            self.open_dialog()
        elif key == ADD_FOLDER:
            self.add_folder_requested.emit()
        elif key == GET_MODELS:
            self.get_models_requested.emit()
        elif key == SERVER:
            self.server_dialog()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, f"Open a model for {self.label}", "",
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.set_model(path)

    def server_dialog(self) -> None:
        current = self.model_path if self.model_path and is_server_ref(self.model_path) else ""
        s = self.settings
        dlg = ServerDialog(f"A model on a server for {self.label}", current.partition("#")[0], self,
                           (s.server.connect_timeout_s, s.server.first_byte_timeout_s, s.server.idle_timeout_s),
                           other_servers=self._other_servers())
        if dlg.exec() and dlg.value():
            connect, first, idle = dlg.timeout_values()
            self.settings = replace(s, server=replace(s.server, connect_timeout_s=connect,
                                                      first_byte_timeout_s=first, idle_timeout_s=idle))
            self.settings_changed.emit(self.index)
            self.set_model(dlg.value())

    def _other_servers(self) -> tuple[str, ...]:
        """The base URLs of servers in the other panes (which API key may be sent, see state/secrets.py)."""
        out = []
        for k, slot in enumerate(self.runner.session.slots):
            if k != self.index and slot.path and is_server_ref(slot.path):
                try:
                    out.append(parse_server_ref(slot.path).base_url)
                except ServerRefError:
                    pass  # that pane says so itself
        return tuple(out)

    # --- drag and drop -------------------------------------------------------

    def dragEnterEvent(self, ev: QDragEnterEvent) -> None:  # noqa: N802
        urls = ev.mimeData().urls()
        if urls and urls[0].isLocalFile() and not is_run_file(urls[0].toLocalFile()):
            ev.acceptProposedAction()
        else:
            ev.ignore()  # a run file is the window's to open

    def dropEvent(self, ev: QDropEvent) -> None:  # noqa: N802
        urls = ev.mimeData().urls()
        if urls and urls[0].isLocalFile():
            ev.acceptProposedAction()
            self.set_model(urls[0].toLocalFile())

    # --- model ---------------------------------------------------------------

    @property
    def display_name(self) -> str:
        """The name the picker shows (a demo's label, the library's name, the file's), used everywhere."""
        if not self.model_path:
            return self.label
        if is_server_ref(self.model_path):
            return self.facts.name if self.facts else _choice_label(self.model_path)
        title = self.chooser.current_title()
        return title or display_name(self.model_path, self.facts.name if self.facts else "")

    @property
    def worker(self) -> Participant:
        return self.runner.worker(self.index)

    @property
    def busy(self) -> bool:
        return self.runner.busy(self.index)

    def set_model(self, path: str) -> bool:
        """Check the file, show its facts, and load it in the background."""
        if self.busy:
            self.show_error("Wait for the current load or reply to finish (or press Esc) before changing model.")
            return False
        if is_server_ref(path):
            return self._set_server(str(path))
        # A stranger's header is read within limits and off the GUI thread: a hostile one is
        # refused in milliseconds, a legitimate 262k-token vocabulary takes ~50 ms; either
        # way the window never waits on a file.
        self.state_label.setText(f"Reading {Path(path).name}…")

        def read() -> None:
            try:
                result: object = read_model_facts(path)
            except ModelFileError as exc:
                result = exc
            except Exception:  # noqa: BLE001 - one sentence in the pane, detail in the log
                log.exception("reading the facts of %s", path)
                result = ModelFileError(FileProblem.UNREADABLE,
                                        f"{Path(path).name} could not be read; see the log for details.")
            self.facts_read.emit(str(path), result)

        threading.Thread(target=read, name="model-facts", daemon=True).start()
        return True

    def _on_facts_read(self, path: str, result: object) -> None:
        """On the GUI thread: the picked file's facts, or why it cannot be used."""
        if isinstance(result, ModelFileError):
            self.show_error(result.message)
            return
        if not isinstance(result, ModelFacts) or self.busy:
            return
        facts = result
        self.model_path, self.facts, self.loaded = str(path), facts, None
        self._select_current()
        self.facts_label.setText(self._facts_text(facts))
        self.facts_label.setToolTip(facts.path)
        self.model_chosen.emit(self.index, self.model_path)
        self.reload()

    def _set_server(self, ref_text: str) -> bool:
        try:
            ref = parse_server_ref(ref_text)
        except ServerRefError as exc:
            self.show_error(str(exc))
            return False
        self.model_path, self.facts, self.loaded = ref_text, None, None
        self._select_current()
        self.facts_label.setText(f"Server {ref.base_url} · model {ref.model or '(its only one)'}")
        self.facts_label.setToolTip(ref_text)
        if ref.insecure:
            self.chat.add_notice(f"{ref.base_url} is plain http to another machine: prompts, answers and any API "
                                 "key travel unencrypted (use https or an SSH tunnel).", "error")
        self.model_chosen.emit(self.index, self.model_path)
        self.reload()
        return True

    def reload(self) -> None:
        if not self.model_path:
            return
        s = self.settings
        self._load_started = time.monotonic()
        self._set_state(LOADING, "Loading…")
        self._load_timer.start()
        self.runner.load(self.index, self.model_path, s)

    @staticmethod
    def _facts_text(f: ModelFacts) -> str:
        if f.template_problem:
            tpl = f"chat template broken ({f.template_problem}): use raw completion"
        elif is_base_model(f):
            tpl = "base model: asked in a question-and-answer frame"
        else:
            tpl = "chat template" if f.has_chat_template else "no chat template (fallback)"
        extra = f" · thinking: {f.reasoning}" if f.reasoning else ""
        if f.synthetic:
            extra += f" · {f.SYNTHETIC_LABEL}"  # never mistaken for the real model's answers
        return (f"{f.name} · {f.architecture} · {f.size_label} params · {f.quantization} · "
                f"{human_bytes(f.file_size)} · ctx {f.context_length or '?'} · {tpl}{extra}")

    def _tick_loading(self) -> None:
        if self.state == LOADING:
            self.state_label.setText(f"Loading… {time.monotonic() - self._load_started:.1f} s")
        else:
            self._load_timer.stop()

    def on_loaded(self, ev: p.Loaded) -> None:
        self.loaded = ev
        if self.worker.remote:
            self.facts = ev.facts
            ctx = f" · context {ev.n_ctx}" if ev.n_ctx else ""
            mem = "memory: server process" if self.worker.pid else "memory: not measured (remote)"
            self.facts_label.setText(f"{ev.facts.name} · {ev.system_info}{ctx} · {mem}")
            self._state_tip = ""
            self._set_state(READY, f"Ready · checked in {ev.load_seconds:.1f} s · served remotely, no threads here")
            return
        where = f" · {ev.placement.summary}" if ev.placement else ""
        self._state_tip = ev.placement.accounting if ev.placement else ""
        self._set_state(READY, f"Ready · loaded in {ev.load_seconds:.1f} s · context {ev.n_ctx}{where} · "
                               f"flash attention {ev.flash_attn} · KV {ev.type_k}/{ev.type_v}"
                               + (" · full-size SWA cache" if ev.swa_full else ""))

    def on_load_failed(self, message: str) -> None:
        self.show_error(message)

    def show_error(self, message: str) -> None:
        self.chat.add_notice(message, "error")
        if self.state in (EMPTY, LOADING) or self.loaded is None:
            self._set_state(ERROR, message)
        else:
            self.state_label.setText(f"{message} Still using {self.display_name}.")

    def set_compact(self, on: bool) -> None:
        self.compact = on
        self.refresh_stats_line()

    def set_blind(self, on: bool) -> None:
        """Blind until the vote (or not): the status and stats lines say only what both sides share."""
        self.blind = on
        self._show_state()
        self.refresh_stats_line()

    def _show_state(self) -> None:
        # llama.cpp's buffers (the tooltip) give the model's size, the load line its time and
        # context, "Ready · stop string" a base model's frame: blind, the state's name only.
        blind_text = {READY: "Ready", GENERATING: "Generating…", LOADING: "Loading…"}.get(self.state)
        hidden = self.blind and blind_text is not None
        self.state_label.setText(blind_text if self.blind and blind_text else self._state_text)
        self.state_label.setToolTip("" if hidden else self._state_tip)

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self._state_text = text
        self._show_state()
        self.state_label.setProperty("state", state)
        self.state_label.style().unpolish(self.state_label)
        self.state_label.style().polish(self.state_label)
        self.state_changed.emit(self.index)

    # --- settings ------------------------------------------------------------

    def edit_settings(self) -> None:
        # Blind: titled by the side, never the pane's letter (which would tell the sides apart).
        dlg = PaneSettingsDialog(f"{self.reply_title or self.label} settings", self.settings,
                                 bool(self.facts and self.facts.thinking_switch), self)
        if dlg.exec():
            self.apply_settings(dlg.value())

    def apply_settings(self, new: PaneSettings) -> None:
        old, self.settings = self.settings, new
        self.settings_changed.emit(self.index)
        if old.load != new.load and self.model_path:
            self.reload()

    # --- chat ----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.state == READY and not self.busy

    def command(self, text: str, **sampling: Any) -> p.GenerateCommand:
        """This pane's request for `text` after its conversation so far; nothing is shown yet.
        `sampling`: one round's changes (a blind regenerate's seed).

        A thread count set in the pane's settings is the user's choice and wins
        over the mode's share (the session records which it was).
        """
        return command_for(self.settings, self.messages, text, request_id=int(time.monotonic() * 1000),
                           thinking_switch=bool(self.facts and self.facts.thinking_switch), **sampling)

    def refresh_stats_line(self) -> None:
        """Write the finished reply's stats line again (the reveal shows its memory)."""
        rec, reply = self.record, self.reply
        if rec is not None and reply is not None and rec.finished is not None:
            reply.stats.setText(stats_line(rec.stats(), self.mode_note, blind=self.blind, compact=self.compact))

    def show_waiting(self, text: str) -> None:
        """Fair mode: this model's turn has not come; its last stop reason is not this round's."""
        self.state_label.setText(text)

    def clear_run(self) -> None:
        """A new round: the last reply's figures and curves are no longer this round's."""
        self.record = self.replay_record = None
        self._token_times.clear()

    def begin_run(self, text: str, started: RunStarted, mode_note: str) -> None:
        """The session started this pane's run: show the question and an empty reply."""
        self.messages.append(p.ChatMessage("user", text))
        self.mode_note = mode_note
        self.chat.add_user(text)
        self.reply = self.chat.add_reply(self.reply_title or elide_middle(self.display_name))
        if self.worker.remote:
            self.reply.unit = "chunks"
        self.record = RunRecord(self.label, started.t_send)
        self._token_times.clear()
        self._set_state(GENERATING, "Reading the prompt…")

    def new_chat(self) -> None:
        self.messages.clear()
        self.turn_ttfts.clear()
        self.record, self.replay_record, self.reply = None, None, None
        self._token_times.clear()
        self.chat.clear()

    def on_events(self, batch: list[p.Event | RunMeasured]) -> None:
        rec, reply = self.record, self.reply
        if rec is None or reply is None:
            return
        for ev in batch:
            if isinstance(ev, RunMeasured):
                rec.other_load = ev.other_load
            elif isinstance(ev, p.PrefillDone):
                reused = f", {ev.n_reused} from the cache, {ev.n_prefilled} read" if ev.n_reused else ""
                self._state_text = f"Generating… (prompt {ev.n_prompt} tokens{reused} in {ev.ms:.0f} ms)"
                self._show_state()
        self._show_tokens(rec, reply, batch)
        if rec.done:
            self._finish_reply()

    def _show_tokens(self, rec: RunRecord, reply: ReplyWidget, batch: Sequence[p.Event | RunMeasured]) -> None:
        """Record a batch's events and append its tokens' text to the reply at once (not per token)."""
        tokens = record_batch(rec, batch)
        self._token_times.extend([x.t - rec.t_send for x in tokens])
        reply.add_tokens(tokens)

    def _finish_reply(self) -> None:
        rec, reply = self.record, self.reply
        if rec is None or reply is None:
            return
        rec.memory = self.sampler.trace(self.label)
        if rec.error is not None:
            if self.messages and self.messages[-1].role == "user":
                self.messages.pop()  # not answered: the next prompt should not see it twice
            self.chat.add_notice(rec.error.message, "error")
            # The sentence is for the user; the detail (a traceback, the log's tail) for the log.
            log.info("%s: %s\n%s", self.label, rec.error.message, rec.error.detail)
            reply.finish("", "")
            if rec.error.fatal:
                self.sampler.watch(self.label, None)
                self._set_state(READY, "The model's worker crashed; it restarts on the next prompt.")
            else:
                self._set_state(READY, "Ready")
        else:
            self.messages.append(p.ChatMessage("assistant", rec.answer))
            st = rec.stats()
            if st.ttft_s is not None:
                self.turn_ttfts.append(st.ttft_s)
            server = rec.finished.server if rec.finished else None
            if server and server.problem:
                self.chat.add_notice(server.problem, "error")
            placement = self.loaded.placement if self.loaded else None
            line = stats_line(st, self.mode_note, blind=self.blind, compact=self.compact)
            reply.finish(line, stats_tooltip(rec, placement))
            self._set_state(READY, f"Ready · {st.stop_reason.replace('_', ' ')}")
        self.finished.emit(self.index)

    def round_ended(self) -> None:
        """The round is over; a run that ended without a final event is not left 'generating'."""
        if self.state == GENERATING and self.record and not self.record.done:
            self._set_state(READY, "Ready")
            self.finished.emit(self.index)

    # --- chart data ------------------------------------------------------------

    def series(self) -> SeriesData | None:
        placement = self.loaded.placement if self.loaded else None
        device = placement.device_bytes() if placement else 0
        rec = self.record
        if rec is None:
            # Before the first reply: no curves, but what llama.cpp put on a GPU at load.
            if not device:
                return None
            empty = np.empty(0)
            return SeriesData(empty, empty, empty, None, False, device / 2**20)
        shown = self.replay_record or rec
        samples = rec.memory.samples if (rec.done and rec.memory) else self.sampler.samples_since(self.label, 0)
        mem_t = np.fromiter((s.t - rec.t_send for s in samples), float, len(samples))
        rss = np.fromiter((s.rss / 2**20 for s in samples), float, len(samples))
        vram = None
        if samples and samples[0].vram is not None:
            vram = np.fromiter((s.vram or 0 for s in samples), float, len(samples)) / 2**20
        source = rec.memory.gpu_source if (rec.done and rec.memory) else self.sampler.gpu_source(self.label)
        return SeriesData(self._token_times.view(), mem_t, rss, vram, shown.done,
                          device / 2**20 if device else None, source)

    def elapsed(self) -> float:
        """Seconds since this pane's Send (or its replay's start), frozen when its reply is done."""
        rec = self.replay_record or self.record
        if rec is None:
            return 0.0
        if rec.finished:
            return rec.finished.t_end - rec.t_send
        if rec.error is not None:
            return (rec.tokens[-1].t - rec.t_send) if rec.tokens else 0.0
        return time.monotonic() - rec.t_send

    def begin_replay(self, started: RunStarted) -> None:
        """The replay of the latest run starts: its reply empties, and its figures wait for its end."""
        if self.reply is None or self.record is None:
            return
        self.reply.reset()
        self.replay_record = RunRecord(self.label, started.t_send)
        self._token_times.clear()

    def on_replay_events(self, batch: list[p.Event]) -> None:
        rec, reply, live = self.replay_record, self.reply, self.record
        if rec is None or reply is None or live is None:
            return
        self._show_tokens(rec, reply, batch)  # the replay's figures are the recorded run's
        if rec.done:
            # Text held back at the very end travels without a token; add it too.
            reply.add("", live.answer[len(reply.answer.text):], 0)
            # The live run's stats line, as it was (blind mode had its tooltip cleared): the same figures.
            reply.finish(reply.stats.text(), reply.stats.toolTip())


def _choice_label(path: str) -> str:
    if is_server_ref(path):
        try:
            return parse_server_ref(path).label()
        except ServerRefError:
            return path
    return Path(path).name
