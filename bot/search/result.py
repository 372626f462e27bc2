"""What the matcher decides for a message: answer, choices or decline, and why.

These are the search's public types: the dialogue reads them to choose its reply, and
`bot eval` to score the search.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.catalogue.model import Procedure
from bot.search.events import LifeEvent
from bot.search.intent import Intent


class Decision(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    DECLINE = "decline"


class DeclineReason(StrEnum):
    NO_MATCH = "no_match"
    GREETING = "greeting"
    SMALL_TALK = "small_talk"
    COMPLAINT = "complaint"
    PRIVATE_DATA = "private_data"
    EMPTY = "empty"
    # A life event the catalogue has no procedure for ("ly hôn": the court's): the event
    # says where the matter belongs.
    REFER = "refer"
    # Staff taught the bot that this question is no matter of the center (bot.search.lessons).
    NOT_OURS = "not_ours"
    # Asked of the center itself ([conversation] of the vocabulary): not a procedure.
    DOSSIER_STATUS = "dossier_status"  # "hồ sơ của tôi tới đâu rồi" (no receipt code)
    CENTER_INFO = "center_info"  # address, opening hours, hotline
    THANKS = "thanks"
    HUMAN = "human"  # a person to talk to


@dataclass(frozen=True, slots=True)
class Candidate:
    procedure: Procedure
    score: float  # confidence 0..1


@dataclass(frozen=True, slots=True)
class SearchResult:
    decision: Decision
    intent: Intent
    candidates: tuple[Candidate, ...]  # best first; kept also when declining
    names_procedure: bool
    decline_reason: DeclineReason | None = None
    clarify_count: int = 0
    # Every part asked, in the order asked ("nộp ở đâu, bao nhiêu tiền"); `intent` is the
    # main one.
    asked: tuple[Intent, ...] = ()
    # The life event the message describes, when the choices (or the referral) come from it.
    event: LifeEvent | None = None
    taught: bool = False  # decided by a lesson staff taught (bot.search.lessons)
    # How likely the choices shown hold the procedure meant (bot.search.confidence), and
    # the signals that said so; 0 and () when decided otherwise (a code, small talk).
    confidence: float = 0.0
    features: tuple[float, ...] = ()

    @property
    def parts(self) -> tuple[Intent, ...]:
        return self.asked or (self.intent,)

    @property
    def shown(self) -> tuple[Candidate, ...]:
        """What the bot shows: the answer, the clarify choices, or nothing."""
        if self.decision is Decision.ANSWER:
            return self.candidates[:1]
        if self.decision is Decision.CLARIFY:
            return self.candidates[: self.clarify_count]
        return ()
