"""Small bar charts drawn as inline SVG on the server: no chart library, no script, and a
text summary for screen readers. Templates draw the shapes these functions lay out."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 320, 100
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 8, 80, 36


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str
    kind: str = "bar"


@dataclass(frozen=True)
class Chart:
    """Bars in a WIDTH x HEIGHT box, the top of the value axis, and a text summary."""

    bars: list[Bar]
    top_label: str
    summary: str
    # Labels under the bars, at most one per bar; horizontal charts leave them empty.
    ticks: list[tuple[float, str]]


def _scale(values: list[float]) -> float:
    top = max(values, default=0.0)
    return top if top > 0 else 1.0


def stacked_columns(columns: list[tuple[str, float, float]], unit: str, summary: str) -> Chart:
    """Columns of (label, lower, upper) stacked: allow below (accent), deny above (red)."""
    top = _scale([a + b for _, a, b in columns])
    slots = max(len(columns), 1)
    step = (WIDTH - PLOT_LEFT) / slots
    height = PLOT_BOTTOM - PLOT_TOP
    bars: list[Bar] = []
    ticks: list[tuple[float, str]] = []
    for index, (label, lower, upper) in enumerate(columns):
        x = PLOT_LEFT + index * step + step * 0.1
        low = height * lower / top
        high = height * upper / top
        bars.append(Bar(x, PLOT_BOTTOM - low, step * 0.8, low, label, f"{lower:.2f} {unit}"))
        bars.append(
            Bar(
                x,
                PLOT_BOTTOM - low - high,
                step * 0.8,
                high,
                label,
                f"{upper:.2f} {unit}",
                "bar-deny",
            )
        )
        if index % max(slots // 4, 1) == 0:
            ticks.append((x, label))
    return Chart(bars, f"{top:.2f}", summary, ticks)


def horizontal_bars(rows: list[tuple[str, float]], value_format: str, summary: str) -> Chart:
    """One bar per (label, value), longest first as given; labels drawn left of the bars."""
    top = _scale([value for _, value in rows])
    band = (PLOT_BOTTOM - PLOT_TOP) / max(len(rows), 1)
    left, right = 130, WIDTH - 64
    bars = [
        Bar(
            left,
            PLOT_TOP + index * band + band * 0.15,
            max((right - left) * value / top, 1.0),
            band * 0.7,
            label,
            value_format.format(value),
        )
        for index, (label, value) in enumerate(rows)
    ]
    return Chart(bars, value_format.format(top), summary, [])
