"""One log line when a database (or another system the bot reads) becomes unreachable, one
when it is back: however many calls fail in between, and whichever part of the bot makes
them.

Every call that reaches the bot's database through `bot.storage.database` reports here
(`outage_log(engine)`: one per engine, so the context store, the statistics, the dossier
audit and the watcher share it). A success counts only after a real round trip to the
database: a value served from memory while the database is down says nothing about it, so
"available again" is never logged while it is still down. Expected connection errors get
no traceback: the first failure's one-line cause is enough to act on.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("bot.outage")


class OutageLog:
    """The state of one system (up, or down since when) and the two lines about it."""

    def __init__(
        self,
        name: str,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._log = logger
        self._clock = clock
        self._down_since: float | None = None
        self._failures = 0

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def failed(self, reason: str) -> None:
        """A call failed because the system could not be reached."""
        self._failures += 1
        if self._down_since is None:
            self._down_since = self._clock()
            self._log.warning(
                "%s is unavailable: %s (logged once; its return is logged too)",
                self.name,
                reason,
            )

    def succeeded(self) -> None:
        """A call reached the system."""
        if self._down_since is None:
            return
        seconds = self._clock() - self._down_since
        self._log.warning(
            "%s is available again after %.0f s (%d calls failed meanwhile)",
            self.name,
            seconds,
            self._failures,
        )
        self._down_since = None
        self._failures = 0


_BY_ENGINE: weakref.WeakKeyDictionary[object, OutageLog] = weakref.WeakKeyDictionary()


def outage_log(engine: AsyncEngine, name: str | None = None) -> OutageLog:
    """The outage log of the database behind `engine` (created on first use)."""
    key = engine.sync_engine
    found = _BY_ENGINE.get(key)
    if found is None:
        url = engine.url.render_as_string(hide_password=True)
        found = _BY_ENGINE[key] = OutageLog(name or f"database {url}")
    return found
