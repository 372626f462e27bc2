"""Opting in to and out of the center's notices.

    /thongbao or menu "Nhận thông báo" ──> [Tất cả] [Chỉ <topic>]... [Thôi nhận]
    /huythongbao or [Thôi nhận] ─────────> opted out (kept until the citizen opts in again)
    Zalo follow/unfollow, Telegram blocked/unblocked ──> reachable / unreachable
    on the web chat (no notices once the page is closed) ──> [Mở Telegram] [Mở Zalo]

Opting out always wins: it is stored, and only the citizen's own explicit opt-in undoes it
(see bot.broadcast.subscriptions).
"""

from __future__ import annotations

from bot import texts
from bot.broadcast.model import BROADCAST_CHANNELS, UnknownTopic
from bot.broadcast.subscriptions import SubscriberState, SubscriptionStore
from bot.dialogue import actions
from bot.dialogue.actions import Action
from bot.dialogue.elsewhere import ElsewhereLinks
from bot.dialogue.turn import Turn
from bot.messages import EVENT_FOLLOW, EVENT_UNFOLLOW, Button, Reply, Section


class NoticesConversation:
    """Implements bot.dialogue.flows.NoticesFlow over a SubscriptionStore."""

    def __init__(
        self, subscriptions: SubscriptionStore, elsewhere: ElsewhereLinks | None = None
    ) -> None:
        """`elsewhere`: the center's Telegram bot and Zalo OA, offered where notices cannot
        be sent (the web chat)."""
        self._subscriptions = subscriptions
        self._elsewhere = elsewhere or ElsewhereLinks()

    def _not_here(self, turn: Turn) -> None:
        if self._elsewhere.offered:
            turn.say(Reply.text(texts.NOTICES_ELSEWHERE, self._elsewhere.buttons()))
        else:
            turn.say_text(texts.NOTICES_NOT_AVAILABLE)

    async def offer(self, turn: Turn) -> None:
        chat = turn.message.chat
        if chat.channel not in BROADCAST_CHANNELS:
            self._not_here(turn)
            return
        lines = [texts.NOTICES_MENU]
        current = await self._subscriptions.get(chat)
        if current is not None and current.state is SubscriberState.ACTIVE:
            if current.all_topics:
                lines.append(texts.NOTICES_CURRENT_ALL)
            else:
                topics = self._subscriptions.topics
                labels = ", ".join(topics.get(t, t) for t in sorted(current.topics))
                lines.append(texts.NOTICES_CURRENT_TOPICS.format(labels=labels))
        rows: list[tuple[Button, ...]] = [(Button(texts.NOTICES_ALL, actions.subscribe(None)),)]
        rows.extend(
            (Button(texts.NOTICES_TOPIC.format(label=label), actions.subscribe(topic)),)
            for topic, label in self._subscriptions.topics.items()
        )
        rows.append((Button(texts.NOTICES_STOP, actions.unsubscribe()),))
        turn.say(Reply((Section(lines=tuple(lines)),), tuple(rows)))

    async def unsubscribe(self, turn: Turn) -> None:
        chat = turn.message.chat
        if chat.channel in BROADCAST_CHANNELS:
            await self._subscriptions.opt_out(chat)
        turn.say_text(texts.NOTICES_OFF)

    async def button(self, turn: Turn, action: Action) -> None:
        if action.kind == "unsub":
            await self.unsubscribe(turn)
            return
        chat = turn.message.chat
        if chat.channel not in BROADCAST_CHANNELS:
            self._not_here(turn)
            return
        topic = action.args[0] if action.args and action.args[0] != "all" else None
        try:
            await self._subscriptions.subscribe(chat, topic)
        except UnknownTopic:
            # A button from before the topics in config changed.
            turn.say_text(texts.UNKNOWN_BUTTON)
            return
        if topic is None:
            turn.say_text(texts.NOTICES_ON_ALL)
        else:
            label = self._subscriptions.topics[topic]
            turn.say_text(texts.NOTICES_ON_TOPIC.format(label=label))

    async def platform_event(self, turn: Turn, event: str) -> None:
        chat = turn.message.chat
        if chat.channel not in BROADCAST_CHANNELS:
            return
        if event == EVENT_UNFOLLOW:
            await self._subscriptions.mark_unreachable(chat, "unfollowed or blocked the bot")
        elif event == EVENT_FOLLOW:
            await self._subscriptions.mark_reachable(chat)
