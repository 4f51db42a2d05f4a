"""Charts of the report as inline SVG: line charts, a heat map, a funnel of bars.

Plain strings, no plotting library and nothing fetched: the page must open without a network.
Every text that reaches the markup goes through `esc`. Each drawn mark carries `data-mark`, so
the page's render probe (dwh/report_page.py) can tell a chart that drew from an empty frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

# Colour-blind-friendly (Okabe-Ito), cycled over the series.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")

WIDTH, HEIGHT = 760, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 16, 16, 56
LEGEND_ROW = 16  # height of each further row of a wrapped legend


def esc(value: object) -> str:
    """Text or attribute value, escaped for HTML and inline SVG (quotes included)."""
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]  # (x, y) in the chart's units, x ascending


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high] (steps 1, 2, 2.5 or 5 x 10^k)."""
    if high < low:
        low, high = high, low
    if high == low:
        low, high = (low - 1, high + 1) if low else (0.0, 1.0)
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    ticks = [round(n * step, 10) for n in range(first, last + 1)]
    return ticks


def compact(value: float) -> str:
    """An axis label: 1,250 -> '1.25k', 3,400,000 -> '3.4M'."""
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if size < 1000 else f"{value:.0f}"


def _frame(chart_id: str, title: str, height: int) -> str:
    return (
        f'<svg id="{esc(chart_id)}" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" role="img" aria-label="{esc(title)}">'
        f"<title>{esc(title)}</title>"
    )


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    x_label: Callable[[float], str],
    y_unit: str,
    y_format: Callable[[float], str] = compact,
    x_ticks: int = 8,
) -> str:
    """One polyline per series, with a point (and its tooltip) per value; y includes 0."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    if not xs:
        raise ValueError(f"{chart_id}: a line chart needs at least one point")
    x_low, x_high = min(xs), max(xs)
    y_ticks = nice_ticks(min(0.0, *ys), max(0.0, *ys))
    y_low, y_high = y_ticks[0], y_ticks[-1]
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(x: float) -> float:
        return MARGIN_LEFT + (plot_w * (x - x_low) / (x_high - x_low) if x_high > x_low else 0)

    def py(y: float) -> float:
        return MARGIN_TOP + plot_h * (1 - (y - y_low) / (y_high - y_low))

    legend, legend_rows = _legend([s.label for s in series])
    height = HEIGHT + LEGEND_ROW * (legend_rows - 1)
    parts = [_frame(chart_id, title, height), '<g class="axes" font-size="11" fill="#444">']
    for tick in y_ticks:
        y = py(tick)
        stroke = "#888" if tick == 0 else "#e3e3e3"
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{stroke}"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(y_format(tick))}</text>"
        )
    parts.append(
        f'<text x="14" y="{MARGIN_TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {MARGIN_TOP + plot_h / 2:.1f})">{esc(y_unit)}</text>'
    )
    distinct = sorted(set(xs))
    stride = max(1, math.ceil(len(distinct) / x_ticks))
    for x in distinct[::stride]:
        parts.append(
            f'<text x="{px(x):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle">'
            f"{esc(x_label(x))}</text>"
        )
    parts.append("</g>")
    for number, item in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in item.points)
        parts.append(
            f'<g data-series="{esc(item.label)}"><polyline data-mark="line" fill="none" '
            f'stroke="{colour}" stroke-width="2" points="{coords}"/>'
        )
        for x, y in item.points:
            parts.append(
                f'<circle data-mark="point" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" '
                f'fill="{colour}"><title>{esc(item.label)}, {esc(x_label(x))}: '
                f"{esc(y_format(y))} {esc(y_unit)}</title></circle>"
            )
        parts.append("</g>")
    parts.append(legend)
    parts.append("</svg>")
    return "".join(parts)


def _legend(labels: Sequence[str]) -> tuple[str, int]:
    """The legend below the plot, wrapped onto as many rows as it needs; (svg, rows)."""
    parts = ['<g class="legend" font-size="11">']
    x, row = MARGIN_LEFT, 0
    for number, label in enumerate(labels):
        width = 24 + 7 * len(label)
        if x + width > WIDTH and x > MARGIN_LEFT:
            x, row = MARGIN_LEFT, row + 1
        y = HEIGHT - 14 + LEGEND_ROW * row
        colour = PALETTE[number % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y}">{esc(label)}</text>'
        )
        x += width
    parts.append("</g>")
    return "".join(parts), row + 1


def heat_map(
    chart_id: str,
    title: str,
    rows: Sequence[str],
    columns: Sequence[int],
    cells: Mapping[tuple[str, int], tuple[float, str]],
) -> str:
    """Rows x columns of cells coloured by a value in [0, 1] (white to dark blue), each with
    its tooltip; a (row, column) absent from `cells` is left empty (an immature offset)."""
    if not cells:
        raise ValueError(f"{chart_id}: a heat map needs at least one cell")
    label_w, top, cell_h = 84, 22, 16
    cell_w = max(14.0, min(28.0, (WIDTH - label_w - 8) / max(1, len(columns))))
    width = label_w + cell_w * len(columns) + 8
    height = top + cell_h * len(rows) + 8
    parts = [
        f'<svg id="{esc(chart_id)}" viewBox="0 0 {width:.0f} {height}" width="100%" '
        f'style="max-width:{width:.0f}px" role="img" aria-label="{esc(title)}">'
        f"<title>{esc(title)}</title>"
        '<g font-size="10" fill="#444">'
    ]
    for c, column in enumerate(columns):
        parts.append(
            f'<text x="{label_w + cell_w * (c + 0.5):.1f}" y="{top - 8}" '
            f'text-anchor="middle">{esc(column)}</text>'
        )
    for r, row in enumerate(rows):
        parts.append(
            f'<text x="{label_w - 6}" y="{top + cell_h * r + 12}" text-anchor="end">'
            f"{esc(row)}</text>"
        )
    parts.append("</g>")
    for r, row in enumerate(rows):
        for c, column in enumerate(columns):
            if (row, column) not in cells:
                continue
            value, tip = cells[(row, column)]
            share = min(1.0, max(0.0, value))
            # white (247) to dark blue (8, 48, 107) as the rate rises
            red, green, blue = (round(247 + (t - 247) * share) for t in (8, 48, 107))
            text = "#fff" if share > 0.5 else "#222"
            x, y = label_w + cell_w * c, top + cell_h * r
            parts.append(
                f'<g><rect data-mark="cell" data-row="{esc(row)}" data-column="{esc(column)}" '
                f'data-value="{value:.4f}" x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" '
                f'height="{cell_h - 1}" fill="rgb({red},{green},{blue})">'
                f"<title>{esc(tip)}</title></rect>"
                f'<text x="{x + cell_w / 2:.1f}" y="{y + 11}" font-size="8" fill="{text}" '
                f'text-anchor="middle" pointer-events="none">{round(value * 100)}</text></g>'
            )
    parts.append("</svg>")
    return "".join(parts)


def funnel_bars(chart_id: str, title: str, steps: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, one per step, as long as the step's count, labelled with the count and
    its share of the first step."""
    if not steps:
        raise ValueError(f"{chart_id}: a funnel needs at least one step")
    label_w, bar_h, gap = 110, 26, 10
    width, height = WIDTH, 12 + len(steps) * (bar_h + gap)
    first = steps[0][1]
    biggest = max(count for _, count in steps) or 1
    scale = (width - label_w - 150) / biggest
    parts = [
        f'<svg id="{esc(chart_id)}" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{esc(title)}">'
        f'<title>{esc(title)}</title><g font-size="12" fill="#333">'
    ]
    for number, (label, count) in enumerate(steps):
        y = 6 + number * (bar_h + gap)
        share = f"{count / first:.1%}" if first else "n/a"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{esc(label)}</text>'
            f'<rect data-mark="bar" data-step="{esc(label)}" data-count="{count}" '
            f'x="{label_w}" y="{y}" width="{max(1.0, count * scale):.1f}" height="{bar_h}" '
            f'fill="{PALETTE[0]}"><title>{esc(label)}: {count:,} ({share} of '
            f"{esc(steps[0][0])})</title></rect>"
            f'<text x="{label_w + max(1.0, count * scale) + 6:.1f}" y="{y + 17}">'
            f"{count:,} ({share})</text>"
        )
    parts.append("</g></svg>")
    return "".join(parts)
