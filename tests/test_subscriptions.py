"""Subscriptions: explicit opt-in (all or by topic), opt-out that wins and is kept, and
reachability from Zalo follow/unfollow and Telegram 403, on real SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.model import ChannelNotAvailable, UnknownAudience, UnknownTopic
from bot.broadcast.subscriptions import SubscriberState, SubscriptionStore, subscriber_counts
from bot.messages import Channel, ChatRef

TOPICS = {"dat-dai": "Đất đai", "ho-tich": "Hộ tịch"}
ANN = ChatRef(Channel.TELEGRAM, "101")
BINH = ChatRef(Channel.ZALO, "z-202")


@pytest.fixture
def store(engine: AsyncEngine) -> SubscriptionStore:
    return SubscriptionStore(engine, TOPICS)


async def test_nobody_is_subscribed_without_opting_in(store: SubscriptionStore) -> None:
    assert await store.get(ANN) is None
    # Blocking or following is not an opt-in.
    assert await store.mark_unreachable(ANN, "403") is False
    assert await store.mark_reachable(BINH) is False
    assert await store.get(BINH) is None
    assert await store.audience_counts("all") == {Channel.TELEGRAM: 0, Channel.ZALO: 0}


async def test_opt_in_to_all_or_to_topics(store: SubscriptionStore) -> None:
    everything = await store.subscribe(ANN)
    assert everything.state is SubscriberState.ACTIVE and everything.all_topics
    assert everything.receives("all") and everything.receives("dat-dai")

    only_land = await store.subscribe(BINH, "dat-dai")
    assert not only_land.all_topics and only_land.topics == {"dat-dai"}
    assert only_land.receives("all") and not only_land.receives("ho-tich")
    both = await store.subscribe(BINH, "ho-tich")
    assert both.topics == {"dat-dai", "ho-tich"}

    assert await store.audience_counts("all") == {Channel.TELEGRAM: 1, Channel.ZALO: 1}
    assert await store.audience_counts("ho-tich", [Channel.ZALO]) == {Channel.ZALO: 1}

    # "Only land" from someone on everything narrows to that topic.
    narrowed = await store.subscribe(ANN, "dat-dai")
    assert not narrowed.all_topics and narrowed.topics == {"dat-dai"}
    assert await store.audience_counts("ho-tich") == {Channel.TELEGRAM: 0, Channel.ZALO: 1}

    dropped = await store.drop_topic(BINH, "dat-dai")
    assert dropped is not None and dropped.topics == {"ho-tich"}
    last = await store.drop_topic(BINH, "ho-tich")
    assert last is not None and last.state is SubscriberState.OPTED_OUT


async def test_opting_out_wins_and_is_kept(store: SubscriptionStore) -> None:
    await store.subscribe(ANN)
    await store.subscribe(BINH)
    out = await store.opt_out(BINH)
    assert out is not None and out.state is SubscriberState.OPTED_OUT
    assert await store.audience_counts("all") == {Channel.TELEGRAM: 1, Channel.ZALO: 0}

    # Zalo "follow" again (or a new message) does not undo the opt-out.
    await store.mark_unreachable(BINH, "unfollow")
    await store.mark_reachable(BINH)
    again = await store.get(BINH)
    assert again is not None and again.state is SubscriberState.OPTED_OUT
    assert not again.receives("all")

    # Only the citizen's explicit opt-in brings it back.
    back = await store.subscribe(BINH)
    assert back.state is SubscriberState.ACTIVE


async def test_blocked_chats_leave_the_audience_until_they_come_back(
    store: SubscriptionStore,
) -> None:
    await store.subscribe(ANN, "ho-tich")
    assert await store.mark_unreachable(ANN, "Forbidden: bot was blocked by the user")
    blocked = await store.get(ANN)
    assert blocked is not None and blocked.state is SubscriberState.BLOCKED
    assert await store.audience_counts("ho-tich") == {Channel.TELEGRAM: 0, Channel.ZALO: 0}
    # Unblocking and writing again restores the citizen's own earlier choice.
    assert await store.mark_reachable(ANN)
    back = await store.get(ANN)
    assert back is not None and back.state is SubscriberState.ACTIVE
    assert back.topics == {"ho-tich"}


async def test_counts_per_channel_and_state(engine: AsyncEngine, store: SubscriptionStore) -> None:
    for i in range(3):
        await store.subscribe(ChatRef(Channel.TELEGRAM, str(i)))
    await store.subscribe(BINH)
    await store.opt_out(ChatRef(Channel.TELEGRAM, "0"))
    await store.mark_unreachable(ChatRef(Channel.TELEGRAM, "1"), "403")
    counts = await subscriber_counts(engine)
    assert counts[Channel.TELEGRAM] == {
        SubscriberState.ACTIVE: 1,
        SubscriberState.OPTED_OUT: 1,
        SubscriberState.BLOCKED: 1,
    }
    assert counts[Channel.ZALO][SubscriberState.ACTIVE] == 1


async def test_bad_requests_are_typed_errors(store: SubscriptionStore) -> None:
    with pytest.raises(UnknownTopic):
        await store.subscribe(ANN, "no-such-topic")
    with pytest.raises(ChannelNotAvailable):
        await store.subscribe(ChatRef(Channel.WEB, "browser-1"))
    with pytest.raises(UnknownAudience):
        await store.audience_counts("no-such-topic")
