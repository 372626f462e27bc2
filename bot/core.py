"""The services every conversation needs, built from the config: the core of the bot.

    async with open_core(config) as core:   # core.dialogue answers a citizen's message
        ...

open_core opens the bot's database (and checks its schema), loads the catalogue and the
vocabulary into the matcher, opens the dossier service when a source is configured (and
tries it once), and builds the records, broadcasts, lessons, hand-offs and the dialogue
on them. What it opens is entered in an AsyncExitStack: closed in the reverse order, and
closed when a later step fails. `bot chat` talks to the core in the terminal; the running
bot (bot.app.running_bot) adds the channels, the web server and the workers around it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.notice import notice_reply
from bot.broadcast.service import BroadcastService, StaffPolicy, configured_channels
from bot.broadcast.subscriptions import SubscriptionStore
from bot.broadcasting import BroadcastHooks
from bot.catalogue.files import CatalogueError, Severity, load_catalogue
from bot.catalogue.model import Catalogue
from bot.config import Config, ConfigError
from bot.dialogue.context import ContextStore
from bot.dialogue.core import Dialogue, DialogueServices
from bot.dialogue.dossier_flow import DossierConversation
from bot.dialogue.elsewhere import ElsewhereLinks
from bot.dialogue.handoff_flow import HandoffConversation
from bot.dialogue.notices_flow import NoticesConversation
from bot.dialogue.staff_flow import StaffConversation
from bot.dossiers.follow_links import FollowLinks
from bot.dossiers.service import DossierService
from bot.dossiers.slip_photo import SlipPhotoReader
from bot.dossiers.source import SourceMisconfigured, SourceUnavailable
from bot.handoff.hours import OfficeHours
from bot.handoff.store import HandoffStore
from bot.messages import Channel, ChatRef, Sender
from bot.search import Matcher, Vocabulary, VocabularyError, load_vocabulary
from bot.stats.records import StatsRecorder
from bot.storage.database import StorageError, StorageUnavailable, create_engine
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
    async with AsyncExitStack() as stack:
        try:
            engine = create_engine(config.storage.url)
        except StorageError as exc:
            raise StartupError(f"[storage] url: {exc}") from None
        stack.push_async_callback(engine.dispose)
        try:
            await ensure_schema(engine, migrate=config.storage.auto_migrate)
        except StorageUnavailable as exc:
            raise StartupError(f"the bot's database is unavailable: {exc}") from None
        except SchemaError as exc:
            raise StartupError(str(exc)) from None
        dossiers: DossierService | None = None
        conversation: DossierConversation | None = None
        recorder = StatsRecorder(engine)
        stack.push_async_callback(recorder.close)
        contexts = ContextStore(engine)
        stack.push_async_callback(contexts.close)
        senders: dict[Channel, Sender] = {}
        elsewhere = ElsewhereLinks(config.web.telegram_bot_username, config.web.zalo_oa_url)
        if config.dossiers.source != "none":
            try:
                dossiers = DossierService.from_config(config.dossiers, config.center, engine)
            except (ConfigError, StorageError, ValueError) as exc:
                raise StartupError(f"[dossiers]: {exc}") from None
            stack.push_async_callback(dossiers.close)
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
