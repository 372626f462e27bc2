"""The checks of a loaded config that types alone cannot express: ranges, values that
depend on each other (a webhook needs a secret, a hand-off needs Telegram), shapes of
usernames and keys. Each failure is one line naming the key and the expectation."""

from __future__ import annotations

import re

from bot.config.broadcast import LEASE_EXPECTED, lease_is_usable
from bot.config.root import Config
from bot.config.values import ConfigError, parse_periods


def validate(config: Config, source: str) -> None:
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
