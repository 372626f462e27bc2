"""What a dossier source returns: dossiers, their history, their changes, standard statuses.

Everything here is plain data read from the center's one-stop system, unmasked; privacy
(masking, verification) is applied later by `bot.dossiers.service`. Datetimes are
timezone-aware; a source interprets its naive timestamps in the center's local time.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Any

log = logging.getLogger(__name__)


class DossierStatus(IntEnum):
    """The national public service portal's dossier statuses (1..10).

    Their official Vietnamese names are data in `PORTAL_STATUS_NAMES`; the citizen-facing
    wording lives in the text module.
    """

    REGISTERED = 1
    ACCEPTED = 2
    NOT_ACCEPTED = 3
    IN_PROGRESS = 4
    SUPPLEMENT_REQUESTED = 5
    FINANCIAL_OBLIGATION = 6
    WITHDRAWN = 7
    SUSPENDED = 8
    COMPLETED = 9
    RETURNED = 10

    @property
    def portal_name(self) -> str:
        return PORTAL_STATUS_NAMES[self]

    @property
    def is_closed(self) -> bool:
        """No further processing is expected (the result is out, or it was refused/withdrawn)."""
        return self in _CLOSED


PORTAL_STATUS_NAMES: Mapping[DossierStatus, str] = MappingProxyType(
    {
        DossierStatus.REGISTERED: "Mới đăng ký",
        DossierStatus.ACCEPTED: "Được tiếp nhận",
        DossierStatus.NOT_ACCEPTED: "Không được tiếp nhận",
        DossierStatus.IN_PROGRESS: "Đang xử lý",
        DossierStatus.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
        DossierStatus.FINANCIAL_OBLIGATION: "Yêu cầu thực hiện nghĩa vụ tài chính",
        DossierStatus.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
        DossierStatus.SUSPENDED: "Dừng xử lý",
        DossierStatus.COMPLETED: "Đã xử lý xong",
        DossierStatus.RETURNED: "Đã trả kết quả",
    }
)

_CLOSED = frozenset(
    {
        DossierStatus.NOT_ACCEPTED,
        DossierStatus.WITHDRAWN,
        DossierStatus.SUSPENDED,
        DossierStatus.RETURNED,
    }
)


@dataclass(frozen=True, slots=True)
class Dossier:
    """One dossier as the one-stop system knows it.

    `status` is None when the vendor's label is not mapped (see `StatusMapping`); the raw
    label is always in `status_label`. `missing_documents` is filled while a supplement is
    requested. `new_due_at` is the new appointment given after a delay (thư xin lỗi và hẹn
    lại ngày trả kết quả). `applicant_phone` / `applicant_id_number` serve verification only.
    """

    code: str
    status: DossierStatus | None
    status_label: str
    procedure_name: str = ""
    procedure_code: str = ""
    applicant_name: str = ""
    received_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    new_due_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    returned_at: dt.datetime | None = None
    current_step: str = ""
    agency: str = ""
    note: str = ""
    missing_documents: tuple[str, ...] = ()
    pickup_place: str = ""
    applicant_phone: str = ""
    applicant_id_number: str = ""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One step in a dossier's processing, oldest first in a history."""

    at: dt.datetime | None
    status: DossierStatus | None
    status_label: str
    step: str = ""
    agency: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class DossierChange:
    """A change reported by the source's changed-since query (or pushed by the system).

    `change_key` identifies the change for once-only delivery; `dossier` is the dossier as
    of that change (fields the query does not return are empty).
    """

    change_key: str
    changed_at: dt.datetime | None
    dossier: Dossier


@dataclass(frozen=True, slots=True)
class ChangePage:
    """The changes after a cursor, in order, and the cursor to ask from next time."""

    changes: tuple[DossierChange, ...]
    cursor: str


def _label_key(label: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", label)).strip().casefold()


_MAX_LABEL_CHARS = 120
# Each distinct unmapped label is logged once; a source sending ever new ones (a broken
# export putting other columns in the status) must not fill the memory or the log.
_MAX_REPORTED_LABELS = 200


class StatusMapping:
    """Turns a vendor's status value into a standard status.

    Tried in order: the configured labels (`dossiers.status_labels`, compared without case
    and extra spaces), the standard numbers 1..10 (as numbers or digit strings), the portal's
    own names. An unmapped label gives None and is logged once, so a new vendor label shows
    up in the log instead of breaking lookups.
    """

    def __init__(self, labels: Mapping[str, int]) -> None:
        mapped: dict[str, DossierStatus] = {}
        for label, number in labels.items():
            try:
                mapped[_label_key(label)] = DossierStatus(number)
            except ValueError:
                raise ValueError(
                    f"dossiers.status_labels: {label!r} = {number}: expected a standard "
                    "status number from 1 to 10"
                ) from None
        for status, name in PORTAL_STATUS_NAMES.items():
            mapped.setdefault(_label_key(name), status)
        self._labels = mapped
        self._reported: set[str] = set()

    def status_of(self, value: Any) -> tuple[DossierStatus | None, str]:
        """(standard status or None, the label as text)."""
        if value is None:
            return None, ""
        label = str(value).strip()
        status = self._labels.get(_label_key(label))
        if status is not None:
            return status, label
        if isinstance(value, int) or label.isdigit():
            try:
                return DossierStatus(int(label)), label
            except ValueError:
                pass
        # A vendor's status is a short phrase; anything longer is not a label a citizen
        # should read whole, nor a log line staff should scroll through.
        if len(label) > _MAX_LABEL_CHARS:
            label = label[: _MAX_LABEL_CHARS - 1].rstrip() + "…"
        if label not in self._reported and len(self._reported) < _MAX_REPORTED_LABELS:
            self._reported.add(label)
            log.warning(
                "dossier status label %r is not mapped to a standard status; add it to "
                "dossiers.status_labels%s",
                label,
                ""
                if len(self._reported) < _MAX_REPORTED_LABELS
                else f" (the first {_MAX_REPORTED_LABELS} unmapped labels are logged; "
                "no more until restart)",
            )
        return None, label
