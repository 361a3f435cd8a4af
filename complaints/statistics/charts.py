"""Charts drawn on the server as inline SVG: no script, no third-party files, they scale to a phone's width
(viewBox + width 100%) and print. Each chart has a table under it with the same numbers."""

from django.utils.html import escape
from django.utils.safestring import mark_safe

PALETTE = [
    "#0b5cad",
    "#e07b00",
    "#17734a",
    "#b3261e",
    "#6a3fb5",
    "#00838f",
    "#8d6e00",
    "#c2185b",
    "#5b6670",
    "#2e7d32",
]
WIDTH = 480  # viewBox units: about 0.7 of a pixel on a phone, 1.5 on a wide screen (max-width)


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def swatch(index: int) -> str:
    """A legend's colour square, as SVG: a fill attribute, not a style attribute the CSP would refuse."""
    return mark_safe(
        '<svg class="swatch" viewBox="0 0 12 12" aria-hidden="true">'
        f'<rect width="12" height="12" rx="2" fill="{colour(index)}"/></svg>'
    )


def _svg(height: int, body: str, label: str, kind: str, total) -> str:
    return mark_safe(
        f'<svg class="chart {kind}" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" data-total="{escape(total)}" preserveAspectRatio="xMinYMin meet">{body}</svg>'
    )


def bar_chart(rows: list[dict], *, value: str, label: str = "label", title: str = "", unit: str = "") -> str:
    """Horizontal bars, the label above each bar (long company names fit on a phone)."""
    rows = [r for r in rows if r.get(value) is not None]
    if not rows:
        return ""
    top = max(r[value] for r in rows) or 1
    parts, y = [], 0
    for r in rows:
        width = max(1.0, (WIDTH - 90) * r[value] / top)
        name, shown = escape(r[label]), escape(f"{r[value]}{unit}")
        parts.append(
            f'<g class="bar"><text x="0" y="{y + 13}" class="label">{name}</text>'
            f'<rect x="0" y="{y + 18}" width="{width:.1f}" height="14" rx="2" fill="{PALETTE[0]}">'
            f"<title>{name}: {shown}</title></rect>"
            f'<text x="{width + 6:.1f}" y="{y + 30}" class="value">{shown}</text></g>'
        )
        y += 40
    return _svg(y, "".join(parts), title, "bars", sum(r[value] for r in rows))


def stacked_columns(labels: list[str], series: list[dict], *, title: str = "", max_series: int = 9) -> str:
    """One column per bucket, stacked by series (the largest series first, the rest as "other")."""
    if not labels:
        return ""
    series = list(series)
    if len(series) > max_series:
        rest = series[max_series - 1 :]
        other = [sum(values) for values in zip(*(s["values"] for s in rest))]
        series = series[: max_series - 1] + [{"key": "_other", "label": "…", "values": other}]
    totals = [sum(s["values"][i] for s in series) for i in range(len(labels))]
    top = max(totals or [0]) or 1
    height, left, bottom = 260, 40, 40
    plot_h = height - bottom - 10
    step = (WIDTH - left) / len(labels)
    bar_w = max(1.0, step * 0.8)
    parts = [
        f'<text x="0" y="14" class="axis">{top}</text>'
        f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH}" y2="{height - bottom}" class="axis-line"/>'
    ]
    label_every = max(1, -(-len(labels) // 6))  # at most 6 tick labels
    for i, bucket in enumerate(labels):
        x = left + i * step
        y = height - bottom
        for index, s in enumerate(series):
            v = s["values"][i]
            if not v:
                continue
            h = plot_h * v / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour(index)}">'
                f"<title>{escape(bucket)} {escape(s['label'])}: {v}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" class="tick">{escape(bucket)}</text>')
    return _svg(height, "".join(parts), title, "columns", sum(totals))


def line_chart(labels: list[str], values: list, *, title: str = "", maximum: float = 100.0, unit: str = "%") -> str:
    """A line over the buckets (gaps where there is no value), for shares such as "answered on time"."""
    if not labels:
        return ""
    height, left, bottom = 220, 40, 40
    plot_h = height - bottom - 10
    step = (WIDTH - left) / max(1, len(labels))
    parts = [
        f'<text x="0" y="14" class="axis">{maximum:g}{escape(unit)}</text>'
        f'<text x="0" y="{height - bottom}" class="axis">0</text>'
        f'<line x1="{left}" y1="{height - bottom}" x2="{WIDTH}" y2="{height - bottom}" class="axis-line"/>'
    ]
    segment, label_every = [], max(1, -(-len(labels) // 6))
    for i, (bucket, v) in enumerate(zip(labels, values)):
        x = left + i * step + step * 0.4
        if v is None:
            if segment:
                parts.append(f'<polyline points="{" ".join(segment)}" class="line"/>')
            segment = []
        else:
            y = height - bottom - plot_h * min(v, maximum) / maximum
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="dot">'
                f"<title>{escape(bucket)}: {v}{escape(unit)}</title></circle>"
            )
        if i % label_every == 0:
            tick_x = x - step * 0.4
            parts.append(f'<text x="{tick_x:.1f}" y="{height - bottom + 16}" class="tick">{escape(bucket)}</text>')
    if segment:
        parts.append(f'<polyline points="{" ".join(segment)}" class="line"/>')
    return _svg(height, "".join(parts), title, "line", sum(v for v in values if v is not None))
