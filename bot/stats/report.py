"""Statistics for staff over the last N days: gathered from the database as typed values
(`collect_statistics`), shown as a terminal table (`format_statistics`) or a chart
(charts.py). The staff command on Telegram uses the same values.

What a "satisfied" citizen is: a rating of 4 or 5 out of 5, the usual reading of the
center's yearly target ("over 90% of citizens satisfied").
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import staff_texts
from bot.broadcast.subscriptions import SubscriberState, subscriber_counts
from bot.catalogue.model import Catalogue
from bot.catalogue.slug import fold_diacritics
from bot.dossiers.guard import GuessingAlert, guessing_alerts
from bot.messages import Channel
from bot.stats.records import CENTER_TIMEZONE, QuestionDecision
from bot.storage.broadcast_tables import OutboxState, jobs, outbox
from bot.storage.database import connect
from bot.storage.dossier_tables import lookup_audit
from bot.storage.stats_tables import answer_feedback, questions, ratings

SATISFIED_FROM = 4
# Unanswered questions read for grouping; older ones beyond this are left out.
UNANSWERED_SCAN_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class DayQuestions:
    day: dt.date
    answered: int = 0
    clarified: int = 0
    declined: int = 0

    @property
    def total(self) -> int:
        return self.answered + self.clarified + self.declined


@dataclass(frozen=True, slots=True)
class ProcedureCount:
    code: str
    count: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class UnansweredQuestion:
    text: str
    count: int
    last_asked: dt.datetime


@dataclass(frozen=True, slots=True)
class ProcedureFeedback:
    code: str
    helpful: int
    not_helpful: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class FeedbackSummary:
    helpful: int = 0
    not_helpful: int = 0
    # Procedures with the most "not helpful" presses: where answers need work.
    least_helpful: tuple[ProcedureFeedback, ...] = ()

    @property
    def total(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def helpful_share(self) -> float | None:
        return self.helpful / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class DaySatisfaction:
    day: dt.date
    ratings: int
    satisfied: int
    average: float

    @property
    def satisfied_share(self) -> float:
        return self.satisfied / self.ratings if self.ratings else 0.0


@dataclass(frozen=True, slots=True)
class SatisfactionSummary:
    ratings: int = 0
    satisfied: int = 0
    average: float | None = None
    by_score: Mapping[int, int] = field(default_factory=dict)
    by_day: tuple[DaySatisfaction, ...] = ()
    recent_comments: tuple[tuple[str, int, str], ...] = ()  # (dossier code, score, comment)

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.ratings if self.ratings else None


@dataclass(frozen=True, slots=True)
class LookupSummary:
    total: int = 0
    dossiers: int = 0  # different receipt codes
    by_outcome: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BroadcastSummary:
    jobs: int = 0
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    cancelled: int = 0


@dataclass(frozen=True, slots=True)
class StaffStatistics:
    since: dt.date
    until: dt.date
    questions_per_day: tuple[DayQuestions, ...]
    top_procedures: tuple[ProcedureCount, ...]
    unanswered: tuple[UnansweredQuestion, ...]
    feedback: FeedbackSummary
    satisfaction: SatisfactionSummary
    lookups: LookupSummary
    subscribers: Mapping[Channel, Mapping[SubscriberState, int]]
    broadcasts: BroadcastSummary
    # Dossiers whose failed verifications made everyone wait (someone guessing the digits).
    guessing: tuple[GuessingAlert, ...] = ()

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def questions(self) -> int:
        return sum(day.total for day in self.questions_per_day)

    @property
    def answered(self) -> int:
        return sum(day.answered for day in self.questions_per_day)

    @property
    def declined(self) -> int:
        return sum(day.declined for day in self.questions_per_day)

    @property
    def is_empty(self) -> bool:
        return not (
            self.questions
            or self.feedback.total
            or self.satisfaction.ratings
            or self.lookups.total
            or self.broadcasts.jobs
            or any(sum(states.values()) for states in self.subscribers.values())
        )


async def collect_statistics(
    engine: AsyncEngine,
    days: int = 30,
    *,
    today: dt.date | None = None,
    catalogue: Catalogue | None = None,
    top: int = 10,
    unanswered_limit: int = 20,
) -> StaffStatistics:
    """Statistics of the last `days` local days up to `today` (the center's date)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    until = today or dt.datetime.now(CENTER_TIMEZONE).date()
    since = until - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(since, dt.time(), CENTER_TIMEZONE).astimezone(dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), CENTER_TIMEZONE)
    end = end.astimezone(dt.UTC)

    def name_of(code: str) -> str:
        procedure = catalogue.get(code) if catalogue is not None else None
        return procedure.name if procedure is not None else ""

    in_period = questions.c.day.between(since, until)
    async with connect(engine) as connection:
        per_day_rows = (
            await connection.execute(
                select(questions.c.day, questions.c.decision, func.count())
                .where(in_period)
                .group_by(questions.c.day, questions.c.decision)
            )
        ).all()
        top_rows = (
            await connection.execute(
                select(questions.c.procedure_code, func.count().label("n"))
                .where(
                    in_period,
                    questions.c.decision == QuestionDecision.ANSWER.value,
                    questions.c.procedure_code.is_not(None),
                )
                .group_by(questions.c.procedure_code)
                .order_by(func.count().desc(), questions.c.procedure_code)
                .limit(top)
            )
        ).all()
        declined_rows = (
            await connection.execute(
                select(questions.c.text, questions.c.normalized, questions.c.asked_at)
                .where(
                    in_period,
                    questions.c.decision == QuestionDecision.DECLINE.value,
                    questions.c.text != "",  # erased after the retention period
                )
                .order_by(questions.c.asked_at.desc())
                .limit(UNANSWERED_SCAN_LIMIT)
            )
        ).all()
        helpful_sum = func.sum(case((answer_feedback.c.helpful, 1), else_=0))
        unhelpful_sum = func.sum(case((answer_feedback.c.helpful, 0), else_=1))
        feedback_rows = (
            await connection.execute(
                select(answer_feedback.c.procedure_code, helpful_sum, unhelpful_sum)
                .where(answer_feedback.c.day.between(since, until))
                .group_by(answer_feedback.c.procedure_code)
            )
        ).all()
        rating_rows = (
            await connection.execute(
                select(ratings.c.day, ratings.c.score, func.count())
                .where(ratings.c.day.between(since, until))
                .group_by(ratings.c.day, ratings.c.score)
            )
        ).all()
        comment_rows = (
            await connection.execute(
                select(ratings.c.dossier_code, ratings.c.score, ratings.c.comment)
                .where(ratings.c.day.between(since, until), ratings.c.comment != "")
                .order_by(ratings.c.rated_at.desc())
                .limit(10)
            )
        ).all()
        # The dossier feature keeps naive UTC times.
        naive_start, naive_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        lookup_period = (lookup_audit.c.at >= naive_start) & (lookup_audit.c.at < naive_end)
        lookup_rows = (
            await connection.execute(
                select(lookup_audit.c.outcome, func.count())
                .where(lookup_period)
                .group_by(lookup_audit.c.outcome)
            )
        ).all()
        distinct_dossiers = (
            await connection.execute(
                select(func.count(func.distinct(lookup_audit.c.code))).where(lookup_period)
            )
        ).scalar_one()
        guessing = await guessing_alerts(connection, start, end)
        job_ids = select(jobs.c.id).where(jobs.c.created_at >= start, jobs.c.created_at < end)
        job_count = (
            await connection.execute(select(func.count()).select_from(job_ids.subquery()))
        ).scalar_one()
        outcome_rows = (
            await connection.execute(
                select(outbox.c.state, func.count())
                .where(outbox.c.job_id.in_(job_ids))
                .group_by(outbox.c.state)
            )
        ).all()
    subscribers = await subscriber_counts(engine)

    by_day: dict[dt.date, dict[str, int]] = {}
    for day, decision, count in per_day_rows:
        by_day.setdefault(day, {})[decision] = int(count)
    per_day = tuple(
        DayQuestions(
            day=day,
            answered=by_day.get(day, {}).get(QuestionDecision.ANSWER.value, 0),
            clarified=by_day.get(day, {}).get(QuestionDecision.CLARIFY.value, 0),
            declined=by_day.get(day, {}).get(QuestionDecision.DECLINE.value, 0),
        )
        for day in (since + dt.timedelta(days=i) for i in range(days))
    )
    outcomes = {str(state): int(count) for state, count in outcome_rows}
    return StaffStatistics(
        since=since,
        until=until,
        questions_per_day=per_day,
        top_procedures=tuple(
            ProcedureCount(str(code), int(count), name_of(str(code))) for code, count in top_rows
        ),
        unanswered=_group_unanswered(declined_rows, unanswered_limit),
        feedback=_feedback(feedback_rows, name_of),
        satisfaction=_satisfaction(rating_rows, comment_rows),
        lookups=LookupSummary(
            total=sum(int(count) for _, count in lookup_rows),
            dossiers=int(distinct_dossiers or 0),
            by_outcome={str(outcome): int(count) for outcome, count in lookup_rows},
        ),
        subscribers=subscribers,
        broadcasts=BroadcastSummary(
            jobs=int(job_count or 0),
            recipients=sum(outcomes.values()),
            sent=outcomes.get(OutboxState.SENT.value, 0),
            failed=outcomes.get(OutboxState.FAILED.value, 0),
            blocked=outcomes.get(OutboxState.BLOCKED.value, 0),
            cancelled=outcomes.get(OutboxState.CANCELLED.value, 0),
        ),
        guessing=guessing,
    )


def _group_unanswered(
    rows: Sequence[tuple[str, str, dt.datetime]], limit: int
) -> tuple[UnansweredQuestion, ...]:
    """Group variants of one question (case, accents, spacing) under its latest wording."""
    counts: Counter[str] = Counter()
    latest: dict[str, tuple[str, dt.datetime]] = {}
    for text, normalized, asked_at in rows:  # newest first
        key = normalized or " ".join(fold_diacritics(text.casefold()).split())
        counts[key] += 1
        latest.setdefault(key, (text, asked_at))
    ranked = sorted(counts, key=lambda key: (-counts[key], -latest[key][1].timestamp()))
    return tuple(
        UnansweredQuestion(latest[key][0], counts[key], latest[key][1]) for key in ranked[:limit]
    )


def _feedback(
    rows: Sequence[tuple[str, int | None, int | None]], name_of: Callable[[str], str]
) -> FeedbackSummary:
    per_procedure = [
        ProcedureFeedback(str(code), int(good or 0), int(bad or 0), str(name_of(str(code))))
        for code, good, bad in rows
    ]
    least = sorted(
        (p for p in per_procedure if p.not_helpful),
        key=lambda p: (-p.not_helpful, p.helpful, p.code),
    )
    return FeedbackSummary(
        helpful=sum(p.helpful for p in per_procedure),
        not_helpful=sum(p.not_helpful for p in per_procedure),
        least_helpful=tuple(least[:5]),
    )


def _satisfaction(
    rows: Sequence[tuple[dt.date, int, int]], comments: Sequence[tuple[str, int, str]]
) -> SatisfactionSummary:
    by_score: Counter[int] = Counter()
    per_day: dict[dt.date, Counter[int]] = {}
    for day, score, count in rows:
        by_score[int(score)] += int(count)
        per_day.setdefault(day, Counter())[int(score)] += int(count)
    total = sum(by_score.values())
    if not total:
        return SatisfactionSummary()

    def summary(scores: Counter[int]) -> tuple[int, int, float]:
        n = sum(scores.values())
        good = sum(c for s, c in scores.items() if s >= SATISFIED_FROM)
        return n, good, sum(s * c for s, c in scores.items()) / n

    n, good, average = summary(by_score)
    return SatisfactionSummary(
        ratings=n,
        satisfied=good,
        average=average,
        by_score=dict(sorted(by_score.items())),
        by_day=tuple(DaySatisfaction(day, *summary(per_day[day])) for day in sorted(per_day)),
        recent_comments=tuple((str(c), int(s), str(t)) for c, s, t in comments),
    )


# --- the terminal table -----------------------------------------------------------------


def format_statistics(stats: StaffStatistics) -> str:
    """A plain-text report for the terminal, in Vietnamese, 99 columns at most."""
    lines = [
        staff_texts.REPORT_HEADING.format(
            since=_date(stats.since), until=_date(stats.until), days=stats.days
        ),
        "",
    ]
    total = stats.questions
    if total:
        answered = _percent(stats.answered / total)
        declined = _percent(stats.declined / total)
        lines.append(
            staff_texts.REPORT_QUESTIONS.format(total=total, answered=answered, declined=declined)
        )
    else:
        lines.append(staff_texts.REPORT_NO_QUESTIONS)
    period = staff_texts.REPORT_DAY if stats.days <= DAYS_SHOWN_BY_DAY else staff_texts.REPORT_WEEK
    headings = (
        staff_texts.REPORT_ASKED,
        staff_texts.REPORT_ANSWERED,
        staff_texts.REPORT_CLARIFIED,
        staff_texts.REPORT_DECLINED,
    )
    widths = [max(len(heading), 5) for heading in headings]
    lines += ["", _row([period, *headings], [12, *widths])]
    for label, counts in _buckets(stats):
        figures = [counts.total, counts.answered, counts.clarified, counts.declined]
        lines.append(_row([label, *figures], [12, *widths]))
    lines += ["", staff_texts.STATS_TOP_HEADING]
    for rank, procedure in enumerate(stats.top_procedures, 1):
        lines.append(
            f"{rank:>3}. {procedure.code:<24} {_cut(procedure.name, 52):<52} {procedure.count:>6}"
        )
    if not stats.top_procedures:
        lines.append("  " + staff_texts.REPORT_NONE)
    lines += ["", staff_texts.STATS_UNANSWERED_HEADING]
    for question in stats.unanswered:
        when = _date(question.last_asked.astimezone(CENTER_TIMEZONE).date())
        text = _cut(question.text, 68)
        lines.append(f"{question.count:>5} {staff_texts.REPORT_TIMES}  {text:<68}  {when}")
    if not stats.unanswered:
        lines.append("  " + staff_texts.REPORT_NONE)
    feedback = stats.feedback
    lines.append("")
    if feedback.total:
        lines.append(
            staff_texts.REPORT_FEEDBACK.format(
                helpful=feedback.helpful,
                not_helpful=feedback.not_helpful,
                share=_percent(feedback.helpful_share),
            )
        )
        for item in feedback.least_helpful:
            verdict = staff_texts.REPORT_FEEDBACK_PROCEDURE.format(
                not_helpful=item.not_helpful, helpful=item.helpful
            )
            lines.append(f"    {item.code:<22} {_cut(item.name, 34):<34} {verdict}")
    else:
        lines.append(staff_texts.REPORT_NO_FEEDBACK)
    satisfaction = stats.satisfaction
    if satisfaction.ratings and satisfaction.average is not None:
        spread = ", ".join(f"{s}: {c}" for s, c in satisfaction.by_score.items())
        lines.append(
            staff_texts.REPORT_SATISFACTION.format(
                ratings=satisfaction.ratings,
                share=_percent(satisfaction.satisfied_share),
                average=_decimal(satisfaction.average, 2),
            )
        )
        lines.append("    " + staff_texts.REPORT_RATINGS_BY_SCORE.format(spread=spread))
        for code, score, comment in satisfaction.recent_comments:
            lines.append(f"    {code} ({score}/5): {_cut(comment, 70)}")
    else:
        lines.append(staff_texts.REPORT_NO_RATINGS)
    lookups = stats.lookups
    lines.append(staff_texts.REPORT_LOOKUPS.format(total=lookups.total, dossiers=lookups.dossiers))
    if lookups.by_outcome:
        outcomes = ", ".join(
            f"{staff_texts.REPORT_LOOKUP_OUTCOMES.get(outcome, outcome)} {count}"
            for outcome, count in sorted(lookups.by_outcome.items())
        )
        lines.append(f"    {outcomes}")
    if stats.guessing:
        lines.append(staff_texts.STATS_GUESSING_HEADING)
        for alert in stats.guessing:
            until = alert.wait_until.astimezone(CENTER_TIMEZONE)
            addresses = ", ".join(alert.addresses[:5]) or staff_texts.STATS_NONE
            if len(alert.addresses) > 5:
                addresses += staff_texts.REPORT_MORE_ADDRESSES.format(
                    count=len(alert.addresses) - 5
                )
            lines.append(
                "    "
                + staff_texts.REPORT_GUESSING_LINE.format(
                    code=alert.code,
                    failures=alert.failures,
                    chats=alert.chats,
                    addresses=addresses,
                    until=f"{until:%H:%M} {_date(until.date())}",
                )
            )
    states = (SubscriberState.ACTIVE, SubscriberState.OPTED_OUT, SubscriberState.BLOCKED)
    state_headings = (
        staff_texts.REPORT_ACTIVE,
        staff_texts.REPORT_OPTED_OUT,
        staff_texts.REPORT_BLOCKED,
    )
    state_widths = [max(len(heading), 6) for heading in state_headings]
    lines += ["", _row([staff_texts.REPORT_SUBSCRIBERS, *state_headings], [22, *state_widths])]
    for channel in sorted(stats.subscribers):
        by_state = stats.subscribers[channel]
        figures = [by_state.get(state, 0) for state in states]
        lines.append(_row([f"  {channel.value}", *figures], [22, *state_widths]))
    if not stats.subscribers:
        lines.append("  " + staff_texts.REPORT_NONE)
    b = stats.broadcasts
    lines += [
        "",
        staff_texts.REPORT_BROADCASTS.format(
            jobs=b.jobs,
            recipients=b.recipients,
            sent=b.sent,
            failed=b.failed,
            blocked=b.blocked,
            cancelled=b.cancelled,
        ),
    ]
    return "\n".join(lines) + "\n"


# Up to two months the table has a row per day; beyond, a row per week.
DAYS_SHOWN_BY_DAY = 62


def _row(cells: Sequence[str | int], widths: Sequence[int]) -> str:
    """The first cell left-aligned, the figures right-aligned under their headings."""
    first, *rest = cells
    return f"{first!s:<{widths[0]}}" + "".join(
        f"  {cell!s:>{width}}" for cell, width in zip(rest, widths[1:], strict=True)
    )


def _date(day: dt.date) -> str:
    return f"{day:%d/%m/%Y}"


def _buckets(stats: StaffStatistics) -> list[tuple[str, DayQuestions]]:
    """Days for periods up to two months; weeks (from Monday) beyond, to stay readable."""
    if stats.days <= DAYS_SHOWN_BY_DAY:
        return [(_date(day.day), day) for day in stats.questions_per_day]
    weeks: dict[dt.date, DayQuestions] = {}
    for day in stats.questions_per_day:
        monday = day.day - dt.timedelta(days=day.day.weekday())
        so_far = weeks.get(monday, DayQuestions(monday))
        weeks[monday] = DayQuestions(
            monday,
            so_far.answered + day.answered,
            so_far.clarified + day.clarified,
            so_far.declined + day.declined,
        )
    return [(_date(monday), counts) for monday, counts in weeks.items()]


def _percent(share: float | None) -> str:
    return "-" if share is None else _decimal(share * 100, 1) + "%"


def _decimal(value: float, places: int) -> str:
    """3,67: Vietnamese writes a decimal comma."""
    return f"{value:.{places}f}".replace(".", ",")


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
