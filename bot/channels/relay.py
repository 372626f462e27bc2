"""Carrying out a turn's relays: messages the dialogue meant for another chat.

The dialogue returns them (bot.dialogue.turn.Relay) and stays free of channels; this
handler sits between the channels and the dialogue, sends each relay through the sender
of its channel, and adds the relay's "not delivered" note to the turn's own replies when
sending fails. Used for hand-offs to staff (bot.dialogue.handoff_flow).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from bot.dialogue.turn import Relay, TurnOutcome
from bot.messages import Channel, Incoming, Reply, Sender, SendError

log = logging.getLogger(__name__)

SenderFor = Callable[[Channel], Sender | None]


class Conversing(Protocol):
    async def converse(self, message: Incoming) -> TurnOutcome: ...


class RelayingHandler:
    """Implements bot.messages.ConversationHandler for the channels."""

    def __init__(self, dialogue: Conversing, sender_for: SenderFor) -> None:
        self._dialogue = dialogue
        self._sender_for = sender_for

    async def handle(self, message: Incoming) -> Sequence[Reply]:
        outcome = await self._dialogue.converse(message)
        replies = list(outcome.replies)
        for relay in outcome.relays:
            if not await self.send(relay) and relay.if_undelivered is not None:
                replies.append(relay.if_undelivered)
        return replies

    async def send(self, relay: Relay) -> bool:
        """Send one relay; False (logged) when its chat cannot be reached."""
        sender = self._sender_for(relay.chat.channel)
        if sender is None:
            log.warning("relay to %s not sent: no sender for the channel", relay.chat)
            return False
        try:
            await sender.send(relay.chat.chat_id, relay.reply)
        except SendError as exc:
            log.warning("relay to %s not sent: %s", relay.chat, exc)
            return False
        return True
