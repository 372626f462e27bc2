"""Send-rate limits for one channel: a steady pace, a hard cap per second, and pauses.

Telegram allows about 30 messages per second overall (and 1 per second per chat); Zalo
Official Accounts have their own quota. Going over earns a 429 and, when repeated, longer
bans, so the limiter errs on the slow side:

- pacing (a GCRA "virtual schedule"): starts are spread evenly at `1/rate` apart, with a
  few milliseconds of tolerance so that the event loop's timer granularity (about 1 ms)
  does not cap a fast channel below its rate;
- a hard cap: at most floor(rate) starts in any window slightly longer than one second
  (`WINDOW_MARGIN`), so that the platform, whose clock sees our requests a little
  jittered by the network, still never counts more than `rate` in one of its seconds;
- `pause(seconds)` for a 429's `retry_after`: nothing starts on the channel until then.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

# 50 ms of slack per second between our clock and the platform's view of our requests:
# requests reach the platform with some jitter, which can bunch them. (Measured against the
# local fake at 1,000/s on a busy 2-core machine, 30 ms was sometimes not enough.) It costs
# 5% of the rate, leaving about 95% of the configured limit usable.
WINDOW_MARGIN = 0.05
# How far behind schedule sends may catch up at once after a late timer wake-up.
PACING_TOLERANCE_SECONDS = 0.005


class RateLimiter:
    """Admits sends on one channel at no more than `rate_per_second`."""

    def __init__(
        self,
        rate_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._next_start = 0.0  # the virtual schedule (GCRA's "theoretical arrival time")
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.rate_per_second = 0.0
        self.set_rate(rate_per_second)

    def set_rate(self, rate_per_second: float) -> None:
        """Change the rate (a process's share when several deliver on one channel)."""
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, got {rate_per_second}")
        if rate_per_second == self.rate_per_second:
            return
        self.rate_per_second = rate_per_second
        self._capacity = max(1, math.floor(rate_per_second))
        # A window of at least one second holding `capacity` starts at the given rate.
        self._window = max(1.0, self._capacity / rate_per_second) * (1 + WINDOW_MARGIN)
        self._interval = self._window / self._capacity
        # The newest starts still count against the new, perhaps smaller, capacity.
        self._starts = deque(self._starts, maxlen=self._capacity)

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Admit nothing for `seconds` from now (a 429's retry_after)."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))

    async def acquire(self) -> None:
        """Wait until one more send may start now, and count it as started."""
        async with self._lock:
            while True:
                now = self._clock()
                ready_at = max(self._paused_until, self._next_start - PACING_TOLERANCE_SECONDS)
                if len(self._starts) == self._capacity:
                    ready_at = max(ready_at, self._starts[0] + self._window)
                if ready_at <= now:
                    break
                await self._sleep(ready_at - now)
            self._next_start = max(self._next_start, now) + self._interval
            self._starts.append(now)


class PerChatSpacing:
    """Remembers when each chat last got a message, to keep `interval` between two.

    Telegram allows about one message per second to the same chat. In a broadcast each
    chat gets one notice, so this only matters when two jobs overlap or for a retry.
    """

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}

    def wait_needed(self, chat_id: str) -> float:
        """Seconds before `chat_id` may get another message (0 when it may now)."""
        if self.interval <= 0:
            return 0.0
        last = self._last.get(chat_id)
        if last is None:
            return 0.0
        return max(0.0, last + self.interval - self._clock())

    def record(self, chat_id: str) -> None:
        if self.interval <= 0:
            return
        now = self._clock()
        self._last[chat_id] = now
        if len(self._last) > 10_000:
            # Forget chats whose interval is over; they need no waiting any more.
            horizon = now - self.interval
            self._last = {chat: t for chat, t in self._last.items() if t > horizon}
