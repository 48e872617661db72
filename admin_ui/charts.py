"""Small charts drawn on the server as inline SVG: no script, no inline
style (the admin CSP forbids both), no CDN. A chart is its geometry plus the
numbers it shows, which the template also lists in a table for people who
cannot see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The SVG's coordinate system; CSS sizes it (width 100%).
WIDTH = 200
HEIGHT = 48
PAD = 2


@dataclass(frozen=True)
class Line:
    css: str  # a class of admin.css: the line's colour and dash
    points: str  # the polyline's "x,y x,y ..."


@dataclass(frozen=True)
class Bar:
    css: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    """One figure's chart: lines or bars over days, or a meter of a share."""

    title: str  # a msgid
    labels: list[date | int]  # the days, or days of the month
    series: dict[str, list[int]]  # msgid of the series -> a value per day
    lines: list[Line]
    bars: list[Bar]
    money: bool = False


def _scale(values: list[list[int]], from_zero: bool = True) -> tuple[int, int]:
    """The range the chart's height spans. Bars start at zero; a line of a
    level (members, points) spans its own range, so its changes show."""
    flat = [v for series in values for v in series] or [0]
    low, high = (min(0, *flat) if from_zero else min(flat)), max(flat)
    if high == low:  # a flat line runs through the middle
        return low - 1, high + 1
    return low, high


def _y(value: int, low: int, high: int) -> float:
    return round(HEIGHT - PAD - (value - low) * (HEIGHT - 2 * PAD) / (high - low), 1)


def _x(index: int, count: int) -> float:
    return round(PAD + index * (WIDTH - 2 * PAD) / max(count - 1, 1), 1)


def line_chart(
    title: str,
    labels: list[date | int],
    series: dict[str, tuple[str, list[int]]],
    money: bool = False,
    from_zero: bool = True,
) -> Chart:
    """Lines sharing one scale; ``series`` maps a msgid to (css class,
    values). A series may be shorter than ``labels`` (this month so far)."""
    low, high = _scale([values for _, values in series.values()], from_zero)
    count = max(len(labels), *(len(values) for _, values in series.values()), 1)
    lines = [
        Line(css, " ".join(f"{_x(i, count)},{_y(v, low, high)}" for i, v in enumerate(values)))
        for css, values in series.values()
    ]
    return Chart(title, labels, {k: v for k, (_, v) in series.items()}, lines, [], money)


def bar_chart(
    title: str, labels: list[date | int], label: str, values: list[int], highlight_last: int = 0
) -> Chart:
    """A bar per day; the last ``highlight_last`` bars stand out."""
    low, high = _scale([values])
    step = (WIDTH - 2 * PAD) / max(len(values), 1)
    bars = [
        Bar(
            "bar hi" if i >= len(values) - highlight_last else "bar",
            round(PAD + i * step, 1),
            _y(v, low, high),
            round(step * 0.8, 1),
            round(_y(0, low, high) - _y(v, low, high), 1),
        )
        for i, v in enumerate(values)
    ]
    return Chart(title, labels, {label: values}, [], bars)


def meter(title: str, label: str, part: int, whole: int) -> Chart:
    """One bar: ``part`` of ``whole``, on a full-width track."""
    share = part / whole if whole else 0.0
    track = Bar("track", PAD, HEIGHT / 2 - 6, WIDTH - 2 * PAD, 12)
    filled = Bar("bar hi", PAD, HEIGHT / 2 - 6, round((WIDTH - 2 * PAD) * share, 1), 12)
    return Chart(title, [], {label: [part, whole]}, [], [track, filled])
