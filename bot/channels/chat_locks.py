"""One lock per chat, so that a citizen's messages are answered in the order they were sent.

Channels process updates concurrently (one slow conversation must not hold up the others),
but two messages from the same chat must not race through the dialogue: the second one
("còn lệ phí thì sao?") depends on the context the first one stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ChatLocks:
    """asyncio locks keyed by chat, created on demand and dropped when nobody uses them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, chat_key: str) -> AsyncIterator[None]:
        entry = self._locks.get(chat_key)
        if entry is None:
            entry = (asyncio.Lock(), [0])
            self._locks[chat_key] = entry
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[chat_key]

    def __len__(self) -> int:
        return len(self._locks)
