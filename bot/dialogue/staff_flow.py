"""Staff commands in the chat: broadcasting a notice and seeing statistics.

    /guithongbao [#topic] text  (or in reply to a message)
        ──> preview + audience size  [Gửi ngay] [Hủy]
    [Gửi ngay] ──> job started; a progress message that updates itself  [↻] [⏹ Dừng]
    /thongke [days] ──> summary + chart (PNG)
    /day ──> the questions the bot missed, one message each
             [→ procedure guess] x3 [Không thuộc Trung tâm] ──> lesson stored (bot.teaching)

Who is staff is decided by bot.broadcast (config `telegram.staff_ids`); anyone else is
refused, and the refusal is logged there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import staff_texts, texts
from bot.broadcast.model import (
    AUDIENCE_ALL,
    BroadcastError,
    BroadcastRequest,
    ChannelNotAvailable,
    EmptyAudience,
    InvalidNotice,
    JobFinished,
    JobNotFound,
    JobProgress,
    NotStaff,
    Requester,
    UnknownAudience,
)
from bot.broadcast.service import BroadcastService
from bot.catalogue.model import Catalogue
from bot.dialogue import actions
from bot.dialogue.actions import Action
from bot.dialogue.turn import Turn
from bot.messages import Button, ChatRef, Image, Reply, Section
from bot.search import Matcher
from bot.search.lessons import LessonKind
from bot.stats.charts import render_chart
from bot.stats.report import StaffStatistics, collect_statistics
from bot.teaching.store import LessonStore, asked_question, questions_to_teach

log = logging.getLogger(__name__)

# Draft notices live in the chat context under these keys until confirmed or dropped.
_DRAFT_ID, _DRAFT_TEXT, _DRAFT_AUDIENCE = "draft_id", "draft_text", "draft_audience"
MAX_STATS_DAYS = 366
# /day: the most frequent missed questions of this many days, this many at a time, each
# with this many guesses as buttons.
TEACH_DAYS = 30
TEACH_QUESTIONS = 5
TEACH_GUESSES = 3

JobStarted = Callable[[ChatRef, int], None]


def progress_key(job_id: int) -> str:
    return f"broadcast-{job_id}"


def progress_reply(progress: JobProgress) -> Reply:
    """The self-updating progress message of a job (edits itself where the channel can)."""
    job = progress.job_id
    if progress.finished:
        if progress.state == "cancelled":
            text = staff_texts.BROADCAST_STOPPED.format(
                job=job, sent=progress.sent, cancelled=progress.cancelled
            )
        else:
            text = staff_texts.BROADCAST_DONE.format(
                job=job,
                sent=progress.sent,
                total=progress.total,
                failed=progress.failed,
                blocked=progress.blocked,
                cancelled=progress.cancelled,
            )
        return Reply((Section(lines=(text,)),), edit_key=progress_key(job))
    text = staff_texts.BROADCAST_PROGRESS.format(
        job=job,
        sent=progress.sent,
        total=progress.total,
        failed=progress.failed,
        blocked=progress.blocked,
        left=progress.left,
    )
    buttons = (
        (
            Button(staff_texts.BUTTON_REFRESH, actions.broadcast("refresh", str(job))),
            Button(staff_texts.BUTTON_CANCEL_JOB, actions.broadcast("stop", str(job))),
        ),
    )
    return Reply((Section(lines=(text,)),), buttons, edit_key=progress_key(job))


class StaffConversation:
    """Implements bot.dialogue.flows.StaffFlow."""

    def __init__(
        self,
        broadcasts: BroadcastService,
        engine: AsyncEngine,
        catalogue: Catalogue,
        on_job_started: JobStarted | None = None,
        *,
        lessons: LessonStore | None = None,
        matcher: Matcher | None = None,
    ) -> None:
        self._broadcasts = broadcasts
        self._engine = engine
        self._catalogue = catalogue
        self._on_job_started = on_job_started
        self._lessons = lessons
        self._matcher = matcher

    async def command(self, turn: Turn, name: str, argument: str) -> bool:
        if name in ("guithongbao", "broadcast"):
            await self._guarded(turn, self._draft(turn, argument))
            return True
        if name in ("thongke", "stats"):
            await self._guarded(turn, self._statistics(turn, argument))
            return True
        if name in ("day", "teach") and self._lessons is not None:
            if argument.strip():
                await self._guarded(turn, self._teach_typed(turn, argument))
            else:
                await self._guarded(turn, self._questions_to_teach(turn))
            return True
        return False

    async def button(self, turn: Turn, action: Action) -> None:
        if action.kind == "tq":
            await self._guarded(turn, self._teach(turn, action))
            return
        if len(action.args) != 2:
            turn.say_text(texts.UNKNOWN_BUTTON)
            return
        verb, ref = action.args
        if verb == "send":
            await self._guarded(turn, self._confirm(turn, ref))
        elif verb == "drop":
            await self._guarded(turn, self._drop(turn))
        elif verb in ("refresh", "stop") and ref.isdigit():
            await self._guarded(turn, self._job(turn, verb, int(ref)))
        else:
            turn.say_text(texts.UNKNOWN_BUTTON)

    def _requester(self, turn: Turn) -> Requester:
        return Requester.chat_user(turn.message.chat.channel, turn.message.user_id)

    async def _guarded(self, turn: Turn, work: Coroutine[Any, Any, None]) -> None:
        """Run a staff action; broadcast errors become short answers, never apologies."""
        try:
            await work
        except NotStaff:
            turn.say_text(staff_texts.STAFF_ONLY)
        except UnknownAudience as exc:
            turn.say_text(
                staff_texts.BROADCAST_UNKNOWN_TOPIC.format(
                    topic=exc.audience,
                    topics=self._topic_list() or staff_texts.BROADCAST_NO_TOPICS,
                )
            )
        except EmptyAudience:
            turn.say_text(staff_texts.BROADCAST_EMPTY_AUDIENCE)
        except ChannelNotAvailable:
            turn.say_text(staff_texts.BROADCAST_NO_CHANNEL)
        except InvalidNotice as exc:
            turn.say_text(staff_texts.BROADCAST_INVALID.format(reason=exc))
        except JobNotFound as exc:
            turn.say_text(staff_texts.BROADCAST_JOB_UNKNOWN.format(job=exc.job_id))
        except JobFinished as exc:
            turn.say_text(staff_texts.BROADCAST_ALREADY_FINISHED.format(job=exc.job_id))
        except BroadcastError as exc:
            turn.say_text(staff_texts.BROADCAST_INVALID.format(reason=exc))

    def _topic_list(self) -> str:
        return ", ".join(f"#{key} ({label})" for key, label in self._broadcasts.topics.items())

    # --- broadcasting ----------------------------------------------------------------

    async def _draft(self, turn: Turn, argument: str) -> None:
        requester = self._requester(turn)
        self._broadcasts.check_staff(requester, "draft")
        text = argument.strip() or turn.message.quoted_text.strip()
        audience = AUDIENCE_ALL
        if text.startswith("#"):
            tag, _, rest = text.partition(" ")
            audience, text = tag[1:].strip().lower(), rest.strip()
        if not text:
            topics = self._topic_list() or staff_texts.BROADCAST_NO_TOPICS
            turn.say_text(staff_texts.BROADCAST_USAGE.format(topics=topics))
            return
        preview = await self._broadcasts.prepare(requester, BroadcastRequest(text, audience))
        if preview.total == 0:
            turn.say_text(staff_texts.BROADCAST_EMPTY_AUDIENCE)
            return
        draft_id = secrets.token_hex(4)
        audience_text = (
            staff_texts.BROADCAST_AUDIENCE_ALL
            if preview.topic_label is None
            else staff_texts.BROADCAST_AUDIENCE_TOPIC.format(label=preview.topic_label)
        )
        by_channel = ", ".join(
            f"{channel.value} {count}" for channel, count in preview.recipients.items() if count
        )
        footer = Section(
            lines=(
                staff_texts.BROADCAST_AUDIENCE.format(
                    count=preview.total, audience=audience_text, by_channel=by_channel
                ),
                staff_texts.BROADCAST_CONFIRM,
            )
        )
        turn.say(
            Reply(
                (
                    Section(staff_texts.BROADCAST_PREVIEW_HEADING),
                    *preview.notice.sections,
                    footer,
                ),
                (
                    (
                        Button(
                            staff_texts.BUTTON_CONFIRM_SEND, actions.broadcast("send", draft_id)
                        ),
                        Button(staff_texts.BUTTON_CANCEL, actions.broadcast("drop", draft_id)),
                    ),
                ),
            )
        )
        extra = dict(turn.context.extra)
        extra.update({_DRAFT_ID: draft_id, _DRAFT_TEXT: text, _DRAFT_AUDIENCE: audience})
        turn.update(extra=extra)

    async def _confirm(self, turn: Turn, draft_id: str) -> None:
        requester = self._requester(turn)
        self._broadcasts.check_staff(requester, "start")
        extra = turn.context.extra
        if extra.get(_DRAFT_ID) != draft_id or not extra.get(_DRAFT_TEXT):
            # Pressed twice, or an old preview: never send a notice twice by accident.
            turn.say_text(staff_texts.BROADCAST_DRAFT_EXPIRED)
            return
        request = BroadcastRequest(extra[_DRAFT_TEXT], extra.get(_DRAFT_AUDIENCE, AUDIENCE_ALL))
        self._clear_draft(turn)
        job_id = await self._broadcasts.start(
            requester, request, idempotency_key=f"{turn.message.chat}:{draft_id}"
        )
        turn.say(progress_reply(await self._broadcasts.progress(requester, job_id)))
        if self._on_job_started is not None:
            self._on_job_started(turn.message.chat, job_id)

    async def _drop(self, turn: Turn) -> None:
        # In a staff group everyone sees the preview's buttons: only staff may drop it.
        self._broadcasts.check_staff(self._requester(turn), "draft")
        self._clear_draft(turn)
        turn.say_text(staff_texts.BROADCAST_CANCELLED_DRAFT)

    async def _job(self, turn: Turn, verb: str, job_id: int) -> None:
        requester = self._requester(turn)
        if verb == "stop":
            progress = await self._broadcasts.cancel(requester, job_id)
        else:
            progress = await self._broadcasts.progress(requester, job_id)
        turn.say(progress_reply(progress))

    def _clear_draft(self, turn: Turn) -> None:
        extra = {
            k: v
            for k, v in turn.context.extra.items()
            if k not in (_DRAFT_ID, _DRAFT_TEXT, _DRAFT_AUDIENCE)
        }
        turn.update(extra=extra)

    # --- teaching --------------------------------------------------------------------

    async def _questions_to_teach(self, turn: Turn) -> None:
        self._broadcasts.check_staff(self._requester(turn), "teach")
        assert self._lessons is not None
        since = turn.now - dt.timedelta(days=TEACH_DAYS)
        found = await questions_to_teach(
            self._engine, since, limit=TEACH_QUESTIONS, taught=await self._lessons.current()
        )
        if not found:
            turn.say_text(staff_texts.TEACH_NOTHING.format(days=TEACH_DAYS))
            return
        turn.say_text(staff_texts.TEACH_INTRO.format(count=len(found)))
        for question in found:
            guesses = self._matcher.search(question.text).candidates if self._matcher else ()
            rows = [
                (
                    Button(
                        _label(c.procedure.name), actions.teach(question.row_id, c.procedure.code)
                    ),
                )
                for c in guesses[:TEACH_GUESSES]
            ]
            rows.append(
                (Button(staff_texts.BUTTON_NOT_OURS, actions.teach(question.row_id, None)),)
            )
            line = staff_texts.TEACH_QUESTION.format(
                row=question.row_id, text=question.text[:300], count=question.count
            )
            turn.say(Reply((Section(lines=(line,)),), tuple(rows)))

    async def _teach(self, turn: Turn, action: Action) -> None:
        self._broadcasts.check_staff(self._requester(turn), "teach")
        if len(action.args) != 2 or not action.args[0].isdigit():
            turn.say_text(texts.UNKNOWN_BUTTON)
            return
        await self._store_lesson(turn, int(action.args[0]), action.args[1])

    async def _teach_typed(self, turn: Turn, argument: str) -> None:
        """/day ROW CODE (or /day ROW - for "not ours"): for a question whose right
        procedure is not among the guesses."""
        self._broadcasts.check_staff(self._requester(turn), "teach")
        parts = argument.split()
        if len(parts) != 2 or not parts[0].lstrip("#").isdigit():
            turn.say_text(staff_texts.TEACH_USAGE)
            return
        await self._store_lesson(turn, int(parts[0].lstrip("#")), parts[1])

    async def _store_lesson(self, turn: Turn, row: int, target: str) -> None:
        assert self._lessons is not None
        question = await asked_question(self._engine, row)
        if question is None:  # no such row, or erased after the retention period
            turn.say_text(staff_texts.TEACH_UNKNOWN_QUESTION.format(row=row))
            return
        taught_by = f"{turn.message.chat.channel.value}:{turn.message.user_id}"
        if target == "-":
            await self._lessons.teach(question, LessonKind.NOT_OURS, taught_by=taught_by)
            meaning = staff_texts.TEACH_MEANING_NOT_OURS
        else:
            procedure = self._catalogue.get(target)
            if procedure is None:
                turn.say_text(staff_texts.TEACH_UNKNOWN_PROCEDURE.format(code=target))
                return
            await self._lessons.teach(
                question, LessonKind.PROCEDURE, procedure.code, taught_by=taught_by
            )
            meaning = procedure.name
        turn.say_text(staff_texts.TEACH_DONE.format(text=question[:300], meaning=meaning))

    # --- statistics ------------------------------------------------------------------

    async def _statistics(self, turn: Turn, argument: str) -> None:
        self._broadcasts.check_staff(self._requester(turn), "statistics")
        days = int(argument) if argument.isdigit() else 30
        days = max(1, min(days, MAX_STATS_DAYS))
        stats = await collect_statistics(self._engine, days, catalogue=self._catalogue)
        if stats.is_empty:
            turn.say_text(staff_texts.STATS_NO_DATA)
            return
        # Drawing takes a noticeable moment; keep the event loop free for other chats.
        chart = await asyncio.to_thread(render_chart, stats)
        turn.say(statistics_reply(stats, Image(chart, "thong-ke.png")))


def _label(name: str) -> str:
    return "→ " + (name if len(name) <= 50 else name[:47].rstrip() + "…")


def _share(value: float | None) -> str:
    return staff_texts.STATS_NONE if value is None else f"{value:.0%}"


def statistics_reply(stats: StaffStatistics, chart: Image | None) -> Reply:
    lines = [
        staff_texts.STATS_QUESTIONS.format(
            total=stats.questions,
            answered=_share(stats.answered / stats.questions if stats.questions else None),
            declined=_share(stats.declined / stats.questions if stats.questions else None),
        ),
        staff_texts.STATS_FEEDBACK.format(
            share=_share(stats.feedback.helpful_share), total=stats.feedback.total
        ),
        staff_texts.STATS_SATISFACTION.format(
            share=_share(stats.satisfaction.satisfied_share),
            average=(
                staff_texts.STATS_NONE
                if stats.satisfaction.average is None
                else f"{stats.satisfaction.average:.1f}"
            ),
            total=stats.satisfaction.ratings,
        ),
        staff_texts.STATS_LOOKUPS.format(
            total=stats.lookups.total, dossiers=stats.lookups.dossiers
        ),
    ]
    states: dict[str, int] = {"active": 0, "opted_out": 0, "blocked": 0}
    for by_state in stats.subscribers.values():
        for state, count in by_state.items():
            key = state.value if state.value in states else "blocked"
            states[key] += count
    lines.append(staff_texts.STATS_SUBSCRIBERS.format(**states))
    lines.append(
        staff_texts.STATS_BROADCASTS.format(
            jobs=stats.broadcasts.jobs,
            sent=stats.broadcasts.sent,
            recipients=stats.broadcasts.recipients,
        )
    )
    sections = [
        Section(
            staff_texts.STATS_HEADING.format(
                days=stats.days,
                since=stats.since.strftime("%d/%m"),
                until=stats.until.strftime("%d/%m/%Y"),
            ),
            tuple(lines),
        )
    ]
    if stats.top_procedures:
        sections.append(
            Section(
                staff_texts.STATS_TOP_HEADING,
                tuple(
                    staff_texts.STATS_TOP_LINE.format(
                        rank=rank, name=p.name or p.code, count=p.count
                    )
                    for rank, p in enumerate(stats.top_procedures[:5], start=1)
                ),
            )
        )
    if stats.guessing:
        sections.append(
            Section(
                staff_texts.STATS_GUESSING_HEADING,
                tuple(
                    staff_texts.STATS_GUESSING_LINE.format(
                        code=alert.code,
                        failures=alert.failures,
                        chats=alert.chats,
                        addresses=", ".join(alert.addresses[:5]) or staff_texts.STATS_NONE,
                    )
                    for alert in stats.guessing[:5]
                ),
            )
        )
    if stats.unanswered:
        sections.append(
            Section(
                staff_texts.STATS_UNANSWERED_HEADING,
                tuple(
                    staff_texts.STATS_UNANSWERED_LINE.format(text=q.text[:120], count=q.count)
                    for q in stats.unanswered[:10]
                ),
            )
        )
    return Reply(tuple(sections), image=chart)
