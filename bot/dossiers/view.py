"""What a citizen may see of a dossier: `DossierView`, with the applicant's name masked.

Built from a source's `Dossier` at a moment `now` (for the overdue flag). Verification
values (phone, ID number) are dropped here, so nothing downstream can show them by mistake.
Views are stored as JSON in the notification outbox, hence `to_json`/`from_json`.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.dossiers.model import Dossier, DossierStatus, HistoryEntry
from bot.dossiers.working_days import WorkingCalendar


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' -> 'Nguyễn V** A**': family name kept, other words as initial + '**'.

    Always two stars, so the mask does not reveal the length of the given name.
    """
    words = unicodedata.normalize("NFC", name).split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][0] + "**"
    return " ".join([words[0], *(word[0] + "**" for word in words[1:])])


@dataclass(frozen=True, slots=True)
class DossierView:
    """A dossier as shown to a verified citizen.

    `status` is None when the vendor's label is unmapped; show `status_label` then.
    `is_overdue` compares the (original) appointment `due_at` with now, or with the finish
    time once finished; `new_due_at` is the later appointment given after a delay.
    `working_days_overdue` may be 0 while overdue (due Friday, asked on Saturday).
    `working_days_left` is None when overdue, closed or without a due date.
    `is_ready_for_pickup`: processing is finished (9) and the result awaits collection at
    `pickup_place` (the center's counter when the source names none).
    """

    code: str
    procedure_name: str
    procedure_code: str
    applicant_name_masked: str
    status: DossierStatus | None
    status_label: str
    received_at: dt.datetime | None
    due_at: dt.datetime | None
    new_due_at: dt.datetime | None
    finished_at: dt.datetime | None
    returned_at: dt.datetime | None
    current_step: str
    agency: str
    note: str
    missing_documents: tuple[str, ...]
    pickup_place: str
    is_overdue: bool
    working_days_overdue: int
    working_days_left: int | None

    @property
    def is_ready_for_pickup(self) -> bool:
        return self.status is DossierStatus.COMPLETED

    @property
    def is_closed(self) -> bool:
        return self.status is not None and self.status.is_closed

    @property
    def needs_supplement(self) -> bool:
        return self.status is DossierStatus.SUPPLEMENT_REQUESTED

    def to_json(self) -> str:
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, dt.datetime):
                value = value.isoformat()
            elif isinstance(value, DossierStatus):
                value = int(value)
            elif isinstance(value, tuple):
                value = list(value)
            data[name] = value
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DossierView:
        data = json.loads(text)
        for name in ("received_at", "due_at", "new_due_at", "finished_at", "returned_at"):
            if data.get(name) is not None:
                data[name] = dt.datetime.fromisoformat(data[name])
        if data.get("status") is not None:
            data["status"] = DossierStatus(data["status"])
        data["missing_documents"] = tuple(data.get("missing_documents", ()))
        return cls(**data)


def build_view(
    dossier: Dossier, now: dt.datetime, calendar: WorkingCalendar, default_pickup_place: str
) -> DossierView:
    """The citizen's view of `dossier` at `now` (aware; compared in the dossier's zone)."""
    zone = dossier.due_at.tzinfo if dossier.due_at is not None else None
    local_now = now.astimezone(zone) if zone is not None else now
    status = dossier.status
    if status in (DossierStatus.COMPLETED, DossierStatus.RETURNED):
        reference = dossier.finished_at or dossier.returned_at or local_now
        lateness = calendar.lateness(dossier.due_at, reference.astimezone(local_now.tzinfo))
        working_days_left = None
    elif status is not None and status.is_closed:
        lateness = calendar.lateness(None, local_now)
        working_days_left = None
    else:
        lateness = calendar.lateness(dossier.due_at, local_now)
        working_days_left = lateness.working_days_left
    return DossierView(
        code=dossier.code,
        procedure_name=dossier.procedure_name,
        procedure_code=dossier.procedure_code,
        applicant_name_masked=mask_name(dossier.applicant_name),
        status=status,
        status_label=dossier.status_label,
        received_at=dossier.received_at,
        due_at=dossier.due_at,
        new_due_at=dossier.new_due_at,
        finished_at=dossier.finished_at,
        returned_at=dossier.returned_at,
        current_step=dossier.current_step,
        agency=dossier.agency,
        note=dossier.note,
        missing_documents=dossier.missing_documents,
        pickup_place=dossier.pickup_place or default_pickup_place,
        is_overdue=lateness.is_overdue,
        working_days_overdue=lateness.working_days_overdue,
        working_days_left=working_days_left,
    )


@dataclass(frozen=True, slots=True)
class HistoryView:
    """A verified dossier's current view and its processing steps, oldest first."""

    dossier: DossierView
    entries: tuple[HistoryEntry, ...]
