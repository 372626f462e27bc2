"""The bot's web server: the web chat, /healthz, and the Telegram and Zalo webhooks.

`create_web_app` builds the aiohttp application (aiohttp-demos style: a factory, typed
state under `web.AppKey`s, resources tied to the server's life in `cleanup_ctx`);
`WebServer` runs it on a host and port. The composition root owns the channels and passes
them in; other features (dossier push, broadcast API) add their routes through
`extra_routes`.

    GET  /                      web chat page
    GET  /ws                    web chat WebSocket
    GET  /healthz               {"status": "ok"|"degraded"|"down"}; with the staff token
                                (Authorization: Bearer [broadcast] api_token) also
                                "components": {name: {"state", "detail"}}
    POST [telegram] webhook_path   when Telegram runs in webhook mode
    POST [zalo] webhook_path       when Zalo is enabled
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from bot.channels.health import ComponentHealth, bearer_matches
from bot.channels.telegram import TelegramChannel
from bot.channels.web import WebChat
from bot.channels.zalo import ZaloChannel

log = logging.getLogger(__name__)

HealthReport = Mapping[str, ComponentHealth]
# Given by the composition root: every component's state, gathered when /healthz is asked.
HealthSource = Callable[[], HealthReport | Awaitable[HealthReport]]
RouteInstaller = Callable[[web.Application], None]

WEB_CHAT_KEY = web.AppKey("web_chat", WebChat)
HEALTH_KEY = web.AppKey("health", object)  # the HealthSource callable
HEALTH_TOKEN_KEY = web.AppKey("health_token", str)
TELEGRAM_KEY = web.AppKey("telegram", TelegramChannel)
ZALO_KEY = web.AppKey("zalo", ZaloChannel)


def create_web_app(
    *,
    web_chat: WebChat,
    health: HealthSource,
    telegram: TelegramChannel | None = None,
    zalo: ZaloChannel | None = None,
    extra_routes: Sequence[RouteInstaller] = (),
    client_max_size: int = 1024 * 1024,
    health_token: str = "",
) -> web.Application:
    """The aiohttp application serving every HTTP entry point of the bot.

    `health_token`: the bearer token that shows /healthz's details (none: never shown).
    """
    app = web.Application(client_max_size=client_max_size)
    app[WEB_CHAT_KEY] = web_chat
    app[HEALTH_KEY] = health
    app[HEALTH_TOKEN_KEY] = health_token
    web_chat.add_routes(app)
    app.router.add_get("/healthz", healthz)
    if telegram is not None and telegram.uses_webhook:
        app[TELEGRAM_KEY] = telegram
        app.router.add_post(telegram.config.webhook_path, telegram.handle_webhook)
    if zalo is not None:
        app[ZALO_KEY] = zalo
        app.router.add_post(zalo.config.webhook_path, zalo.handle_webhook)
        app.cleanup_ctx.append(_zalo_events_drained)
    for install in extra_routes:
        install(app)
    # Open chats would keep the server from shutting down; close them first (the page
    # reconnects by itself).
    app.on_shutdown.append(_close_web_chats)
    return app


async def healthz(request: web.Request) -> web.Response:
    source: Any = request.app[HEALTH_KEY]
    report = source()
    if inspect.isawaitable(report):
        report = await report
    components: HealthReport = report
    states = {component.state for component in components.values()}
    if "down" in states:
        status, code = "down", 503
    elif all(component.healthy for component in components.values()):
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    body: dict[str, Any] = {"status": status}
    # User names, hosts, file paths and raw errors are for staff only.
    if bearer_matches(request.headers.get("Authorization", ""), request.app[HEALTH_TOKEN_KEY]):
        body["components"] = {name: c.as_json() for name, c in components.items()}
    return web.json_response(body, status=code, headers={"Cache-Control": "no-store"})


async def _close_web_chats(app: web.Application) -> None:
    await app[WEB_CHAT_KEY].close_all()


async def _zalo_events_drained(app: web.Application) -> AsyncIterator[None]:
    yield
    # Events acknowledged to Zalo are answered before the server goes away.
    await app[ZALO_KEY].drain()


class WebServer:
    """Runs an aiohttp application on host:port (port 0 picks a free port)."""

    def __init__(
        self, app: web.Application, host: str, port: int, *, shutdown_timeout: float = 10.0
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None

    @property
    def app(self) -> web.Application:
        return self._app

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self._app, access_log=None, shutdown_timeout=self._shutdown_timeout
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        if self._port == 0:
            self._port = int(self._runner.addresses[0][1])
        log.info("web server listening on %s", self.url)

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish, run the app's cleanup."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
