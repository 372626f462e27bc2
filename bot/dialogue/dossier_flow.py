"""The dossier conversation: receipt code -> (verification) -> status, history, notices.

    photo of the slip ──> its QR code / barcode read ──> receipt code (as if typed)
    receipt code ──> lookup ──> Found ──────────────> status + [history] [notify me]
                          └──> VerificationNeeded ──> "last 4 digits?"  (awaiting)
    4 digits (awaiting) ──> lookup with them ──> Found | NotFoundOrMismatch | LockedOut
    rating button (after "returned") ──> thanks, "any comment?" (awaiting a comment)
    [notify me] on a channel without notices (web chat) ──> Telegram link (token) + Zalo OA
    /start f_<token> (Telegram, from that link) ──> the dossier followed in this chat

The privacy rules (verification, lockout, audit, same answer for "no such dossier" and
"wrong digits") live in bot.dossiers; this module only talks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from urllib.parse import unquote

from bot import texts
from bot.catalogue.slug import fold_diacritics
from bot.dialogue.actions import Action
from bot.dialogue.dossier_answers import (
    dossier_reply,
    history_reply,
    malformed_code_reply,
    wait_text,
)
from bot.dialogue.elsewhere import ElsewhereLinks
from bot.dialogue.turn import Turn
from bot.dossiers.access import verification_digits
from bot.dossiers.follow_links import FollowLinks, is_follow_token
from bot.dossiers.receipt_codes import MalformedReceiptCode, ReceiptCode
from bot.dossiers.service import (
    DossierService,
    Found,
    HistoryFound,
    HistoryOutcome,
    LockedOut,
    LockReason,
    LookupOutcome,
    NotFoundOrMismatch,
    SubscribeResult,
    Unavailable,
    VerificationNeeded,
)
from bot.dossiers.slip_photo import SlipPhotoReader
from bot.messages import MAX_PHOTO_BYTES, Channel, ChatRef, Photo, PhotoProblem, Reply, Section
from bot.stats.records import StatsRecorder

log = logging.getLogger(__name__)

AWAITING_VERIFICATION = "verification"
AWAITING_RATING_COMMENT = "rating_comment"
# Digits said in words, as people type what they would say on the phone ("không ba năm
# tám"), after folding the diacritics. Southern "hông", "lăm" in "mười lăm", "tư" for 4.
_DIGIT_WORDS = {
    "khong": "0",
    "ko": "0",
    "hong": "0",
    "linh": "0",
    "mot": "1",
    "hai": "2",
    "ba": "3",
    "bon": "4",
    "tu": "4",
    "nam": "5",
    "lam": "5",
    "sau": "6",
    "bay": "7",
    "tam": "8",
    "chin": "9",
}
_TOKEN = re.compile(r"[^\W\d_]+|\d+")
# Messages that are a number and nothing else: 4 digits or more, typed or said.
_MIN_BARE_DIGITS = 4
_PHOTO_PROBLEMS = {
    PhotoProblem.TOO_LARGE: texts.PHOTO_TOO_LARGE,
    PhotoProblem.NOT_RECEIVED: texts.PHOTO_NOT_RECEIVED,
    PhotoProblem.UNREADABLE: texts.PHOTO_UNREADABLE,
    # Nothing found in the time allowed: as good as no code.
    PhotoProblem.TOO_SLOW: texts.PHOTO_NO_CODE,
}


class DossierConversation:
    """Implements bot.dialogue.flows.DossierFlow over a DossierService."""

    def __init__(
        self,
        service: DossierService,
        hotline: str,
        zone: dt.tzinfo,
        ratings: StatsRecorder | None = None,
        notify_channels: Collection[Channel] = (),
        photos: SlipPhotoReader | None = None,
        elsewhere: ElsewhereLinks | None = None,
        follow_links: FollowLinks | None = None,
    ) -> None:
        """`notify_channels`: channels that can carry change notices (a live view: channels
        are added as they start); on others (web chat, terminal) nobody can be told later,
        so they are offered the center's Telegram bot (`follow_links` makes its links
        follow the dossier) and Zalo OA from `elsewhere`.
        `photos` reads the codes on photos of receipt slips."""
        self._service = service
        self._elsewhere = elsewhere or ElsewhereLinks()
        self._follow_links = follow_links
        self._photos = photos or SlipPhotoReader()
        self._notify_channels = notify_channels
        self._hotline = hotline
        self._zone = zone
        self._ratings = ratings

    # Every reply about a dossier is private (Reply.private): it may show the dossier, and
    # the message it answers may hold the verification digits.

    async def handle_text(self, turn: Turn, text: str) -> bool:
        with _private_replies(turn):
            return await self._handle_text(turn, text)

    async def handle_photo(self, turn: Turn, photo: Photo) -> bool:
        with _private_replies(turn):
            return await self._handle_photo(turn, photo)

    async def button(self, turn: Turn, action: Action) -> None:
        with _private_replies(turn):
            await self._button(turn, action)

    async def _handle_text(self, turn: Turn, text: str) -> bool:
        context = turn.context
        found = self._service.find_code(text, turn.now)
        if isinstance(found, ReceiptCode):
            await self._lookup(turn, found, verification=None)
            return True
        if isinstance(found, MalformedReceiptCode):
            turn.say(malformed_code_reply(found))
            return True
        if context.awaiting == AWAITING_VERIFICATION and context.pending_code:
            return await self._verification(turn, context.pending_code, text)
        bare = bare_number(text)
        if bare is not None and len(bare) >= _MIN_BARE_DIGITS:
            # "5633" alone: the last digits of a phone, sent before (or without) the code.
            # Never searched as a question, so never kept in the statistics either.
            turn.say_text(texts.VERIFY_NEEDS_CODE)
            return True
        if context.awaiting == AWAITING_RATING_COMMENT and context.pending_code:
            await self._rating_comment(turn, context.pending_code, text)
            return True
        return False

    async def _handle_photo(self, turn: Turn, photo: Photo) -> bool:
        problem = photo.problem
        reading = None
        if problem is None:
            reading = await self._photos.read(photo.data)
            problem = reading.problem
        if problem is not None:
            log.info("photo from %s not read: %s", turn.message.chat, problem.value)
            turn.say_text(_PHOTO_PROBLEMS[problem].format(megabytes=MAX_PHOTO_BYTES // 2**20))
            return True
        assert reading is not None
        malformed: MalformedReceiptCode | None = None
        for text in reading.texts:
            # A QR code may hold a link with the code in its query string, %-escaped.
            found = self._service.find_code(unquote(text), turn.now)
            if isinstance(found, ReceiptCode):
                turn.say_text(texts.PHOTO_CODE_READ.format(code=found))
                await self._lookup(turn, found, verification=None)
                return True
            malformed = malformed or (found if isinstance(found, MalformedReceiptCode) else None)
        if malformed is not None:
            turn.say(malformed_code_reply(malformed))
            return True
        if turn.message.text.strip():
            return False  # the caption may say what the photo does not
        turn.say_text(texts.PHOTO_NO_CODE)
        return True

    async def _button(self, turn: Turn, action: Action) -> None:
        if action.kind == "rate" and len(action.args) == 2 and action.args[1].isdigit():
            await self._rating(turn, action.args[0], int(action.args[1]))
            return
        if action.kind != "d" or len(action.args) != 2:
            turn.say_text(texts.UNKNOWN_BUTTON)
            return
        verb, code_text = action.args
        code = self._service.find_code(code_text, turn.now)
        if not isinstance(code, ReceiptCode):
            turn.say_text(texts.UNKNOWN_BUTTON)
            return
        if verb == "hist":
            await self._history(turn, code)
        elif verb == "watch":
            await self._watch(turn, code)
        elif verb == "unwatch":
            removed = await self._service.unsubscribe(turn.message.chat, str(code))
            template = texts.WATCH_OFF if removed else texts.WATCH_NOT_WATCHING
            turn.say_text(template.format(code=code))
        else:
            turn.say_text(texts.UNKNOWN_BUTTON)

    # --- lookups ---------------------------------------------------------------------

    async def _verification(self, turn: Turn, pending: str, text: str) -> bool:
        digits = spoken_verification_digits(text)
        if digits is None:
            if bare_number(text) is not None:
                turn.say_text(texts.VERIFY_FORMAT)
                return True
            # Not an answer to our question: forget it and treat the text as a new one,
            # but keep its words out of the statistics (it may hold a name or number).
            turn.update(awaiting=None, pending_code=None)
            turn.withhold_text = True
            return False
        code = self._service.find_code(pending, turn.now)
        if not isinstance(code, ReceiptCode):
            turn.update(awaiting=None, pending_code=None)
            return False
        await self._lookup(turn, code, verification=digits)
        return True

    async def _lookup(self, turn: Turn, code: ReceiptCode, verification: str | None) -> None:
        message = turn.message
        outcome = await self._service.lookup(
            message.chat,
            message.user_id,
            code,
            verification,
            now=turn.now,
            address=message.network_address,
        )
        if isinstance(outcome, Found):
            turn.context = turn.context.with_dossier(str(code))
            turn.update(awaiting=None, pending_code=None)
            can_watch = self._can_watch(message.chat)
            watching = can_watch and await self._is_watching(message.chat, str(code))
            can_watch = can_watch or self._can_watch_elsewhere(message.chat)
            turn.say(
                dossier_reply(outcome.view, self._zone, can_watch=can_watch, watching=watching)
            )
            return
        self._denied(turn, code, outcome)

    async def _history(self, turn: Turn, code: ReceiptCode) -> None:
        message = turn.message
        outcome: HistoryOutcome = await self._service.history(
            message.chat, message.user_id, code, now=turn.now
        )
        if isinstance(outcome, HistoryFound):
            turn.context = turn.context.with_dossier(str(code))
            history = outcome.history
            turn.say(history_reply(history.dossier, history.entries, self._zone))
            return
        self._denied(turn, code, outcome)

    def _denied(
        self,
        turn: Turn,
        code: ReceiptCode,
        outcome: VerificationNeeded | NotFoundOrMismatch | LockedOut | Unavailable | LookupOutcome,
    ) -> None:
        if isinstance(outcome, VerificationNeeded):
            template = texts.VERIFY_PHONE if outcome.factor == "phone_last4" else texts.VERIFY_ID
            turn.say_text(template.format(code=code))
            turn.update(awaiting=AWAITING_VERIFICATION, pending_code=str(code))
        elif isinstance(outcome, NotFoundOrMismatch):
            if outcome.locked_until is not None:
                self._locked(turn, code, LockedOut(outcome.locked_until, outcome.reason))
                return
            text = texts.DOSSIER_NOT_FOUND.format(hotline=self._hotline)
            if self._service.verification_factor != "none" and outcome.attempts_left > 0:
                text += "\n" + texts.DOSSIER_ATTEMPTS_LEFT.format(attempts=outcome.attempts_left)
                # Let them correct the digits without typing the code again.
                turn.update(awaiting=AWAITING_VERIFICATION, pending_code=str(code))
            turn.say_text(text)
        elif isinstance(outcome, LockedOut):
            self._locked(turn, code, outcome)
        else:
            turn.say_text(texts.DOSSIER_UNAVAILABLE.format(hotline=self._hotline))
            turn.update(awaiting=None, pending_code=None)

    def _locked(self, turn: Turn, code: ReceiptCode, locked: LockedOut) -> None:
        template = {
            LockReason.DOSSIER_GUARDED: texts.DOSSIER_GUARDED,
            LockReason.LOOKUPS_PAUSED: texts.DOSSIER_LOOKUPS_PAUSED,
        }.get(locked.reason, texts.DOSSIER_LOCKED)
        wait = wait_text(locked.until, turn.now)
        turn.say_text(template.format(code=code, wait=wait, hotline=self._hotline))
        turn.update(awaiting=None, pending_code=None)

    # --- change notices --------------------------------------------------------------

    def _can_watch(self, chat: ChatRef) -> bool:
        return self._service.can_notify and chat.channel in self._notify_channels

    async def _is_watching(self, chat: ChatRef, code: str) -> bool:
        return any(s.code == code for s in await self._service.subscriptions(chat))

    def _can_watch_elsewhere(self, chat: ChatRef) -> bool:
        return (
            self._service.can_notify
            and chat.channel not in self._notify_channels
            and self._elsewhere.offered
        )

    async def _watch(self, turn: Turn, code: ReceiptCode) -> None:
        if not self._can_watch(turn.message.chat):
            if self._can_watch_elsewhere(turn.message.chat):
                await self._watch_elsewhere(turn, code)
            else:
                turn.say_text(texts.WATCH_NOT_OFFERED)
            return
        result = await self._service.subscribe(turn.message.chat, code, now=turn.now)
        self._say_subscribed(turn, code, result)

    def _say_subscribed(
        self, turn: Turn, code: ReceiptCode | str, result: SubscribeResult
    ) -> None:
        template = {
            SubscribeResult.SUBSCRIBED: texts.WATCH_ON,
            SubscribeResult.ALREADY_SUBSCRIBED: texts.WATCH_ALREADY,
            SubscribeResult.NOT_VERIFIED: texts.WATCH_NEEDS_LOOKUP,
            SubscribeResult.ALREADY_RETURNED: texts.WATCH_RETURNED,
            SubscribeResult.NOT_OFFERED: texts.WATCH_NOT_OFFERED,
        }[result]
        turn.say_text(template.format(code=code))

    async def _watch_elsewhere(self, turn: Turn, code: ReceiptCode) -> None:
        """The Telegram bot (a link that follows this dossier) and the Zalo OA (steps)."""
        chat = turn.message.chat
        elsewhere = self._elsewhere
        token = ""
        lines = [texts.WATCH_ELSEWHERE_INTRO]
        if elsewhere.telegram_bot_username and self._follow_links is not None:
            issued = await self._follow_links.issue(chat, str(code), turn.now)
            if issued is None:
                turn.say_text(texts.WATCH_NEEDS_LOOKUP)
                return
            token = issued
            minutes = round(self._follow_links.lifetime.total_seconds() / 60)
            lines.append(
                texts.WATCH_ELSEWHERE_TELEGRAM.format(
                    button=texts.BUTTON_OPEN_TELEGRAM, minutes=minutes
                )
            )
        if elsewhere.zalo_oa_url:
            lines.append(
                texts.WATCH_ELSEWHERE_ZALO.format(button=texts.BUTTON_OPEN_ZALO, code=code)
            )
        heading = texts.WATCH_ELSEWHERE_HEADING.format(code=code)
        rows = (elsewhere.telegram_button(token) if token else (), elsewhere.zalo_button())
        turn.say(Reply((Section(heading, tuple(lines)),), tuple(row for row in rows if row)))

    async def start_link(self, turn: Turn, argument: str) -> bool:
        """ "/start f_<token>" from a follow link: follow its dossier in this chat. False
        when the argument is not a follow token (the core greets)."""
        if not is_follow_token(argument):
            return False
        with _private_replies(turn):
            chat = turn.message.chat
            redeemed = None
            if self._follow_links is not None and self._can_watch(chat):
                redeemed = await self._follow_links.redeem(argument, turn.now)
            if redeemed is None:
                turn.say_text(texts.FOLLOW_LINK_EXPIRED)
                return True
            code = self._service.find_code(redeemed.code, turn.now)
            shared = await self._service.share_verified(
                redeemed.source, chat, redeemed.code, turn.now
            )
            if not isinstance(code, ReceiptCode) or not shared:
                turn.say_text(texts.FOLLOW_LINK_EXPIRED)
                return True
            result = await self._service.subscribe(chat, code, now=turn.now)
            if result is SubscribeResult.SUBSCRIBED:
                turn.say_text(texts.FOLLOW_LINK_DONE.format(code=code))
            else:
                self._say_subscribed(turn, code, result)
            log.info("dossier %s followed from %s in %s", code, redeemed.source, chat)
        return True

    # --- satisfaction ratings --------------------------------------------------------

    async def _rating(self, turn: Turn, code: str, stars: int) -> None:
        if not 1 <= stars <= 5:
            turn.say_text(texts.UNKNOWN_BUTTON)
            return
        found = self._service.find_code(code, turn.now)
        if not isinstance(found, ReceiptCode) or str(found) not in turn.context.dossier_codes:
            # Only a dossier this chat looked up is rated (a forged button is not stored).
            turn.say_text(texts.RATING_NEEDS_LOOKUP)
            return
        code = str(found)
        if self._ratings is not None:
            await self._ratings.record_rating(turn.message.chat, code, stars)
        turn.say_text(texts.RATING_THANKS.format(stars="★" * stars))
        turn.update(awaiting=AWAITING_RATING_COMMENT, pending_code=code)

    async def _rating_comment(self, turn: Turn, code: str, text: str) -> None:
        turn.update(awaiting=None, pending_code=None)
        folded = fold_diacritics(text.strip().lower())
        skip = {fold_diacritics(word) for word in texts.SKIP_WORDS}
        if folded in skip:
            turn.say_text(texts.FEEDBACK_THANKS)
            return
        if self._ratings is not None:
            await self._ratings.add_rating_comment(turn.message.chat, code, text.strip())
        turn.say_text(texts.RATING_COMMENT_THANKS)


@contextmanager
def _private_replies(turn: Turn) -> Iterator[None]:
    """Marks the replies added inside the block private."""
    start = len(turn.replies)
    try:
        yield
    finally:
        turn.replies[start:] = [
            dataclasses.replace(reply, private=True) for reply in turn.replies[start:]
        ]


def _digit_tokens(text: str) -> list[tuple[str, bool] | None]:
    """Each word or number of `text`: (its digits, whether it was a word), None for others."""
    tokens: list[tuple[str, bool] | None] = []
    for token in _TOKEN.findall(fold_diacritics(text.lower())):
        if token.isdigit():
            tokens.append((token, False))
        elif token in _DIGIT_WORDS:
            tokens.append((_DIGIT_WORDS[token], True))
        else:
            tokens.append(None)
    return tokens


def bare_number(text: str) -> str | None:
    """The digits of a message that is only a number, typed or said ("5633", "0903 125
    633", "không ba năm tám"); None when it holds anything else."""
    tokens = _digit_tokens(text)
    if not tokens or any(token is None for token in tokens):
        return None
    return "".join(token[0] for token in tokens if token is not None)


def spoken_verification_digits(text: str) -> str | None:
    """The 4 digits to verify with, typed ("0903 125 633") or said ("số cuối là không ba
    năm tám"); None when there are fewer than 4.

    Words count only in a run of consecutive numbers and digit words that holds at least
    4 digits, so that "ba" (father) or "năm" (year) elsewhere in a sentence do not.
    """
    runs: list[tuple[str, bool]] = []
    digits, spoken = "", False
    for token in [*_digit_tokens(text), None]:
        if token is None:
            if digits:
                runs.append((digits, spoken))
            digits, spoken = "", False
            continue
        digits += token[0]
        spoken = spoken or token[1]
    said = [run for run, has_words in runs if has_words and len(run) >= 4]
    if said:
        return said[-1][-4:]
    return verification_digits(text)
