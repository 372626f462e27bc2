"""Typed, frozen configuration, loaded once from a TOML file (or built-in defaults).

Every key is declared here with its type and default; `config.example.toml` documents the
same keys for the center's staff. Loading is strict on purpose: an unknown key is almost
always a typo that would otherwise silently fall back to a default, so it stops start-up
with one line that names the file, the key and what was expected.

Secrets (fields listed in `SECRET_FIELDS`) may also come from environment variables named
`BOT_<SECTION>_<KEY>`, e.g. `BOT_TELEGRAM_TOKEN`, which win over the file.

Relative paths (the catalogue, SQLite files) are read from the folder holding the config
file, so that `bot run --config /srv/bot/config.toml` means the same from any folder; with
no config file, from the current folder. The catalogue shipped with the bot is found
beside the package (`SHIPPED_CATALOGUE`), wherever it is installed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DEFAULT_CONFIG_FILE = Path("config.toml")
# bot/catalogue/shipped: a link to procedures/ in a checkout, a copy of it once installed.
SHIPPED_CATALOGUE = (Path(__file__).parent / "catalogue" / "shipped").resolve()


class ConfigError(Exception):
    """A configuration value is unknown, missing or of the wrong type; the message is one line."""


Verification = Literal["none", "phone_last4", "id_last4"]
DossierSourceKind = Literal["sql", "http", "none"]
TelegramMode = Literal["polling", "webhook"]


@dataclass(frozen=True, slots=True)
class OfficeHoursConfig:
    # When staff answer in the chat (bot.handoff): local times "HH:MM-HH:MM", comma
    # separated. Monday to Friday on working days (Vietnam's public holidays and the
    # province's days off in [dossiers] are closed; make-up Saturdays open as weekdays);
    # Saturday "" = closed. Sundays are closed.
    weekdays: str = "07:30-11:30,13:30-17:00"
    saturday: str = ""


@dataclass(frozen=True, slots=True)
class CenterConfig:
    name: str = "Trung tâm Phục vụ hành chính công tỉnh"
    address: str = "Số 1 đường Trung tâm, phường Trung tâm, tỉnh (địa chỉ mẫu)"
    hours: str = "Thứ Hai – Thứ Sáu: 7h30–11h30 và 13h30–17h00; Thứ Bảy: 7h30–11h30"
    hotline: str = "1900 0000"
    email: str = ""
    website: str = ""
    online_portal: str = "https://dichvucong.gov.vn"
    result_pickup: str = "Quầy trả kết quả, Trung tâm Phục vụ hành chính công tỉnh"
    office_hours: OfficeHoursConfig = field(default_factory=OfficeHoursConfig)


@dataclass(frozen=True, slots=True)
class CatalogueConfig:
    # Empty in the file: the catalogue and vocabulary shipped with the bot.
    path: Path = SHIPPED_CATALOGUE
    vocabulary: Path = SHIPPED_CATALOGUE / "_vocabulary.toml"


@dataclass(frozen=True, slots=True)
class SearchConfig:
    # Levels the center handles, in order of preference; procedures at other levels
    # (e.g. "Cấp bộ") still match but rank lower.
    preferred_levels: tuple[str, ...] = ("Cấp tỉnh", "Cấp xã", "Cấp huyện")
    max_choices: int = 5


@dataclass(frozen=True, slots=True)
class StorageConfig:
    url: str = "sqlite+aiosqlite:///data/bot.sqlite3"
    # Days to keep question texts, chat ids in statistics and audits, and conversation
    # contexts; then they are erased (counts are kept). 0 keeps them without limit.
    personal_data_days: int = 365
    # An older schema (a newer bot on an old database) is migrated at start-up instead of
    # refused with "run `bot migrate`".
    auto_migrate: bool = False


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


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token: str = ""
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: TelegramMode = "polling"
    webhook_url: str = ""
    webhook_path: str = "/telegram"
    secret_token: str = ""
    staff_ids: tuple[int, ...] = ()
    # Telegram's documented limits: ~30 messages/s overall, 1 message/s per chat.
    rate_per_second: float = 30.0
    per_chat_interval_seconds: float = 1.0

    @property
    def enabled(self) -> bool:
        return bool(self.token)


@dataclass(frozen=True, slots=True)
class ZaloConfig:
    app_id: str = ""
    oa_secret_key: str = ""
    app_secret_key: str = ""
    access_token: str = ""
    refresh_token: str = ""
    api_base: str = "https://openapi.zalo.me"
    oauth_base: str = "https://oauth.zaloapp.com"
    webhook_path: str = "/zalo/webhook"
    max_event_age_seconds: int = 300
    rate_per_second: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.app_id and self.oa_secret_key and self.access_token)


@dataclass(frozen=True, slots=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    # Origins allowed to open the chat WebSocket besides the page's own.
    allowed_origins: tuple[str, ...] = ()
    messages_per_minute: int = 20
    # All chats from one network address together (0 = no limit). Mobile carriers put many
    # phones behind one address, hence well above the per-connection limit.
    messages_per_minute_per_address: int = 200
    connections_per_address: int = 50
    # New chats and greetings (a page opened or reloaded) from one network address a
    # minute (0 = no limit): each costs a turn and asks nothing, so a flood of them is cut.
    chat_starts_per_minute_per_address: int = 60
    # Behind a reverse proxy every connection comes from the proxy: take the client's
    # address from the last X-Forwarded-For entry (the one the proxy added) instead.
    trust_forwarded_for: bool = False
    # Exchanges of each web chat kept to show again when the page is reloaded (0 = none).
    history_exchanges: int = 20
    # Where a web chat citizen gets notices (the web page cannot reach them once closed):
    # the Telegram bot's username (without "@"), for links that open it with the dossier
    # already followed, and the Zalo Official Account's page (https://zalo.me/...).
    telegram_bot_username: str = ""
    zalo_oa_url: str = ""
    # How long such a Telegram link works (it works once).
    follow_link_minutes: int = 30


@dataclass(frozen=True, slots=True)
class BroadcastConfig:
    api_token: str = ""
    # Topic key -> label shown to citizens, e.g. {"dat-dai" = "Đất đai"}.
    topics: Mapping[str, str] = field(default_factory=dict)
    # Sends in flight at once per delivery process: also the most messages a crash can
    # send twice (see bot/broadcast/delivery.py).
    concurrency: int = 8
    # Tries per recipient for network/5xx failures before the outcome is "failed".
    max_attempts: int = 5
    # Backoff between those tries: base * 2^(try-1), capped, with jitter.
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    # A send that takes longer counts as a network failure.
    send_timeout_seconds: float = 15.0
    # A claimed recipient whose process stopped renewing its claim for this long is
    # handed to another process (or the restarted one).
    lease_seconds: float = 60.0
    # A 429 pauses the whole channel at most this long; the recipient that got it waits
    # its full retry_after, the others go on.
    max_pause_seconds: float = 10.0


# The lease rule, written once: the config check, the delivery settings and the send loop
# (bot/broadcast) all use it. The delivery engine renews its claims every lease/6
# seconds and a send may take up to send_timeout_seconds; a row may start sending only
# while its claim is younger than `usable_claim_seconds`, and a lease is usable only if
# that leaves at least a second.
CLAIM_RENEWALS_PER_LEASE = 6
LEASE_EXPECTED = (
    "more than send_timeout_seconds ({send_timeout:g}) plus a sixth of itself and a second"
)


def claim_renewal_seconds(lease_seconds: float) -> float:
    """How often a delivery worker renews its claims."""
    return lease_seconds / CLAIM_RENEWALS_PER_LEASE


def usable_claim_seconds(lease_seconds: float, send_timeout_seconds: float) -> float:
    """How long after its claim (or last renewal) a row may still start sending."""
    return lease_seconds - send_timeout_seconds - claim_renewal_seconds(lease_seconds)


def lease_is_usable(lease_seconds: float, send_timeout_seconds: float) -> bool:
    """True when a claim outlives a send and a renewal period with a second to spare."""
    return usable_claim_seconds(lease_seconds, send_timeout_seconds) >= 1.0


@dataclass(frozen=True, slots=True)
class HandoffConfig:
    # The Telegram group (its chat id, negative, e.g. -1001234567890) where staff receive
    # the messages of citizens who asked for a person, and answer them by replying.
    # 0 = no hand-off: citizens are told the hotline and the office hours.
    staff_group_id: int = 0
    # A hand-off with no message from either side for this long ends by itself.
    timeout_minutes: float = 30.0

    @property
    def enabled(self) -> bool:
        return self.staff_group_id != 0


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True, slots=True)
class Config:
    center: CenterConfig = field(default_factory=CenterConfig)
    catalogue: CatalogueConfig = field(default_factory=CatalogueConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    dossiers: DossierConfig = field(default_factory=DossierConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    zalo: ZaloConfig = field(default_factory=ZaloConfig)
    web: WebConfig = field(default_factory=WebConfig)
    broadcast: BroadcastConfig = field(default_factory=BroadcastConfig)
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    # Where this config came from (a file path or "built-in defaults"); not a TOML key.
    loaded_from: str = "built-in defaults"


SECRET_FIELDS: frozenset[str] = frozenset(
    {
        "telegram.token",
        "telegram.secret_token",
        "zalo.oa_secret_key",
        "zalo.app_secret_key",
        "zalo.access_token",
        "zalo.refresh_token",
        "dossiers.push_secret",
        "dossiers.http.auth_token",
        "dossiers.sql.url",
        "storage.url",
        "broadcast.api_token",
    }
)


def env_name(dotted_key: str) -> str:
    """`telegram.token` -> `BOT_TELEGRAM_TOKEN`."""
    return "BOT_" + dotted_key.replace(".", "_").upper()


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the config from `path`, or `config.toml` when present, else the defaults.

    Raises ConfigError with a one-line message naming the file and key.
    """
    env = os.environ if environ is None else environ
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    data: dict[str, Any] = {}
    source = "built-in defaults"
    if path is not None:
        source = str(path)
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not valid UTF-8 text") from None
    data = _apply_env(_shipped_catalogue_when_empty(data), env)
    config = _build(Config, data, prefix="", source=source)
    _validate(config, source)
    if path is not None:
        config = _relative_to(path.resolve().parent, config)
    return dataclasses.replace(config, loaded_from=source)


def _shipped_catalogue_when_empty(data: dict[str, Any]) -> dict[str, Any]:
    """`[catalogue] path = ""` (and vocabulary): the default, the shipped catalogue."""
    catalogue = data.get("catalogue")
    if not isinstance(catalogue, dict):
        return data
    kept = {k: v for k, v in catalogue.items() if not (k in ("path", "vocabulary") and v == "")}
    return {**data, "catalogue": kept}


def _relative_to(folder: Path, config: Config) -> Config:
    """The config with its relative paths read from `folder` (the config file's)."""
    catalogue = dataclasses.replace(
        config.catalogue,
        # An absolute path stays as it is.
        path=folder / config.catalogue.path.expanduser(),
        vocabulary=folder / config.catalogue.vocabulary.expanduser(),
    )
    storage = dataclasses.replace(config.storage, url=_sqlite_file_in(folder, config.storage.url))
    dossiers = config.dossiers
    sql = dataclasses.replace(dossiers.sql, url=_sqlite_file_in(folder, dossiers.sql.url))
    return dataclasses.replace(
        config,
        catalogue=catalogue,
        storage=storage,
        dossiers=dataclasses.replace(dossiers, sql=sql),
    )


def _sqlite_file_in(folder: Path, url: str) -> str:
    """A SQLite URL whose file is a relative path, made absolute under `folder`; any other
    URL as it is (a malformed one is reported where it is used)."""
    # Here, not at the top: `bot --help` and commands without a database stay quick.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url
    database = parsed.database or ""
    if (
        parsed.get_backend_name() != "sqlite"
        or database in ("", ":memory:")
        or database.startswith("file:")
        or Path(database).expanduser().is_absolute()
    ):
        return url
    return parsed.set(database=str(folder / database)).render_as_string(hide_password=False)


_PERIOD = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")

OfficePeriod = tuple[dt.time, dt.time]


def parse_periods(text: str) -> tuple[OfficePeriod, ...]:
    """ "07:30-11:30,13:30-17:00" -> ((07:30, 11:30), (13:30, 17:00)); "" -> ().

    Raises ValueError when a period is malformed, empty or overlaps the one before."""
    periods: list[OfficePeriod] = []
    for piece in text.split(","):
        piece = piece.strip()
        if not piece and not text.strip():
            continue
        match = _PERIOD.fullmatch(piece)
        if match is None:
            raise ValueError(f"period {piece!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = dt.time(h1, m1), dt.time(h2, m2)
        except ValueError:
            raise ValueError(f"period {piece!r} has an impossible time") from None
        if end <= start:
            raise ValueError(f"period {piece!r} ends before it starts")
        if periods and start < periods[-1][1]:
            raise ValueError(f"period {piece!r} overlaps or precedes the one before")
        periods.append((start, end))
    return tuple(periods)


def _validate(config: Config, source: str) -> None:
    """Checks that types alone cannot express; each names the key and the expectation."""

    def require(ok: bool, key: str, expected: str, got: object) -> None:
        if not ok:
            raise ConfigError(f"{source}: {key}: expected {expected}, got {got!r}")

    hours = config.center.office_hours
    for name in ("weekdays", "saturday"):
        try:
            parse_periods(getattr(hours, name))
        except ValueError as exc:
            raise ConfigError(
                f"{source}: [center.office_hours] {name}: expected periods like "
                f'"07:30-11:30,13:30-17:00" ({exc})'
            ) from None
    handoff = config.handoff
    require(
        handoff.timeout_minutes > 0,
        "[handoff] timeout_minutes",
        "a positive number of minutes",
        handoff.timeout_minutes,
    )
    if handoff.enabled:
        require(
            config.telegram.enabled,
            "[handoff] staff_group_id",
            "0 unless [telegram] token is set (staff answer in a Telegram group)",
            handoff.staff_group_id,
        )
        require(
            handoff.staff_group_id < 0,
            "[handoff] staff_group_id",
            "a Telegram group's chat id (negative, e.g. -1001234567890)",
            handoff.staff_group_id,
        )
    web = config.web
    require(0 < web.port < 65536, "[web] port", "a port number 1-65535", web.port)
    require(
        web.messages_per_minute > 0,
        "[web] messages_per_minute",
        "a positive integer",
        web.messages_per_minute,
    )
    require(
        config.storage.personal_data_days >= 0,
        "[storage] personal_data_days",
        "a number of days (0 = keep without limit)",
        config.storage.personal_data_days,
    )
    for name in (
        "messages_per_minute_per_address",
        "connections_per_address",
        "chat_starts_per_minute_per_address",
    ):
        value = getattr(web, name)
        require(value >= 0, f"[web] {name}", "a number, 0 for no limit", value)
    require(
        0 <= web.history_exchanges <= 200,
        "[web] history_exchanges",
        "a number of exchanges 0-200 (0 = none kept)",
        web.history_exchanges,
    )
    # Telegram usernames: 5-32 letters, digits and underscores (a bot's ends in "bot").
    require(
        not web.telegram_bot_username
        or bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{4,31}", web.telegram_bot_username)),
        "[web] telegram_bot_username",
        "the bot's Telegram username without '@' (5-32 letters, digits, '_'), or empty",
        web.telegram_bot_username,
    )
    require(
        not web.zalo_oa_url or web.zalo_oa_url.startswith("https://"),
        "[web] zalo_oa_url",
        "the Official Account's https:// address (e.g. https://zalo.me/...), or empty",
        web.zalo_oa_url,
    )
    require(
        1 <= web.follow_link_minutes <= 24 * 60,
        "[web] follow_link_minutes",
        "a number of minutes 1-1440",
        web.follow_link_minutes,
    )
    dossiers = config.dossiers
    for day in dossiers.working_saturdays:
        require(
            day.weekday() == 5, "[dossiers] working_saturdays", "Saturdays only", day.isoformat()
        )
    for label, status in dossiers.status_labels.items():
        require(
            1 <= status <= 10,
            f"[dossiers.status_labels] {label}",
            "a standard status number 1-10",
            status,
        )
    for name in ("timeout_seconds", "watch_interval_seconds", "push_max_age_seconds"):
        value = getattr(dossiers, name)
        require(value > 0, f"[dossiers] {name}", "a positive number", value)
    # Time zones run from UTC-12 to UTC+14.
    require(
        -12 <= dossiers.utc_offset_hours <= 14,
        "[dossiers] utc_offset_hours",
        "hours from UTC, -12 to 14 (Vietnam: 7)",
        dossiers.utc_offset_hours,
    )
    for name in (
        "max_lookups_per_hour",
        "max_failed_attempts",
        "lockout_base_seconds",
        "dossier_max_failures",
        "dossier_failure_days",
        "address_max_failures",
        "max_failures_per_hour",
        "guard_first_wait_seconds",
        "guard_max_wait_hours",
    ):
        value = getattr(dossiers, name)
        require(value > 0, f"[dossiers] {name}", "a positive integer", value)
    if dossiers.source == "http":
        require(
            bool(dossiers.http.url_template),
            "[dossiers.http] url_template",
            "a URL template with {code} when source = 'http'",
            dossiers.http.url_template,
        )
    telegram = config.telegram
    require(
        telegram.rate_per_second > 0,
        "[telegram] rate_per_second",
        "a positive number",
        telegram.rate_per_second,
    )
    if telegram.enabled and telegram.mode == "webhook":
        url = telegram.webhook_url or web.public_url
        require(
            url.startswith(("https://", "http://")),
            "[telegram] webhook_url",
            "the public https:// URL Telegram calls (or [web] public_url) when mode = 'webhook'",
            telegram.webhook_url,
        )
        require(
            bool(telegram.secret_token),
            "[telegram] secret_token",
            "a secret when mode = 'webhook', so that only Telegram can post updates",
            telegram.secret_token,
        )
    require(
        config.zalo.rate_per_second > 0,
        "[zalo] rate_per_second",
        "a positive number",
        config.zalo.rate_per_second,
    )
    require(
        config.broadcast.concurrency > 0,
        "[broadcast] concurrency",
        "a positive integer",
        config.broadcast.concurrency,
    )
    require(
        config.broadcast.max_attempts > 0,
        "[broadcast] max_attempts",
        "a positive integer",
        config.broadcast.max_attempts,
    )
    require(
        1 <= config.search.max_choices <= 8,
        "[search] max_choices",
        "an integer 1-8",
        config.search.max_choices,
    )
    broadcast = config.broadcast
    for name in ("retry_base_seconds", "retry_max_seconds", "send_timeout_seconds"):
        value = getattr(broadcast, name)
        require(value > 0, f"[broadcast] {name}", "a positive number of seconds", value)
    require(
        broadcast.max_pause_seconds >= 0,
        "[broadcast] max_pause_seconds",
        "a number of seconds, 0 or more",
        broadcast.max_pause_seconds,
    )
    require(
        telegram.per_chat_interval_seconds >= 0,
        "[telegram] per_chat_interval_seconds",
        "a number of seconds, 0 or more",
        telegram.per_chat_interval_seconds,
    )
    require(
        config.zalo.max_event_age_seconds > 0,
        "[zalo] max_event_age_seconds",
        "a positive number of seconds",
        config.zalo.max_event_age_seconds,
    )
    require(
        lease_is_usable(broadcast.lease_seconds, broadcast.send_timeout_seconds),
        "[broadcast] lease_seconds",
        LEASE_EXPECTED.format(send_timeout=broadcast.send_timeout_seconds),
        broadcast.lease_seconds,
    )
    for topic in config.broadcast.topics:
        require(
            bool(re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", topic)),
            f"[broadcast.topics] {topic}",
            "a short key of a-z, 0-9 and '-'",
            topic,
        )


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for dotted in sorted(SECRET_FIELDS):
        value = env.get(env_name(dotted))
        if value is None or value == "":
            continue
        parts = dotted.split(".")
        node = merged
        for part in parts[:-1]:
            child = node.get(part)
            child = {} if not isinstance(child, dict) else dict(child)
            node[part] = child
            node = child
        node[parts[-1]] = value
    return merged


_T = typing.TypeVar("_T")


def _build(cls: type[_T], data: Mapping[str, Any], prefix: str, source: str) -> _T:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "loaded_from"}  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            where = f"[{prefix}] " if prefix else ""
            expected = ", ".join(sorted(known))
            raise ConfigError(f"{source}: {where}unknown key '{key}'; expected one of: {expected}")
    kwargs: dict[str, Any] = {}
    for name in known:
        if name not in data:
            continue
        dotted = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(hints[name], data[name], dotted, source)
    return cls(**kwargs)


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin in (Mapping, dict):
        key_t, value_t = typing.get_args(tp)
        return f"a table of {_describe(key_t)} -> {_describe(value_t)}"
    names = {
        str: "a string",
        int: "an integer",
        float: "a (finite) number",
        bool: "true or false",
        Path: "a path (string)",
        dt.date: "a date (YYYY-MM-DD)",
    }
    if dataclasses.is_dataclass(tp):
        return "a table"
    return names.get(tp, str(tp))


def _fail(tp: Any, value: Any, dotted: str, source: str) -> ConfigError:
    section, _, key = dotted.rpartition(".")
    where = f"[{section}] {key}" if section else key
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ConfigError(f"{source}: {where}: expected {_describe(tp)}, got {shown}")


def _coerce(tp: Any, value: Any, dotted: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise _fail(tp, value, dotted, source)
        return _build(tp, value, dotted, source)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise _fail(tp, value, dotted, source)
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(tp, value, dotted, source)
        item_t = typing.get_args(tp)[0]
        return tuple(_coerce(item_t, item, f"{dotted}", source) for item in value)
    if origin in (Mapping, dict) or tp is Mapping:
        if not isinstance(value, dict):
            raise _fail(tp, value, dotted, source)
        _key_t, value_t = typing.get_args(tp)
        return types.MappingProxyType(
            {str(k): _coerce(value_t, v, f"{dotted}.{k}", source) for k, v in value.items()}
        )
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(tp, value, dotted, source)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(tp, value, dotted, source)
        return value
    if tp is float:
        # inf and nan are valid TOML floats but no setting's value (an endless timeout).
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _fail(tp, value, dotted, source)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(tp, value, dotted, source)
        return value
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise _fail(tp, value, dotted, source)
        return Path(value)
    if tp is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise _fail(tp, value, dotted, source)
    raise _fail(tp, value, dotted, source)  # pragma: no cover - a type this loader lacks
