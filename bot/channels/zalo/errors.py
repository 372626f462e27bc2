"""How the Zalo OA API fails, and what each failure means for a send.

Zalo answers with an error code (`ZaloApiError`), an HTTP error status (`ZaloHttpError`)
or, when renewing the access token, a refusal (`ZaloAuthError`). `send_error_for` turns
each into the neutral messages.SendError the delivery engine and the channel act on
(blocked, rate-limited, worth retrying, or permanent). Kept apart from the HTTP client so
that the token store and the sender can name these failures without the client.
"""

from __future__ import annotations

import datetime as dt
import time

import aiohttp

from bot.messages import (
    PermanentSendError,
    RateLimited,
    RecipientBlocked,
    SendError,
    TransientSendError,
)
from bot.storage.database import StorageUnavailable

# Zalo OA API error codes (developers.zalo.me, "Bảng mã lỗi"; the same sets as other
# production integrations use).
TOKEN_ERRORS = frozenset({-216, -124})  # access token invalid / expired
BLOCKED_ERRORS = frozenset({-213, -217, -227})  # not following, blocked the OA, inactive user
RATE_ERRORS = frozenset({-32})  # request rate exceeded
OUTSIDE_WINDOW_ERRORS = frozenset({-230, -232, -244})  # no recent interaction; restricted
NIGHT_ERROR = -234  # customer-service messages are not delivered from 22:00 to 06:00
RETRYABLE_ERRORS = frozenset({-100})  # Zalo's "unknown error"
_VIETNAM = dt.timezone(dt.timedelta(hours=7))


class ZaloApiError(Exception):
    """Zalo answered with an error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo error {code}: {message}")
        self.code = code
        self.message = message


class ZaloHttpError(Exception):
    """Zalo answered with an HTTP error status (5xx, 429)."""

    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"Zalo answered HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class ZaloAuthError(Exception):
    """Zalo refused to renew the access token (refresh token used, expired or revoked):
    staff must authorise the OA again and put the new pair in the config."""


def _seconds_until_morning(now: float) -> float:
    local = dt.datetime.fromtimestamp(now, _VIETNAM)
    morning = local.replace(hour=6, minute=0, second=0, microsecond=0)
    if local >= morning:
        morning += dt.timedelta(days=1)
    return (morning - local).total_seconds()


def send_error_for(exc: Exception, *, now: float | None = None) -> SendError:
    """The messages.SendError for a failure of the Zalo API (see Sender's contract)."""
    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, ZaloApiError):
        if exc.code in BLOCKED_ERRORS:
            return RecipientBlocked(str(exc))
        if exc.code in RATE_ERRORS:
            return RateLimited(60.0, str(exc))  # Zalo's quotas are counted per minute
        if exc.code == NIGHT_ERROR:
            return RateLimited(_seconds_until_morning(now or time.time()), str(exc))
        if exc.code in RETRYABLE_ERRORS:
            return TransientSendError(str(exc))
        return PermanentSendError(str(exc))
    if isinstance(exc, ZaloHttpError):
        if exc.status == 429:
            return RateLimited(exc.retry_after or 60.0, str(exc))
        if exc.status >= 500:
            return TransientSendError(str(exc))
        return PermanentSendError(str(exc))
    if isinstance(exc, ZaloAuthError):
        # Not the recipient's fault: once staff configure a new pair, sending works again.
        return TransientSendError(str(exc))
    if isinstance(exc, aiohttp.ClientError | TimeoutError | StorageUnavailable):
        # A timeout waiting for the answer: the request may have reached Zalo.
        maybe_delivered = isinstance(exc, TimeoutError)
        return TransientSendError(f"{type(exc).__name__}: {exc}", maybe_delivered=maybe_delivered)
    return PermanentSendError(f"{type(exc).__name__}: {exc}")
