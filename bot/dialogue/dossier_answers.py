"""Turning dossier lookups into what a citizen reads. Pure; wording from bot.texts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot import texts
from bot.dialogue import actions
from bot.dossiers.model import DossierStatus, HistoryEntry
from bot.dossiers.receipt_codes import MalformedReceiptCode
from bot.dossiers.view import DossierView
from bot.dossiers.watcher import DossierUpdate
from bot.messages import Button, Reply, Section


def local_date(moment: dt.datetime | None, zone: dt.tzinfo) -> str:
    if moment is None:
        return texts.DATE_UNKNOWN
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%d/%m/%Y")


def status_words(view_status: DossierStatus | None, label: str) -> str:
    if view_status is None:
        return label
    return texts.STATUS_PLAIN[int(view_status)]


def malformed_code_reply(malformed: MalformedReceiptCode) -> Reply:
    part = malformed.part.value
    if malformed.wrong_value:
        part_text = texts.DOSSIER_CODE_PART[part].format(value=malformed.wrong_value)
    else:
        part_text = texts.DOSSIER_CODE_PART_MISSING[part]
    return Reply.text(
        texts.DOSSIER_CODE_MALFORMED.format(
            typed=malformed.typed,
            part=part_text,
            problem=texts.DOSSIER_CODE_PROBLEM[malformed.problem.value],
            expected=malformed.expected_shape,
            example=malformed.example,
        )
    )


def dossier_sections(view: DossierView, zone: dt.tzinfo) -> list[Section]:
    """The dossier's state: procedure, status, step, dates, lateness, what is missing."""
    lines = [
        texts.DOSSIER_PROCEDURE.format(procedure=view.procedure_name),
        texts.DOSSIER_APPLICANT.format(applicant=view.applicant_name_masked),
        texts.DOSSIER_STATUS.format(status=status_words(view.status, view.status_label)),
    ]
    if view.current_step and not view.is_closed:
        lines.append(texts.DOSSIER_STEP.format(step=view.current_step))
    if view.agency:
        lines.append(texts.DOSSIER_AGENCY.format(agency=view.agency))
    lines.append(texts.DOSSIER_RECEIVED.format(date=local_date(view.received_at, zone)))
    if view.due_at is not None:
        lines.append(texts.DOSSIER_DUE.format(date=local_date(view.due_at, zone)))
    if view.new_due_at is not None:
        lines.append(texts.DOSSIER_NEW_DUE.format(date=local_date(view.new_due_at, zone)))
    if view.finished_at is not None:
        lines.append(texts.DOSSIER_FINISHED.format(date=local_date(view.finished_at, zone)))
    if view.returned_at is not None:
        lines.append(texts.DOSSIER_RETURNED.format(date=local_date(view.returned_at, zone)))
    sections = [Section(texts.DOSSIER_HEADING.format(code=view.code), tuple(lines))]

    notes: list[str] = []
    if view.is_overdue:
        if view.new_due_at is not None:
            date = local_date(view.new_due_at, zone)
            notes.append(texts.DOSSIER_OVERDUE_NEW_DUE.format(date=date))
        elif view.working_days_overdue > 0:
            notes.append(texts.DOSSIER_OVERDUE.format(days=view.working_days_overdue))
        else:
            notes.append(texts.DOSSIER_OVERDUE_TODAY)
    elif view.working_days_left is not None and not view.is_closed:
        notes.append(texts.DOSSIER_DAYS_LEFT.format(days=view.working_days_left))
    if view.status is DossierStatus.FINANCIAL_OBLIGATION:
        notes.append(texts.DOSSIER_PAYMENT_HINT)
    if view.is_ready_for_pickup:
        notes.append(texts.DOSSIER_READY.format(place=view.pickup_place))
    if view.note:
        notes.append(texts.DOSSIER_NOTE.format(note=view.note))
    if notes:
        sections.append(Section(lines=tuple(notes)))
    if view.needs_supplement and view.missing_documents:
        missing = tuple(f"• {doc}" for doc in view.missing_documents)
        sections.append(
            Section(texts.DOSSIER_MISSING_HEADING, (*missing, texts.DOSSIER_MISSING_HINT))
        )
    return sections


def dossier_reply(view: DossierView, zone: dt.tzinfo, *, can_watch: bool, watching: bool) -> Reply:
    buttons: list[tuple[Button, ...]] = [
        (Button(texts.BUTTON_HISTORY, actions.dossier("hist", view.code)),)
    ]
    if can_watch and not view.is_closed:
        if watching:
            buttons.append((Button(texts.BUTTON_UNWATCH, actions.dossier("unwatch", view.code)),))
        else:
            buttons.append((Button(texts.BUTTON_WATCH, actions.dossier("watch", view.code)),))
    return Reply(tuple(dossier_sections(view, zone)), tuple(buttons))


def history_reply(view: DossierView, entries: Sequence[HistoryEntry], zone: dt.tzinfo) -> Reply:
    lines: list[str] = []
    for entry in entries:
        line = texts.DOSSIER_HISTORY_LINE.format(
            date=local_date(entry.at, zone), status=status_words(entry.status, entry.status_label)
        )
        if entry.step:
            line += texts.DOSSIER_HISTORY_STEP.format(step=entry.step)
        if entry.agency:
            line += texts.DOSSIER_HISTORY_AGENCY.format(agency=entry.agency)
        lines.append(line)
    heading = texts.DOSSIER_HISTORY_HEADING.format(code=view.code)
    return Reply((Section(heading, tuple(lines) or (texts.DOSSIER_HISTORY_EMPTY,)),))


def update_reply(update: DossierUpdate, zone: dt.tzinfo) -> Reply:
    """The notice a subscriber gets when their dossier changes."""
    view = update.view
    heading = Section(
        texts.DOSSIER_UPDATE_HEADING.format(code=view.code),
        (texts.DOSSIER_UPDATE_STATUS.format(status=status_words(view.status, view.status_label)),),
    )
    sections = [heading, *dossier_sections(view, zone)]
    buttons: tuple[tuple[Button, ...], ...] = ()
    if update.subscription_ended:
        sections.append(
            Section(
                lines=(
                    texts.DOSSIER_RETURNED_FINAL,
                    texts.RATING_QUESTION.format(code=view.code),
                )
            )
        )
        buttons = (
            tuple(Button(str(stars), actions.rating(view.code, stars)) for stars in range(1, 6)),
        )
    return Reply(tuple(sections), buttons)


def wait_text(until: dt.datetime, now: dt.datetime) -> str:
    seconds = max(1, int((until - now).total_seconds()))
    if seconds < 120:
        return texts.DURATION_SECONDS.format(seconds=seconds)
    if seconds < 2 * 3600:
        return texts.DURATION_MINUTES.format(minutes=(seconds + 59) // 60)
    return texts.DURATION_HOURS.format(hours=(seconds + 3599) // 3600)
