"""The gallery as one self-contained HTML page to post: the table and a bar chart per model, as inline SVG.

The page has no script and asks for nothing from anywhere (no fonts, images or
styles from elsewhere), so it opens the same in any browser, offline. It holds
only what the run files hold (which leave out paths, user and host names and
keys) and the run files' own names. Every text from a file goes through
safe_cell (control and bidi characters shown as escapes) and html.escape.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

from gemmacompare.bench.gallery import (
    COLUMNS,
    Gallery,
    GalleryRow,
    RatioPoint,
    chart_label,
    not_opened_lines,
    ratio_points,
    row_cells,
    safe_cell,
)

BAR_H = 22
LABEL_W = 360
PLOT_W = 420
CHART_W = LABEL_W + PLOT_W + 90


def _e(text: str) -> str:
    return html.escape(safe_cell(text), quote=True)


def ms_chart_svg(model: str, rows: list[GalleryRow]) -> str:
    """ms/token per machine for one model: a bar per row, the 95% interval as a whisker where there is one."""
    bars = [(r, r.ms_per_token) for r in rows if r.model == model and r.ms_per_token]
    if not bars:
        return ""
    top = max((iv.high or iv.mean) for _, iv in bars) * 1.1
    height = 30 + BAR_H * len(bars) + 28
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="{height}" '
             f'role="img" aria-label="ms per token per machine for {_e(model)}" class="chart">',
             f'<text x="4" y="16" class="title">{_e(model)}: ms/token per machine (shorter is faster)</text>']
    for i, (row, iv) in enumerate(bars):
        y = 28 + i * BAR_H
        w = PLOT_W * iv.mean / top
        label = _e(chart_label(row))
        parts.append(f'<g><title>{_e(row.model_text)} on {_e(row.machine)}: {iv.text(1)} ms/token</title>'
                     f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end" class="label">{label}</text>'
                     f'<rect x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{BAR_H - 6}" class="bar"'
                     f' data-ms="{iv.mean:.3f}"/>')
        if iv.low is not None and iv.high is not None:
            x0, x1 = LABEL_W + PLOT_W * max(iv.low, 0.0) / top, LABEL_W + PLOT_W * iv.high / top
            ym = y + BAR_H / 2
            parts.append(f'<path d="M{x0:.1f} {ym:.1f}H{x1:.1f}M{x0:.1f} {ym - 5:.1f}v10M{x1:.1f} {ym - 5:.1f}v10"'
                         ' class="whisker"/>')
        parts.append(f'<text x="{LABEL_W + PLOT_W + 6}" y="{y + 15}" class="value">{iv.mean:.1f}</text></g>')
    axis_y = 28 + BAR_H * len(bars) + 4
    parts.append(f'<path d="M{LABEL_W} 26V{axis_y}H{LABEL_W + PLOT_W}" class="axis"/>')
    parts.append(f'<text x="{LABEL_W + PLOT_W}" y="{axis_y + 16}" text-anchor="end" class="label">'
                 f'{top:.0f} ms/token</text>')
    parts.append("</svg>")
    return "".join(parts)


def ratio_chart_svg(model_a: str, model_b: str, points: list[RatioPoint], claimed: float | None = None) -> str:
    """B's ms/token over A's per machine: a dot each, its 95% interval where there is one, the claim as a line."""
    if not points:
        return ""
    top = max([p.ratio.high or p.ratio.mean for p in points] + [claimed or 0.0]) * 1.15
    height = 30 + BAR_H * len(points) + 28
    title = f"{_e(model_b)} over {_e(model_a)}: ms/token ratio per machine"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="{height}" role="img" '
             f'aria-label="{title}" class="chart">', f'<text x="4" y="16" class="title">{title}</text>']
    for i, pt in enumerate(points):
        y = 28 + i * BAR_H + BAR_H / 2
        x = LABEL_W + PLOT_W * pt.ratio.mean / top
        parts.append(f'<g><title>{_e(pt.row_b.machine)}: {pt.ratio.text(2)}x</title>'
                     f'<text x="{LABEL_W - 6}" y="{y + 4}" text-anchor="end" class="label">{_e(pt.label)}</text>')
        if pt.ratio.low is not None and pt.ratio.high is not None:
            x0, x1 = LABEL_W + PLOT_W * max(pt.ratio.low, 0.0) / top, LABEL_W + PLOT_W * pt.ratio.high / top
            parts.append(f'<path d="M{x0:.1f} {y:.1f}H{x1:.1f}M{x0:.1f} {y - 5:.1f}v10M{x1:.1f} {y - 5:.1f}v10"'
                         ' class="whisker"/>')
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" class="dot" data-ratio="{pt.ratio.mean:.4f}"/>'
                     f'<text x="{LABEL_W + PLOT_W + 6}" y="{y + 4}" class="value">{pt.ratio.mean:.2f}x</text></g>')
    bottom = 28 + BAR_H * len(points) + 4
    if claimed:
        xc = LABEL_W + PLOT_W * claimed / top
        parts.append(f'<path d="M{xc:.1f} 24V{bottom}" class="claim"/><text x="{xc + 4:.1f}" y="{bottom + 16}" '
                     f'class="label">claimed {claimed:g}x</text>')
    parts.append(f'<path d="M{LABEL_W} 26V{bottom}H{LABEL_W + PLOT_W}" class="axis"/></svg>')
    return "".join(parts)


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#eef}
td.num{text-align:right;white-space:nowrap}
.chart .title{font-size:14px;font-weight:600}
.chart .label,.chart .value{font-size:12px}
.chart .bar{fill:#4a7bd0}
.chart .whisker,.chart .axis{stroke:#222;stroke-width:1.3;fill:none}
.chart .dot{fill:#c8553d}
.chart .claim{stroke:#c8553d;stroke-width:1.5;stroke-dasharray:5 3}
.note{color:#555;font-size:13px}
"""

_NUMERIC = {"ms/token", "prefill t/s", "TTFT s", "peak RAM"}


def page_html(gallery: Gallery, rows: list[GalleryRow], title: str = "gemmacompare gallery",
              pair: tuple[str, str] | None = None, claimed: float | None = None) -> str:
    """The whole page; `rows` in the order (and filter) to show; `pair`: two models whose ratio to chart."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in rows:
        cells = row_cells(r)
        body.append("<tr>" + "".join(
            f'<td class="num">{_e(c)}</td>' if col in _NUMERIC else f"<td>{_e(c)}</td>"
            for col, c in zip(COLUMNS, cells)) + "</tr>")
    models = list(dict.fromkeys(r.model for r in rows))
    charts = [svg for m in models if (svg := ms_chart_svg(m, rows))]
    missing = not_opened_lines(gallery)
    dup = [f"{safe_cell(a)} (the same as {safe_cell(b)})" for a, b in gallery.duplicates]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        # No request leaves the page: nothing loads from anywhere, not even from the page's own folder.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">{gallery.n_files} run files, {len(rows)} rows; made {now} by gemmacompare. '
        "ms/token and prefill t/s: mean [95% interval] where the files hold repetitions. "
        "Run files leave out paths, user and host names and keys.</p>",
        f"<table id=\"gallery\"><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
        "<h2>ms/token per machine</h2>", *(f"<div>{c}</div>" for c in charts),
    ]
    if pair:
        ratio = ratio_chart_svg(pair[0], pair[1], ratio_points(rows, *pair), claimed)
        parts += ["<h2>Ratio per machine</h2>",
                  f"<div>{ratio}</div>" if ratio else '<p class="note">No machine ran both models with the same '
                                                       "build and settings.</p>"]
    if missing:
        parts.append("<h2>Not opened</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in missing) + "</ul>")
    if dup:
        parts.append("<h2>Counted once</h2><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in dup) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["ms_chart_svg", "page_html", "ratio_chart_svg"]
