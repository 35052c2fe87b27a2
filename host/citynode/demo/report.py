"""The demo report: one static HTML page (inline SVG, no network) a person can look at.

One plot per node over the simulated day and the log of rejected frames.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


@dataclass
class Series:
    label: str
    unit: str
    points: list[tuple[float, float]]  # (hours since start, value)
    step: bool = False  # draw as a step function (states such as occupancy)


@dataclass
class NodePanel:
    title: str
    subtitle: str
    series: list[Series]
    summary: dict[str, str] = field(default_factory=dict)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 0.1
    step = max(magnitude * round(raw / magnitude), magnitude)
    start = step * int(lo / step)
    ticks = []
    value = start
    while value <= hi:
        if lo <= value <= hi:
            ticks.append(round(value, 6))
        value += step
    return ticks


def svg_chart(series: Sequence[Series], width: int = 640, height: int = 260, hours: float = 24.0) -> str:
    """A line chart of every series on one time axis (0..hours), each with its own colour."""
    left, right, top, bottom = 56, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for _, v in s.points]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (hi - lo) * 0.08 or 1.0
    lo, hi = lo - pad, hi + pad

    def x(t: float) -> float:
        return left + plot_w * max(0.0, min(t, hours)) / hours

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for tick in _ticks(lo, hi):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11">{tick:g}</text>')
    for hour in range(0, int(hours) + 1, 3):
        parts.append(
            f'<text x="{x(hour):.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11">{hour:02d}h</text>'
        )
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        coords: list[str] = []
        previous: float | None = None
        for t, v in sorted(s.points):
            if s.step and previous is not None:
                coords.append(f"{x(t):.1f},{y(previous):.1f}")
            coords.append(f"{x(t):.1f},{y(v):.1f}")
            previous = v
        if coords:
            parts.append(
                f'<polyline class="series" data-label="{html.escape(s.label)}" fill="none" stroke="{colour}" '
                f'stroke-width="2" points="{" ".join(coords)}"/>'
            )
        parts.append(
            f'<text x="{left + 8 + 170 * index}" y="{height - 6}" font-size="12" fill="{colour}">'
            f"■ {html.escape(s.label)} ({html.escape(s.unit)})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1400px; color: #222; }
h1 { margin-bottom: 0.2rem; } .lead { color: #555; margin-top: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(660px, 1fr)); gap: 1.2rem; }
.panel { border: 1px solid #ddd; border-radius: 8px; padding: 0.8rem 1rem; background: white; }
.panel h2 { font-size: 1.1rem; margin: 0; } .panel p { margin: 0.2rem 0 0.6rem; color: #666; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { border-bottom: 1px solid #eee; padding: 4px 10px; }
th { text-align: left; background: #f4f4f4; } .bad { color: #b00; font-weight: 600; }
"""


def render_report(
    title: str,
    lead: str,
    panels: Sequence[NodePanel],
    summary_rows: Sequence[dict[str, str]],
    rejected: Sequence[dict[str, str]],
    alerts: Sequence[dict[str, str]],
) -> str:
    def table(rows: Sequence[dict[str, str]], empty: str) -> str:
        if not rows:
            return f"<p>{html.escape(empty)}</p>"
        head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>" for row in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    blocks = []
    for panel in panels:
        blocks.append(
            f'<section class="panel"><h2>{html.escape(panel.title)}</h2><p>{html.escape(panel.subtitle)}</p>'
            f"{svg_chart(panel.series)}</section>"
        )
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"lead\">{html.escape(lead)}</p>"
        f"<h2>Fleet summary</h2>{table(summary_rows, 'no nodes')}"
        f"<h2>Readings over the simulated day</h2><div class=\"grid\">{''.join(blocks)}</div>"
        f"<h2>Security alerts</h2>{table(alerts, 'no alerts')}"
        f"<h2>Rejected frames</h2>{table(rejected, 'no frame was rejected')}"
        "</body></html>"
    )
