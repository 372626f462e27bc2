"""A small PNG chart for staff who would rather look than read: questions per day (by
what the bot did) and satisfaction over time. Drawn with matplotlib's Agg backend (no
display needed); `render_chart` returns the PNG bytes, which the Telegram staff command
sends as an image and `bot stats --chart FILE` writes to a file.

The labels are Vietnamese, from bot/texts.py; they are a parameter for other wording.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from bot import staff_texts
from bot.stats.report import StaffStatistics

# Satisfaction is shown over a sliding window of this many days.
ROLLING_DAYS = 7
# 800 x 600 pixels: readable on a phone, small enough to send quickly.
FIGURE_INCHES = (8.0, 6.0)
DPI = 100


@dataclass(frozen=True, slots=True)
class ChartLabels:
    questions_title: str = staff_texts.CHART_QUESTIONS_TITLE
    answered: str = staff_texts.CHART_ANSWERED
    clarified: str = staff_texts.CHART_CLARIFIED
    declined: str = staff_texts.CHART_DECLINED
    satisfaction_title: str = staff_texts.CHART_SATISFACTION_TITLE
    satisfied_share: str = staff_texts.CHART_SATISFIED_SHARE
    average: str = staff_texts.CHART_AVERAGE
    target: str = staff_texts.CHART_TARGET
    no_ratings: str = staff_texts.CHART_NO_RATINGS


def render_chart(stats: StaffStatistics, labels: ChartLabels = ChartLabels()) -> bytes:
    """The two charts, one above the other, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: no display on a server
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    # A Figure without pyplot keeps no global state between calls (safe in a server).
    figure = Figure(figsize=FIGURE_INCHES, dpi=DPI, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)

    days = [_midnight(day.day) for day in stats.questions_per_day]
    answered = [day.answered for day in stats.questions_per_day]
    clarified = [day.clarified for day in stats.questions_per_day]
    declined = [day.declined for day in stats.questions_per_day]
    width = 0.8  # days
    top.bar(days, answered, width, label=labels.answered, color="#2e7d32")
    top.bar(days, clarified, width, bottom=answered, label=labels.clarified, color="#f9a825")
    stacked = [a + c for a, c in zip(answered, clarified, strict=True)]
    top.bar(days, declined, width, bottom=stacked, label=labels.declined, color="#c62828")
    top.set_title(labels.questions_title)
    top.legend(loc="upper left", fontsize="small")
    top.grid(axis="y", alpha=0.3)

    bottom.set_title(labels.satisfaction_title)
    points = _rolling_satisfaction(stats)
    if points:
        moments = [_midnight(day) for day, _, _ in points]
        bottom.plot(
            moments,
            [share * 100 for _, share, _ in points],
            marker="o",
            markersize=3,
            color="#1565c0",
            label=labels.satisfied_share,
        )
        bottom.axhline(90, color="#888888", linestyle="--", linewidth=1, label=labels.target)
        bottom.set_ylim(0, 105)
        averages = bottom.twinx()
        averages.plot(
            moments,
            [average for _, _, average in points],
            linestyle=":",
            color="#6a1b9a",
            label=labels.average,
        )
        averages.set_ylim(0, 5.25)
        handles, names = bottom.get_legend_handles_labels()
        more_handles, more_names = averages.get_legend_handles_labels()
        bottom.legend(
            handles + more_handles, names + more_names, loc="lower left", fontsize="small"
        )
    else:
        bottom.text(0.5, 0.5, labels.no_ratings, ha="center", va="center",
                    transform=bottom.transAxes)  # fmt: skip
        bottom.set_yticks([])
    bottom.grid(axis="y", alpha=0.3)
    # Half a day of margin: the first and last bars show whole, one day still has width.
    margin = dt.timedelta(hours=12)
    bottom.set_xlim(_midnight(stats.since) - margin, _midnight(stats.until) + margin)
    bottom.xaxis_date()
    # Day/month, as Vietnamese writes dates (the default would be 2025-03-08).
    day_month = DateFormatter("%d/%m")  # type: ignore[no-untyped-call]  # untyped __init__
    bottom.xaxis.set_major_formatter(day_month)
    figure.autofmt_xdate()

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _rolling_satisfaction(stats: StaffStatistics) -> list[tuple[dt.date, float, float]]:
    """(day, satisfied share, average) over the ratings of the `ROLLING_DAYS` up to each day.

    A handful of ratings a day makes daily figures jump between 0% and 100%; a week's
    window shows the trend staff care about.
    """
    per_day = {day.day: day for day in stats.satisfaction.by_day}
    points: list[tuple[dt.date, float, float]] = []
    for offset in range(stats.days):
        day = stats.since + dt.timedelta(days=offset)
        window = [
            per_day[d]
            for d in (day - dt.timedelta(days=back) for back in range(ROLLING_DAYS))
            if d in per_day
        ]
        count = sum(w.ratings for w in window)
        if not count:
            continue
        satisfied = sum(w.satisfied for w in window)
        total_score = sum(w.average * w.ratings for w in window)
        points.append((day, satisfied / count, total_score / count))
    return points
