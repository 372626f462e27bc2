"""The composition root: the running bot, built from the config around the core services.

    running_bot(config)    the core (bot.core.open_core) plus the web server (web chat,
                           /healthz, webhooks, dossier push, broadcast API), Telegram and
                           Zalo when configured, the dossier watcher, the broadcast delivery
                           worker and the sweepers: `bot run`

Everything started is entered in one AsyncExitStack: it stops in the reverse order of
start-up, and a start that fails stops what had started. This module only wires: the
health report is bot/health.py, the broadcast worker's lifetime and the staff's progress
messages bot/broadcasting.py, the commands bot/commands/. The one-shot commands (`bot
stats`, `bot teach`, `bot broadcast`...) open the database and the few parts they need
themselves; no module keeps services in globals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.notice import notice_reply
from bot.broadcast.settings import DeliverySettings
from bot.broadcasting import ProgressFollower, delivering
from bot.channels.broadcast_api import add_broadcast_api_routes
from bot.channels.dossier_push import add_dossier_push_route
from bot.channels.health import ComponentHealth
from bot.channels.relay import RelayingHandler
from bot.channels.server import RouteInstaller, WebServer, create_web_app
from bot.channels.telegram import TelegramChannel
from bot.channels.web import WebChat
from bot.channels.web_history import WebHistory
from bot.channels.zalo import ZaloChannel
from bot.config import Config
from bot.core import Clock, CoreServices, StartupError, local_zone, open_core, utc_now
from bot.dialogue.dossier_answers import update_reply
from bot.dossiers.push import PushReceiver
from bot.dossiers.watcher import DossierUpdate, DossierWatcher, Notify
from bot.health import HealthParts, bot_health
from bot.messages import Channel, ChatRef, RecipientBlocked, Sender
from bot.retention import RetentionSweeper
from bot.storage.database import StorageUnavailable

log = logging.getLogger(__name__)


@dataclass
class RunningBot:
    core: CoreServices
    server: WebServer
    telegram: TelegramChannel | None
    zalo: ZaloChannel | None
    watcher: DossierWatcher | None
    delivery: DeliveryWorker | None = None

    @property
    def web_url(self) -> str:
        return self.server.url

    @property
    def live_channels(self) -> list[str]:
        live = ["web"]
        if self.telegram is not None:
            live.append(f"telegram ({self.telegram.config.mode})")
        if self.zalo is not None:
            live.append("zalo")
        return live

    async def health(self) -> Mapping[str, ComponentHealth]:
        core = self.core
        parts = HealthParts(
            catalogue=core.catalogue,
            engine=core.engine,
            dossier_config=core.config.dossiers,
            dossiers=core.dossiers,
            delivery=self.delivery,
            watching=self.watcher is not None,
            telegram=self.telegram,
            zalo=self.zalo,
        )
        return await bot_health(parts)


def _notifier(core: CoreServices) -> Notify:
    zone = local_zone(core.config)

    async def notify(chat: ChatRef, update: DossierUpdate) -> None:
        sender = core.senders.get(chat.channel)
        if sender is None:
            # The web chat and the terminal cannot be reached once closed.
            raise RecipientBlocked(f"no way to reach {chat} outside a conversation")
        await sender.send(chat.chat_id, update_reply(update, zone))

    return notify


@asynccontextmanager
async def running_bot(
    config: Config, *, port: int | None = None, clock: Clock = utc_now
) -> AsyncIterator[RunningBot]:
    """The whole bot, started; stops cleanly (answers in flight are sent) on exit.

    `port` overrides `[web] port` (tests pass 0 for a free port); `clock` as open_core's.

    Everything started is entered in one AsyncExitStack, so it stops in the reverse order
    and a start that fails stops what had started. The order: the channels first (Zalo's
    connections, the web server, which fails early when its port is taken, then Telegram,
    whose webhook needs the server's address), then what works in the background and
    sends through them (the watcher, the delivery worker, the sweepers). On the way out
    the workers stop first, while the channels still carry what they have in flight;
    then Telegram and the web server stop taking input and finish the answers in flight;
    Zalo's connections close last, after the events it acknowledged are answered.
    """
    async with AsyncExitStack() as stack:
        core = await stack.enter_async_context(open_core(config, clock=clock))

        def sender_for(channel: Channel) -> Sender | None:
            # The web chat reaches a chat only while its page is open (or reloads soon);
            # it is not among core.senders, which also carry notices and broadcasts.
            return web_chat if channel is Channel.WEB else core.senders.get(channel)

        # Channels talk to the dialogue through this: it sends what a turn relays to
        # another chat (hand-offs to staff).
        dialogue = RelayingHandler(core.dialogue, sender_for)
        web_chat = WebChat(
            dialogue,
            config.web,
            title=config.center.name,
            history=WebHistory(core.engine, config.web.history_exchanges),
        )
        telegram = (
            TelegramChannel(config.telegram, dialogue, public_url=config.web.public_url)
            if config.telegram.enabled
            else None
        )
        zalo = ZaloChannel(config.zalo, dialogue, core.engine) if config.zalo.enabled else None
        watcher: DossierWatcher | None = None
        routes: list[RouteInstaller] = []
        if core.dossiers is not None and core.dossiers.can_notify:
            watcher = DossierWatcher.from_config(
                config.dossiers, config.center, core.dossiers.source, core.engine, _notifier(core)
            )
            receiver = PushReceiver(config.dossiers, core.engine, watcher)

            def install_dossier_push(app: web.Application) -> None:
                add_dossier_push_route(app, receiver, config.dossiers.push_path)

            routes.append(install_dossier_push)

        def install_broadcast_api(app: web.Application) -> None:
            add_broadcast_api_routes(app, core.broadcasts, config.broadcast.api_token)

        routes.append(install_broadcast_api)
        running: RunningBot | None = None

        async def health() -> Mapping[str, ComponentHealth]:
            if running is None:
                return {"bot": ComponentHealth("starting", "starting")}
            return await running.health()

        app = create_web_app(
            web_chat=web_chat,
            health=health,
            telegram=telegram,
            zalo=zalo,
            extra_routes=routes,
            health_token=config.broadcast.api_token,
        )
        server = WebServer(app, config.web.host, config.web.port if port is None else port)
        running = RunningBot(core, server, telegram, zalo, watcher)

        if zalo is not None:
            await zalo.start()
            stack.push_async_callback(zalo.stop)
            core.senders[Channel.ZALO] = zalo.sender
        try:
            await server.start()
        except OSError as exc:
            raise StartupError(
                f"[web] cannot listen on {config.web.host}:{config.web.port}: {exc.strerror}; "
                "is another bot running? Change [web] port"
            ) from None
        stack.push_async_callback(server.stop)
        if telegram is not None:
            # Stopped even when its start fails half-way: the bot's connections are open.
            stack.push_async_callback(telegram.stop)
            await telegram.start(public_url=config.web.public_url or server.url)
            core.senders[Channel.TELEGRAM] = telegram.sender
        if watcher is not None:
            await watcher.start()
            stack.push_async_callback(watcher.stop)
        if core.senders:
            worker = DeliveryWorker(
                core.engine,
                list(core.senders.values()),
                DeliverySettings.from_config(config.broadcast, config.telegram, config.zalo),
                render=lambda text: notice_reply(config.center, text),
            )
            progress = ProgressFollower(core.engine, core.senders)
            running.delivery = await stack.enter_async_context(
                delivering(worker, progress, core.broadcast_hooks)
            )
        if config.storage.personal_data_days > 0:
            sweeper = RetentionSweeper(core.engine, config.storage.personal_data_days)
            sweeper.start()
            stack.push_async_callback(sweeper.stop)
        if config.handoff.enabled:
            handoff_timeouts = asyncio.create_task(
                _close_idle_handoffs(core, dialogue), name="handoff-timeouts"
            )
            stack.push_async_callback(_cancel, handoff_timeouts)
        yield running


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _close_idle_handoffs(core: CoreServices, relaying: RelayingHandler) -> None:
    """End hand-offs nobody wrote in for `[handoff] timeout_minutes`; tell both sides."""
    timeout = core.handoff.timeout.total_seconds()
    # A quarter of the timeout: a hand-off ends at most 25% late; at most every 30 s.
    interval = min(30.0, timeout / 4)
    while True:
        await asyncio.sleep(interval)
        try:
            relays = await core.handoff.close_idle(core.clock())
        except StorageUnavailable as exc:
            log.warning("hand-off timeouts not checked: %s", exc)
            continue
        for relay in relays:
            await relaying.send(relay)
