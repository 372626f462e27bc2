"""Citizen feedback and staff statistics.

StatsRecorder(engine)                 record questions, answer feedback, ratings
collect_statistics(engine, days)      the figures, as typed values
format_statistics(stats)              a plain-text table
render_chart(stats, labels)           a PNG chart (bytes)

`bot stats` is bot/commands/stats.py.
"""

from __future__ import annotations

from bot.stats.charts import ChartLabels, render_chart
from bot.stats.records import InvalidRating, QuestionDecision, StatsRecorder
from bot.stats.report import StaffStatistics, collect_statistics, format_statistics

__all__ = [
    "ChartLabels",
    "InvalidRating",
    "QuestionDecision",
    "StaffStatistics",
    "StatsRecorder",
    "collect_statistics",
    "format_statistics",
    "render_chart",
]
