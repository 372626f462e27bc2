"""Who receives staff notices: opt-in subscriptions kept in the bot's database.

A chat receives notices only after an explicit opt-in (the "nhận thông báo" menu or the
subscribe command). Opting out always wins and is kept: the row stays with preference
`opted_out`, no broadcast selects it (a job already running skips it too, see
claims.py), and only a new explicit opt-in by the citizen turns it back on.

Reachability is kept apart from the preference. Telegram's 403 "bot was blocked by the
user" and Zalo's `unfollow` make a chat unreachable (shown as `blocked`); Zalo `follow`
or a new message from the chat make it reachable again, with whatever preference it had:
coming back never subscribes anyone who had not opted in, and never undoes an opt-out.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.broadcast.model import (
    AUDIENCE_ALL,
    BROADCAST_CHANNELS,
    ChannelNotAvailable,
    UnknownAudience,
    UnknownTopic,
)
from bot.messages import Channel, ChatRef
from bot.storage.broadcast_tables import Preference, subscriber_topics, subscribers
from bot.storage.database import connect
from bot.storage.upserts import upsert

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SubscriberState(StrEnum):
    ACTIVE = "active"  # opted in and reachable: receives notices
    OPTED_OUT = "opted_out"  # said stop; kept until the citizen opts in again
    BLOCKED = "blocked"  # opted in, but blocked the bot / unfollowed the OA


@dataclass(frozen=True, slots=True)
class Subscription:
    chat: ChatRef
    state: SubscriberState
    all_topics: bool
    topics: frozenset[str]

    def receives(self, audience: str) -> bool:
        """Whether a broadcast to `audience` ('all' or a topic) reaches this chat now."""
        if self.state is not SubscriberState.ACTIVE:
            return False
        return audience == AUDIENCE_ALL or self.all_topics or audience in self.topics


def state_of(preference: str, reachable: bool) -> SubscriberState:
    if preference != Preference.SUBSCRIBED:
        return SubscriberState.OPTED_OUT
    return SubscriberState.ACTIVE if reachable else SubscriberState.BLOCKED


def audience_condition(audience: str) -> ColumnElement[bool]:
    """SQL condition on `subscribers` for chats that a broadcast to `audience` reaches."""
    condition = and_(
        subscribers.c.preference == Preference.SUBSCRIBED.value,
        subscribers.c.reachable == true(),
    )
    if audience == AUDIENCE_ALL:
        return condition
    has_topic = exists().where(
        subscriber_topics.c.channel == subscribers.c.channel,
        subscriber_topics.c.chat_id == subscribers.c.chat_id,
        subscriber_topics.c.topic == audience,
    )
    return and_(condition, or_(subscribers.c.all_topics == true(), has_topic))


def check_channel(channel: Channel) -> None:
    if channel not in BROADCAST_CHANNELS:
        raise ChannelNotAvailable(channel)


class SubscriptionStore:
    """Opt-in, opt-out and reachability of chats, keyed by (channel, chat_id)."""

    def __init__(
        self, engine: AsyncEngine, topics: Mapping[str, str], *, clock: Clock = utc_now
    ) -> None:
        self._engine = engine
        self._topics = dict(topics)
        self._clock = clock

    @property
    def topics(self) -> Mapping[str, str]:
        """Topic key -> label, from config `broadcast.topics`."""
        return self._topics

    def check_audience(self, audience: str) -> None:
        if audience != AUDIENCE_ALL and audience not in self._topics:
            raise UnknownAudience(audience, tuple(self._topics))

    async def subscribe(self, chat: ChatRef, topic: str | None = None) -> Subscription:
        """The citizen opts in: to every notice (`topic` None) or to one more topic.

        Choosing a topic while subscribed to everything narrows to that topic ("only
        ..."); choosing another topic while on topics adds it. An earlier opt-out is
        replaced, since this is the citizen's own explicit choice.
        """
        check_channel(chat.channel)
        if topic is not None and topic not in self._topics:
            raise UnknownTopic(topic)
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            current = await self._read(connection, chat)
            keep_topics = (
                current is not None
                and current.state is not SubscriberState.OPTED_OUT
                and not current.all_topics
            )
            await _upsert(
                connection,
                {
                    "channel": chat.channel.value,
                    "chat_id": chat.chat_id,
                    "preference": Preference.SUBSCRIBED.value,
                    "all_topics": topic is None,
                    # Writing to us proves the chat is reachable again.
                    "reachable": True,
                    "unreachable_reason": None,
                    "subscribed_at": now,
                    "updated_at": now,
                },
            )
            if topic is None or not keep_topics:
                await connection.execute(delete(subscriber_topics).where(_topics_of(chat)))
            if topic is not None:
                already = current is not None and keep_topics and topic in current.topics
                if not already:
                    await connection.execute(
                        subscriber_topics.insert().values(
                            channel=chat.channel.value, chat_id=chat.chat_id, topic=topic
                        )
                    )
            subscription = await self._read(connection, chat)
        assert subscription is not None
        log.info("chat %s subscribed to %s", chat, topic or "all notices")
        return subscription

    async def opt_out(self, chat: ChatRef) -> Subscription | None:
        """The citizen stops every notice. Kept until they opt in again; None if never in."""
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                update(subscribers)
                .where(_row_of(chat))
                .values(preference=Preference.OPTED_OUT.value, opted_out_at=now, updated_at=now)
            )
            if not result.rowcount:
                return None
            subscription = await self._read(connection, chat)
        log.info("chat %s opted out of notices", chat)
        return subscription

    async def drop_topic(self, chat: ChatRef, topic: str) -> Subscription | None:
        """Stop one topic; dropping the last one is an opt-out."""
        async with connect(self._engine, begin=True) as connection:
            current = await self._read(connection, chat)
            if current is None or current.state is SubscriberState.OPTED_OUT:
                return current
            if current.all_topics:
                remaining = set(self._topics) - {topic}
                await connection.execute(delete(subscriber_topics).where(_topics_of(chat)))
                if remaining:
                    await connection.execute(
                        subscriber_topics.insert(),
                        [
                            {"channel": chat.channel.value, "chat_id": chat.chat_id, "topic": t}
                            for t in sorted(remaining)
                        ],
                    )
            else:
                remaining = set(current.topics) - {topic}
                await connection.execute(
                    delete(subscriber_topics).where(
                        _topics_of(chat), subscriber_topics.c.topic == topic
                    )
                )
            now = self._clock()
            values: dict[str, Any] = {"all_topics": False, "updated_at": now}
            if not remaining:
                values |= {"preference": Preference.OPTED_OUT.value, "opted_out_at": now}
            await connection.execute(update(subscribers).where(_row_of(chat)).values(**values))
            return await self._read(connection, chat)

    async def mark_unreachable(self, chat: ChatRef, reason: str) -> bool:
        """The chat blocked the bot (403) or unfollowed; True if it was a subscriber."""
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                update(subscribers)
                .where(_row_of(chat))
                .values(
                    reachable=False,
                    unreachable_reason=reason[:200],
                    unreachable_at=now,
                    updated_at=now,
                )
            )
        if result.rowcount:
            log.info("chat %s is unreachable: %s", chat, reason)
        return bool(result.rowcount)

    async def mark_reachable(self, chat: ChatRef) -> bool:
        """The chat followed again or wrote to us; its preference is unchanged."""
        now = self._clock()
        async with connect(self._engine, begin=True) as connection:
            result = await connection.execute(
                update(subscribers)
                .where(_row_of(chat), subscribers.c.reachable == False)  # noqa: E712
                .values(reachable=True, unreachable_reason=None, updated_at=now)
            )
        return bool(result.rowcount)

    async def get(self, chat: ChatRef) -> Subscription | None:
        async with connect(self._engine) as connection:
            return await self._read(connection, chat)

    async def audience_counts(
        self, audience: str, channels: Collection[Channel] = BROADCAST_CHANNELS
    ) -> dict[Channel, int]:
        """How many chats a broadcast to `audience` on `channels` would reach now."""
        self.check_audience(audience)
        for channel in channels:
            check_channel(channel)
        query = (
            select(subscribers.c.channel, func.count())
            .where(
                audience_condition(audience),
                subscribers.c.channel.in_([c.value for c in channels]),
            )
            .group_by(subscribers.c.channel)
        )
        counts = dict.fromkeys(channels, 0)
        async with connect(self._engine) as connection:
            for channel_name, count in (await connection.execute(query)).all():
                counts[Channel(channel_name)] = int(count)
        return counts

    async def _read(self, connection: AsyncConnection, chat: ChatRef) -> Subscription | None:
        row = (
            await connection.execute(
                select(
                    subscribers.c.preference, subscribers.c.reachable, subscribers.c.all_topics
                ).where(_row_of(chat))
            )
        ).first()
        if row is None:
            return None
        topics = (
            await connection.execute(select(subscriber_topics.c.topic).where(_topics_of(chat)))
        ).scalars()
        return Subscription(
            chat=chat,
            state=state_of(row.preference, bool(row.reachable)),
            all_topics=bool(row.all_topics),
            topics=frozenset(topics),
        )


async def subscriber_counts(engine: AsyncEngine) -> dict[Channel, dict[SubscriberState, int]]:
    """Subscribers per channel and state (for statistics)."""
    query = select(
        subscribers.c.channel, subscribers.c.preference, subscribers.c.reachable, func.count()
    ).group_by(subscribers.c.channel, subscribers.c.preference, subscribers.c.reachable)
    counts: dict[Channel, dict[SubscriberState, int]] = {}
    async with connect(engine) as connection:
        for channel_name, preference, reachable, count in (await connection.execute(query)).all():
            per_state = counts.setdefault(Channel(channel_name), dict.fromkeys(SubscriberState, 0))
            per_state[state_of(preference, bool(reachable))] += int(count)
    return counts


def _row_of(chat: ChatRef) -> ColumnElement[bool]:
    return and_(subscribers.c.channel == chat.channel.value, subscribers.c.chat_id == chat.chat_id)


def _topics_of(chat: ChatRef) -> ColumnElement[bool]:
    return and_(
        subscriber_topics.c.channel == chat.channel.value,
        subscriber_topics.c.chat_id == chat.chat_id,
    )


async def _upsert(connection: AsyncConnection, values: dict[str, Any]) -> None:
    """Insert the subscriber row or update every given column of the existing one."""
    key = ("channel", "chat_id")
    changed = [name for name in values if name not in key]
    await connection.execute(upsert(connection, subscribers, key=key, update=changed), values)
