"""Waiting in tests until a fake platform has seen what the test expects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

_R = TypeVar("_R")


class ChangeWaiter:
    """A fake platform calls `_notify()` on every change; tests wait on `wait_until`.

    Waiting on an event (instead of polling) keeps tests fast; `wait_limit` bounds it so a
    broken bot fails the test instead of hanging it.
    """

    platform_name = "platform"

    def __init__(self, wait_limit: float = 10.0) -> None:
        self.wait_limit = wait_limit
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait (up to `wait_limit` seconds) until `predicate()` is true."""
        await self._wait(lambda: True if predicate() else None, "a condition")

    async def _wait(self, ready: Callable[[], _R | None], what: str) -> _R:
        try:
            async with asyncio.timeout(self.wait_limit):
                while (result := ready()) is None:
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"fake {self.platform_name}: no {what} within {self.wait_limit:g}s"
            ) from None
        return result

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
