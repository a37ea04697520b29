"""A token source for benchmarks/gui_speed.py --source replay: GPU-class rates in the real window.

`SyntheticStreamWorker` is a ModelWorker whose child process answers like the real
worker (Loaded, PromptReady, PrefillDone, TokenBatch every TOKEN_FLUSH_S,
Finished, over the same pipe and the same pickled events) but, instead of
running llama.cpp, plays a token stream at a chosen rate. Everything from the
pipe up (ModelWorker.generate, the compare session's threads, SessionRunner's queue and drain timer,
ModelPane, ReplyWidget, LiveCharts) is the code of a real run.

The stream is real token texts: a Markdown answer (headings, lists, tables,
code blocks) after a thinking section, tokenized with the pane's own GGUF
vocabulary and cut back into one piece per token, as the worker's to_piece does.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import time

from gemmacompare.engine import protocol as p
from gemmacompare.engine.local.model_worker import ModelWorker
from gemmacompare.engine.local.token_stream import TOKEN_FLUSH_S
from gemmacompare.models.gguf_file import read_model_facts
from gemmacompare.state.settings_table import with_values  # noqa: E402

THINKING = (
    "The user wants a thorough guide. I should start with an overview, then go through each part with "
    "examples, lists and code, and keep every section short enough to scan. Let me check the edge cases "
    "first: empty input, very long input, and input with unusual characters. Then the performance notes. "
)

TOPICS = ["parsing", "caching", "threads", "memory", "tokenizers", "sampling", "batching", "quantization"]


def markdown_answer(n_sections: int) -> str:
    """A long answer that uses the Markdown a model's reply does."""
    parts = ["# A guide in many parts\n\nThis answer walks through each topic with an example.\n\n"]
    for i in range(n_sections):
        topic = TOPICS[i % len(TOPICS)]
        parts.append(
            f"## {i + 1}. {topic.capitalize()}\n\n"
            f"When you work on **{topic}**, the first thing to measure is where time goes. "
            f"Section {i + 1} shows a *small* example and then the `{topic}_{i}` helper in full.\n\n"
            f"- Measure before changing anything ({i * 7 % 13} runs at least)\n"
            f"- Keep the hot path free of `print` and logging\n"
            f"  - nested: prefer `deque` over `list.pop(0)`\n"
            f"- Write the test first, then the fix\n\n"
            f"1. Read the profile\n2. Pick the biggest item\n3. Repeat until it is flat\n\n"
            f"```python\ndef {topic}_{i}(items, limit={i + 3}):\n"
            f"    \"\"\"Keep the first {i + 3} items that pass the check.\"\"\"\n"
            f"    out = []\n    for item in items:\n        if len(out) >= limit:\n            break\n"
            f"        if item.ok:\n            out.append(item)\n    return out\n```\n\n"
            f"| step | ms | note |\n|---|---|---|\n| load | {i + 12} | cold |\n| run | {i % 5 + 1} | warm |\n\n"
            f"> Tip {i + 1}: a number without the setting that produced it is not a result.\n\n"
        )
    return "".join(parts)


class Vocab:
    """A GGUF's vocabulary alone (no weights): text to one visible piece per token."""

    def __init__(self, model_path: str) -> None:
        import llama_cpp

        self._ll = llama_cpp
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self._model = llama_cpp.llama_model_load_from_file(model_path.encode(), params)
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)

    def pieces(self, text: str) -> list[str]:
        ll = self._ll
        raw = text.encode()
        buf = (ll.llama_token * (len(raw) + 16))()
        n = ll.llama_tokenize(self._vocab, raw, len(raw), buf, len(buf), False, False)
        piece = ctypes.create_string_buffer(256)
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        out = []
        for tok in buf[:n]:
            k = ll.llama_token_to_piece(self._vocab, tok, piece, 256, 0, True)
            out.append(utf8.decode(piece.raw[: max(k, 0)]))
        return out

    def close(self) -> None:
        self._ll.llama_model_free(self._model)


def build_stream(model_path: str, n_tokens: int, thinking_share: float = 0.08) -> list[tuple[str, str]]:
    """(phase, text) per token: a thinking section, then the Markdown answer."""
    vocab = Vocab(model_path)
    n_think = max(1, int(n_tokens * thinking_share))
    think = vocab.pieces(THINKING * (1 + n_think // 40))[:n_think]
    sections = n_tokens // 150 + 4  # ~250 tokens a section
    answer = vocab.pieces(markdown_answer(sections))
    while len(answer) < n_tokens - n_think:
        sections *= 2
        answer = vocab.pieces(markdown_answer(sections))
    vocab.close()
    return [("thinking", t) for t in think] + [("answer", t) for t in answer[: n_tokens - n_think]]


def replay_main(conn, stop_flag, rate: float, n_tokens: int) -> None:
    """The child process: a worker that plays a stream instead of running a model."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # llama.cpp's vocabulary loading chatter
    stream: list[tuple[str, str]] = []
    try:
        while True:
            cmd = conn.recv()
            if isinstance(cmd, p.ShutdownCommand):
                return
            if isinstance(cmd, p.LoadCommand):
                t0 = time.monotonic()
                facts = read_model_facts(cmd.path)
                stream = build_stream(cmd.path, n_tokens)
                conn.send(p.Loaded(pid=os.getpid(), load_seconds=time.monotonic() - t0, facts=facts, n_ctx=65536,
                                   n_threads=1, n_gpu_layers=0, system_info=f"replay at {rate:g} tokens/s"))
            elif isinstance(cmd, p.GenerateCommand):
                _play(conn, stop_flag, cmd, stream[: cmd.sampling.max_tokens], rate)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass


def _play(conn, stop_flag, cmd: p.GenerateCommand, stream: list[tuple[str, str]], rate: float) -> None:
    rid = cmd.request_id
    t_send = time.monotonic()
    conn.send(p.PromptReady(rid, "gguf", "", False))
    t0 = time.monotonic()
    conn.send(p.PrefillDone(rid, 20, t_send, t0))
    reason, i = p.STOP_MAX_TOKENS, 0
    while i < len(stream):
        if stop_flag.value:
            reason = p.STOP_USER
            break
        # Every token whose time has come, in one batch, as the worker flushes.
        due = min(len(stream), int((time.monotonic() - t0) * rate) + 1)
        rows = []
        for j in range(i, due):
            phase, text = stream[j]
            rows.append((j, 0, t0 + j / rate, phase, text if phase == "thinking" else "",
                         text if phase == "answer" else ""))
        conn.send(p.TokenBatch(rid, tuple(rows)))
        i = due
        if i < len(stream):
            time.sleep(TOKEN_FLUSH_S)
    t_end = time.monotonic()
    conn.send(p.Finished(rid, reason, 20, i, t_send, t_end, None, 1, "gguf"))


class SyntheticStreamWorker(ModelWorker):
    """The real parent side; the child plays a stream. Records each token's arrival."""

    rate = 1000.0
    n_tokens = 20_000

    def __init__(self, label: str = "") -> None:
        super().__init__(label)
        self.arrivals: list[float] = []  # parent clock when token i came out of generate()

    def start(self) -> None:
        if self.alive:
            return
        parent, child = self._ctx.Pipe(duplex=True)
        self._proc = self._ctx.Process(target=replay_main, args=(child, self._stop, self.rate, self.n_tokens),
                                       name=f"gemmacompare-replay-{self.label}", daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        self.loaded = None

    def generate(self, cmd=None, **kwargs):
        self.arrivals = []
        for ev in super().generate(cmd, **kwargs):
            if isinstance(ev, p.Token):
                self.arrivals.append(time.monotonic())
            yield ev


# --- the benchmark --------------------------------------------------------


def _quantiles(xs: list[float]) -> tuple[float, float, float]:
    import statistics

    if len(xs) < 2:
        v = xs[0] if xs else float("nan")
        return v, v, v
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return q[49], q[98], max(xs)


def open_window(args):
    """The main window at the same size on every run and version: on a small
    screen (offscreen's is 800x800) it opens maximized, which would paint less."""
    from gemmacompare.state.settings import load_settings
    from gemmacompare.ui.main_window import MainWindow

    w = MainWindow(load_settings())
    w.show()
    w.showNormal()
    w.resize(1400, 900)
    if args.no_charts:
        w.set_charts_visible(False)
    return w


class LagProbe:
    """A 5 ms timer recording, per tick, how late the event loop ran it (ms)."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self.interval_ms = interval_ms
        self.lags: list[float] = []
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self.lags.append(max(0.0, (now - self._last) * 1000 - self.interval_ms))
        self._last = now

    def start(self) -> None:
        self._last = time.monotonic()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


def run_replay(args, t_process_start: float, pump) -> int:
    import psutil
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    import gemmacompare.engine.session as session
    from gemmacompare.engine.remote.server_ref import is_server_ref
    from gemmacompare.engine.session import engine_for

    SyntheticStreamWorker.rate = args.rate
    SyntheticStreamWorker.n_tokens = n_tokens = int(args.rate * args.seconds)
    def replay_engine(model: str, label: str, *rest):
        return SyntheticStreamWorker(label) if not is_server_ref(model) else engine_for(model, label, *rest)

    session.engine_for = replay_engine

    app = QApplication.instance() or QApplication([])
    w = open_window(args)
    pump(app, lambda: all(p.state in ("ready", "error") for p in w.panes))
    for p_ in w.panes:
        if p_.state != "ready":
            print(f"pane {p_.label} did not load: {p_.state_label.text()}")
            return 1

    for p_ in w.panes:
        p_.settings = with_values(p_.settings, {"max_tokens": n_tokens})

    # What reached the screen: each paint of a reply's text, with the tokens
    # the pane had taken in by then.
    paints: list[list[tuple[float, int]]] = [[], []]

    class PaintLog(QObject):
        def __init__(self, i: int) -> None:
            super().__init__()
            self.i = i

        def eventFilter(self, obj, ev) -> bool:  # noqa: N802
            if ev.type() == QEvent.Type.Paint:
                rec = w.panes[self.i].record
                paints[self.i].append((time.monotonic(), len(rec.tokens) if rec else 0))
            return False

    # Chart refresh cost, against the tokens the charts had to cover.
    refreshes: list[tuple[int, bool, float]] = []
    real_refresh = w.charts.refresh

    def timed_refresh(rate: bool = True, memory: bool = True) -> None:
        t0 = time.perf_counter()
        real_refresh(rate=rate, memory=memory)
        n = max((len(p_.record.tokens) for p_ in w.panes if p_.record), default=0)
        refreshes.append((n, rate, (time.perf_counter() - t0) * 1000))

    w.charts.refresh = timed_refresh

    probe = LagProbe()
    lags = probe.lags
    me = psutil.Process()

    def by_thread() -> dict[str, float]:
        import threading

        names = {t.native_id: t.name for t in threading.enumerate()}
        out: dict[str, float] = {}
        for th in me.threads():
            name = "GUI thread" if th.id == threading.main_thread().native_id else names.get(th.id, "other (Qt, C)")
            out[name] = out.get(name, 0.0) + th.user_time + th.system_time
        return out

    class PaintTally(QObject):
        """Per widget class: paint events and painted pixels (what a repaint covers)."""

        def __init__(self) -> None:
            super().__init__()
            self.counts: dict[str, list[int]] = {}

        def eventFilter(self, obj, ev) -> bool:  # noqa: N802
            if ev.type() == QEvent.Type.Paint:
                area = sum(r.width() * r.height() for r in ev.region())
                key = " in ".join(f"{type(o).__name__}{'#' + o.objectName() if o.objectName() else ''}"
                                  for o in (obj, obj.parent(), obj.parent() and obj.parent().parent()) if o)
                c = self.counts.setdefault(key, [0, 0, None])
                c[0] += 1
                c[1] += area
                c[2] = ev.region().boundingRect()
            return False

    tally = PaintTally() if args.paint_tally else None
    w.prompt.setPlainText("Write a long guide with examples.")
    filters = [PaintLog(i) for i in range(2)]
    cpu0 = sum(me.cpu_times()[:2])
    threads0 = by_thread()
    t_send = time.monotonic()
    if not args.no_probe:
        probe.start()
    if tally:
        app.installEventFilter(tally)
    w.send()
    for i, p_ in enumerate(w.panes):
        for view in (p_.reply.answer, p_.reply.thinking):
            view.viewport().installEventFilter(filters[i])
    profile = os.environ.get("GUI_PROFILE")
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    pump(app, lambda: not w.busy, timeout=args.seconds * 10 + 60, wake=w.compare_finished)
    # The last paints after the final batch.
    t_end = time.monotonic() + 0.3
    pump(app, lambda: time.monotonic() > t_end)
    if profile:
        import pstats

        prof.disable()
        pstats.Stats(prof).sort_stats(profile if profile != "1" else "tottime").print_stats(25)
    probe.stop()
    if tally:
        app.removeEventFilter(tally)
    cpu = sum(me.cpu_times()[:2]) - cpu0
    threads1 = by_thread()
    wall = time.monotonic() - t_send

    print(f"replay: 2 panes x {args.rate:g} tokens/s for {args.seconds:g} s ({n_tokens} tokens each, "
          f"thinking then Markdown answer); window {w.width()}x{w.height()}, charts "
          f"{'hidden' if args.no_charts else 'shown'}")
    p50, p99, mx = _quantiles(lags or [float("nan")])
    print(f"event-loop lag   p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {mx:.1f} ms ({len(lags)} probes; target p99 < 16)")
    total = 0
    for i, p_ in enumerate(w.panes):
        rec = p_.record
        arrivals = p_.worker.arrivals
        total += len(rec.tokens)
        delays = []
        j = 0
        shown = paints[i]
        for k, t_arr in enumerate(arrivals):
            while j < len(shown) and (shown[j][0] < t_arr or shown[j][1] <= k):
                j += 1
            delays.append((shown[j][0] - t_arr) * 1000 if j < len(shown) else float("inf"))
        d50, d99, dmx = _quantiles(delays)
        st = rec.stats()
        print(f"pane {p_.label}: {len(rec.tokens)} tokens ({len(rec.answer)} answer chars, {len(rec.thinking)} "
              f"thinking chars) at {st.gen_tps:.0f} t/s; arrival -> painted p50 {d50:.0f} ms, p99 {d99:.0f} ms, "
              f"max {dmx:.0f} ms, last token {delays[-1]:.0f} ms (target < 100)")
    if refreshes:
        quarter = max(1, n_tokens // 4)
        for kind, rate in (("rate", True), ("memory", False)):
            cells = []
            for q in range(4):
                ms = [d for n, r, d in refreshes if r == rate and q * quarter <= n < (q + 1) * quarter]
                cells.append(f"{statistics_mean(ms):.2f}" if ms else "-")
            print(f"chart refresh ({kind:6s}) mean ms by answer length, quarters of {quarter} tokens: "
                  + " / ".join(cells))
    print("chart redraw (refresh + paint, ms; ms between redraws): " +
          ", ".join(f"{k} {c:.1f}; {i:.0f}" for k, (c, i) in w.charts.redraw_costs().items()))
    print("app CPU by thread (s): " + ", ".join(f"{k} {v - threads0.get(k, 0.0):.2f}" for k, v in
                                                sorted(threads1.items(), key=lambda kv: -kv[1])))
    print(f"app CPU          {cpu:.1f} s over {wall:.1f} s wall = {cpu * 1000 / max(1, total):.3f} ms per token "
          f"({total} tokens, both panes; process launched {time.monotonic() - t_process_start:.0f} s ago)")
    if tally:
        print("painted while streaming (widget: paints, megapixels):")
        for key, (n, px, last) in sorted(tally.counts.items(), key=lambda kv: -kv[1][1])[:24]:
            print(f"  {key}: {n}, {px / 1e6:.1f}  (last {last.width()}x{last.height()})")
    w.close()
    return 0


def statistics_mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)
