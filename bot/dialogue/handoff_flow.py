"""A person instead of the bot: "gặp cán bộ" hands the chat to staff in office hours.

    citizen: "gặp cán bộ"
      ├─ office hours, staff group configured ──> hand-off #N opened (table `handoffs`)
      │     citizen: "a person will answer"  [Kết thúc trò chuyện với cán bộ]
      │     staff group: "🙋 #N · Zalo: người dân muốn gặp cán bộ"
      │     citizen's next messages ──> staff group as "💬 #N · Zalo" + the text
      │     staff reply (Telegram reply) to a #N message ──> the citizen, on their channel
      │     ends: citizen "kết thúc" / the button / /ketthuc; staff /xong in reply;
      │           nothing said for [handoff] timeout_minutes (both sides are told)
      └─ otherwise ──> when the center opens next, the hotline and the address

Staff see only the channel and the hand-off number, never the citizen's name, phone or
chat id. The number is read back from the first line of the message staff reply to
(every message about a hand-off starts with "#N"), so answering needs no message ids.

This flow only decides; what goes to another chat is returned as a Relay (bot.dialogue.turn)
and sent by the application (bot.channels.relay).
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from bot import texts
from bot.catalogue.slug import fold_diacritics
from bot.config import CenterConfig
from bot.dialogue import actions
from bot.dialogue.turn import Relay, Turn
from bot.handoff.hours import OfficeHours
from bot.handoff.store import ClosedBy, Handoff, HandoffStore
from bot.messages import Button, ChatRef, Reply, Section

log = logging.getLogger(__name__)

# "#12" on the first line of a message about hand-off 12 (texts.STAFF_HANDOFF_*).
HANDOFF_NUMBER = re.compile(r"#(\d{1,12})\b")
_COMMAND = re.compile(r"^/([A-Za-z_]+)")
# The citizen ends the conversation with staff by typing one of these (diacritics folded).
END_WORDS = frozenset(
    {"ket thuc", "ket thuc roi", "ket thuc tro chuyen", "ket thuc a", "thoat", "dung lai"}
)
STAFF_END_COMMANDS = frozenset({"xong", "done", "ketthuc"})
# A forwarded message longer than this is cut: Telegram splits messages over 4,096
# characters and a second part would lack the "#N" line staff reply to.
MAX_FORWARD_CHARS = 3500
_CONTEXT_KEY = "handoff"
# The last question the bot could not answer, kept for the "Hỏi cán bộ" button.
_UNANSWERED_KEY = "unanswered"
MAX_UNANSWERED_CHARS = 1000


class HandoffConversation:
    """Implements bot.dialogue.flows.HandoffFlow."""

    def __init__(
        self,
        store: HandoffStore,
        hours: OfficeHours,
        center: CenterConfig,
        *,
        staff_group: ChatRef | None,
        timeout: dt.timedelta,
    ) -> None:
        self._store = store
        self._hours = hours
        self._center = center
        self._group = staff_group
        self._timeout = timeout

    @property
    def timeout(self) -> dt.timedelta:
        return self._timeout

    def is_staff_chat(self, chat: ChatRef) -> bool:
        return self._group is not None and chat == self._group

    # --- the citizen -----------------------------------------------------------------

    def available(self, now: dt.datetime) -> bool:
        """Whether a hand-off opened now reaches staff (a group, in office hours)."""
        return self._group is not None and self._hours.is_open(now)

    def offer_for(self, turn: Turn, question: str) -> bool:
        """Keep `question`, which the bot could not answer, for the "Hỏi cán bộ" button
        (bot.dialogue.actions.ask_staff); False when no hand-off could take it now."""
        if not self.available(turn.now) or not question.strip():
            return False
        kept = question.strip()[:MAX_UNANSWERED_CHARS]
        turn.update(extra={**turn.context.extra, _UNANSWERED_KEY: kept})
        return True

    async def ask(self, turn: Turn) -> None:
        """The "Hỏi cán bộ" button: a hand-off that starts with the question kept."""
        question = turn.context.extra.get(_UNANSWERED_KEY, "")
        if question:
            extra = {k: v for k, v in turn.context.extra.items() if k != _UNANSWERED_KEY}
            turn.update(extra=extra)
        await self.request(turn, question)

    async def request(self, turn: Turn, question: str = "") -> None:
        # In a hand-off already, "gặp cán bộ" never gets here: it goes to staff like any
        # message (citizen_message). The store hands back a chat's open hand-off anyway.
        if not self.available(turn.now):
            self._say_when_and_how(turn)
            return
        handoff = await self._store.open(turn.message.chat, turn.now)
        log.info("hand-off #%d opened for %s", handoff.number, turn.message.chat)
        self._remember(turn, handoff.number)
        turn.say(
            Reply.text(
                texts.HANDOFF_STARTED.format(center_name=self._center.name, number=handoff.number),
                [[Button(texts.BUTTON_END_HANDOFF, actions.end_handoff())]],
            )
        )
        opened = texts.STAFF_HANDOFF_OPENED.format(
            number=handoff.number, channel=_channel_name(handoff.chat)
        )
        self._to_staff(turn, Reply.text(opened))
        if question:
            # What the citizen asked the bot first: staff need not ask for it again.
            self._forward(turn, handoff, [texts.STAFF_HANDOFF_UNANSWERED, *question.split("\n")])

    async def citizen_message(self, turn: Turn) -> bool:
        handoff = await self._current(turn)
        if handoff is None:
            return False
        if turn.now - handoff.last_activity_at > self._timeout:
            # The sweeper (bot.app) has not run yet, or the bot was stopped meanwhile.
            if await self._store.close(handoff.number, turn.now, ClosedBy.TIMEOUT):
                for relay in self._timed_out(handoff):
                    if relay.chat == turn.message.chat:
                        turn.say(relay.reply)
                    else:
                        turn.relay(relay)
            self._forget(turn)
            return False
        text = turn.message.text.strip()
        if _fold(text) in END_WORDS:
            await self._close_by_citizen(turn, handoff)
            return True
        lines: list[str] = []
        if turn.message.photo is not None:
            turn.say_text(texts.HANDOFF_PHOTO_NOT_FORWARDED)
            lines.append(texts.STAFF_HANDOFF_PHOTO)
        if text:
            if len(text) > MAX_FORWARD_CHARS:
                text = text[:MAX_FORWARD_CHARS] + "…"
            lines.extend(text.split("\n"))
        if not lines:
            turn.say_text(texts.EMPTY_MESSAGE)
            return True
        await self._store.touch(handoff.number, turn.now, by_staff=False)
        self._forward(turn, handoff, lines)
        return True

    def _forward(self, turn: Turn, handoff: Handoff, lines: list[str]) -> None:
        """The citizen's words to the staff group, under the hand-off's "💬 #N" line."""
        heading = texts.STAFF_HANDOFF_MESSAGE.format(
            number=handoff.number, channel=_channel_name(handoff.chat)
        )
        self._to_staff(turn, Reply((Section(heading, tuple(lines)),)))

    async def end(self, turn: Turn) -> None:
        handoff = await self._current(turn)
        if handoff is None:
            turn.say_text(texts.NOT_IN_HANDOFF)
            return
        await self._close_by_citizen(turn, handoff)

    async def _close_by_citizen(self, turn: Turn, handoff: Handoff) -> None:
        self._forget(turn)
        turn.say_text(texts.HANDOFF_ENDED_BY_CITIZEN)
        if await self._store.close(handoff.number, turn.now, ClosedBy.CITIZEN):
            note = texts.STAFF_HANDOFF_CLOSED_BY_CITIZEN.format(
                number=handoff.number, channel=_channel_name(handoff.chat)
            )
            self._to_staff(turn, Reply.text(note), tell_citizen=False)

    async def _current(self, turn: Turn) -> Handoff | None:
        """The chat's open hand-off; the context forgets one that staff or the timeout
        closed (the citizen was told then)."""
        number = turn.context.extra.get(_CONTEXT_KEY, "")
        if not number.isdigit():
            return None
        handoff = await self._store.get(int(number))
        if handoff is None or not handoff.is_open or handoff.chat != turn.message.chat:
            self._forget(turn)
            return None
        return handoff

    def _remember(self, turn: Turn, number: int) -> None:
        turn.update(extra={**turn.context.extra, _CONTEXT_KEY: str(number)})

    def _forget(self, turn: Turn) -> None:
        if _CONTEXT_KEY in turn.context.extra:
            extra = {k: v for k, v in turn.context.extra.items() if k != _CONTEXT_KEY}
            turn.update(extra=extra)

    def _to_staff(self, turn: Turn, reply: Reply, *, tell_citizen: bool = True) -> None:
        assert self._group is not None  # a hand-off is only opened with a staff group
        undelivered = (
            Reply.text(texts.HANDOFF_NOT_DELIVERED.format(hotline=self._center.hotline))
            if tell_citizen
            else None
        )
        turn.relay(Relay(self._group, reply, undelivered))

    def _say_when_and_how(self, turn: Turn) -> None:
        center = self._center
        where = {
            "hotline": center.hotline,
            "center_name": center.name,
            "address": center.address,
            "hours": center.hours,
        }
        if self._hours.is_open(turn.now):  # open, but no staff group to hand over to
            turn.say_text(texts.HUMAN_UNAVAILABLE.format(**where))
            return
        opening = self._hours.next_opening(turn.now)
        if opening is None:
            turn.say_text(texts.HUMAN_CLOSED_NO_OPENING.format(**where))
            return
        text = texts.HUMAN_CLOSED if self._group is not None else texts.HUMAN_CLOSED_CALL
        turn.say_text(text.format(opening=self._opening_text(turn, opening), **where))

    def _opening_text(self, turn: Turn, opening: dt.datetime) -> str:
        time = f"{opening.hour}h{opening.minute:02d}"
        if opening.date() == turn.now.astimezone(self._hours.zone).date():
            return texts.OPENING_TODAY.format(time=time)
        return texts.OPENING_AT.format(
            time=time,
            weekday=texts.WEEKDAY_NAMES[opening.weekday()],
            date=opening.strftime("%d/%m/%Y"),
        )

    # --- staff -----------------------------------------------------------------------

    async def staff_message(self, turn: Turn) -> bool:
        message = turn.message
        if message.action:
            return False  # a button in the group (a broadcast's progress): the core's
        text = message.text.strip()
        number = _number_in(message.quoted_text)
        command = _COMMAND.match(text)
        if command is not None:
            if command.group(1).lower() not in STAFF_END_COMMANDS:
                return False  # /thongke, /day, ... work in the group as anywhere
            if number is None:
                turn.say_text(texts.STAFF_HANDOFF_REPLY_HOW)
            else:
                await self._close_by_staff(turn, number)
            return True
        if number is None or not text:
            # Staff talking among themselves (or a reply to something else): not for us.
            return True
        handoff = await self._store.get(number)
        if handoff is None or not await self._store.touch(number, turn.now, by_staff=True):
            turn.say_text(texts.STAFF_HANDOFF_GONE.format(number=number))
            return True
        not_delivered = texts.STAFF_HANDOFF_NOT_DELIVERED.format(
            number=number, channel=_channel_name(handoff.chat)
        )
        answer = Reply((Section(texts.HANDOFF_STAFF_ANSWER, tuple(text.split("\n"))),))
        turn.relay(Relay(handoff.chat, answer, Reply.text(not_delivered)))
        return True

    async def _close_by_staff(self, turn: Turn, number: int) -> None:
        handoff = await self._store.get(number)
        if handoff is None or not await self._store.close(number, turn.now, ClosedBy.STAFF):
            turn.say_text(texts.STAFF_HANDOFF_GONE.format(number=number))
            return
        name = turn.message.display_name or turn.message.user_id
        turn.say_text(
            texts.STAFF_HANDOFF_CLOSED_BY_STAFF.format(
                number=number, channel=_channel_name(handoff.chat), name=name
            )
        )
        turn.relay(Relay(handoff.chat, Reply.text(texts.HANDOFF_ENDED_BY_STAFF)))

    # --- the timeout -----------------------------------------------------------------

    async def close_idle(self, now: dt.datetime) -> list[Relay]:
        """Close the hand-offs idle for the timeout; what to tell both sides."""
        relays: list[Relay] = []
        for handoff in await self._store.close_idle(now, self._timeout):
            log.info("hand-off #%d closed after the timeout", handoff.number)
            relays.extend(self._timed_out(handoff))
        return relays

    def _timed_out(self, handoff: Handoff) -> list[Relay]:
        minutes = f"{self._timeout.total_seconds() / 60:g}"
        to_citizen = texts.HANDOFF_TIMED_OUT.format(minutes=minutes, hotline=self._center.hotline)
        relays = [Relay(handoff.chat, Reply.text(to_citizen))]
        if self._group is not None:
            note = texts.STAFF_HANDOFF_TIMED_OUT.format(
                number=handoff.number, channel=_channel_name(handoff.chat), minutes=minutes
            )
            relays.append(Relay(self._group, Reply.text(note)))
        return relays


def _number_in(quoted: str) -> int | None:
    first_line = quoted.strip().split("\n", 1)[0]
    found = HANDOFF_NUMBER.search(first_line)
    return int(found.group(1)) if found else None


def _channel_name(chat: ChatRef) -> str:
    return texts.CHANNEL_NAMES.get(chat.channel.value, chat.channel.value)


def _fold(text: str) -> str:
    folded = fold_diacritics(text.lower())
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())
