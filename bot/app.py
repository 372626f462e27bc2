"""The composition root: builds every service from the config and owns their lifetime.

    open_core(config)    the bot's database, catalogue, matcher, dossier service, records,
                         broadcasts and the dialogue: everything a conversation needs
    running_bot(config)  the core plus the web server (web chat, /healthz, webhooks,
                         dossier push, broadcast API), Telegram and Zalo when configured,
                         the dossier watcher and the broadcast delivery engine
    run_bot(config)      `bot run`: running_bot until SIGINT/SIGTERM
    run_console_chat     `bot chat`: the core, talked to in the terminal

Nothing else in the package builds services; there are no module-level singletons.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TextIO

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import DeliveryWorker
from bot.broadcast.model import ChannelNotAvailable
from bot.broadcast.notice import notice_reply
from bot.broadcast.service import (
    BroadcastService,
    StaffPolicy,
    configured_channels,
    job_progress,
)
from bot.broadcast.settings import DeliverySettings
from bot.broadcast.subscriptions import SubscriptionStore
from bot.catalogue.files import CatalogueError, Severity, load_catalogue
from bot.catalogue.model import Catalogue
from bot.channels.broadcast_api import add_broadcast_api_routes
from bot.channels.dossier_push import add_dossier_push_route
from bot.channels.health import ComponentHealth
from bot.channels.relay import RelayingHandler
from bot.channels.server import RouteInstaller, WebServer, create_web_app
from bot.channels.telegram import TelegramChannel, open_telegram_sender
from bot.channels.web import WebChat
from bot.channels.web_history import WebHistory
from bot.channels.zalo import ZaloChannel, open_zalo_sender
from bot.config import Config, ConfigError
from bot.dialogue.context import ContextStore
from bot.dialogue.core import Dialogue, DialogueServices
from bot.dialogue.dossier_answers import update_reply
from bot.dialogue.dossier_flow import DossierConversation
from bot.dialogue.elsewhere import ElsewhereLinks
from bot.dialogue.handoff_flow import HandoffConversation
from bot.dialogue.notices_flow import NoticesConversation
from bot.dialogue.staff_flow import StaffConversation, progress_reply
from bot.dossiers.follow_links import FollowLinks
from bot.dossiers.push import PushReceiver
from bot.dossiers.service import DossierService
from bot.dossiers.slip_photo import SlipPhotoReader
from bot.dossiers.source import GuardedSource, SourceMisconfigured, SourceUnavailable
from bot.dossiers.watcher import DossierUpdate, DossierWatcher, Notify
from bot.handoff.hours import OfficeHours
from bot.handoff.store import HandoffStore
from bot.messages import Channel, ChatRef, RecipientBlocked, Reply, Sender, SendError
from bot.retention import RetentionSweeper
from bot.search import Matcher, Vocabulary, VocabularyError, load_vocabulary
from bot.stats.records import StatsRecorder
from bot.storage.database import (
    StorageError,
    StorageUnavailable,
    connect,
    create_engine,
    redacted,
)
from bot.storage.schema import SchemaError, ensure_schema
from bot.teaching.store import LessonStore

log = logging.getLogger(__name__)


Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StartupError(Exception):
    """The bot cannot start; the message says why and what to do (one line)."""


@dataclass
class CoreServices:
    config: Config
    engine: AsyncEngine
    catalogue: Catalogue
    matcher: Matcher
    dialogue: Dialogue
    recorder: StatsRecorder
    contexts: ContextStore
    dossiers: DossierService | None
    dossier_conversation: DossierConversation | None
    broadcasts: BroadcastService
    subscriptions: SubscriptionStore
    lessons: LessonStore
    handoff: HandoffConversation
    clock: Clock
    # Channels that can carry messages the citizen did not just ask for (notices);
    # filled in by running_bot as channels start.
    senders: dict[Channel, Sender] = field(default_factory=dict)
    # What to do when staff start a broadcast; set by running_bot (the delivery worker
    # and the progress message live there), empty in `bot chat`.
    broadcast_hooks: BroadcastHooks = field(default_factory=lambda: BroadcastHooks())


@dataclass
class BroadcastHooks:
    """Late-bound reactions to a started broadcast job (the services exist before them)."""

    wake_delivery: Callable[[], None] | None = None
    follow_progress: Callable[[ChatRef, int], None] | None = None

    def job_started(self, job_id: int) -> None:
        if self.wake_delivery is not None:
            self.wake_delivery()

    def staff_job_started(self, chat: ChatRef, job_id: int) -> None:
        if self.follow_progress is not None:
            self.follow_progress(chat, job_id)


def local_zone(config: Config) -> dt.tzinfo:
    return dt.timezone(dt.timedelta(hours=config.dossiers.utc_offset_hours))


def load_matcher(config: Config) -> tuple[Catalogue, Matcher]:
    """The catalogue and its matcher; broken files are logged and left out."""
    try:
        catalogue, problems = load_catalogue(config.catalogue.path)
    except CatalogueError as exc:
        for problem in exc.problems:
            log.error("catalogue: %s", problem)
        raise StartupError(
            f"{exc}; check the [catalogue] path in the config ({config.loaded_from})"
        ) from None
    for problem in problems:
        level = logging.ERROR if problem.severity is Severity.ERROR else logging.DEBUG
        log.log(level, "catalogue: %s", problem)
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    if errors:
        log.error(
            "catalogue: %d files left out because of errors; run `bot catalogue check %s`",
            errors,
            config.catalogue.path,
        )
    vocabulary_path = config.catalogue.vocabulary
    if vocabulary_path.is_file():
        try:
            vocabulary = load_vocabulary(vocabulary_path)
        except VocabularyError as exc:
            # Searching without the vocabulary is worse but still useful; staff are told.
            log.error("vocabulary not used: %s", exc)
            vocabulary = Vocabulary()
    else:
        log.warning("vocabulary file %s not found; searching without it", vocabulary_path)
        vocabulary = Vocabulary()
    matcher = Matcher.build(
        catalogue,
        vocabulary,
        preferred_levels=config.search.preferred_levels,
        max_choices=config.search.max_choices,
    )
    log.info("catalogue: %d procedures from %s", len(catalogue), config.catalogue.path)
    return catalogue, matcher


def handoff_conversation(config: Config, engine: AsyncEngine) -> HandoffConversation:
    """Hand-offs to the staff group of `[handoff]`, in `[center.office_hours]`."""
    group = config.handoff.staff_group_id
    return HandoffConversation(
        HandoffStore(engine),
        OfficeHours.from_config(config),
        config.center,
        staff_group=ChatRef(Channel.TELEGRAM, str(group)) if group else None,
        timeout=dt.timedelta(minutes=config.handoff.timeout_minutes),
    )


@asynccontextmanager
async def open_core(config: Config, *, clock: Clock = utc_now) -> AsyncIterator[CoreServices]:
    """Everything a conversation needs, opened and closed together.

    `clock` is the time conversations see (tests fix it to land in or out of office hours).
    """
    catalogue, matcher = load_matcher(config)
    try:
        engine = create_engine(config.storage.url)
    except StorageError as exc:
        raise StartupError(f"[storage] url: {exc}") from None
    try:
        await ensure_schema(engine, migrate=config.storage.auto_migrate)
    except StorageUnavailable as exc:
        await engine.dispose()
        raise StartupError(f"the bot's database is unavailable: {exc}") from None
    except SchemaError as exc:
        await engine.dispose()
        raise StartupError(str(exc)) from None
    dossiers: DossierService | None = None
    conversation: DossierConversation | None = None
    recorder = StatsRecorder(engine)
    contexts = ContextStore(engine)
    senders: dict[Channel, Sender] = {}
    elsewhere = ElsewhereLinks(config.web.telegram_bot_username, config.web.zalo_oa_url)
    try:
        if config.dossiers.source != "none":
            try:
                dossiers = DossierService.from_config(config, engine)
            except (ConfigError, StorageError, ValueError) as exc:
                raise StartupError(f"[dossiers]: {exc}") from None
            await _check_dossier_source(dossiers)
            conversation = DossierConversation(
                dossiers,
                hotline=config.center.hotline,
                zone=local_zone(config),
                ratings=recorder,
                notify_channels=senders.keys(),
                photos=SlipPhotoReader(),
                elsewhere=elsewhere,
                follow_links=FollowLinks(
                    engine, dossiers, dt.timedelta(minutes=config.web.follow_link_minutes)
                ),
            )
        hooks = BroadcastHooks()
        subscriptions = SubscriptionStore(engine, config.broadcast.topics)
        broadcasts = BroadcastService(
            engine,
            subscriptions,
            StaffPolicy.from_config(config.telegram, config.broadcast),
            channels=configured_channels(config.telegram, config.zalo),
            render=lambda text: notice_reply(config.center, text),
            on_job_started=hooks.job_started,
        )
        lessons = LessonStore(engine, matcher.vocabulary.lessons)
        handoff = handoff_conversation(config, engine)
        services = DialogueServices(
            center=config.center,
            catalogue=catalogue,
            matcher=matcher,
            contexts=contexts,
            recorder=recorder,
            lessons=lessons,
            dossiers=conversation,
            notices=NoticesConversation(subscriptions, elsewhere),
            staff=StaffConversation(
                broadcasts,
                engine,
                catalogue,
                on_job_started=hooks.staff_job_started,
                lessons=lessons,
                matcher=matcher,
            ),
            handoff=handoff,
        )
        yield CoreServices(
            config=config,
            engine=engine,
            catalogue=catalogue,
            matcher=matcher,
            dialogue=Dialogue(services, clock),
            recorder=recorder,
            contexts=contexts,
            dossiers=dossiers,
            dossier_conversation=conversation,
            broadcasts=broadcasts,
            subscriptions=subscriptions,
            lessons=lessons,
            handoff=handoff,
            clock=clock,
            senders=senders,
            broadcast_hooks=hooks,
        )
    finally:
        await contexts.close()
        await recorder.close()
        if dossiers is not None:
            await dossiers.close()
        await engine.dispose()


async def _check_dossier_source(dossiers: DossierService) -> None:
    """Try the configured queries once: a query that does not fit the contract stops
    start-up with its cause, where otherwise the first citizen to look up a dossier would
    find it. A source that is down does not: the bot answers procedure questions meanwhile,
    and lookups say the system is unavailable (the guard has logged the outage)."""
    try:
        await dossiers.source.check()
    except SourceMisconfigured as exc:
        raise StartupError(f"[dossiers]: {exc}") from None
    except SourceUnavailable:
        log.warning("starting without dossier lookups until the dossier source answers")


# --- the running bot --------------------------------------------------------------------


@dataclass
class RunningBot:
    core: CoreServices
    server: WebServer
    telegram: TelegramChannel | None
    zalo: ZaloChannel | None
    watcher: DossierWatcher | None
    delivery: Delivery | None = None

    async def stop_broadcasting(self) -> None:
        """Stop delivering: sends in flight finish, unsent claims are released."""
        delivery = self.delivery
        if delivery is None:
            return
        for task in delivery.progress_tasks:
            task.cancel()
        delivery.worker.stop()
        await asyncio.gather(delivery.task, *delivery.progress_tasks, return_exceptions=True)
        self.delivery = None

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
        components: dict[str, ComponentHealth] = {
            "catalogue": ComponentHealth("ok", f"{len(core.catalogue)} procedures"),
            "database": await _database_health(core.engine),
        }
        if core.dossiers is None:
            components["dossiers"] = ComponentHealth("disabled", "dossiers.source = none")
        else:
            source = core.dossiers.source
            down = isinstance(source, GuardedSource) and source.is_down
            components["dossiers"] = (
                ComponentHealth("degraded", "the center's dossier system is unreachable")
                if down
                else ComponentHealth("ok", core.config.dossiers.source)
            )
        components["broadcasts"] = (
            ComponentHealth(
                "ok",
                f"jobs {list(self.delivery.worker.active_jobs)}, "
                f"{self.delivery.worker.in_flight} in flight",
            )
            if self.delivery is not None
            else ComponentHealth("disabled", "no channel that can carry notices")
        )
        components["watcher"] = (
            ComponentHealth("ok", f"every {core.config.dossiers.watch_interval_seconds:g}s")
            if self.watcher is not None
            else ComponentHealth("disabled", "no change source configured")
        )
        components["telegram"] = (
            self.telegram.health()
            if self.telegram is not None
            else ComponentHealth("disabled", "no [telegram] token")
        )
        components["zalo"] = (
            self.zalo.health()
            if self.zalo is not None
            else ComponentHealth("disabled", "no [zalo] credentials")
        )
        return components


async def _database_health(engine: AsyncEngine) -> ComponentHealth:
    try:
        async with connect(engine) as connection:
            await connection.execute(text("SELECT 1"))
    except StorageUnavailable as exc:
        return ComponentHealth("down", str(exc))
    return ComponentHealth("ok", redacted(str(engine.url)))


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
    """
    async with open_core(config, clock=clock) as core:

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
        sweeper: RetentionSweeper | None = None
        handoff_timeouts: asyncio.Task[None] | None = None
        routes: list[RouteInstaller] = []
        if core.dossiers is not None and core.dossiers.can_notify:
            watcher = DossierWatcher.from_config(
                config, core.dossiers.source, core.engine, _notifier(core)
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
        try:
            await server.start()
        except OSError as exc:
            raise StartupError(
                f"[web] cannot listen on {config.web.host}:{config.web.port}: {exc.strerror}; "
                "is another bot running? Change [web] port"
            ) from None
        try:
            if zalo is not None:
                await zalo.start()
                core.senders[Channel.ZALO] = zalo.sender
            if telegram is not None:
                await telegram.start(public_url=config.web.public_url or server.url)
                core.senders[Channel.TELEGRAM] = telegram.sender
            if watcher is not None:
                await watcher.start()
            if core.senders:
                running.delivery = _start_delivery(core)
            if config.storage.personal_data_days > 0:
                sweeper = RetentionSweeper(core.engine, config.storage.personal_data_days)
                sweeper.start()
            if config.handoff.enabled:
                handoff_timeouts = asyncio.create_task(
                    _close_idle_handoffs(core, dialogue), name="handoff-timeouts"
                )
            yield running
        finally:
            # New input stops first; then what is in flight finishes; then the rest.
            if telegram is not None:
                await telegram.stop()
            await server.stop()
            await running.stop_broadcasting()
            if zalo is not None:
                await zalo.stop()
            if watcher is not None:
                await watcher.stop()
            if sweeper is not None:
                await sweeper.stop()
            if handoff_timeouts is not None:
                handoff_timeouts.cancel()
                await asyncio.gather(handoff_timeouts, return_exceptions=True)


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


# How often a staff member's progress message of a broadcast is updated.
PROGRESS_INTERVAL_SECONDS = 3.0


@dataclass
class Delivery:
    """The broadcast delivery worker of this process and the progress messages it feeds."""

    worker: DeliveryWorker
    task: asyncio.Task[None]
    progress_tasks: set[asyncio.Task[None]] = field(default_factory=set)


def _start_delivery(core: CoreServices) -> Delivery:
    config = core.config
    worker = DeliveryWorker(
        core.engine,
        list(core.senders.values()),
        DeliverySettings.from_config(config.broadcast, config.telegram, config.zalo),
        render=lambda text: notice_reply(config.center, text),
    )
    delivery = Delivery(worker, asyncio.create_task(worker.run(), name="broadcast-delivery"))
    core.broadcast_hooks.wake_delivery = worker.wake

    def follow_progress(chat: ChatRef, job_id: int) -> None:
        task = asyncio.create_task(
            _report_progress(core, chat, job_id), name=f"broadcast-{job_id}-progress"
        )
        delivery.progress_tasks.add(task)
        task.add_done_callback(delivery.progress_tasks.discard)

    core.broadcast_hooks.follow_progress = follow_progress
    return delivery


async def _report_progress(core: CoreServices, chat: ChatRef, job_id: int) -> None:
    """Update the staff member's progress message until the job is over."""
    sender = core.senders.get(chat.channel)
    if sender is None:
        return
    shown: Reply | None = None
    while True:
        await asyncio.sleep(PROGRESS_INTERVAL_SECONDS)
        try:
            progress = await job_progress(core.engine, job_id)
            reply = progress_reply(progress)
            if reply != shown:
                await sender.send(chat.chat_id, reply)
                shown = reply
        except StorageUnavailable:
            continue  # the outage is logged once where it was raised (bot.storage.outage)
        except SendError as exc:
            log.warning("progress of broadcast %d not shown to %s: %s", job_id, chat, exc)
            continue
        if progress.finished:
            return


@asynccontextmanager
async def open_senders(
    config: Config, engine: AsyncEngine, channels: Collection[Channel]
) -> AsyncIterator[list[Sender]]:
    """Senders for `channels`; ChannelNotAvailable when one has no credentials."""
    senders: list[Sender] = []
    async with AsyncExitStack() as stack:
        for channel in channels:
            if channel is Channel.TELEGRAM:
                if not config.telegram.enabled:
                    raise ChannelNotAvailable(channel)
                senders.append(
                    await stack.enter_async_context(open_telegram_sender(config.telegram))
                )
            elif channel is Channel.ZALO:
                if not config.zalo.enabled:
                    raise ChannelNotAvailable(channel)
                senders.append(
                    await stack.enter_async_context(open_zalo_sender(config.zalo, engine))
                )
            else:
                raise ChannelNotAvailable(channel)
        yield senders


def run_broadcast(config: Config, args: argparse.Namespace, out: TextIO) -> int:
    """`bot broadcast`, with the senders and tables of this deployment."""
    from bot.broadcast.command import CommandWiring, run_broadcast_command

    return run_broadcast_command(config, args, out, CommandWiring(open_senders))


def run_bot(config: Config) -> int:
    """`bot run`: start everything configured and run until SIGINT or SIGTERM."""
    try:
        asyncio.run(_serve(config))
    except (StartupError, ConfigError) as exc:
        print(f"bot: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with running_bot(config) as running:
        print(f"{config.center.name}: web chat at {running.web_url}/", flush=True)
        print(f"channels live: {', '.join(running.live_channels)}", flush=True)
        print(f"health: {running.web_url}/healthz  (Ctrl+C to stop)", flush=True)
        await stop.wait()
        print("stopping: finishing answers in flight…", flush=True)


def run_console_chat(
    config: Config, input_stream: TextIO | None = None, output_stream: TextIO | None = None
) -> int:
    """`bot chat`: talk to the bot in this terminal."""
    from bot.channels.console import run_console

    async def chat() -> None:
        async with open_core(config) as core:
            # The terminal has no way to reach the staff group: a hand-off says so.
            await run_console(
                RelayingHandler(core.dialogue, lambda channel: None),
                input_stream=input_stream or sys.stdin,
                output_stream=output_stream or sys.stdout,
            )

    try:
        asyncio.run(chat())
    except StartupError as exc:
        print(f"bot: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
