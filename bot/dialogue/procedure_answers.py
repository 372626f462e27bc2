"""Turning a procedure into the answer a citizen reads: the part asked for first.

Pure functions from catalogue objects to `Reply`; the wording comes from bot.texts. What
the answer holds depends on the day (`today`, the center's date): an entry whose
`valid_until` has passed is never shown, one whose `valid_from` is still ahead is shown as
coming. Where the catalogue has no figure, the answer says so in one sentence with the
hotline and the procedure's page. Documents needed only in some case ("trẻ bị bỏ rơi")
come after the common list, under their case.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import urlsplit

from bot import texts
from bot.catalogue.dated import day_text
from bot.catalogue.model import (
    Document,
    DocumentKind,
    Level,
    OnlineLevel,
    Procedure,
    ProcessingTime,
    SubmissionChannel,
    Validity,
    validity_on,
)
from bot.config import CenterConfig
from bot.dialogue import actions
from bot.dialogue.actions import Part
from bot.messages import Button, Reply, Section

# Long official lists are cut so that an answer fits a phone screen; the source link is
# given for the rest.
MAX_DOCUMENTS = 12
MAX_CASES = 6
MAX_CASE_CHARS = 200
MAX_STEPS = 8
MAX_ORIGINAL_CHARS = 900
# In the short "general" answer, only the first documents are listed, and the first cases
# that need more are named.
GENERAL_DOCUMENTS = 5
BRIEF_CASES = 3
# Form download buttons under one answer (Telegram shows each button on its own row).
MAX_FORM_BUTTONS = 2

_PART_BUTTONS: tuple[tuple[Part, str], ...] = (
    (Part.DOCUMENTS, texts.BUTTON_DOCUMENTS),
    (Part.TIME, texts.BUTTON_TIME),
    (Part.FEE, texts.BUTTON_FEE),
    (Part.WHERE, texts.BUTTON_WHERE),
    (Part.STEPS, texts.BUTTON_STEPS),
    (Part.ONLINE, texts.BUTTON_ONLINE),
)

# A sentence that only says the source gave no figure ("Cổng Dịch vụ công không ghi phí,
# lệ phí cho thủ tục này."): replaced by the gap sentence, which says where to ask.
_ONLY_NO_FIGURE = re.compile(
    r"^(?:Cổng Dịch vụ công|Danh mục)\s+(?:không|chưa)\s+ghi\b[^.;]*\.?$", re.IGNORECASE
)
# "... (Cổng Dịch vụ công không ghi mức cụ thể)": there is a text but no figure to give.
_VAGUE = re.compile(r"(?:không|chưa) ghi [^.;()]{0,30}cụ thể", re.IGNORECASE)
_FEE_FIGURE = re.compile(
    r"\d[\d.,]*\s*(?:đồng|đ\b|vnđ|vnd|usd|%|việt nam đồng)"
    r"|miễn|không (?:thu|mất|có|phải nộp|phải trả)",
    re.IGNORECASE,
)
_TIME_FIGURE = re.compile(r"\d|\bngay\b|trong ngày", re.IGNORECASE)
# An agency name that places the work at a level ("Công an tỉnh", "UBND cấp xã").
_AGENCY_LEVELS = (
    (Level.PROVINCE, re.compile(r"\btỉnh\b|cấp tỉnh", re.IGNORECASE)),
    (Level.DISTRICT, re.compile(r"\bhuyện\b", re.IGNORECASE)),
    (
        Level.COMMUNE,
        re.compile(r"cấp xã|(?:ubnd|ủy ban nhân dân|công an) (?:cấp )?xã\b", re.IGNORECASE),
    ),
)
_LOCAL_LEVELS = (Level.PROVINCE, Level.DISTRICT, Level.COMMUNE)


def procedure_answer(
    procedure: Procedure,
    part: Part,
    center: CenterConfig,
    *,
    today: dt.date,
    also: Sequence[Part] = (),
    with_feedback: bool = True,
) -> Reply:
    """The answer about `procedure` on `today`, showing `part` (GENERAL: a short overview)
    and the other parts asked in the same message (`also`: "nộp ở đâu, bao nhiêu tiền")."""
    shown: list[Part] = [part]
    if part is not Part.GENERAL:
        # In the order the citizen asked them.
        asked: list[Part] = [p for p in dict.fromkeys(also) if p is not Part.GENERAL]
        shown = asked if part in asked else [part, *asked]
    sections = [_title(procedure, center)]
    for each in shown:
        sections.extend(part_sections(procedure, each, center, today))
    return Reply(tuple(sections), _answer_buttons(procedure, shown, with_feedback, today))


def part_sections(
    procedure: Procedure, part: Part, center: CenterConfig, today: dt.date
) -> list[Section]:
    if part is Part.DOCUMENTS:
        return _documents(procedure, center, today, limit=MAX_DOCUMENTS, brief=False)
    if part is Part.TIME:
        return [_time(procedure, center, today)]
    if part is Part.FEE:
        return [_fee(procedure, center, today)]
    if part is Part.WHERE:
        return [_where(procedure, center, today)]
    if part is Part.STEPS:
        return [_steps(procedure, center)]
    if part is Part.ONLINE:
        return [_online(procedure, center)]
    return _overview(procedure, center, today)


# --- title: what the procedure is and where a citizen does it ------------------------


def _title(procedure: Procedure, center: CenterConfig) -> Section:
    subtitle = texts.PROCEDURE_SUBTITLE.format(
        code=procedure.code, field=procedure.field, handled=handled_at(procedure, center)
    )
    return Section(texts.PROCEDURE_TITLE.format(name=procedure.name), (subtitle,))


def handled_at(procedure: Procedure, center: CenterConfig) -> str:
    """Where a citizen does the procedure, as a citizen says it ("Nộp tại UBND cấp xã",
    "Nộp tại Công an tỉnh"), from the catalogue's levels and agency.

    The national catalogue files some procedures under "Cấp bộ" although a citizen hands
    them in at the province (a driving licence: the ministry's department issues it, the
    province's police receives it); the agency names those local offices, so they are
    what is said. "Cấp bộ" is said only when nothing local is named.
    """
    agency = procedure.agency
    levels = [level for level in procedure.levels if level in _LOCAL_LEVELS]
    if not levels:
        levels = [level for level, pattern in _AGENCY_LEVELS if pattern.search(agency)]
    offices = _offices(agency or procedure.where)
    places = [offices[level.value].format(center_name=center.name) for level in levels]
    if places:
        return texts.HANDLED_AT.format(places=texts.PLACES_JOIN.join(dict.fromkeys(places)))
    if Level.MINISTRY in procedure.levels:
        return texts.HANDLED_CENTRAL
    return texts.HANDLED_AT.format(places=agency or center.name)


def _offices(agency: str) -> Mapping[str, str]:
    """The offices by level for the kind of agency named first in `agency` (the police,
    social insurance, tax; else the people's committees and the center)."""
    lowered = agency.lower()
    found = [
        (position, offices)
        for word, offices in texts.PLACES_BY_AGENCY.items()
        if (position := _word_at(lowered, word)) >= 0
    ]
    ubnd = min(
        (p for p in (_word_at(lowered, "ubnd"), _word_at(lowered, "ủy ban nhân dân")) if p >= 0),
        default=-1,
    )
    if ubnd >= 0:
        found.append((ubnd, texts.PLACES_DEFAULT))
    return min(found, key=lambda pair: pair[0])[1] if found else texts.PLACES_DEFAULT


def _word_at(text: str, word: str) -> int:
    match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text)
    return match.start() if match else -1


# --- the parts -----------------------------------------------------------------------


def _overview(procedure: Procedure, center: CenterConfig, today: dt.date) -> list[Section]:
    if _name_only(procedure):
        gap = texts.GAP_NAME_ONLY.format(hotline=center.hotline, url=page_url(procedure, center))
        return [Section(lines=(gap,))]
    sections = _documents(procedure, center, today, limit=GENERAL_DOCUMENTS, brief=True)
    sections.append(_time(procedure, center, today))
    sections.append(_fee(procedure, center, today))
    sections.append(_where(procedure, center, today))
    return sections


def _name_only(procedure: Procedure) -> bool:
    """A procedure a province lists with no details (no national record to take them
    from)."""
    return not (
        procedure.documents
        or procedure.channels
        or procedure.fees
        or procedure.steps
        or procedure.time.text
        or procedure.where
        or any(part in procedure.original for part in ("documents", "channels", "fees"))
    )


def _documents(
    procedure: Procedure, center: CenterConfig, today: dt.date, *, limit: int, brief: bool
) -> list[Section]:
    """The common list first, numbered; then, under their case, documents that only some
    people need. In the short overview the cases are named in one line."""
    documents = [d for d in procedure.documents if _current_or_coming(d, today)]
    common = [d for d in documents if d.kind is DocumentKind.SUBMIT and not d.case]
    present = [d for d in documents if d.kind is DocumentKind.PRESENT and not d.case]
    cases: dict[str, list[Document]] = {}
    for document in documents:
        if document.case and document.kind is not DocumentKind.NOTE:
            cases.setdefault(document.case, []).append(document)
    url = page_url(procedure, center)
    lines: list[str] = []
    for number, document in enumerate(common[:limit], start=1):
        lines.append(
            texts.DOCUMENT_LINE.format(number=number, name=_document_text(document, today))
        )
    if len(common) > limit:
        lines.append(texts.DOCUMENTS_MORE.format(count=len(common) - limit, url=url))
    if not common:
        original = procedure.original.get("documents", "")
        if original:
            lines.append(texts.DOCUMENTS_ORIGINAL.format(text=_shorten(original)))
        elif not present and not cases:
            lines.append(texts.GAP_DOCUMENTS.format(hotline=center.hotline, url=url))
    if brief and cases:
        first = [_in_sentence(case) for case in list(cases)[:BRIEF_CASES]]
        named = "; ".join(first) + ("; …" if len(cases) > BRIEF_CASES else "")
        lines.append(texts.DOCUMENTS_CASES_BRIEF.format(cases=named))
    if _has_forms(documents) and not brief:
        # The page's link is a button below the answer; the address is only spelt out when
        # there is no such button.
        lines.append(texts.FORMS_BELOW if procedure.source_url else texts.FORMS_AT.format(url=url))
    sections = [Section(texts.HEADING_DOCUMENTS, tuple(lines))] if lines else []
    if present:
        present_lines = tuple(f"• {_document_text(d, today)}" for d in present[:limit])
        sections.append(Section(texts.HEADING_PRESENT, present_lines))
    if cases and not brief:
        sections.append(Section(texts.HEADING_CASES, _case_lines(cases, today, url)))
    return sections


def _in_sentence(case: str) -> str:
    """ "Trẻ bị bỏ rơi" as it reads inside a sentence; "BHXH ..." stays as it is."""
    if len(case) > 1 and case[0].isupper() and case[1].islower():
        return case[0].lower() + case[1:]
    return case


def _case_lines(cases: dict[str, list[Document]], today: dt.date, url: str) -> tuple[str, ...]:
    """One line per case with one document, else the case and its documents below it;
    each cut short (the full wording is on the procedure's page)."""
    lines: list[str] = []
    for case, documents in list(cases.items())[:MAX_CASES]:
        if len(documents) == 1:
            text = _shorten(_document_text(documents[0], today), MAX_CASE_CHARS)
            lines.append(texts.CASE_ONE.format(case=case, document=text))
        else:
            lines.append(texts.CASE_HEADING.format(case=case))
            lines.extend(
                texts.CASE_DOCUMENT.format(
                    document=_shorten(_document_text(d, today), MAX_CASE_CHARS)
                )
                for d in documents
            )
    if len(cases) > MAX_CASES:
        lines.append(texts.CASES_MORE.format(count=len(cases) - MAX_CASES, url=url))
    return tuple(lines)


def _document_text(document: Document, today: dt.date) -> str:
    text = document.name
    if document.quantity and document.kind is not DocumentKind.PRESENT:
        text += texts.DOCUMENT_QUANTITY.format(quantity=document.quantity)
    if document.form and document.form.lower() not in document.name.lower():
        text += texts.DOCUMENT_FORM.format(form=document.form)
    return _dated(text, document.valid_from, document.valid_until, today)


def _has_forms(documents: Sequence[Document]) -> bool:
    return any(d.form for d in documents)


def _time(procedure: Procedure, center: CenterConfig, today: dt.date) -> Section:
    channels = _channels(procedure, today)
    lines: list[str] = []
    if procedure.time.text:
        lines.append(texts.TIME_ONLY.format(text=_time_text(procedure.time)))
    channel_lines = [
        texts.TIME_CHANNEL.format(
            method=c.method, time=_dated(_time_text(c.time), c.valid_from, c.valid_until, today)
        )
        for c in channels
        if c.time.text
    ]
    # Per-channel times only add information when they differ from the overall text.
    if channel_lines and not (procedure.time.text and _all_same_time(procedure, channels)):
        lines.extend(channel_lines)
    lines = _with_gap(lines, _TIME_FIGURE, texts.GAP_TIME, procedure, center)
    return Section(texts.HEADING_TIME, tuple(lines))


def _time_text(time: ProcessingTime) -> str:
    """The national portal often writes a bare number ("1"), meaning working days."""
    bare = time.text.strip().replace(",", ".")
    if time.working_days is not None and re.fullmatch(r"\d+(?:\.\d+)?", bare):
        days = f"{time.working_days:g}".replace(".", ",")
        return texts.TIME_WORKING_DAYS.format(days=days)
    return time.text


def _all_same_time(procedure: Procedure, channels: Sequence[SubmissionChannel]) -> bool:
    days = {c.time.working_days for c in channels}
    return len(days) == 1 and days == {procedure.time.working_days}


def _fee(procedure: Procedure, center: CenterConfig, today: dt.date) -> Section:
    fees = [f for f in procedure.fees if _current_or_coming(f, today)]
    # What applies now first, then what is coming.
    fees.sort(key=lambda f: validity_on(today, f.valid_from, f.valid_until) is Validity.UPCOMING)
    lines = [
        texts.FEE_LINE.format(text=_dated(f.text, f.valid_from, f.valid_until, today))
        for f in fees
    ]
    if not fees:
        channel_fees = [
            (c.method, _dated(c.fee, c.valid_from, c.valid_until, today))
            for c in _channels(procedure, today)
            if c.fee
        ]
        if len({fee for _, fee in channel_fees}) == 1:
            lines.append(texts.FEE_LINE.format(text=channel_fees[0][1]))
        else:
            lines.extend(texts.FEE_CHANNEL.format(method=m, fee=f) for m, f in channel_fees)
        original = procedure.original.get("fees", "")
        if not lines and original:
            lines.append(_shorten(original))
    lines = _with_gap(lines, _FEE_FIGURE, texts.GAP_FEE, procedure, center)
    return Section(texts.HEADING_FEE, tuple(lines))


def _with_gap(
    lines: list[str],
    figure: re.Pattern[str],
    gap: str,
    procedure: Procedure,
    center: CenterConfig,
) -> list[str]:
    """`lines` without sentences that only say the source has no figure, and with the gap
    sentence (hotline, page) when no figure is left or one is said to be unspecified."""
    kept = [line for line in lines if not _ONLY_NO_FIGURE.match(line.lstrip("• ").strip())]
    has_figure = any(figure.search(line) for line in kept)
    if has_figure and not any(_VAGUE.search(line) for line in kept):
        return kept
    return [*kept, gap.format(hotline=center.hotline, url=page_url(procedure, center))]


def _where(procedure: Procedure, center: CenterConfig, today: dt.date) -> Section:
    lines: list[str] = []
    if procedure.where:
        lines.append(procedure.where)
    else:
        lines.append(texts.WHERE_DEFAULT.format(center_name=center.name, address=center.address))
    if procedure.agency:
        lines.append(texts.WHERE_AGENCY.format(agency=procedure.agency))
    methods = list(dict.fromkeys(c.method for c in _channels(procedure, today)))
    if methods:
        lines.append(texts.WHERE_CHANNELS.format(methods=", ".join(methods)))
    return Section(texts.HEADING_WHERE, tuple(lines))


def _steps(procedure: Procedure, center: CenterConfig) -> Section:
    lines = [
        texts.STEP_LINE.format(number=n, text=_shorten(step))
        for n, step in enumerate(procedure.steps[:MAX_STEPS], start=1)
    ]
    if not lines:
        gap = texts.GAP_STEPS.format(hotline=center.hotline, url=page_url(procedure, center))
        lines.append(gap)
    return Section(texts.HEADING_STEPS, tuple(lines))


def _online(procedure: Procedure, center: CenterConfig) -> Section:
    sentence = {
        OnlineLevel.FULL: texts.ONLINE_FULL,
        OnlineLevel.PARTIAL: texts.ONLINE_PARTIAL,
        OnlineLevel.OFFLINE: texts.ONLINE_OFFLINE,
        OnlineLevel.UNKNOWN: texts.ONLINE_UNKNOWN,
    }[procedure.online]
    lines = [sentence]
    if procedure.online in (OnlineLevel.FULL, OnlineLevel.PARTIAL):
        lines.append(texts.ONLINE_LINK.format(url=online_url(procedure) or center.online_portal))
    return Section(texts.HEADING_ONLINE, tuple(lines))


# --- dates ---------------------------------------------------------------------------


class _Dated(Protocol):
    @property
    def valid_from(self) -> dt.date | None: ...
    @property
    def valid_until(self) -> dt.date | None: ...


def _current_or_coming(item: _Dated, today: dt.date) -> bool:
    return validity_on(today, item.valid_from, item.valid_until) is not Validity.EXPIRED


def _channels(procedure: Procedure, today: dt.date) -> list[SubmissionChannel]:
    return [c for c in procedure.channels if _current_or_coming(c, today)]


def _dated(
    text: str, valid_from: dt.date | None, valid_until: dt.date | None, today: dt.date
) -> str:
    """`text` with when it applies: "Từ 01/01/2027: ..." before it starts, "... (áp dụng
    đến hết 31/12/2026)" while it runs to a known end."""
    if not text:
        return text
    state = validity_on(today, valid_from, valid_until)
    if state is Validity.UPCOMING and valid_from is not None:
        return texts.DATED_FROM.format(date=day_text(valid_from), text=text)
    if valid_until is not None and day_text(valid_until) not in text:
        return texts.DATED_UNTIL.format(date=day_text(valid_until), text=text)
    return text


# --- links ---------------------------------------------------------------------------


def page_url(procedure: Procedure, center: CenterConfig) -> str:
    """The procedure's own page on the national portal, else the portal itself."""
    return procedure.source_url or center.online_portal


def online_url(procedure: Procedure) -> str:
    """Where to submit online: a procedure-specific `online_url`, else the procedure's own
    page (which has the portal's "Nộp trực tuyến" button); never the portal's home page,
    where a citizen would have to search for the procedure again."""
    if procedure.online_url and urlsplit(procedure.online_url).path.strip("/"):
        return procedure.online_url
    return procedure.source_url or procedure.online_url


def _link_buttons(procedure: Procedure, today: dt.date) -> list[tuple[Button, ...]]:
    rows: list[tuple[Button, ...]] = []
    page = procedure.source_url
    submit = ""
    if procedure.online in (OnlineLevel.FULL, OnlineLevel.PARTIAL):
        submit = online_url(procedure)
        if submit:
            label = texts.BUTTON_OPEN_ONLINE if submit != page else texts.BUTTON_PAGE_ONLINE
            rows.append((Button(label, url=submit),))
    if page and page != submit:
        rows.append((Button(texts.BUTTON_PAGE, url=page),))
    forms: dict[str, str] = {}
    for document in procedure.documents:
        if document.form_url and _current_or_coming(document, today):
            forms.setdefault(document.form_url, document.form or document.name)
    for url, form in list(forms.items())[:MAX_FORM_BUTTONS]:
        rows.append((Button(texts.BUTTON_FORM.format(form=_button_text(form, 40)), url=url),))
    return rows


def _answer_buttons(
    procedure: Procedure, shown: Sequence[Part], with_feedback: bool, today: dt.date
) -> tuple[tuple[Button, ...], ...]:
    # A procedure known by name only has nothing to show under documents, time, fee or
    # steps: only where to go and whether it is online.
    offered = (Part.WHERE, Part.ONLINE) if _name_only(procedure) else tuple(Part)
    parts = [
        Button(label, actions.show_part(procedure.code, part))
        for part, label in _PART_BUTTONS
        if part not in shown and part in offered
    ]
    rows: list[tuple[Button, ...]] = [tuple(parts[:3]), tuple(parts[3:])]
    rows.extend(_link_buttons(procedure, today))
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
        (Button(_button_text(p.name, 60), actions.show_part(p.code, part)),) for p in procedures
    )
    return Reply((Section(lines=(heading,)),), buttons)


def _button_text(text: str, limit: int) -> str:
    # Telegram shows about 40 characters of a button on a phone; longer names are cut.
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "…"


def _shorten(text: str, limit: int = MAX_ORIGINAL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
