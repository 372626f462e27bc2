"""Turning a procedure into the answer a citizen reads: the part asked for first.

Pure functions from catalogue objects to `Reply`; the wording comes from bot.texts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot import texts
from bot.catalogue.model import DocumentKind, OnlineLevel, Procedure, ProcessingTime
from bot.config import CenterConfig
from bot.dialogue import actions
from bot.dialogue.actions import Part
from bot.messages import Button, Reply, Section

# Long official lists are cut so that an answer fits a phone screen; the source link is
# given for the rest.
MAX_DOCUMENTS = 12
MAX_STEPS = 8
MAX_ORIGINAL_CHARS = 900
# In the short "general" answer, only the first documents are listed.
GENERAL_DOCUMENTS = 5

_PART_BUTTONS: tuple[tuple[Part, str], ...] = (
    (Part.DOCUMENTS, texts.BUTTON_DOCUMENTS),
    (Part.TIME, texts.BUTTON_TIME),
    (Part.FEE, texts.BUTTON_FEE),
    (Part.WHERE, texts.BUTTON_WHERE),
    (Part.STEPS, texts.BUTTON_STEPS),
    (Part.ONLINE, texts.BUTTON_ONLINE),
)


def procedure_answer(
    procedure: Procedure,
    part: Part,
    center: CenterConfig,
    *,
    also: Sequence[Part] = (),
    with_feedback: bool = True,
) -> Reply:
    """The answer about `procedure`, showing `part` (GENERAL: a short overview) and the
    other parts asked in the same message (`also`: "nộp ở đâu, bao nhiêu tiền")."""
    shown: list[Part] = [part]
    if part is not Part.GENERAL:
        # In the order the citizen asked them.
        asked: list[Part] = [p for p in dict.fromkeys(also) if p is not Part.GENERAL]
        shown = asked if part in asked else [part, *asked]
    sections = [_title(procedure)]
    for each in shown:
        sections.extend(part_sections(procedure, each, center))
    return Reply(tuple(sections), _answer_buttons(procedure, shown, with_feedback))


def part_sections(procedure: Procedure, part: Part, center: CenterConfig) -> list[Section]:
    if part is Part.DOCUMENTS:
        return _documents(procedure, center, limit=MAX_DOCUMENTS)
    if part is Part.TIME:
        return [_time(procedure, center)]
    if part is Part.FEE:
        return [_fee(procedure)]
    if part is Part.WHERE:
        return [_where(procedure, center)]
    if part is Part.STEPS:
        return [_steps(procedure)]
    if part is Part.ONLINE:
        return [_online(procedure, center)]
    return _overview(procedure, center)


def _title(procedure: Procedure) -> Section:
    levels = ", ".join(level.value for level in procedure.levels)
    subtitle = texts.PROCEDURE_SUBTITLE.format(
        code=procedure.code, field=procedure.field, levels=levels
    )
    return Section(texts.PROCEDURE_TITLE.format(name=procedure.name), (subtitle,))


def _overview(procedure: Procedure, center: CenterConfig) -> list[Section]:
    sections = _documents(procedure, center, limit=GENERAL_DOCUMENTS)
    sections.append(_time(procedure, center))
    sections.append(_fee(procedure))
    sections.append(_where(procedure, center))
    return sections


def _documents(procedure: Procedure, center: CenterConfig, limit: int) -> list[Section]:
    submit = [d for d in procedure.documents if d.kind is DocumentKind.SUBMIT]
    present = [d for d in procedure.documents if d.kind is DocumentKind.PRESENT]
    lines: list[str] = []
    for number, document in enumerate(submit[:limit], start=1):
        line = texts.DOCUMENT_LINE.format(number=number, name=document.name)
        if document.quantity:
            line += texts.DOCUMENT_QUANTITY.format(quantity=document.quantity)
        if document.form and document.form.lower() not in document.name.lower():
            line += texts.DOCUMENT_FORM.format(form=document.form)
        lines.append(line)
    if len(submit) > limit:
        url = procedure.source_url or center.online_portal
        lines.append(texts.DOCUMENTS_MORE.format(count=len(submit) - limit, url=url))
    if not submit:
        original = procedure.original.get("documents", "")
        if original:
            lines.append(texts.DOCUMENTS_ORIGINAL.format(text=_shorten(original)))
        elif not present:
            lines.append(texts.DOCUMENTS_NONE.format(hotline=center.hotline))
    sections = [Section(texts.HEADING_DOCUMENTS, tuple(lines))] if lines else []
    if present:
        present_lines = tuple(f"• {d.name}" for d in present[:limit])
        sections.append(Section(texts.HEADING_PRESENT, present_lines))
    return sections


def _time(procedure: Procedure, center: CenterConfig) -> Section:
    lines: list[str] = []
    if procedure.time.text:
        lines.append(texts.TIME_ONLY.format(text=_time_text(procedure.time)))
    channel_lines = [
        texts.TIME_CHANNEL.format(method=c.method, time=_time_text(c.time))
        for c in procedure.channels
        if c.time.text
    ]
    # Per-channel times only add information when they differ from the overall text.
    if channel_lines and not (procedure.time.text and _all_same_time(procedure)):
        lines.extend(channel_lines)
    if not lines:
        lines.append(texts.TIME_NONE.format(hotline=center.hotline))
    return Section(texts.HEADING_TIME, tuple(lines))


def _time_text(time: ProcessingTime) -> str:
    """The national portal often writes a bare number ("1"), meaning working days."""
    bare = time.text.strip().replace(",", ".")
    if time.working_days is not None and re.fullmatch(r"\d+(?:\.\d+)?", bare):
        days = f"{time.working_days:g}".replace(".", ",")
        return texts.TIME_WORKING_DAYS.format(days=days)
    return time.text


def _all_same_time(procedure: Procedure) -> bool:
    days = {c.time.working_days for c in procedure.channels}
    return len(days) == 1 and days == {procedure.time.working_days}


def _fee(procedure: Procedure) -> Section:
    lines = [texts.FEE_LINE.format(text=fee.text) for fee in procedure.fees]
    if not lines:
        channel_fees = [(c.method, c.fee) for c in procedure.channels if c.fee]
        if len({fee for _, fee in channel_fees}) == 1:
            lines.append(texts.FEE_LINE.format(text=channel_fees[0][1]))
        else:
            lines.extend(texts.FEE_CHANNEL.format(method=m, fee=f) for m, f in channel_fees)
    if not lines:
        original = procedure.original.get("fees", "")
        lines.append(_shorten(original) if original else texts.FEE_NONE)
    return Section(texts.HEADING_FEE, tuple(lines))


def _where(procedure: Procedure, center: CenterConfig) -> Section:
    lines: list[str] = []
    if procedure.where:
        lines.append(procedure.where)
    else:
        lines.append(texts.WHERE_DEFAULT.format(center_name=center.name, address=center.address))
    if procedure.agency:
        lines.append(texts.WHERE_AGENCY.format(agency=procedure.agency))
    methods = list(dict.fromkeys(c.method for c in procedure.channels))
    if methods:
        lines.append(texts.WHERE_CHANNELS.format(methods=", ".join(methods)))
    return Section(texts.HEADING_WHERE, tuple(lines))


def _steps(procedure: Procedure) -> Section:
    lines = [
        texts.STEP_LINE.format(number=n, text=_shorten(step))
        for n, step in enumerate(procedure.steps[:MAX_STEPS], start=1)
    ]
    return Section(texts.HEADING_STEPS, tuple(lines) or (texts.STEPS_NONE,))


def _online(procedure: Procedure, center: CenterConfig) -> Section:
    sentence = {
        OnlineLevel.FULL: texts.ONLINE_FULL,
        OnlineLevel.PARTIAL: texts.ONLINE_PARTIAL,
        OnlineLevel.OFFLINE: texts.ONLINE_OFFLINE,
        OnlineLevel.UNKNOWN: texts.ONLINE_UNKNOWN,
    }[procedure.online]
    lines = [sentence]
    if procedure.online in (OnlineLevel.FULL, OnlineLevel.PARTIAL):
        lines.append(texts.ONLINE_LINK.format(url=procedure.online_url or center.online_portal))
    return Section(texts.HEADING_ONLINE, tuple(lines))


def _answer_buttons(
    procedure: Procedure, shown: Sequence[Part], with_feedback: bool
) -> tuple[tuple[Button, ...], ...]:
    parts = [
        Button(label, actions.show_part(procedure.code, part))
        for part, label in _PART_BUTTONS
        if part not in shown
    ]
    rows: list[tuple[Button, ...]] = [tuple(parts[:3]), tuple(parts[3:])]
    if procedure.online in (OnlineLevel.FULL, OnlineLevel.PARTIAL) and procedure.online_url:
        rows.append((Button(texts.BUTTON_OPEN_ONLINE, url=procedure.online_url),))
    rows.append((Button(texts.BUTTON_NOT_THIS, actions.not_this_one()),))
    if with_feedback:
        rows.append(
            (
                Button(texts.BUTTON_HELPFUL, actions.feedback(procedure.code, True)),
                Button(texts.BUTTON_NOT_HELPFUL, actions.feedback(procedure.code, False)),
            )
        )
    return tuple(row for row in rows if row)


def choices_reply(heading: str, procedures: Sequence[Procedure], part: Part) -> Reply:
    """Up to five procedures to choose from, one button each."""
    buttons = tuple(
        (Button(_button_label(p), actions.show_part(p.code, part)),) for p in procedures
    )
    return Reply((Section(lines=(heading,)),), buttons)


def _button_label(procedure: Procedure) -> str:
    # Telegram shows about 40 characters of a button on a phone; longer names are cut.
    name = procedure.name
    return name if len(name) <= 60 else name[:57].rstrip() + "…"


def _shorten(text: str, limit: int = MAX_ORIGINAL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
