"""The channel-neutral dialogue core: one `Incoming` in, the replies out.

Routing, in order (the first that applies wins):

    platform event (follow/unfollow) ──> notices flow
    a message in the staff group ──────> hand-off flow (staff answering a citizen)
    button press (action) ─────────────> the flow that made the button
    /command ──────────────────────────> greeting, help, contact, dossier, notices, staff
    the chat is handed to staff ───────> hand-off flow: the message goes to the staff group
    waiting for a verification value ──> dossier flow
    waiting for a rating comment ──────> dossier flow
    receipt code in the text ──────────> dossier flow (checked before any fuzzy search)
    a photo (of the receipt slip) ─────> dossier flow, which reads its QR code or barcode
    "không phải" (not this one) ───────> the other candidates of the last question
    anything else ─────────────────────> procedure search; follow-ups such as
                                          "còn lệ phí thì sao?" use the procedure in context;
                                          "gặp cán bộ" goes to the hand-off flow

No platform types here: channels translate to and from `bot.messages`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot import texts
from bot.catalogue.model import Catalogue, Procedure
from bot.catalogue.slug import fold_diacritics
from bot.config import CenterConfig
from bot.dialogue import actions
from bot.dialogue.actions import Action, Menu, Part
from bot.dialogue.context import ChatContext, ContextStore
from bot.dialogue.flows import DossierFlow, HandoffFlow, NoticesFlow, StaffFlow
from bot.dialogue.procedure_answers import choices_reply, procedure_answer
from bot.dialogue.turn import Turn, TurnOutcome
from bot.messages import EVENT_FOLLOW, EVENT_UNFOLLOW, Button, Incoming, Reply, Section
from bot.search import Decision, DeclineReason, Matcher, SearchResult
from bot.stats.records import QuestionDecision, StatsRecorder, local_day
from bot.storage.database import StorageUnavailable
from bot.teaching.store import LessonStore

log = logging.getLogger(__name__)

# Messages are cut to this many characters before searching: no real question is longer,
# and it bounds the work a 10,000-character paste can cause.
MAX_QUESTION_CHARS = 1000

_NOT_THIS_ONE = re.compile(
    r"^(?:khong|ko|k|hong|chua)\s+(?:phai|dung)(?:\s+(?:roi|a|ạ|thu tuc nay|cai nay|nhe))*$"
    r"|^sai\s*(?:roi)?$|^(?:thu tuc|cai)\s+khac$"
)
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True)
class DialogueServices:
    """What the dialogue needs, built once by the composition root (bot.core.open_core)."""

    center: CenterConfig
    catalogue: Catalogue
    matcher: Matcher
    contexts: ContextStore
    recorder: StatsRecorder | None = None
    lessons: LessonStore | None = None  # what staff taught (bot.teaching)
    dossiers: DossierFlow | None = None
    notices: NoticesFlow | None = None
    staff: StaffFlow | None = None
    handoff: HandoffFlow | None = None


class Dialogue:
    """Implements bot.messages.ConversationHandler for every channel."""

    def __init__(
        self,
        services: DialogueServices,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._s = services
        self._clock = clock

    async def handle(self, message: Incoming) -> Sequence[Reply]:
        return (await self.converse(message)).replies

    async def converse(self, message: Incoming) -> TurnOutcome:
        """The replies to `message` and the relays for other chats (which the caller sends:
        bot.channels.relay)."""
        now = self._clock()
        try:
            context = await self._load_context(message, now)
            turn = Turn(message, context, now)
            await self._route(turn)
            if not (message.greeting_shown and _only_greeted(context, turn.context)):
                await self._save_context(turn)
            return TurnOutcome(tuple(turn.replies), tuple(turn.relays))
        except StorageUnavailable:
            # The database's outage log said it once (bot.storage.outage); the citizen
            # gets the apology, the log no traceback per message.
            apology = Reply.text(texts.ERROR_APOLOGY.format(hotline=self._s.center.hotline))
            return TurnOutcome((apology,))
        except Exception:
            log.exception(
                "conversation failed: chat=%s user=%s action=%r text=%r",
                message.chat,
                message.user_id,
                message.action,
                message.text[:200],
            )
            apology = Reply.text(texts.ERROR_APOLOGY.format(hotline=self._s.center.hotline))
            return TurnOutcome((apology,))

    # --- context, tolerant of the bot's own database being down ----------------------

    async def _load_context(self, message: Incoming, now: dt.datetime) -> ChatContext:
        try:
            return await self._s.contexts.load(message.chat, now)
        except StorageUnavailable:
            # Logged once per outage where it was raised; answered without context.
            return ChatContext(greeted=True)

    async def _save_context(self, turn: Turn) -> None:
        with contextlib.suppress(StorageUnavailable):
            await self._s.contexts.save(turn.message.chat, turn.context, turn.now)

    # --- routing ---------------------------------------------------------------------

    async def _route(self, turn: Turn) -> None:
        message = turn.message
        if message.action in (EVENT_FOLLOW, EVENT_UNFOLLOW):
            await self._platform_event(turn, message.action)
            return
        handoff = self._s.handoff
        if (
            handoff is not None
            and handoff.is_staff_chat(message.chat)
            and await handoff.staff_message(turn)
        ):
            return
        if message.action:
            await self._button(turn, Action.decode(message.action))
            return
        text = message.text.strip()
        command = _COMMAND.match(text)
        if command:
            await self._command(turn, command.group(1).lower(), (command.group(2) or "").strip())
            return
        if handoff is not None and await handoff.citizen_message(turn):
            return
        if message.is_first_contact or not (turn.context.greeted or message.greeting_shown):
            self._greet(turn)
            first_words_only = not text or (
                message.is_first_contact and not _looks_like_question(text)
            )
            if first_words_only and message.photo is None:
                return
        if message.photo is not None:
            if self._s.dossiers is None:
                turn.say_text(texts.PHOTO_NOT_READ)
                return
            if await self._s.dossiers.handle_photo(turn, message.photo):
                return
        if not text:
            turn.say_text(texts.EMPTY_MESSAGE)
            return
        if len(text) > MAX_QUESTION_CHARS:
            turn.say_text(texts.MESSAGE_TOO_LONG)
            text = text[:MAX_QUESTION_CHARS]
        if self._s.dossiers is not None and await self._s.dossiers.handle_text(turn, text):
            return
        if _NOT_THIS_ONE.match(_fold(text)):
            if turn.context.candidate_codes or turn.context.last_question:
                self._other_candidates(turn)
            else:
                turn.say_text(texts.NOTHING_TO_REJECT)
            return
        await self._question(turn, text)

    async def _platform_event(self, turn: Turn, event: str) -> None:
        if event == EVENT_FOLLOW:
            self._greet(turn)
        if self._s.notices is not None:
            await self._s.notices.platform_event(turn, event)

    async def _command(self, turn: Turn, name: str, argument: str) -> None:
        # "/start <argument>": a link from the web chat that follows a dossier here.
        dossiers = self._s.dossiers
        if name == "start" and argument and dossiers and await dossiers.start_link(turn, argument):
            return
        if name in ("start", "menu", "batdau"):
            self._greet(turn)
        elif name in ("help", "huongdan", "trogiup"):
            turn.say_text(texts.HELP)
        elif name in ("lienhe", "contact"):
            turn.say(self._contact())
        elif name in ("tracuu", "hoso", "dossier"):
            await self._menu(turn, Menu.DOSSIER)
        elif name in ("thongbao", "subscribe", "huythongbao", "unsubscribe", "stop"):
            if self._s.notices is None:
                turn.say_text(texts.NOTICES_NOT_AVAILABLE)
            elif name in ("thongbao", "subscribe"):
                await self._s.notices.offer(turn)
            else:
                await self._s.notices.unsubscribe(turn)
        elif name in ("ketthuc", "end"):
            if self._s.handoff is None:
                turn.say_text(texts.NOT_IN_HANDOFF)
            else:
                await self._s.handoff.end(turn)
        elif self._s.staff is not None and await self._s.staff.command(turn, name, argument):
            return
        else:
            turn.say_text(texts.UNKNOWN_COMMAND.format(command="/" + name))

    async def _button(self, turn: Turn, action: Action) -> None:
        kind, args = action.kind, action.args
        if kind == "menu" and args:
            try:
                item = Menu(args[0])
            except ValueError:
                turn.say_text(texts.UNKNOWN_BUTTON)
                return
            await self._menu(turn, item)
        elif kind == "p" and len(args) == 2:
            self._show_part(turn, args[0], args[1])
        elif kind == "notp":
            self._other_candidates(turn)
        elif kind == "fb" and len(args) == 2:
            await self._feedback(turn, args[0], args[1] == "1")
        elif kind in ("d", "rate") and self._s.dossiers is not None:
            await self._s.dossiers.button(turn, action)
        elif kind in ("sub", "unsub") and self._s.notices is not None:
            await self._s.notices.button(turn, action)
        elif kind in ("bc", "tq") and self._s.staff is not None:
            await self._s.staff.button(turn, action)
        elif kind == "ho" and args == ("ask",) and self._s.handoff is not None:
            await self._s.handoff.ask(turn)
        elif kind == "ho" and self._s.handoff is not None:
            await self._s.handoff.end(turn)
        else:
            turn.say_text(texts.UNKNOWN_BUTTON)

    async def _menu(self, turn: Turn, item: Menu) -> None:
        if item is Menu.ASK:
            turn.say_text(texts.ASK_PROMPT)
        elif item is Menu.DOSSIER:
            if self._s.dossiers is None:
                turn.say_text(texts.DOSSIER_DISABLED.format(hotline=self._s.center.hotline))
            else:
                turn.say_text(texts.DOSSIER_PROMPT)
        elif item is Menu.NOTICES:
            if self._s.notices is None:
                turn.say_text(texts.NOTICES_NOT_AVAILABLE)
            else:
                await self._s.notices.offer(turn)
        else:
            turn.say(self._contact())

    # --- greeting and contact --------------------------------------------------------

    def _greet(self, turn: Turn) -> None:
        center = self._s.center
        greeting = texts.GREETING.format(center_name=center.name)
        info = self._center_lines()
        menu = (
            (
                Button(texts.MENU_ASK, actions.menu(Menu.ASK)),
                Button(texts.MENU_DOSSIER, actions.menu(Menu.DOSSIER)),
            ),
            (
                Button(texts.MENU_NOTICES, actions.menu(Menu.NOTICES)),
                Button(texts.MENU_CONTACT, actions.menu(Menu.CONTACT)),
            ),
        )
        turn.say(
            Reply(
                (
                    Section(lines=tuple(greeting.split("\n"))),
                    Section(texts.CENTER_INFO_HEADING, info),
                ),
                menu,
            )
        )
        turn.update(greeted=True)

    def _center_lines(self) -> tuple[str, ...]:
        center = self._s.center
        lines = texts.CENTER_INFO.format(
            center_name=center.name,
            address=center.address,
            hours=center.hours,
            hotline=center.hotline,
        ).split("\n")
        if center.email:
            lines.append(texts.CENTER_EMAIL.format(email=center.email))
        if center.website:
            lines.append(texts.CENTER_WEBSITE.format(website=center.website))
        return tuple(lines)

    def _contact(self) -> Reply:
        return Reply((Section(texts.CENTER_INFO_HEADING, self._center_lines()),))

    # --- procedure questions ---------------------------------------------------------

    async def _question(self, turn: Turn, text: str) -> None:
        lessons = await self._s.lessons.current() if self._s.lessons is not None else None
        result = self._s.matcher.search(text, lessons)
        if result.decline_reason is DeclineReason.HUMAN and self._s.handoff is not None:
            # Before follow-ups: "gặp cán bộ" after a procedure answer still means a person.
            await self._s.handoff.request(turn)
            self._record(turn, text, QuestionDecision.DECLINE, None)
            return
        part = _part_of(result)
        context = turn.context
        if (
            not result.names_procedure
            and context.procedure_code
            and (procedure := self._s.catalogue.get(context.procedure_code)) is not None
            and (part is not Part.GENERAL or result.decision is not Decision.ANSWER)
            and result.decline_reason
            not in (DeclineReason.GREETING, DeclineReason.COMPLAINT, DeclineReason.PRIVATE_DATA)
        ):
            # A follow-up ("còn lệ phí thì sao?", "mất bao lâu"): same procedure, new part.
            turn.say(self._answer(turn, procedure, part, also=_parts_of(result)))
            turn.update(last_intent=part.value)
            self._record(turn, text, QuestionDecision.ANSWER, procedure.code, followup=True)
            return
        if result.decision is Decision.ANSWER and result.shown:
            procedure = result.shown[0].procedure
            turn.say(self._answer(turn, procedure, part, also=_parts_of(result)))
            turn.update(
                procedure_code=procedure.code,
                candidate_codes=tuple(c.procedure.code for c in result.candidates),
                rejected_codes=(),
                shown_codes=(procedure.code,),
                last_question=text,
                last_intent=part.value,
            )
            self._record(turn, text, QuestionDecision.ANSWER, procedure.code)
            return
        if result.decision is Decision.CLARIFY and result.shown:
            heading = (
                texts.CLARIFY_EVENT.format(title=result.event.title)
                if result.event is not None
                else texts.CLARIFY
            )
            turn.say(choices_reply(heading, [c.procedure for c in result.shown], part))
            turn.update(
                procedure_code=None,
                candidate_codes=tuple(c.procedure.code for c in result.candidates),
                rejected_codes=(),
                shown_codes=tuple(c.procedure.code for c in result.shown),
                last_question=text,
                last_intent=part.value,
            )
            self._record(turn, text, QuestionDecision.CLARIFY, None)
            return
        self._decline(turn, result)
        self._record(turn, text, QuestionDecision.DECLINE, None)

    def _answer(
        self, turn: Turn, procedure: Procedure, part: Part, also: Sequence[Part] = ()
    ) -> Reply:
        # Dated fees and rules are judged on the center's date, not the server's.
        today = local_day(turn.now)
        return procedure_answer(procedure, part, self._s.center, today=today, also=also)

    def _decline(self, turn: Turn, result: SearchResult) -> None:
        center = self._s.center
        reason = result.decline_reason
        if reason is DeclineReason.GREETING:
            turn.say_text(texts.DECLINE_GREETING)
        elif reason is DeclineReason.SMALL_TALK:
            turn.say_text(texts.DECLINE_SMALL_TALK.format(center_name=center.name))
        elif reason is DeclineReason.COMPLAINT:
            turn.say_text(texts.DECLINE_COMPLAINT.format(hotline=center.hotline))
        elif reason is DeclineReason.PRIVATE_DATA:
            turn.say_text(texts.DECLINE_PRIVATE_DATA)
        elif reason is DeclineReason.EMPTY and result.intent.value != Part.GENERAL.value:
            # "mất bao lâu", "còn lệ phí?" with no procedure in the conversation.
            turn.say_text(texts.FOLLOWUP_NEEDS_PROCEDURE)
        elif reason is DeclineReason.EMPTY:
            # Something was typed, but nothing that names a procedure ("làm giấy tờ").
            turn.say_text(texts.VAGUE_QUESTION)
        elif reason is DeclineReason.DOSSIER_STATUS:
            if self._s.dossiers is None:
                turn.say_text(texts.DOSSIER_DISABLED.format(hotline=center.hotline))
            else:
                turn.say_text(texts.DOSSIER_ASK_CODE)
        elif reason is DeclineReason.CENTER_INFO:
            turn.say(self._contact())
        elif reason is DeclineReason.THANKS:
            turn.say_text(texts.THANKS_REPLY)
        elif reason is DeclineReason.HUMAN:
            turn.say_text(
                texts.HUMAN_UNAVAILABLE.format(
                    hotline=center.hotline,
                    center_name=center.name,
                    address=center.address,
                    hours=center.hours,
                )
            )
        elif reason is DeclineReason.NOT_OURS:
            turn.say_text(texts.DECLINE_NOT_OURS.format(hotline=center.hotline))
        elif reason is DeclineReason.REFER and result.event is not None:
            turn.say_text(
                texts.DECLINE_REFER.format(refer=result.event.refer, hotline=center.hotline)
            )
        elif not result.names_procedure and result.intent.value != Part.GENERAL.value:
            turn.say_text(texts.FOLLOWUP_NEEDS_PROCEDURE)
        else:
            text = texts.DECLINE_NO_MATCH.format(hotline=center.hotline)
            buttons = [
                [
                    Button(texts.MENU_DOSSIER, actions.menu(Menu.DOSSIER)),
                    Button(texts.MENU_CONTACT, actions.menu(Menu.CONTACT)),
                ]
            ]
            # Not a dead end: in office hours a person can take the question as asked.
            handoff = self._s.handoff
            if handoff is not None and handoff.offer_for(turn, turn.message.text):
                text += "\n" + texts.DECLINE_NO_MATCH_ASK_STAFF
                buttons.insert(0, [Button(texts.BUTTON_ASK_STAFF, actions.ask_staff())])
            turn.say(Reply.text(text, buttons))
        turn.update(procedure_code=None, candidate_codes=(), rejected_codes=(), shown_codes=())

    def _show_part(self, turn: Turn, code: str, part_name: str) -> None:
        procedure = self._s.catalogue.get(code)
        try:
            part = Part(part_name)
        except ValueError:
            part = Part.GENERAL
        if procedure is None:
            turn.say_text(texts.UNKNOWN_BUTTON)
            return
        turn.say(self._answer(turn, procedure, part))
        turn.update(procedure_code=code, last_intent=part.value)

    def _other_candidates(self, turn: Turn) -> None:
        """ "Không phải": what was just shown is turned down; the next candidates of the
        last question are offered, never the same list twice, and then nothing more."""
        context = turn.context
        if not context.candidate_codes and not context.last_question:
            turn.say_text(texts.NOTHING_TO_REJECT)
            return
        rejected = list(context.rejected_codes)
        turned_down = (
            [context.procedure_code] if context.procedure_code else list(context.shown_codes)
        )
        rejected.extend(code for code in turned_down if code and code not in rejected)
        for code in turned_down:
            # Staff see what citizens turned down, to teach the bot (bot teach list).
            self._record(turn, context.last_question, QuestionDecision.REJECTED, code)
        others = self._s.matcher.alternatives(context.last_question, rejected, limit=5)
        turn.update(
            procedure_code=None,
            rejected_codes=tuple(rejected),
            shown_codes=tuple(p.code for p in others),
        )
        if not others:
            turn.say_text(texts.NO_OTHER_CANDIDATES.format(hotline=self._s.center.hotline))
            return
        try:
            part = Part(context.last_intent)
        except ValueError:
            part = Part.GENERAL
        turn.say(choices_reply(texts.CLARIFY_OTHERS, others, part))

    async def _feedback(self, turn: Turn, code: str, helpful: bool) -> None:
        if self._s.recorder is not None:
            await self._s.recorder.record_answer_feedback(turn.message.chat, code, helpful)
        if helpful:
            turn.say_text(texts.FEEDBACK_THANKS)
        else:
            turn.say_text(texts.FEEDBACK_SORRY.format(hotline=self._s.center.hotline))

    def _record(
        self,
        turn: Turn,
        text: str,
        decision: QuestionDecision,
        code: str | None,
        *,
        followup: bool = False,
    ) -> None:
        if self._s.recorder is not None:
            # Written shortly after, with other turns' records: statistics must never
            # cost a citizen time or an answer. A withheld text is counted, not kept.
            self._s.recorder.queue_question(
                turn.message.chat,
                "" if turn.withhold_text else text,
                decision,
                code,
                followup=followup,
            )


def _only_greeted(*contexts: ChatContext) -> bool:
    """True when none of `contexts` holds more than the fact that the chat was greeted:
    nothing worth a row of its own."""
    return all(dataclasses.replace(c, greeted=False) == _NOTHING for c in contexts)


_NOTHING = ChatContext()


def _part_of(result: SearchResult) -> Part:
    try:
        return Part(result.intent.value)
    except ValueError:
        return Part.GENERAL


def _parts_of(result: SearchResult) -> tuple[Part, ...]:
    """Every part the message asked, in the order asked."""
    values = {part.value for part in Part}
    return tuple(Part(intent.value) for intent in result.parts if intent.value in values)


def _fold(text: str) -> str:
    folded = fold_diacritics(text.lower())
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())


def _looks_like_question(text: str) -> bool:
    """On first contact, "hi"/"xin chào" only needs the greeting; anything longer is answered."""
    return len(_fold(text).split()) > 2
