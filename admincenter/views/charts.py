"""Server-rendered SVG bar chart of SCIM requests per hour (no chart library).

``hourly_chart`` turns per-hour counts into geometry the template draws: one stacked
bar per hour (successes below, errors on top), a few y-axis ticks and one label per day.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 860
HEIGHT = 220
LEFT = 44  # room for y-axis labels
RIGHT = 8
TOP = 10
BOTTOM = 26  # room for day labels


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    success_y: float
    success_h: float
    error_y: float
    error_h: float
    title: str


def _nice_max(value: int) -> int:
    """The smallest 1/2/5 x 10^n that is >= value, so ticks are round numbers."""
    if value <= 4:
        return 4
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def hourly_chart(counts) -> dict:
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    n = max(len(counts), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.8, 1)
    peak = max((c.requests for c in counts), default=0)
    y_max = _nice_max(peak)
    scale = plot_h / y_max
    baseline = TOP + plot_h

    bars = []
    days = []
    for i, c in enumerate(counts):
        x = LEFT + i * slot
        errors = c.errors
        success = c.requests - errors
        success_h = success * scale
        error_h = errors * scale
        title = f"{c.hour:%a %d %b %H:00} UTC: {c.requests} requests, {errors} errors"
        if c.requests:
            bars.append(
                Bar(
                    x=round(x, 2),
                    width=round(bar_w, 2),
                    success_y=round(baseline - success_h, 2),
                    success_h=round(success_h, 2),
                    error_y=round(baseline - success_h - error_h, 2),
                    error_h=round(error_h, 2),
                    title=title,
                )
            )
        if c.hour.hour == 0:
            days.append({"x": round(x, 2), "label": f"{c.hour:%a %d}"})
    ticks = [{"y": round(baseline - (y_max * k / 4) * scale, 2), "label": str(int(y_max * k / 4))} for k in range(0, 5)]
    # A daily summary doubles as the chart's text alternative.
    daily: dict[str, dict] = {}
    for c in counts:
        day = f"{c.hour:%a %d %b}"
        entry = daily.setdefault(day, {"day": day, "requests": 0, "errors": 0})
        entry["requests"] += c.requests
        entry["errors"] += c.errors
    total = sum(c.requests for c in counts)
    total_errors = sum(c.errors for c in counts)
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right_edge": WIDTH - RIGHT,
        "baseline": baseline,
        "mid_x": LEFT + plot_w // 2,
        "mid_y": TOP + plot_h // 2,
        "bars": bars,
        "ticks": ticks,
        "days": days,
        "daily": list(daily.values()),
        "total": total,
        "total_errors": total_errors,
        "empty": total == 0,
    }
