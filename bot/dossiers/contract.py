"""The column contract between a source's rows and the dossier model.

A vendor's query (or JSON API, through its field map) returns rows whose columns are named
as below; the SQL aliases them (`SELECT ma_ho_so AS code, ...`). Only the columns marked
required must be present; a missing optional column reads as empty.

`:code` is always the canonical spelling (upper case, dots and dashes as in
`000.00.12.H58-251120-0001`); a system that stores codes otherwise normalises in its query
(`WHERE UPPER(REPLACE(ma_ho_so, ' ', '')) = :code`), and returns them canonical as `code`,
which is also how changes are matched with subscriptions.

Lookup (`dossiers.sql.lookup_query`, parameter `:code`; the first row is used):
    code                 required  the receipt code, as stored
    status               required  vendor status label or number (see `dossiers.status_labels`)
    procedure_name                 name of the administrative procedure
    procedure_code                 its national code (1.001193), to offer its details
    applicant_name                 full name of the applicant (masked before display)
    received_at                    when the dossier was received
    due_at                         the appointment date for the result (ngày hẹn trả)
    new_due_at                     a later appointment given after a delay, if any
    finished_at                    when processing finished (status 9)
    returned_at                    when the result was handed over (status 10)
    current_step                   the step it is at ("Thẩm định hồ sơ", ...)
    agency                         the office handling it now
    note                           free text from staff
    missing_documents              while a supplement is requested: a JSON array, or one
                                   document per line or separated by ";"
    pickup_place                   where to collect the result (else the center's counter)
    applicant_phone                for verification (last 4 digits), never shown
    applicant_id_number            for verification (last 4 digits), never shown

History (`dossiers.sql.history_query`, parameter `:code`; rows oldest first):
    at (required), status (required), step, agency, note

Changed since (`dossiers.sql.changed_since_query`, parameters `:cursor`, `:limit`; rows in
cursor order):
    cursor     required  this change's position (text or number; compared by the query)
    code       required
    status     required
    change_id            identifies the change (default: the cursor); a change seen twice with
                         the same id is announced once
    changed_at           when it happened
    ...plus any lookup column, describing the dossier as of the change.

Change head (`dossiers.sql.change_head_query`, no parameters): one row whose first column
is the cursor of the newest change (used once, so that old changes are not announced).

Timestamps may be datetimes, dates, ISO 8601 text ("2025-11-20 08:30:00", with or without a
zone), "20/11/2025 08:30", or Unix epoch seconds/milliseconds; naive ones are the center's
local time (`dossiers.utc_offset_hours`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.dossiers.model import Dossier, DossierChange, HistoryEntry, StatusMapping
from bot.dossiers.source import SourceMisconfigured

LOOKUP_COLUMNS = (
    "code",
    "status",
    "procedure_name",
    "procedure_code",
    "applicant_name",
    "received_at",
    "due_at",
    "new_due_at",
    "finished_at",
    "returned_at",
    "current_step",
    "agency",
    "note",
    "missing_documents",
    "pickup_place",
    "applicant_phone",
    "applicant_id_number",
)
HISTORY_COLUMNS = ("at", "status", "step", "agency", "note")
CHANGE_COLUMNS = ("cursor", "change_id", "changed_at", *LOOKUP_COLUMNS)

_DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_BULLET = re.compile(r"^\s*(?:[-•*+]|\d+[.)])\s*")


class ContractReader:
    """Reads contract rows into model objects, in the center's local time zone."""

    def __init__(self, statuses: StatusMapping, local_zone: dt.tzinfo, source_name: str):
        self._statuses = statuses
        self._zone = local_zone
        self._source = source_name

    def dossier(self, row: Mapping[str, Any], query: str = "lookup") -> Dossier:
        self._require(row, ("code", "status"), query)
        status, label = self._statuses.status_of(row.get("status"))
        return Dossier(
            code=_text(row.get("code")),
            status=status,
            status_label=label,
            procedure_name=_text(row.get("procedure_name")),
            procedure_code=_text(row.get("procedure_code")),
            applicant_name=_text(row.get("applicant_name")),
            received_at=self.moment(row.get("received_at"), "received_at"),
            due_at=self.moment(row.get("due_at"), "due_at"),
            new_due_at=self.moment(row.get("new_due_at"), "new_due_at"),
            finished_at=self.moment(row.get("finished_at"), "finished_at"),
            returned_at=self.moment(row.get("returned_at"), "returned_at"),
            current_step=_text(row.get("current_step")),
            agency=_text(row.get("agency")),
            note=_text(row.get("note")),
            missing_documents=document_list(row.get("missing_documents")),
            pickup_place=_text(row.get("pickup_place")),
            applicant_phone=_text(row.get("applicant_phone")),
            applicant_id_number=_text(row.get("applicant_id_number")),
        )

    def history_entry(self, row: Mapping[str, Any]) -> HistoryEntry:
        self._require(row, ("at", "status"), "history")
        status, label = self._statuses.status_of(row.get("status"))
        return HistoryEntry(
            at=self.moment(row.get("at"), "at"),
            status=status,
            status_label=label,
            step=_text(row.get("step")),
            agency=_text(row.get("agency")),
            note=_text(row.get("note")),
        )

    def change(self, row: Mapping[str, Any]) -> DossierChange:
        self._require(row, ("cursor", "code", "status"), "changed-since")
        change_id = row.get("change_id")
        key = _text(change_id) if change_id not in (None, "") else _text(row.get("cursor"))
        return DossierChange(
            change_key=key,
            changed_at=self.moment(row.get("changed_at"), "changed_at"),
            dossier=self.dossier(row, "changed-since"),
        )

    def moment(self, value: Any, column: str) -> dt.datetime | None:
        """A timestamp in any accepted form, as an aware datetime (naive = local time)."""
        if value is None or value == "":
            return None
        parsed: dt.datetime
        if isinstance(value, dt.datetime):
            parsed = value
        elif isinstance(value, dt.date):
            parsed = dt.datetime.combine(value, dt.time())
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 100_000_000_000 else value
            return dt.datetime.fromtimestamp(seconds, self._zone)
        elif isinstance(value, str):
            parsed = self._parse_text(value.strip(), column)
        else:
            raise SourceMisconfigured(
                f"{self._source}: column {column!r} holds {type(value).__name__}, "
                "expected a date or time"
            )
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=self._zone)
        return parsed.astimezone(self._zone)

    def _parse_text(self, text: str, column: str) -> dt.datetime:
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        match = _DAY_FIRST.fullmatch(text)
        if match:
            day, month, year, hour, minute, second = match.groups()
            try:
                return dt.datetime(
                    int(year),
                    int(month),
                    int(day),
                    int(hour or 0),
                    int(minute or 0),
                    int(second or 0),
                )
            except ValueError:
                pass
        raise SourceMisconfigured(
            f"{self._source}: column {column!r} holds {text[:40]!r}, not a date or time"
        )

    def _require(self, row: Mapping[str, Any], columns: tuple[str, ...], query: str) -> None:
        require_columns(self._source, query, sorted(row), columns)


def require_columns(
    source: str, query: str, returned: Sequence[str], required: Sequence[str]
) -> None:
    """Raise SourceMisconfigured naming the `required` columns a query did not return."""
    missing = [c for c in required if c not in returned]
    if missing:
        raise SourceMisconfigured(
            f"{source}: the {query} query returns no column named "
            f"{', '.join(missing)}; alias the vendor's columns to the contract names "
            f"(got: {', '.join(returned) or 'nothing'})"
        )


def document_list(value: Any) -> tuple[str, ...]:
    """Missing documents as a tuple: from a list, a JSON array, or lines / ';'-separated text."""
    if value is None:
        return ()
    items: list[Any]
    if isinstance(value, list | tuple):
        items = list(value)
    else:
        text = str(value).strip()
        if not text:
            return ()
        parsed: Any = None
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        items = list(parsed) if isinstance(parsed, list) else re.split(r"\r?\n|;", text)
    documents = (_BULLET.sub("", str(item)).strip() for item in items if item is not None)
    return tuple(doc for doc in documents if doc)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
