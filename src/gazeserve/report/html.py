"""The report's `index.html`: the summary and the plots on one static page.

No scripts and no external assets: styles are inline, images are referenced relatively, so the
folder can be moved, zipped or opened from disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from gazeserve.report.plots import Plot

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222;
       padding: 0 1rem; }
h1 { font-size: 1.4rem; margin-bottom: 0.2rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.source { color: #666; font-size: 0.9rem; word-break: break-all; }
.note { background: #fff3cd; border: 1px solid #e0c36a; padding: 0.6rem 1rem; border-radius: 4px; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.2rem 0.8rem 0.2rem 0; border-bottom: 1px solid #eee;
         vertical-align: top; }
th { font-weight: 600; color: #444; }
figure { margin: 1.2rem 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.85rem; }
.files a { margin-right: 1rem; }
"""


def write_index(folder: Path, summary: dict[str, Any], plots: Sequence[Plot]) -> Path:
    """Writes `index.html` for one report; its path."""
    path = folder / "index.html"
    path.write_text(render_index(summary, plots), encoding="utf-8")
    return path


def render_index(summary: dict[str, Any], plots: Sequence[Plot]) -> str:
    name = Path(str(summary.get("source", ""))).name
    parts = [f"<h1>gazeserve report: {escape(name)}</h1>",
             f'<div class="source">{escape(str(summary.get("source", "")))}</div>']
    if summary.get("message"):
        parts.append(f'<p class="note">{escape(str(summary["message"]))}.</p>')
    parts.append("<h2>Summary</h2>")
    parts.append(_table(_overview(summary)))
    for title, key in (("Attention", "attention"), ("Head pose (degrees)", "head_pose_deg"),
                       ("Gaze (degrees)", "gaze_deg"), ("Blinks", "blinks"),
                       ("Fixations", "fixations"), ("Processing", "processing")):
        value = summary.get(key)
        if isinstance(value, dict):
            parts.append(f"<h3>{escape(title)}</h3>")
            parts.append(_table(_flatten(value)))
    if summary.get("per_face"):
        parts.append("<h3>Per face</h3>")
        parts.append(_per_face(summary["per_face"]))
    parts.append("<h2>Plots</h2>")
    for plot in plots:
        parts.append(f'<figure><img src="{escape(plot.file)}" alt="{escape(plot.title)}">'
                     f"<figcaption><b>{escape(plot.title)}.</b> {escape(plot.caption)}"
                     "</figcaption></figure>")
    parts.append('<h2>Files</h2><p class="files">' + "".join(
        f'<a href="{f}">{f}</a>' for f in ("frames.csv", "events.csv", "summary.json")) + "</p>")
    return _page(f"gazeserve report: {name}", "\n".join(parts))


def write_reports_index(folder: Path, reports: Sequence[tuple[str, dict[str, Any]]]) -> Path:
    """Writes an `index.html` linking each input's report (subfolder name, summary)."""
    rows = []
    for sub, summary in reports:
        share = summary.get("on_screen_share")
        rows.append(
            f'<tr><td><a href="{escape(sub)}/index.html">{escape(sub)}</a></td>'
            f"<td>{escape(str(summary.get('source', '')))}</td>"
            f"<td>{summary.get('frames')}</td><td>{summary.get('frames_with_face')}</td>"
            f"<td>{_fmt(share)}</td></tr>")
    body = ("<h1>gazeserve reports</h1><table><tr><th>report</th><th>source</th><th>frames</th>"
            "<th>frames with a face</th><th>on-screen share</th></tr>" + "".join(rows)
            + "</table>")
    path = folder / "index.html"
    path.write_text(_page("gazeserve reports", body), encoding="utf-8")
    return path


def _page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")


def _overview(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    keys = ("kind", "frames", "duration_s", "nominal_fps", "frame_size_px", "frames_with_face",
            "face_share", "on_screen_share", "max_faces", "face_tracks", "calibrated")
    return [(k, summary.get(k)) for k in keys if k in summary]


def _flatten(value: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            out += _flatten(item, f"{name} ")
        else:
            out.append((name, item))
    return out


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{escape(k.replace('_', ' '))}</th><td>{escape(_fmt(v))}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


def _per_face(faces: Sequence[dict[str, Any]]) -> str:
    head = ("<tr><th>face</th><th>rows</th><th>from (s)</th><th>to (s)</th>"
            "<th>on-screen share</th><th>mean score</th><th>blinks</th><th>fixations</th></tr>")
    rows = []
    for f in faces:
        attention, blinks, fixations = f.get("attention") or {}, f.get("blinks") or {}, \
            f.get("fixations") or {}
        cells = (f.get("face_index"), f.get("rows"), f.get("first_s"), f.get("last_s"),
                 f.get("on_screen_share"), attention.get("mean_score"), blinks.get("count"),
                 fixations.get("count"))
        rows.append("<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return " x ".join(_fmt(v) for v in value)
    return str(value)
