"""`gemmacompare gallery PATH...`: many run files as one table (text, Markdown or an HTML page);
`gemmacompare share FILE --repo USER/DATASET`: a run file offered to a Hub dataset repo as a pull request,
and `gallery --repo USER/DATASET`: that repo's run files downloaded and shown.

A file the reader refuses is one line under "not opened"; the others are shown.
Everything from a file is a stranger's text: it goes through terminal_safe
(bench/gallery.safe_cell) before a terminal, and through html.escape too on the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gemmacompare.cli.args import finite_float
from gemmacompare.cli.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from gemmacompare.state.untrusted import terminal_safe


def add_gallery_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from gemmacompare.bench.gallery import SORT_KEYS

    g = sub.add_parser("gallery", help="many run files (from many machines) as one table, a Markdown table or a page",
                       description="Reads every run file named (files, folders, glob patterns such as "
                                   "'runs/*.gcrun'), counts files with the same content once, and shows one row per "
                                   "model, machine, llama.cpp build and speed settings, with every file's runs in it.")
    g.add_argument("paths", nargs="*", metavar="PATH", help="run files, folders of them, or glob patterns")
    g.add_argument("--repo", metavar="USER/DATASET",
                   help="also the run files of this Hugging Face dataset repo (downloaded into the Hugging Face "
                        "cache; files already there are reused)")
    g.add_argument("--sort", choices=SORT_KEYS, default="model", help="order of the rows (default: model)")
    g.add_argument("--model", default="", help="only rows whose model name, quantisation or hash contains this")
    g.add_argument("--machine", default="", help="only rows whose machine (CPU, GPU, RAM) contains this")
    g.add_argument("--backend", default="", help="only rows whose backend (CPU, Vulkan0, CUDA0...) contains this")
    g.add_argument("--md", action="store_true", help="print a Markdown table (for a forum post)")
    g.add_argument("--html", type=Path, metavar="OUT.html",
                   help="write one self-contained page (table and charts, no scripts, nothing loaded from elsewhere)")
    g.add_argument("--pair", nargs=2, metavar=("A", "B"),
                   help="two models (a part of each name): B's ms/token over A's per machine, with its interval "
                        "where a file holds paired repetitions (charted on the --html page)")
    g.add_argument("--claimed-ratio", type=finite_float, metavar="X",
                   help="with --pair: the claimed ratio (e.g. 2.4), drawn as a line on the chart")
    sh = sub.add_parser("share", help="offer a run file to a Hugging Face dataset repo as a pull request",
                        description="Opens a pull request that adds the run file under runs/ in the dataset repo; "
                                    "its owner merges it. The token is huggingface_hub's own (HF_TOKEN or `hf auth "
                                    "login`), sent to the Hub only; gemmacompare never stores it.")
    sh.add_argument("file", type=Path)
    sh.add_argument("--repo", required=True, metavar="USER/DATASET", help="the dataset repo on the Hub")


def cmd_gallery(args: argparse.Namespace) -> int:
    from gemmacompare.bench.gallery import (
        COLUMNS,
        build_gallery,
        filtered_rows,
        markdown_table,
        not_opened_lines,
        row_cells,
        safe_cell,
        sorted_rows,
    )
    from gemmacompare.engine.api import text_table
    from gemmacompare.models.hub import HubError

    if not args.paths and not args.repo:
        print("error: name run files, folders or patterns, or --repo USER/DATASET.", file=sys.stderr)
        return EXIT_USAGE
    if args.html and not args.html.parent.is_dir():
        print(f"error: cannot write {terminal_safe(args.html)} (its folder is missing); pick another path.",
              file=sys.stderr)
        return EXIT_USAGE
    paths = list(args.paths)
    fetched_problems = []
    if args.repo:
        from gemmacompare.bench.hub_share import fetch_repo_runs

        def progress(i: int, n: int, name: str) -> None:
            print(f"# {i}/{n} {terminal_safe(name)}", file=sys.stderr)

        try:
            fetched = fetch_repo_runs(args.repo, progress)
        except HubError as exc:
            print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
            return EXIT_ERROR
        if fetched.offline_note:
            print(f"# {terminal_safe(fetched.offline_note, 600)}", file=sys.stderr)
        paths += [str(p) for p in fetched.paths]
        fetched_problems = fetched.not_fetched
    gallery = build_gallery(paths)
    gallery.not_opened[:0] = fetched_problems
    rows = sorted_rows(filtered_rows(gallery.rows, args.model, args.machine, args.backend), args.sort)
    for line in not_opened_lines(gallery):
        print(f"not opened: {line}", file=sys.stderr)
    for name, same in gallery.duplicates:
        print(f"counted once: {safe_cell(name)} has the same content as {safe_cell(same)}", file=sys.stderr)
    if not gallery.rows:
        print("error: no run file could be opened; name .gcrun files or folders that hold them.", file=sys.stderr)
        return EXIT_ERROR
    print(f"# {gallery.n_files} run files, {len(rows)} of {len(gallery.rows)} rows shown", file=sys.stderr)
    pair: tuple[str, str] | None = None
    if args.pair:
        a, b = (_one_model(gallery.models(), part) for part in args.pair)
        if a is None or b is None:
            return EXIT_USAGE
        pair = (a, b)
    if args.html:
        from gemmacompare.bench.gallery_page import page_html

        args.html.write_text(page_html(gallery, rows, pair=pair, claimed=args.claimed_ratio), encoding="utf-8")
        print(f"# wrote {terminal_safe(args.html)}", file=sys.stderr)
    if args.md:
        print(markdown_table(rows))
    elif not args.html:
        print(text_table([list(COLUMNS), *([safe_cell(c) for c in row_cells(r)] for r in rows)]))
    if pair and not args.md:
        from gemmacompare.bench.gallery import ratio_points

        points = ratio_points(rows, *pair)
        print(f"\n{safe_cell(pair[1])} over {safe_cell(pair[0])}, ms/token per machine"
              + (f" (claimed {args.claimed_ratio:g}x)" if args.claimed_ratio else "") + ":")
        for pt in points:
            print(f"  {safe_cell(pt.label)}: {pt.ratio.text(2)}x")
        if not points:
            print("  no machine ran both with the same build and settings")
    return EXIT_OK


def _one_model(models: list[str], part: str) -> str | None:
    """The one model whose name contains `part` (case-insensitive), or None after a sentence on stderr."""
    found = [m for m in models if part.lower() in m.lower()]
    exact = [m for m in found if m.lower() == part.lower()]
    if len(exact) == 1 or len(found) == 1:
        return (exact or found)[0]
    which = "no model" if not found else f"{len(found)} models ({', '.join(terminal_safe(m, 80) for m in found[:4])})"
    print(f"error: --pair {terminal_safe(part, 80)} matches {which}; give more of the name.", file=sys.stderr)
    return None


def cmd_share(args: argparse.Namespace) -> int:
    from gemmacompare.bench.hub_share import share_run_file
    from gemmacompare.engine.api import RunFileError
    from gemmacompare.models.hub import HubError

    try:
        url = share_run_file(args.file, args.repo)
    except RunFileError as exc:
        print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
        return EXIT_USAGE
    except HubError as exc:
        print(f"error: {terminal_safe(exc.message, 400)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: cannot read {terminal_safe(args.file)} ({terminal_safe(exc.strerror or type(exc).__name__)}); "
              "check the path.", file=sys.stderr)
        return EXIT_USAGE
    print(f"opened a pull request: {terminal_safe(url, 400)}")
    return EXIT_OK


__all__ = ["add_gallery_parser", "cmd_gallery", "cmd_share"]
