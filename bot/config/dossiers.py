"""The [dossiers] section and its [dossiers.sql] and [dossiers.http] sources: where dossier
statuses come from, what a citizen must prove, working days and the guards against guessing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Verification = Literal["none", "phone_last4", "id_last4"]
DossierSourceKind = Literal["sql", "http", "none"]


@dataclass(frozen=True, slots=True)
class DossierSqlConfig:
    # Any SQLAlchemy async URL of the one-stop system's database (read-only use):
    # sqlite+aiosqlite:///..., postgresql+asyncpg://..., mysql+aiomysql://... (driver needed).
    # The default is the database `bot demo` creates with the bundled schema.
    url: str = "sqlite+aiosqlite:///data/dossiers.sqlite3"
    # Empty queries mean "use the bundled schema's queries" (bot/dossiers/bundled.py).
    # Column names of the results are a contract, documented in bot/dossiers/contract.py;
    # alias the vendor's columns to them (SELECT ma_ho_so AS code, ...).
    # One dossier by receipt code; parameter :code.
    lookup_query: str = ""
    # Its processing steps, oldest first; parameter :code.
    history_query: str = ""
    # Changes after a cursor, in cursor order; parameters :cursor and :limit.
    changed_since_query: str = ""
    # One row, one non-NULL column: the cursor of the newest change (used at first start).
    change_head_query: str = ""


@dataclass(frozen=True, slots=True)
class DossierHttpConfig:
    # Lookup URL; {code} becomes the URL-quoted receipt code. A 404 answer, or an answer
    # without the mapped "code" field, means "no such dossier".
    url_template: str = ""
    # History URL with {code}; its answer is a list (or has one at field_map "history_items").
    # Empty: the API offers no history.
    history_url_template: str = ""
    # Changes URL with {cursor} (URL-quoted; empty at the very first call, when the API must
    # answer no changes and its current cursor). Empty: no polling, pushes only.
    changed_since_url: str = ""
    # Header sent with every request, e.g. "Authorization" with "Bearer ..." as token.
    auth_header: str = "Authorization"
    auth_token: str = ""
    # Contract field name -> the API's field (dotted paths such as "data.trangThai.ten").
    # Lookup fields by their contract names ("code", "status", "due_at", ...); history
    # entries as "history.at", "history.status", ...; the lists and cursor as
    # "history_items", "changes_items", "changes_cursor"; change fields as "change.cursor",
    # "change.change_id", "change.changed_at". Unmapped names are read as-is.
    field_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DossierConfig:
    # Where dossier statuses come from: "sql" (a database), "http" (a JSON API) or "none"
    # (lookups switched off; the bot says so and keeps answering procedure questions).
    source: DossierSourceKind = "sql"
    # What a citizen must give before details are shown: "none", "phone_last4" or
    # "id_last4" (last 4 digits of the applicant's phone / ID number on the dossier).
    verification: Verification = "phone_last4"
    # A source call slower than this counts as an outage (the citizen gets the apology).
    timeout_seconds: float = 3.0
    # How often the watcher asks the source for changes to announce to subscribers.
    watch_interval_seconds: float = 60.0
    # Shared secret for the push endpoint's HMAC-SHA256 signature; empty = no push endpoint.
    push_secret: str = ""
    # Path of the push endpoint on the bot's web server.
    push_path: str = "/dossiers/push"
    # Pushes signed longer ago than this (or this far in the future) are rejected.
    push_max_age_seconds: int = 300
    # Working days (due dates, lateness) already leave out weekends and Vietnam's public
    # holidays (Tết, 30/4, 1/5, 2/9, ... and the days the government moves). The
    # province's own extra days off (YYYY-MM-DD):
    holidays: tuple[dt.date, ...] = ()
    # Saturdays worked in exchange for a weekday off that the national calendar does not
    # know (the province's own exchanges); they count as working days.
    working_saturdays: tuple[dt.date, ...] = ()
    # Naive timestamps in the dossier source are local time at this UTC offset (Vietnam: 7).
    utc_offset_hours: float = 7.0
    # Further receipt code shapes, as regular expressions (case-insensitive); a named group
    # "code" marks the code when the pattern matches more than it.
    extra_code_patterns: tuple[str, ...] = ()
    # Per user: lookups reaching the source per rolling hour.
    max_lookups_per_hour: int = 30
    # Per user: failed lookups (no such dossier / wrong verification) before a lockout.
    max_failed_attempts: int = 3
    # First lockout length; each further lockout within a day doubles it.
    lockout_base_seconds: int = 60
    # Per dossier, whoever asks (any chat, channel or network address): failed attempts
    # before each further attempt at that code must wait. The wait starts at
    # guard_first_wait_seconds and doubles with each failure, up to guard_max_wait_hours;
    # failures are remembered for dossier_failure_days. Chats that verified the dossier
    # before are not affected.
    dossier_max_failures: int = 3
    dossier_failure_days: int = 30
    # Per network address (web chat), within 24 hours: the same growing wait after these.
    address_max_failures: int = 10
    # All citizens together: failed attempts per rolling hour before new verifications
    # pause until the hour frees a slot (many addresses guessing at once).
    max_failures_per_hour: int = 60
    guard_first_wait_seconds: int = 60
    guard_max_wait_hours: int = 24
    # A change notice that fails this many times is given up (logged).
    notify_max_attempts: int = 10
    # Vendor status label -> standard status number 1..10 (national portal's list). The
    # numbers and the portal's own names ("Đang xử lý", ...) are understood without this.
    status_labels: Mapping[str, int] = field(default_factory=dict)
    sql: DossierSqlConfig = field(default_factory=DossierSqlConfig)
    http: DossierHttpConfig = field(default_factory=DossierHttpConfig)
