"""The HTTP side every fake platform shares: a real aiohttp server on 127.0.0.1 and the
client session it uses to call the bot back (webhooks)."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import aiohttp
from aiohttp import web

from .waiting import ChangeWaiter


class FakePlatformServer(ChangeWaiter):
    """Serves `_make_app()` on a random port (or `port`); use as `async with`, or call
    start() and stop()."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self._port = port
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def _make_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        self._runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port
