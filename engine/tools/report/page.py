"""The batch report's pages: index.html (self-contained: inline CSS and SVG, pictures and
audio by relative links, no script, nothing from the network) and summary.csv."""

from __future__ import annotations

import csv
import io
from html import escape
from urllib.parse import quote

CSV_COLUMNS = ("file", "prediction", "probability", "explained_class",
               "selected_components", "ff", "error")
TOP_CLASSES = 3
CLIPS_DIR = "clips"

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;margin:0;
 background:#f4f5f7}
header,main{max-width:1220px;margin:0 auto;padding:0 20px}
header{padding-top:18px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:0 0 6px;word-break:break-all}
.meta{color:#555d6e;margin:2px 0}
.note{color:#555d6e;font-size:13px;max-width:980px}
table.summary{border-collapse:collapse;background:#fff;margin:12px 0 18px;width:100%;
 font-size:13px}
.summary th,.summary td{border-bottom:1px solid #e2e4e9;padding:4px 8px;text-align:left}
.summary th{background:#eceef2}
.summary td.num{text-align:right;font-variant-numeric:tabular-nums}
.error{color:#b00020}
section.clip{background:#fff;border:1px solid #dde0e6;border-radius:6px;padding:12px 14px;
 margin:0 0 14px}
.top{display:flex;gap:22px;align-items:flex-start;flex-wrap:wrap}
table.preds{border-collapse:collapse;font-size:13px;min-width:260px}
.preds td{padding:2px 6px}
.preds td:first-child{width:130px}
.preds .bar{background:#e6e8ee;width:110px;height:10px;border-radius:2px}
.preds .bar span{display:block;height:10px;background:#3c6fb4}
.preds tr.explained td{font-weight:600}
.sel{font-size:12px;color:#555d6e;max-width:600px}
.specs{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-top:10px}
figure{margin:0}
figcaption{font-size:13px;font-weight:600;margin-bottom:3px}
.specs img{width:100%;height:150px;display:block;border:1px solid #ccd0d8}
audio{width:100%;height:32px;margin-top:4px}
"""


def _link(slug: str, name: str) -> str:
    return f"{CLIPS_DIR}/{quote(slug)}/{quote(name)}"


def relevance_svg(relevance: list[float], selected: list[int], tau: float,
                  width: int = 520, height: int = 150) -> str:
    """Bars of all K relevances, most relevant first; the selected ones (r > tau) red."""
    left, right, top, bottom = 34, 8, 8, 20
    order = sorted(range(len(relevance)), key=lambda k: -relevance[k])
    lo = min(0.0, min(relevance, default=0.0))
    span = 1.0 - lo or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def y(v: float) -> float:
        return top + (1.0 - v) / span * plot_h

    step = plot_w / max(1, len(order))
    chosen = set(selected)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="relevance of {len(order)} components">']
    for v in sorted({1.0, 0.0, lo} if lo < -0.05 else {1.0, 0.0}):
        parts.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" font-size="10" '
                     f'text-anchor="end" fill="#555">{v:.1f}</text>')
    for i, k in enumerate(order):
        r = relevance[k]
        y0, y1 = sorted((y(max(r, 0.0)), y(min(r, 0.0))))
        colour = "#d0362c" if k in chosen else "#9aa3b2"
        parts.append(f'<rect x="{left + i * step:.2f}" y="{y0:.2f}" '
                     f'width="{max(step - 0.6, 0.6):.2f}" height="{max(y1 - y0, 0.5):.2f}" '
                     f'fill="{colour}"><title>component {k}: {r:.3f}</title></rect>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
                 'stroke="#333" stroke-width="0.8"/>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tau):.1f}" '
                 f'y2="{y(tau):.1f}" stroke="#d0362c" stroke-dasharray="4 3"/>')
    parts.append(f'<text x="{width - right}" y="{y(tau) - 3:.1f}" font-size="10" '
                 f'text-anchor="end" fill="#d0362c">τ {tau:.2f}</text>')
    parts.append(f'<text x="{left}" y="{height - 5}" font-size="10" fill="#555">'
                 f'{len(order)} components, most relevant first</text></svg>')
    return "".join(parts)


def _predictions(record: dict) -> str:
    rows = []
    for p in record["predictions"][:TOP_CLASSES]:
        mark = ' class="explained"' if p["label"] == record["explained_class"] else ""
        pct = 100 * max(0.0, min(1.0, p["probability"]))
        rows.append(f'<tr{mark}><td>{escape(p["label"])}</td><td><div class="bar">'
                    f'<span style="width:{pct:.1f}%"></span></div></td>'
                    f'<td>{p["probability"]:.3f}</td></tr>')
    return '<table class="preds">' + "".join(rows) + "</table>"


def _selected(record: dict) -> str:
    rel = record["relevance"]
    shown = ", ".join(f"#{k} ({rel[k]:.2f})" for k in record["selected"][:12])
    more = len(record["selected"]) - 12
    return shown + (f" and {more} more" if more > 0 else "") if shown else \
        f"none: no component is above τ = {record['tau']:.2f}"


def _ff(record: dict) -> str:
    return "–" if record.get("ff") is None else f'{record["ff"]:.3f}'


def _clip_section(record: dict) -> str:
    slug = record["slug"]
    head = f'<section class="clip" id="{escape(slug)}"><h2>{escape(record["file"])}</h2>'
    if record.get("error"):
        return head + f'<p class="error">{escape(record["error"])}</p></section>'
    top = record["predictions"][0]
    meta = (f'<p class="meta">{record["duration_s"]:.2f} s · predicted '
            f'<b>{escape(top["label"])}</b> ({top["probability"]:.3f}) · explained '
            f'<b>{escape(record["explained_class"])}</b> with {len(record["selected"])} '
            f'components · FF {_ff(record)}</p>')
    figures = []
    captions = {"input": "Input", "interpretation": "Interpretation (selected components)",
                "residual": "Residual (everything else)"}
    for kind, caption in captions.items():
        f = record["files"][kind]
        figures.append(
            f'<figure><figcaption>{caption}</figcaption>'
            f'<img src="{_link(slug, f["png"])}" alt="{kind} spectrogram" loading="lazy">'
            f'<audio controls preload="none" src="{_link(slug, f["wav"])}"></audio></figure>')
    return (head + meta + '<div class="top">' + _predictions(record)
            + '<div><div>' + relevance_svg(record["relevance"], record["selected"],
                                           record["tau"]) + '</div>'
            + f'<div class="sel">selected: {_selected(record)}</div></div></div>'
            + '<div class="specs">' + "".join(figures) + "</div></section>")


def _summary_row(record: dict) -> str:
    name = f'<a href="#{escape(record["slug"])}">{escape(record["file"])}</a>'
    if record.get("error"):
        return f'<tr><td>{name}</td><td colspan="5" class="error">' \
               f'{escape(record["error"])}</td></tr>'
    top = record["predictions"][0]
    return (f'<tr><td>{name}</td><td>{escape(top["label"])}</td>'
            f'<td class="num">{top["probability"]:.3f}</td>'
            f'<td>{escape(record["explained_class"])}</td>'
            f'<td class="num">{len(record["selected"])}</td>'
            f'<td class="num">{_ff(record)}</td></tr>')


def index_html(records: list[dict], *, title: str, bundle: str, tau: float,
               total: int) -> str:
    """The whole page. ``total`` counts every clip found, done or not yet."""
    failed = sum(1 for r in records if r.get("error"))
    pending = total - len(records)
    status = f"{total} clips: {len(records) - failed} explained, {failed} failed"
    if pending:
        status += (f", {pending} not yet done (the run was stopped: run it again to "
                   "continue)")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>L2I report: {escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>L2I batch report: {escape(title)}</h1>"
        f'<p class="meta">bundle {escape(bundle)} · τ = {tau:.2f} · {status}</p>'
        '<p class="note">Per clip: the classifier\'s top classes, the relevance of every '
        "dictionary component to the explained class (red: above τ, selected), and the "
        "log-magnitude spectrograms of the input, of what the selected components explain "
        "(the interpretation) and of what is left (the residual), each with its audio. "
        "FF is the drop of the explained class's probability when the selected components "
        "are removed (the residual through the classifier).</p></header><main>"
        '<table class="summary"><tr><th>clip</th><th>prediction</th><th>probability</th>'
        "<th>explained</th><th>components</th><th>FF</th></tr>"
        + "".join(_summary_row(r) for r in records) + "</table>"
        + "".join(_clip_section(r) for r in records) + "</main></body></html>")


def summary_csv(records: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in records:
        if r.get("error"):
            w.writerow([r["file"], "", "", "", "", "", r["error"]])
            continue
        top = r["predictions"][0]
        w.writerow([r["file"], top["label"], f'{top["probability"]:.6f}',
                    r["explained_class"], len(r["selected"]),
                    "" if r.get("ff") is None else f'{r["ff"]:.6f}', ""])
    return buf.getvalue()
