"""Limits of the web chat per connection and per network address: messages a minute,
open connections, chats started a minute. Kept in memory by each bot process (a sliding
window each), apart from the connections' code in bot.channels.web."""

from __future__ import annotations

import time
from collections import deque

_RATE_WINDOW_SECONDS = 60.0


class MessageRate:
    """At most `per_minute` messages in any 60-second window (a sliding window)."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        self._expire(now)
        if len(self._times) >= self._per_minute:
            return False
        self._times.append(now)
        return True

    def idle(self, now: float) -> bool:
        """True when no message counts any more: the window can be forgotten."""
        self._expire(now)
        return not self._times

    def _expire(self, now: float) -> None:
        while self._times and now - self._times[0] >= _RATE_WINDOW_SECONDS:
            self._times.popleft()


class AddressLimits:
    """Messages per minute and open connections of all chats from one network address,
    so that opening more connections does not get round the per-connection limit.

    An address's window outlives its connections (closing and reopening one must not
    restart it); idle windows are forgotten at most once a minute, so memory stays bounded.
    """

    def __init__(
        self, messages_per_minute: int, connections: int, starts_per_minute: int = 0
    ) -> None:
        self._messages_per_minute = messages_per_minute
        self._max_connections = connections
        self._starts_per_minute = starts_per_minute
        self._rates: dict[str, MessageRate] = {}
        self._starts: dict[str, MessageRate] = {}
        self._connections: dict[str, int] = {}
        self._pruned_at = 0.0

    def connect(self, address: str, now: float | None = None) -> bool:
        """Count one more connection from `address`, unless it has as many as allowed."""
        self._prune(time.monotonic() if now is None else now)
        open_now = self._connections.get(address, 0)
        if self._max_connections and open_now >= self._max_connections:
            return False
        self._connections[address] = open_now + 1
        return True

    def disconnect(self, address: str) -> None:
        left = self._connections.get(address, 0) - 1
        if left > 0:
            self._connections[address] = left
        else:
            self._connections.pop(address, None)

    def _prune(self, now: float) -> None:
        if now - self._pruned_at < _RATE_WINDOW_SECONDS:
            return
        self._pruned_at = now
        for rates in (self._rates, self._starts):
            for address in [a for a, rate in rates.items() if rate.idle(now)]:
                del rates[address]

    def allow_message(self, address: str, now: float) -> bool:
        return self._allow(self._rates, self._messages_per_minute, address, now)

    def allow_start(self, address: str, now: float) -> bool:
        """Count one chat started (a new chat id, or a greeting) from `address`, unless it
        started as many as allowed this minute."""
        return self._allow(self._starts, self._starts_per_minute, address, now)

    @staticmethod
    def _allow(rates: dict[str, MessageRate], per_minute: int, address: str, now: float) -> bool:
        if not per_minute:
            return True
        rate = rates.get(address)
        if rate is None:
            rate = rates[address] = MessageRate(per_minute)
        return rate.allow(now)
