"""The gallery of run files: grouping, counting once, sorting, filtering, Markdown and the page, hostile files."""

from __future__ import annotations

import gzip
import json
from html.parser import HTMLParser
from pathlib import Path
from statistics import geometric_mean

import pytest

from gemmacompare.bench.gallery import build_gallery, filtered_rows, markdown_table, row_cells, sorted_rows
from gemmacompare.bench.gallery_page import page_html
from gemmacompare.cli.main import main
from tests.gallery_files import GPU_BOX, OLD_LAPTOP, model_part, run_doc, write

SMOL, GEMMA = "SmolLM2-135M-Instruct", "Gemma-3-270M"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Five files: two runs of the same pair on the GPU box, one on an old laptop, a claim with repetitions,
    a copy of the first under another name (gzipped), and a damaged and a hostile file."""
    d = tmp_path / "runs"
    d.mkdir()
    write(d / "gpu-1.gcrun", run_doc(GPU_BOX, [model_part(SMOL, "aaaa", 10.0, backend="CUDA0"),
                                               model_part(GEMMA, "bbbb", 20.0, label="B", backend="CUDA0")]))
    write(d / "gpu-2.gcrun", run_doc(GPU_BOX, [model_part(SMOL, "aaaa", 12.0, backend="CUDA0")],
                                     created="2026-12-01T09:00:00+00:00"))
    write(d / "laptop.gcrun", run_doc(OLD_LAPTOP, [model_part(SMOL, "aaaa", 40.0, busy=True),
                                                   model_part(GEMMA, "bbbb", 90.0, label="B")]))
    claim = run_doc(OLD_LAPTOP, [model_part(SMOL, "aaaa", 30.0, threads=8), model_part(GEMMA, "bbbb", 70.0, label="B",
                                                                                    threads=8)],
                    claim_ms=[[30.0, 70.0], [32.0, 72.0], [34.0, 74.0]])
    write(d / "claim.gcrun", claim)
    (d / "z-copy-of-gpu-1.gcrun.gz").write_bytes(gzip.compress((d / "gpu-1.gcrun").read_bytes()))
    (d / "cut.gcrun").write_bytes((d / "laptop.gcrun").read_bytes()[:300])
    hostile = run_doc(GPU_BOX, [model_part("evil\x1b]0;owned\x07", "cccc", 5.0)])
    write(d / "escape.gcrun", hostile)
    return d


def _row(gallery, model: str, cpu: str, threads: str = "4"):
    return next(r for r in gallery.rows if r.model == model and cpu in r.machine and r.settings["threads"] == threads)


def test_grouping_counting_once_and_not_opened(folder):
    g = build_gallery([folder])
    assert g.n_files == 4  # five good files, one of them a gzipped copy
    assert [(a, b) for a, b in g.duplicates] == [("z-copy-of-gpu-1.gcrun.gz", "gpu-1.gcrun")]
    assert sorted(n.name for n in g.not_opened) == ["cut.gcrun", "escape.gcrun"]
    assert all(n.reason.endswith(".") and "\n" not in n.reason for n in g.not_opened)
    # The same model on the same machine from two files: one row with both runs.
    smol_gpu = _row(g, SMOL, "Ryzen")
    assert sorted(smol_gpu.files) == ["gpu-1.gcrun", "gpu-2.gcrun"]
    ms = smol_gpu.ms_per_token
    assert ms is not None and ms.n == 2 and ms.mean == pytest.approx(geometric_mean([10.0, 12.0]))  # on the log scale
    assert ms.low is not None and 0 < ms.low < 11.0 < (ms.high or 0)  # a t-interval went below zero
    assert smol_gpu.backend == "CUDA0" and smol_gpu.date == "2026-12-01"
    # Other threads on the same machine: another row, not averaged in.
    assert _row(g, SMOL, "i5", "4").ms_per_token.mean == pytest.approx(40.0, rel=1e-3)
    claim_row = _row(g, SMOL, "i5", "8")
    claim_ms = claim_row.ms_per_token
    assert claim_ms.n == 3 and claim_ms.mean == pytest.approx(geometric_mean([30.0, 32.0, 34.0]))
    assert _row(g, GEMMA, "i5", "8").ms_per_token.mean == pytest.approx(geometric_mean([70.0, 72.0, 74.0]))
    assert len(g.rows) == 6
    assert _row(g, SMOL, "i5", "4").busy and not smol_gpu.busy
    assert smol_gpu.prefill_tps.mean == pytest.approx(200.0, rel=1e-3)  # 40 tokens in 0.2 s
    assert smol_gpu.build == "llama-cpp-python 0.3.36, build unknown"
    assert smol_gpu.settings["swa_full"] == "unknown"


def test_sort_and_filters(folder):
    g = build_gallery([folder / "*.gcrun"])
    by_ms = sorted_rows(g.rows, "ms")
    means = [r.ms_per_token.mean for r in by_ms]
    assert means == sorted(means) and by_ms[0].model == SMOL and "Ryzen" in by_ms[0].machine
    assert {r.machine for r in filtered_rows(g.rows, machine="i5-8250U")} == {r.machine for r in g.rows
                                                                             if "i5" in r.machine}
    assert {r.backend for r in filtered_rows(g.rows, backend="cuda")} == {"CUDA0"}
    assert {r.model for r in filtered_rows(g.rows, model="gemma")} == {GEMMA}
    assert filtered_rows(g.rows, model="bbbb") == filtered_rows(g.rows, model="gemma")


def test_markdown_and_cells_keep_markup_as_text(tmp_path):
    name = "<b>bold</b>|x \u202egnp.exe"
    write(tmp_path / "m.gcrun", run_doc(GPU_BOX, [model_part(name, "dddd", 10.0)]))
    g = build_gallery([tmp_path])
    md = markdown_table(g.rows)
    assert "\\<b\\>bold\\</b\\>\\|x \\\\u202egnp.exe" in md and "\u202e" not in md
    assert md.count("\n") == 2 and row_cells(g.rows[0])[0].startswith(name)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.refs: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [v for k, v in attrs if k in ("src", "href", "xlink:href") and v]
        self._in_td = tag == "td"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)

    def handle_endtag(self, tag):
        self._in_td = False


def test_page_is_self_contained_and_escapes(folder, tmp_path):
    write(folder / "markup.gcrun", run_doc(GPU_BOX, [model_part("<script>alert(1)</script>\u202e", "eeee", 9.0)]))
    g = build_gallery([folder])
    page = page_html(g, sorted_rows(g.rows, "ms"))
    parser = _Page()
    parser.feed(page)
    assert "script" not in parser.tags and parser.refs == []
    assert "<script>alert(1)</script>\\u202e Q4_K_M #eeee" in " ".join(parser.cells) and "\u202e" not in page
    assert parser.tags.count("svg") == 3  # one chart per model, the markup-named one included
    assert parser.tags.count("tr") == 1 + len(g.rows)
    assert "11.0 [" in page and "cut.gcrun" in page and "z-copy-of-gpu-1.gcrun.gz (the same as gpu-1.gcrun)" in page
    assert str(tmp_path) not in page and str(Path.home()) not in page


def test_cli_gallery(folder, tmp_path, capsys):
    out = tmp_path / "g.html"
    assert main(["gallery", str(folder), "--sort", "ms", "--backend", "CUDA", "--html", str(out), "--md"]) == 0
    cap = capsys.readouterr()
    lines = cap.out.strip().splitlines()
    assert len(lines) == 4 and SMOL in lines[2] and GEMMA in lines[3]
    assert "not opened: cut.gcrun is not valid JSON" in cap.err and "\x1b" not in cap.err and "escape.gcrun" in cap.err
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert main(["gallery", str(tmp_path / "nothing-here")]) == 1
    assert "no such file or folder" in capsys.readouterr().err


def test_bench_run_file_gives_one_row_per_model_with_item_repetitions(tmp_path):
    doc = run_doc(OLD_LAPTOP, [model_part(SMOL, "aaaa", 40.0)])
    doc["kind"] = "bench"
    doc["models"][0]["run"] = {}
    # What every bench run file carries (the reader requires it), with three repetitions of one task.
    stats = {"prefill_tps": 100.0, "ttft_s": 0.3, "n_threads": 4, "peak_rss": 2**28}
    items = [{"rep": rep, "task_index": 0, "task_id": "t1", "model_index": 0, "expected": "2", "match": "number",
              "answer": "2", "thinking": "", "extracted": "2", "correct": True, "stats": {**stats, "ms_per_token": v}}
             for rep, v in enumerate((40.0, 44.0, 42.0))]
    task = {"id": "t1", "expected": ["2"], "match": "number"}
    doc["bench"] = {"config": {"models": [SMOL], "runs": 3}, "tasks": [task], "items": items}
    write(tmp_path / "bench.gcrun", doc)
    g = build_gallery([tmp_path / "bench.gcrun"])
    ms = g.rows[0].ms_per_token
    assert len(g.rows) == 1 and ms.n == 3 and ms.mean == pytest.approx(geometric_mean([40.0, 44.0, 42.0]))
    assert json.loads((tmp_path / "bench.gcrun").read_text())["kind"] == "bench"


def test_swa_full_where_the_file_has_it_and_rows_apart(tmp_path):
    on, off = model_part(GEMMA, "bbbb", 20.0), model_part(GEMMA, "bbbb", 22.0)
    on["settings"]["load"]["swa_full"] = True
    off["settings"]["load"]["swa_full"] = False
    write(tmp_path / "on.gcrun", run_doc(GPU_BOX, [on]))
    write(tmp_path / "off.gcrun", run_doc(GPU_BOX, [off]))
    g = build_gallery([tmp_path])
    assert sorted(r.settings["swa_full"] for r in g.rows) == ["off", "on"]  # a full-size cache is another row


def test_ratio_per_machine_paired_where_the_claim_has_repetitions(folder, tmp_path, capsys):
    from gemmacompare.bench.gallery import ratio_points
    from gemmacompare.bench.gallery_page import ratio_chart_svg

    g = build_gallery([folder])
    points = {p.label: p.ratio for p in ratio_points(g.rows, SMOL, GEMMA)}
    # The GPU box: one file with both (20/10); its second SmolLM2 run has no Gemma beside it, so means: 20/11.
    assert points["AMD Ryzen 7 7840U · CUDA0 · 4 thr"].mean == pytest.approx(20.0 / geometric_mean([10.0, 12.0]))
    assert points["AMD Ryzen 7 7840U · CUDA0 · 4 thr"].low is None
    assert points["Intel Core i5-8250U · CPU · 4 thr"].mean == pytest.approx(90.0 / 40.0, rel=1e-3)
    claim = points["Intel Core i5-8250U · CPU · 8 thr"]  # per repetition: 70/30, 72/32, 74/34
    assert claim.n == 3 and claim.mean == pytest.approx(geometric_mean([70 / 30, 72 / 32, 74 / 34]))
    assert claim.low is not None and claim.low < claim.mean < (claim.high or 0)
    assert len(points) == 3
    svg = ratio_chart_svg(SMOL, GEMMA, ratio_points(g.rows, SMOL, GEMMA), claimed=2.4)
    assert svg.count("<circle") == 3 and 'class="claim"' in svg and "claimed 2.4x" in svg
    assert f'data-ratio="{claim.mean:.4f}"' in svg
    out = tmp_path / "pair.html"
    assert main(["gallery", str(folder), "--pair", "smol", "gemma", "--claimed-ratio", "2.4", "--html", str(out)]) == 0
    assert "Ratio per machine" in out.read_text() and "claimed 2.4x" in out.read_text()
    assert main(["gallery", str(folder), "--pair", "smol", "gemma"]) == 0
    assert "i5-8250U · CPU · 8 thr: 2.25 [2.07, 2.46]x" in capsys.readouterr().out
    assert main(["gallery", str(folder), "--pair", "m", "gemma"]) == 2  # matches both: one sentence
    assert "--pair m matches 2 models" in capsys.readouterr().err


def test_a_pipe_named_like_a_run_file_is_not_read(tmp_path):
    import os

    fifo = tmp_path / "pipe.gcrun"
    os.mkfifo(fifo)
    write(tmp_path / "ok.gcrun", run_doc(GPU_BOX, [model_part(SMOL, "aaaa", 10.0)]))
    g = build_gallery([fifo, tmp_path])  # named, and inside a folder: neither blocks
    assert [n.reason for n in g.not_opened] == ["not a regular file, so it was not read."] and len(g.rows) == 1
