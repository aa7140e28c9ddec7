"""Charts drawn on the server: one plain description of a chart, rendered as SVG for the pages
and as a ReportLab drawing for the PDF report. No charting library, no script.

The SVG uses presentation attributes only (no style attributes), so the page's CSP holds, and
every label is escaped text.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

BIDI_CONTROLS = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
LABEL_MAX = 42
WIDTH, LABEL_WIDTH, ROW, TOP = 640, 250, 22, 28
COLOURS = {"bar": "#2f6f8f", "range": "#8a4f7d", "text": "#1f2933", "grid": "#c8d1d9"}


def visible_controls(text: str) -> str:
    """Bidirectional controls (e.g. U+202E, which reverses what follows) written out as
    [U+202E], for places without bidi isolation: chart labels and the PDF."""
    return "".join(f"[U+{ord(ch):04X}]" if ord(ch) in BIDI_CONTROLS else ch for ch in text)


def short(text: str, limit: int = LABEL_MAX) -> str:
    text = " ".join(visible_controls(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as printed beside the bar


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]

    @property
    def top(self) -> float:
        return max((b.value for b in self.bars), default=0.0) or 1.0


@dataclass(frozen=True)
class Span:
    label: str
    rank: int
    low: int
    high: int


@dataclass(frozen=True)
class RangeChart:
    title: str
    spans: tuple[Span, ...]

    @property
    def worst(self) -> int:
        return max((s.high for s in self.spans), default=1) or 1


def height_of(chart) -> int:
    rows = chart.bars if isinstance(chart, BarChart) else chart.spans
    return TOP + ROW * max(1, len(rows)) + 10


def to_svg(chart, chart_id: str) -> Markup:
    """The chart as an inline SVG element with a title for screen readers."""
    h = height_of(chart)
    area = WIDTH - LABEL_WIDTH - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {h}" width="{WIDTH}" height="{h}" '
        f'aria-labelledby="{escape(chart_id)}-title">',
        f'<title id="{escape(chart_id)}-title">{escape(chart.title)}</title>',
        f'<text x="0" y="16" font-size="14" font-weight="bold" fill="{COLOURS["text"]}">'
        f'{escape(short(chart.title, 80))}</text>',
    ]
    if isinstance(chart, BarChart):
        for i, bar in enumerate(chart.bars):
            y = TOP + i * ROW
            w = max(1.0, area * bar.value / chart.top) if bar.value > 0 else 0
            parts.append(
                f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" font-size="12" text-anchor="end" '
                f'fill="{COLOURS["text"]}">{escape(short(bar.label))}</text>'
                f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" '
                f'fill="{COLOURS["bar"]}"/>'
                f'<text x="{LABEL_WIDTH + w + 4:.1f}" y="{y + 15}" font-size="12" '
                f'fill="{COLOURS["text"]}">{escape(bar.shown)}</text>')
    else:
        step = area / max(1, chart.worst - 1) if chart.worst > 1 else 0
        for i, span in enumerate(chart.spans):
            y = TOP + i * ROW + ROW / 2
            x1 = LABEL_WIDTH + (span.low - 1) * step
            x2 = LABEL_WIDTH + (span.high - 1) * step
            xr = LABEL_WIDTH + (span.rank - 1) * step
            parts.append(
                f'<text x="{LABEL_WIDTH - 6}" y="{y + 4}" font-size="12" text-anchor="end" '
                f'fill="{COLOURS["text"]}">{escape(short(span.label))}</text>'
                f'<line x1="{x1:.1f}" y1="{y}" x2="{x2:.1f}" y2="{y}" '
                f'stroke="{COLOURS["range"]}" stroke-width="4"/>'
                f'<circle cx="{xr:.1f}" cy="{y}" r="5" fill="{COLOURS["text"]}"/>'
                f'<text x="{max(x2, xr) + 8:.1f}" y="{y + 4}" font-size="12" '
                f'fill="{COLOURS["text"]}">{span.low}–{span.high}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def to_drawing(chart):
    """The same chart as a ReportLab drawing, for the PDF (labels in the PDF's font)."""
    from reportlab.graphics.shapes import Circle, Drawing, Line, Rect, String
    from reportlab.lib.colors import HexColor

    scale = 0.72
    h = height_of(chart)
    drawing = Drawing(WIDTH * scale, h * scale)
    area = WIDTH - LABEL_WIDTH - 60

    def y_of(y: float) -> float:  # SVG's y runs down, the PDF's up
        return (h - y) * scale

    def text(x, y, value, anchor="start", size=12, bold=False):
        drawing.add(String(x * scale, y_of(y), value, fontSize=size * scale,
                           fontName="Helvetica-Bold" if bold else "Helvetica",
                           textAnchor=anchor, fillColor=HexColor(COLOURS["text"])))

    text(0, 16, short(chart.title, 80), size=14, bold=True)
    if isinstance(chart, BarChart):
        for i, bar in enumerate(chart.bars):
            y = TOP + i * ROW
            w = max(1.0, area * bar.value / chart.top) if bar.value > 0 else 0
            text(LABEL_WIDTH - 6, y + 15, short(bar.label), anchor="end")
            if w:
                drawing.add(Rect(LABEL_WIDTH * scale, y_of(y + ROW - 3), w * scale,
                                 (ROW - 6) * scale, fillColor=HexColor(COLOURS["bar"]),
                                 strokeColor=None))
            text(LABEL_WIDTH + w + 4, y + 15, bar.shown)
    else:
        step = area / max(1, chart.worst - 1) if chart.worst > 1 else 0
        for i, span in enumerate(chart.spans):
            y = TOP + i * ROW + ROW / 2
            x1 = LABEL_WIDTH + (span.low - 1) * step
            x2 = LABEL_WIDTH + (span.high - 1) * step
            xr = LABEL_WIDTH + (span.rank - 1) * step
            text(LABEL_WIDTH - 6, y + 4, short(span.label), anchor="end")
            drawing.add(Line(x1 * scale, y_of(y), x2 * scale, y_of(y),
                             strokeColor=HexColor(COLOURS["range"]), strokeWidth=3))
            drawing.add(Circle(xr * scale, y_of(y), 3.5, fillColor=HexColor(COLOURS["text"]),
                               strokeColor=None))
            text(max(x2, xr) + 8, y + 4, f"{span.low}–{span.high}")
    return drawing


def number(value: float, decimals: int = 2) -> str:
    """A number the Danish way: decimal comma, no trailing zeros beyond what is needed."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"
    return text.replace(".", ",")


def popular_chart(outcome, title: str, limit: int = 15) -> BarChart:
    rows = outcome.rows[:limit]
    return BarChart(title, tuple(Bar(r.ranked.title, float(r.ranked.score),
                                     number(float(r.ranked.score))) for r in rows))


def uniting_chart(outcome, title: str, limit: int = 15) -> BarChart:
    rows = sorted(outcome.rows, key=lambda r: (r.consensus_rank, r.ranked.proposal_id))[:limit]
    return BarChart(title, tuple(Bar(r.ranked.title, float(r.consensus),
                                     number(float(r.consensus), 3)) for r in rows))


def range_chart(outcome, title: str, limit: int = 20) -> RangeChart:
    return RangeChart(title, tuple(Span(r.ranked.title, r.ranked.rank, r.range.low,
                                        r.range.high) for r in outcome.rows[:limit]))
