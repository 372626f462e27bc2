"""How failed Telegram calls are retried: the policy and the loop for one reply.

Telegram answers flood control with RetryAfter (wait that long), and an unreachable API
with network errors (back off); a refused request (BadRequest, Forbidden, ...) is final.
Both the conversation's replies and the channel's connecting use these figures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How replies and the connection to Telegram are retried when Telegram is unreachable."""

    attempts: int = 5
    first_delay: float = 0.5
    max_delay: float = 30.0
    # A reply that would have to wait longer than this for flood control is dropped (and
    # logged) rather than holding the conversation and shutdown that long.
    max_retry_after: float = 60.0
    connect_max_delay: float = 60.0


def period_seconds(period: int | float | dt.timedelta) -> float:
    """A python-telegram-bot period (seconds, or a timedelta with PTB_TIMEDELTA) in seconds."""
    return period.total_seconds() if isinstance(period, dt.timedelta) else float(period)


async def retrying(policy: RetryPolicy, attempt: Callable[[], Awaitable[_T]]) -> _T:
    """Run `attempt`, retrying network failures with backoff and honouring RetryAfter."""
    delay = policy.first_delay
    for number in range(1, policy.attempts + 1):
        try:
            return await attempt()
        except RetryAfter as exc:
            wait = period_seconds(exc.retry_after)
            if wait > policy.max_retry_after or number == policy.attempts:
                raise
        except (BadRequest, Forbidden, InvalidToken, ChatMigrated):
            raise
        except NetworkError:
            if number == policy.attempts:
                raise
            wait = delay
            delay = min(delay * 2, policy.max_delay)
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
