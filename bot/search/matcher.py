"""The matcher: a citizen's message -> ranked procedures, a decision and what was asked.

    message ──truncate──> words, clauses ──> intent (documents/fee/time/...)
                            │
                            ├──> decline cues (greeting, small talk, complaint, private data,
                            │    services of other agencies)
                            ├──> strip question phrases ("cần giấy tờ gì", "ở đâu")
                            ├──> spelling (telex leftovers, one-letter slips, pairs)
                            ├──> vocabulary (sổ đỏ -> giấy chứng nhận quyền sử dụng đất)
                            └──> fillers out ──> terms ──> index ──> ranking ──> decision

Ranking combines how much of the question a procedure's name explains (recall, IDF
weighted, word pairs counting extra, full credit only where typed diacritics agree), how
much of the name the question asked about (precision, per case of a long name: the plain
"Đăng ký khai sinh" beats "Đăng ký khai sinh lưu động" for "khai sinh"), special-case
qualifiers the question did not mention, the action a name starts with (a name that
lists several cases fits a question about any of them), and the levels the center
handles. A term the question says twice counts once; words of different clauses are not
a pair. The same procedure offered at several levels is shown once, at the most
preferred level.

Pure and I/O-free: `Matcher.build` once, then `search` from any channel; it never raises.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import numpy as np
from rapidfuzz.distance import LCSseq

from bot.catalogue.model import Catalogue, Procedure, code_shape
from bot.search.events import EventFinder, EventHit, LifeEvent, PhraseFinder
from bot.search.index import LEVEL_PHRASE, FloatArray, IdArray, SearchIndex, terms_of
from bot.search.intent import (
    Intent,
    intent_of_tokens,
    intents_of_tokens,
    question_cue_spans,
    question_word_pairs,
    question_words,
)
from bot.search.lessons import Lesson, LessonKind, Lessons
from bot.search.normalize import canonical_text, clauses, tokens, words
from bot.search.phrases import Pair, PhraseSet, same_word
from bot.search.spelling import SpellingCorrector
from bot.search.vocabulary import DECLINE_KINDS, Vocabulary

log = logging.getLogger(__name__)


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


# Messages are cut here before any work, so that a pasted 10,000-character text costs
# the same as a long question. Real questions are well under 300 characters.
MAX_MESSAGE_CHARS = 400
MAX_WORDS = 60

# A national procedure code typed in the message ("1.001193"), possibly with a
# province suffix ("1.000028.000.00.00.H37"). Receipt codes are recognised earlier.
_CODE = re.compile(r"(?<![\w.])(\d\.\d{6}(?:\.[0-9A-Za-z]{2,3})*)(?![\w])")
_WORD = re.compile(r"[^\W_]+")
_CASE_BREAK = re.compile(r";|/")
_LEADING_THU_TUC = re.compile(r"^\s*thủ tục\s+", re.IGNORECASE)

# Ranking constants, calibrated on the development questions (see `bot eval`).
_BIGRAM_BOOST = 1.5  # a matching word pair is worth more than its two words
_PAIRED_COHESION = 0.3  # a pair at least this cohesive makes its words "paired"
# A word no procedure contains counts against recall twice as much as the rarest known
# word: once slips of known words are repaired, it is usually what the question is about
# ("karaoke", "vietcombank"), and nothing in the catalogue has it.
_UNKNOWN_WEIGHT = 2.0
_LONE_WORD_WEIGHT = 0.5  # a word in no known pair with its neighbours
_NUMBER_WEIGHT = 0.3
_CORRECTED_WEIGHT = 0.8  # a word the spelling step changed
_CONTEXT_WEIGHT = 0.3  # a [fillers] context word ("bố", "xã"): context, not the subject
_VOCABULARY_WORD_MASS = 8.0  # at most this much mass per citizen word a phrase replaces
# Share of a word's credit earned without diacritics: a question typed with marks gets
# the rest only where the name has the same marks.
_FOLDED_SHARE = 0.35
_PRECISION_FLOOR = 0.55  # score = recall * (floor + (1 - floor) * precision)
_QUALIFIER_PENALTY = 0.80  # per special-case qualifier the question did not mention
_MAX_QUALIFIER_PENALTIES = 2
_ASKED_QUALIFIER_BONUS = 1.2  # the name's special case or main action was asked for
_ORGANISATIONS_PENALTY = 0.85  # only organisations may apply
# Handled by an agency serving its own force's members ([qualifiers] staff_agencies), for
# a question that does not name the force: the citizen's own procedure, usually at another
# agency, is meant ("thẻ bhyt bị mất" is not the police's health insurance card).
_STAFF_PENALTY = 0.5
# A name with an age condition ("cho người dưới 14 tuổi") that the age in the question
# does not meet.
_AGE_MISFIT = 0.75
# A name's main verb is among its first words ("Cấp giấy phép xây dựng sửa chữa"); its
# situation follows ("Đăng ký biến động đối với trường hợp thay đổi").
_MAIN_VERB_WORDS = 6
_SITUATION_WORDS = 10
_QUALIFIER_WORDS = 16  # who/how qualifiers are looked for in this many first words,
_SPECIFIC_WORDS = 3  # ... unless they have at least this many words

_LEVEL_STEP = 0.03  # per step down the preferred levels
_POOL = 40  # candidates re-ranked in full after the vectorised first pass
# Decisions: answer a clear winner, decline a weak or flat best match, else offer choices.
# Calibrated so that on the development questions few answers are wrong and most
# questions about things the catalogue lacks are declined (see `bot eval`).
_ANSWER_AT = 0.55
_ANSWER_MARGIN = 0.12
_CLARIFY_AT = 0.27
_UNSURE_BELOW = 0.30
_UNSURE_MARGIN = 0.02
_CLARIFY_RATIO = 0.75
_MIN_CHOICES = 3
# Below _CLARIFY_AT, a best match that stands well clear of the next (the next scores at
# most this share of it) is still offered as a choice: long questions full of context
# ("ba má thằng cháu mất hết rồi, tui là cậu ruột muốn ... giám hộ") score low on every
# name, yet one name fits them alone, while a message the catalogue cannot answer shares
# a word or two with many names alike. That name's own words must also be largely what
# was asked (precision), not one shared word in a long name ("thi hoa hậu" and "... hòa
# giải thành"), which can stand out too in a small catalogue.
_STANDOUT_AT = 0.15
_STANDOUT_RATIO = 0.75
_STANDOUT_PRECISION = 0.3

# Life events (bot.search.events): the procedures of a situation the message describes
# score at least this much, less a step per place down the event's list, plus a share of
# their own score, so that among them the one the words fit best comes first, and a
# procedure the words name outright ("làm lại căn cước") still beats the event's others.
_EVENT_BASE = 0.36
_EVENT_ORDER_STEP = 0.03
_EVENT_KEEP = 0.5
_MAX_EVENTS = 3  # events per message that may add candidates
# "Không phải": further candidates must score at least this share of the best match.
_ALTERNATIVE_SHARE = 0.35
# How sure a phrase is, by its length in words: "khai sinh" alone may be said in passing,
# "vợ mới sanh em bé" is the situation.
_EVENT_PHRASE_WEIGHT = {1: 0.6, 2: 0.85}

# Long messages: words outside the clause that asks weigh this much (see _analyse), when
# that clause has at least this many words of procedure names of its own.
_BACKSTORY_WEIGHT = 0.6
_FOCUS_CONTENT_WORDS = 2
# After a procedure said to be done: what follows asks about something else when it has
# this many words of its own and its best match scores under this.
_FOLLOWING_OWN_WORDS = 2
_FOLLOWING_NAMES_PROCEDURE = 0.35
_FOLLOWING_CLOSE = 0.8

# Last words that make a clause a question ("... có phải khai báo hông", "... xong chưa").
_QUESTION_ENDINGS = frozenset(
    {"khong", "hong", "hok", "ko", "k", "kg", "chua", "ha", "hả", "vay", "z", "dzay", "day"}
    | {"sao", "gi", "j", "nao", "dau", "ai", "nhi", "nha", "khong a", "a", "ad", "ah"}
)

# A quoted name (see _quoted_first): names this long or longer, quoted at least this well,
# among the best-scored this many; names within _QUOTE_TIE of the best quote lead, scoring
# at least _QUOTE_SCORE times their quote.
_QUOTE_MIN_NAME_WORDS = 6
_QUOTED = 0.85
_QUOTE_POOL = 12
_QUOTE_TIE = 0.02
_QUOTE_SCORE = 0.9

_FINAL_PARTICLES = frozenset({"nha", "ha", "hen", "nhen", "nghen"})

# Words that cannot name a procedure on their own ("còn ... thì sao", "làm", "nộp"):
# a follow-up made only of these asks about the procedure already being discussed.
_WEAK_WORDS = frozenset(
    [
        "con",
        "lam",
        "xin",
        "can",
        "nop",
        "cho",
        "giay",
        "muon",
        "di",
        "ra",
        "len",
        "ve",
        "co",
        "khong",
        "ko",
        "gi",
        "sao",
        "the",
        "nao",
        "the",
        "thi",
        "nua",
        "vay",
        "a",
        "oi",
        "nhe",
        "roi",
        "moi",
        "chua",
        "da",
        "se",
        "dang",
    ]
)


@dataclass(frozen=True, slots=True)
class _Word:
    folded: str
    accented: str  # "" when unknown (no diacritics typed, or corrected)
    weight: float


@dataclass(slots=True)
class _Slot:
    """One position of the question: a citizen's word, or a vocabulary phrase with one
    or more meanings (alternatives: any one of them may be meant)."""

    alternatives: list[list[_Word]]
    from_vocabulary: bool = False
    paired: bool = False
    optional: bool = False  # may match, but is not part of what must be explained
    context: bool = False  # a [fillers] context word: "hôm qua", "ubnd", "bố"
    # A vocabulary phrase weighs about as much as the citizen's words it replaces, not
    # as much as its (often long, formal) meaning: "sổ đỏ" must not drown "mất".
    mass_cap: float | None = None


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[str, ...]
    meanings: tuple[tuple[tuple[str, str], ...], ...]
    written: tuple[Pair, ...] = ()  # the phrase with its diacritics


Terms = dict[str, tuple[float, str]]  # term -> (weight, accented form or "")


@dataclass(slots=True)
class _Choice:
    """A vocabulary phrase with several meanings: a procedure gets the slot's full mass
    for matching any one meaning completely."""

    mass: float
    alternatives: list[tuple[Terms, float]]  # terms of one meaning, their mass


@dataclass(slots=True)
class _Query:
    intent: Intent
    decline: DeclineReason | None
    elsewhere: bool = False  # names a service of another agency ("trợ cấp thất nghiệp")
    terms: Terms = field(default_factory=dict)
    choices: list[_Choice] = field(default_factory=list)
    required_mass: float = 0.0
    mentioned: str = " "  # every folded word, expansions included, for qualifier look-ups
    content: bool = False
    unknown_mass: float = 0.0  # part of required_mass from words no procedure contains
    ages: tuple[int, ...] = ()  # "con 16 tuổi" -> (16,)
    vocabulary_used: bool = False
    events: list[EventHit] = field(default_factory=list)  # situations described, surest first
    focus: tuple[int, int] = (0, 0)  # word positions of the clause that asks
    words: list[str] = field(default_factory=list)  # the message's folded words


@dataclass(frozen=True, slots=True)
class _Ranked:
    doc: int
    score: float  # confidence, once _decide has combined the evidence
    recall: float
    precision: float
    unasked: int  # special cases in the name that the question did not mention


class Matcher:
    """Built once from a catalogue and a vocabulary; `search` is pure and cheap."""

    def __init__(
        self,
        catalogue: Catalogue,
        vocabulary: Vocabulary,
        index: SearchIndex,
        corrector: SpellingCorrector,
        max_choices: int,
    ) -> None:
        self.catalogue = catalogue
        self.vocabulary = vocabulary
        self.index = index
        self.corrector = corrector
        self.max_choices = max(2, max_choices)
        self._phrases = _phrase_table(vocabulary, _IndexText(vocabulary))
        self._fillers = PhraseSet(vocabulary.fillers)
        # A province's codes extend the national one ("1.001193.000.00.00.H37"): a citizen
        # typing the national code means that procedure.
        self._by_national_code = {
            p.code[:8]: p for p in catalogue.procedures if code_shape(p.code) == "suffixed"
        }
        self.question_words = frozenset(question_words()) | frozenset(
            w for filler in vocabulary.fillers for w in tokens(filler)
        )
        self.question_corrector = SpellingCorrector(self.question_words, frozenset(), {})
        self.question_pairs = question_word_pairs()
        self._context = PhraseSet(vocabulary.context)
        self._decline = {
            kind: PhraseSet(vocabulary.decline.get(kind, ())) for kind in DECLINE_KINDS
        }

        # A qualifier is found in a name with its diacritics ("lại" is not "lái"), and
        # in a question without them (citizens often type none).
        def compiled(phrases: Sequence[str]) -> list[tuple[str, str]]:
            return [(_accented_words(q), " ".join(tokens(q))) for q in phrases if tokens(q)]

        who = compiled(vocabulary.qualifiers.get("who", ()))
        how = compiled(vocabulary.qualifiers.get("how", ()))
        what = compiled(vocabulary.qualifiers.get("what", ()))
        citizens = [a for a, _ in compiled(vocabulary.qualifiers.get("citizens", ()))]
        # Per procedure: the special cases its name states and the actions it names.
        self._doc_qualifiers: list[tuple[str, ...]] = []
        self._doc_actions: list[tuple[str, ...]] = []
        self._doc_case_actions: list[tuple[str, ...]] = []
        self._doc_action_positions: list[int] = []

        self._doc_for_organisations: list[bool] = []
        staff_agencies = [
            " ".join(tokens(a)) for a in vocabulary.qualifiers.get("staff_agencies", ())
        ]
        self._members = tuple(
            " ".join(tokens(m)) for m in vocabulary.qualifiers.get("members", ()) if tokens(m)
        )
        staff_names: set[str] = set()
        self._doc_ages: list[tuple[tuple[str, int], ...]] = []
        for doc, procedure in enumerate(index.procedures):
            name = _accented_words(_LEADING_THU_TUC.sub("", procedure.name))
            # Who and how a special case is for is said early in a name ("Đăng ký kết hôn
            # có yếu tố nước ngoài"); further on, "tổ chức", "nước ngoài" usually describe
            # something else ("bản sao giấy tờ do cơ quan, tổ chức ... nước ngoài cấp"),
            # except after "đối với", which always says whom the procedure is for.
            head = " " + " ".join(name.split()[:_QUALIFIER_WORDS]) + " "
            # "... giấy tờ do cơ quan, tổ chức ... cấp": after "do" comes who issued it.
            head = head.split(" do ", 1)[0] + " "

            def says(accented: str, name: str = name, head: str = head) -> bool:
                # A phrase of three words or more is specific wherever it stands.
                specific = len(accented.split()) >= _SPECIFIC_WORDS
                return accented in (name if specific else head)

            found = [folded for accented, folded in how if says(accented)]
            for_citizens = any(phrase in name for phrase in citizens)
            # "... hộ gia đình, cá nhân, người ... ở nước ngoài" is for citizens: who may
            # apply besides them is not a special case.
            if not for_citizens:
                found.extend(
                    folded
                    for accented, folded in who
                    if says(accented) or f" đối với{accented}" in name
                )
            self._doc_qualifiers.append(tuple(found))
            self._doc_ages.append(_age_conditions(procedure.name))
            self._doc_for_organisations.append(_for_organisations_only(procedure.applicants))
            agency = " " + " ".join(tokens(procedure.agency)) + " "
            if any(f" {a} " in agency for a in staff_agencies if a):
                staff_names.add(index.base_names[doc])
            # Actions in the order the name says them, the first being its main verb;
            # only in its first case ("Khai lệ phí trước bạ/ Miễn lệ phí trước bạ" is
            # about declaring, with an exemption as a further case).
            first_case = _accented_words(_CASE_BREAK.split(procedure.name)[0])
            actions = sorted((first_case.index(a), f) for a, f in what if a in first_case)
            self._doc_actions.append(tuple(f for _, f in actions))
            # Any case may be what the question asks ("Đăng ký biến động ... trong các
            # trường hợp chuyển đổi ...; chuyển nhượng, thừa kế, tặng cho ...").
            self._doc_case_actions.append(tuple(f for a, f in what if a in name))
            # Where the first action stands: a name starts with its main verb ("Cấp lại
            # ...", "Đăng ký thay đổi ..."), then says the situation ("Đăng ký biến động
            # đối với trường hợp thay đổi ..."); an action further on describes one of
            # several cases ("... tự xây dựng hoặc cải tạo, sửa chữa nhà ở").
            position = _SITUATION_WORDS
            if actions:
                phrase = next(a for a, f in what if f == actions[0][1] and a in first_case)
                plain_name = _accented_words(_LEADING_THU_TUC.sub("", procedure.name))
                if phrase in plain_name:
                    position = plain_name[: plain_name.index(phrase)].count(" ")
            self._doc_action_positions.append(position)
        # The same procedure at another level is for the same members, whichever agency
        # that level's record happens to list ("Bảo hiểm xã hội tỉnh, Công an tỉnh").
        self._doc_for_staff = [name in staff_names for name in index.base_names]
        self._name_words = [_quotable_names(p.name) for p in index.procedures]
        self._events = EventFinder(vocabulary.events)
        self._conversation = PhraseFinder(vocabulary.conversation)
        self._events_by_id = {event.id: event for event in vocabulary.events}
        self.confidence = vocabulary.confidence
        self._event_docs = _event_docs(vocabulary.events, index)

    @classmethod
    def build(
        cls,
        catalogue: Catalogue,
        vocabulary: Vocabulary,
        preferred_levels: Sequence[str] = ("Cấp tỉnh", "Cấp xã", "Cấp huyện"),
        max_choices: int = 5,
    ) -> Matcher:
        prepare = _IndexText(vocabulary)
        vocabulary_words: set[str] = set()
        for term in vocabulary.terms:
            vocabulary_words.update(tokens(term.phrase))
            for meaning in term.meanings:
                vocabulary_words.update(tokens(meaning))
        for phrases in (*vocabulary.decline.values(), *vocabulary.qualifiers.values()):
            for phrase in phrases:
                vocabulary_words.update(tokens(phrase))
        for phrase in vocabulary.fillers:
            vocabulary_words.update(tokens(phrase))
        index = SearchIndex(
            catalogue.procedures,
            dict(vocabulary.aliases),
            prepare,
            preferred_levels,
            known_words=vocabulary_words,
        )
        pairs = set(index.bigrams)
        for term in vocabulary.terms:
            pairs.update(t for t in terms_of(tokens(term.phrase)) if " " in t)
        no_context = set(_WEAK_WORDS) | set(question_words())
        for phrase in vocabulary.fillers:
            no_context.update(tokens(phrase))
        protected = set(no_context)
        for term in vocabulary.terms:
            protected.update(tokens(term.phrase))
        # Context words are real words, not slips: "ông" (grandfather) is not "đông".
        for phrase in vocabulary.context:
            protected.update(tokens(phrase))
        corrector = SpellingCorrector(
            index.words, frozenset(pairs), index.frequency, protected, no_context, index.cohesion
        )
        return cls(catalogue, vocabulary, index, corrector, max_choices)

    # --- searching ----------------------------------------------------------------------

    def search(self, text: str, lessons: Lessons | None = None) -> SearchResult:
        """Rank procedures for `text` and decide; never raises, whatever the input. What
        staff taught (`lessons`) decides the questions it was taught on."""
        try:
            result = self._search(text if isinstance(text, str) else "")
            lesson = lessons.find(text) if lessons else None
            return result if lesson is None else self._taught(result, lesson)
        except Exception:  # the bot must keep talking; a bug here is logged, not fatal
            log.exception("search failed for a message of %d characters", len(text or ""))
            return SearchResult(
                Decision.DECLINE, Intent.GENERAL, (), False, DeclineReason.NO_MATCH
            )

    def alternatives(
        self, text: str, exclude: Collection[str], limit: int = 5
    ) -> tuple[Procedure, ...]:
        """Other procedures the question may mean, beyond those in `exclude` (already shown
        and turned down: "không phải"): the next best-ranked ones, at any depth of the
        ranking, as long as they fit the question at least a fair part as well as its best
        match did. Never raises."""
        try:
            text = (text if isinstance(text, str) else "")[:MAX_MESSAGE_CHARS]
            found, clause_starts = clauses(text)
            pairs = self._question_word_slips(found[:MAX_WORDS])
            query = self._analyse(pairs, intent_of_tokens([f for f, _ in pairs]), clause_starts)
            query.events = self._events_in(pairs)
            ranked = self._rank(query)
        except Exception:
            log.exception("alternatives failed for a message of %d characters", len(text))
            return ()
        if not ranked:
            return ()
        floor = ranked[0].score * _ALTERNATIVE_SHARE
        turned_down = self._docs_of(exclude)
        excluded = {self.index.base_names[doc] for doc in turned_down}
        # The siblings of what was turned down come first ("Đăng ký xe lần đầu" -> "Sang
        # tên xe", "Cấp lại chứng nhận đăng ký xe"), then what else fits nearly as well.
        fields = {self.index.procedures[doc].field for doc in turned_down}
        remaining = [i for i in ranked if self.index.base_names[i.doc] not in excluded]
        siblings = [i for i in remaining if self.index.procedures[i.doc].field in fields]
        others = [i for i in remaining if i not in siblings and i.score >= floor]
        return tuple(self.index.procedures[i.doc] for i in [*siblings, *others])[:limit]

    def _docs_of(self, codes: Collection[str]) -> list[int]:
        wanted = set(codes)
        return [
            doc
            for doc, procedure in enumerate(self.index.procedures)
            if procedure.code in wanted or procedure.code[:8] in wanted
        ]

    def _events_in(self, pairs: list[Pair]) -> list[EventHit]:
        """The events the words describe that this catalogue can offer or refer."""
        return [
            hit
            for hit in self._events.find([f for f, _ in pairs])
            if hit.event.id in self._event_docs or hit.event.refer
        ][:_MAX_EVENTS]

    def _taught(self, result: SearchResult, lesson: Lesson) -> SearchResult:
        """The result as staff taught it; the search's own candidates follow (for "không
        phải"). A lesson naming what this catalogue lacks is ignored."""
        taught = dataclasses.replace(result, taught=True, names_procedure=True)
        if lesson.kind is LessonKind.NOT_OURS:
            return dataclasses.replace(
                taught,
                decision=Decision.DECLINE,
                candidates=(),
                decline_reason=DeclineReason.NOT_OURS,
                event=None,
            )
        if lesson.kind is LessonKind.PROCEDURE:
            procedure = self.catalogue.get(lesson.target) or self._by_national_code.get(
                lesson.target[:8]
            )
            if procedure is None:
                return result
            others = tuple(c for c in result.candidates if c.procedure.code != procedure.code)
            return dataclasses.replace(
                taught,
                decision=Decision.ANSWER,
                candidates=(Candidate(procedure, 1.0), *others),
                decline_reason=None,
                event=None,
            )
        event = self._events_by_id.get(lesson.target)
        docs = self._event_docs.get(lesson.target)
        if event is None or docs is None:
            return result
        ids, places = docs
        # In the event's order, each procedure once, at the center's preferred level.
        ordered = sorted(
            zip(places.tolist(), self.index.level_rank[ids].tolist(), ids.tolist(), strict=True)
        )
        chosen: dict[str, Procedure] = {}
        for _place, _level, doc in ordered:
            chosen.setdefault(self.index.base_names[doc], self.index.procedures[doc])
        choices = tuple(Candidate(procedure, 1.0) for procedure in chosen.values())
        return dataclasses.replace(
            taught,
            decision=Decision.CLARIFY,
            candidates=choices,
            clarify_count=min(len(choices), self.max_choices),
            decline_reason=None,
            event=event,
        )

    def _search(self, text: str) -> SearchResult:
        text = text[:MAX_MESSAGE_CHARS]
        found, clause_starts = clauses(text)
        pairs = self._question_word_slips(found[:MAX_WORDS])
        folded = [f for f, _ in pairs]
        result = self._search_words(text, pairs, clause_starts, intent_of_tokens(folded))
        return dataclasses.replace(result, asked=intents_of_tokens(folded))

    def _search_words(
        self, text: str, pairs: list[Pair], clause_starts: frozenset[int], intent: Intent
    ) -> SearchResult:
        coded = self._by_code(text)
        if coded is not None:
            return SearchResult(Decision.ANSWER, intent, (Candidate(coded, 1.0),), True)
        talk = self._talk(pairs)
        if talk is not None:
            return SearchResult(Decision.DECLINE, intent, (), False, talk)
        query = self._analyse(pairs, intent, clause_starts)
        query.events = self._events_in(pairs)
        # Complaints about a person and requests for someone's data are never answered
        # with a procedure, whatever else the message says.
        if query.decline in (DeclineReason.COMPLAINT, DeclineReason.PRIVATE_DATA):
            return SearchResult(Decision.DECLINE, intent, (), query.content, query.decline)
        if not query.content and not query.events:
            reason = query.decline or DeclineReason.EMPTY
            return SearchResult(Decision.DECLINE, intent, (), False, reason)
        ranked = self._rank(query)
        result = self._decide(ranked, query)
        if ranked and not result.features:
            result = dataclasses.replace(result, features=self._features(ranked, query))
        declined = functools.partial(
            dataclasses.replace, result, decision=Decision.DECLINE, clarify_count=0, event=None
        )
        # Small talk ("thời tiết", "khám bệnh ở bệnh viện") may mention a procedure's
        # words in passing; only a clear answer overrides it (not the only name that
        # happens to share a word: "bạn khỏe không" and "... sức khỏe").
        clear = result.decision is Decision.ANSWER and result.candidates[0].score >= _ANSWER_AT
        if query.decline is DeclineReason.SMALL_TALK and not clear:
            return declined(decline_reason=DeclineReason.SMALL_TALK)
        # "Làm khai sinh xong rồi, giờ đặt tên sao cho hợp tuổi": the procedure is done;
        # what is asked after it is another matter, or another procedure ("... xong rồi,
        # giờ làm bhyt cho bé"), judged on its own words.
        if result.decision is not Decision.DECLINE and ranked:
            rest = self._after_done(pairs, clause_starts, ranked[0].doc)
            if rest is not None:
                following = self._analyse(rest, intent)
                following.events = self._events_in(rest)
                done = self.index.base_names[ranked[0].doc]
                next_ranked = (
                    self._rank(following) if following.content or following.events else []
                )
                if next_ranked and self.index.base_names[next_ranked[0].doc] == done:
                    # Still about the procedure done ("... xong, giờ coi ngày cưới"): only a
                    # procedure of another field fitting nearly as well is asked about
                    # ("làm khai sinh xong rồi, giờ làm bhyt cho bé").
                    best = next_ranked[0].score
                    field = self.index.procedures[next_ranked[0].doc].field
                    next_ranked = [
                        item
                        for item in next_ranked
                        if self.index.procedures[item.doc].field != field
                        and item.score >= best * _FOLLOWING_CLOSE
                    ]
                if not next_ranked or next_ranked[0].score < _FOLLOWING_NAMES_PROCEDURE:
                    return declined(decline_reason=DeclineReason.SMALL_TALK)
                return self._decide(next_ranked, following)
        # So may a service another agency handles ("trợ cấp thất nghiệp" shares words with
        # "bảo hiểm thất nghiệp"): there is no such procedure here.
        if query.elsewhere and not clear:
            return declined(decline_reason=DeclineReason.NO_MATCH)
        return result

    def _talk(self, pairs: list[Pair]) -> DeclineReason | None:
        """What the message asks of the center itself ([conversation]), if that is what it
        asks: its dossier, the center's details, a person; thanks when nothing else is said.
        """
        found = self._conversation.find([f for f, _ in pairs])
        if found is None:
            return None
        if self._decline["private_data"].found_in(pairs):
            return DeclineReason.PRIVATE_DATA  # "hồ sơ của hàng xóm": not theirs to see
        kind, start, end = found
        if kind == "thanks":
            # "Cảm ơn, cho hỏi thêm làm căn cước ở đâu" is a question, not only thanks.
            rest = [*pairs[:start], *pairs[end:]]
            said = [
                f
                for f, _ in self._fillers.strip(self._decline["greeting"].strip(rest))
                if f not in _FINAL_PARTICLES and f not in _WEAK_WORDS
            ]
            return DeclineReason.THANKS if len(said) <= 1 else None
        return DeclineReason(kind)

    def _question_word_slips(self, pairs: list[Pair]) -> list[Pair]:
        """Unknown words one slip away from a question word, next to the rest of that
        question phrase, are that word ("bao nhieu tein" -> "tien", "can gii" -> "gi"):
        a slip there should not look like an unknown subject."""
        fixed = list(pairs)
        for i, (folded, _accented) in enumerate(pairs):
            if folded in self.index.words or folded in self.question_words:
                continue
            if not folded.isalpha():
                continue
            before = pairs[i - 1][0] if i > 0 else ""
            after = pairs[i + 1][0] if i + 1 < len(pairs) else ""
            for candidate in self.question_corrector.neighbours(folded):
                if (
                    f"{before} {candidate}" in self.question_pairs
                    or f"{candidate} {after}" in self.question_pairs
                ):
                    fixed[i] = (candidate, "")
                    break
        return fixed

    def _by_code(self, text: str) -> Procedure | None:
        for match in _CODE.finditer(text):
            code = match.group(1).upper()  # suffixes are upper case: ".H37"
            found = (
                self.catalogue.get(code)
                or self.catalogue.get(code[:8])
                or self._by_national_code.get(code[:8])
            )
            if found is not None:
                return found
        return None

    def _analyse(
        self, pairs: list[Pair], intent: Intent, clause_starts: frozenset[int] = frozenset()
    ) -> _Query:
        folded = [f for f, _ in pairs]
        focus = self._focus(folded, clause_starts)
        query = _Query(
            intent=intent,
            decline=self._decline_reason(pairs, focus),
            elsewhere=self._decline["elsewhere"].found_in(pairs),
            ages=_ages(folded),
            focus=focus,
            words=folded,
        )
        # In a long message the clause that asks says what is wanted; the story around it
        # (who, where, what happened) weighs less, unless that clause names nothing itself
        # ("giờ phải làm sao"): then the story is all there is.
        backstory = (
            _BACKSTORY_WEIGHT if self._names_something(folded[focus[0] : focus[1]]) else 1.0
        )
        slots: list[_Slot] = []
        position = 0
        for start, end, kept in [*self._cue_spans(folded), (len(pairs), len(pairs), False)]:
            if start > position:
                # Each clause on its own: no phrase, pair or spelling repair across a comma.
                cuts = [position, *sorted(i for i in clause_starts if position < i < start)]
                for first, last in itertools.pairwise([*cuts, start]):
                    if slots and first in clause_starts:
                        slots.append(_Slot([]))
                    run = self._slots(self._corrected(pairs[first:last]))
                    if backstory != 1.0 and (last <= focus[0] or first >= focus[1]):
                        run = [_scaled(slot, backstory) for slot in run]
                    slots.extend(run)
            if kept:
                # A cue that is also a name's words ("lệ phí trước bạ") may match, but
                # the question is not about a procedure named "lệ phí".
                slots.extend(
                    _Slot([[_Word(f, a, 1.0)]], optional=True) for f, a in pairs[start:end]
                )
            else:
                slots.append(_Slot([]))  # no word pairs across a stripped question phrase
            position = end
        self._weigh(slots, query)
        return query

    def _cue_spans(self, folded: list[str]) -> list[tuple[int, int, bool]]:
        """Question phrases, each with the slips of question words next to it that no name
        has ("hết bao nhiêu tein": "tein" is a slip of "tiền", not the subject)."""
        spans: list[tuple[int, int, bool]] = []
        previous_end = 0
        for start, end, kept in question_cue_spans(folded):
            if not kept:
                while start > previous_end and self._stray_question_word(folded[start - 1]):
                    start -= 1
                while end < len(folded) and self._stray_question_word(folded[end]):
                    end += 1
            spans.append((start, end, kept))
            previous_end = end
        return spans

    def _stray_question_word(self, word: str) -> bool:
        return word in self.question_words and word not in self.index.words

    def _corrected(self, run: list[Pair]) -> list[_Word]:
        corrected = self.corrector.correct([f for f, _ in run])
        return [
            _Word(word, accent, 1.0)
            if word == original
            else _Word(word, "", _CORRECTED_WEIGHT * confidence)
            for (original, accent), (word, confidence) in zip(run, corrected, strict=True)
        ]

    def _slots(self, run: list[_Word]) -> list[_Slot]:
        """Vocabulary phrases replaced by their meanings, fillers dropped."""
        slots: list[_Slot] = []
        pairs = [(w.folded, w.accented) for w in run]
        i = 0
        while i < len(run):
            phrase = self._phrase_at(run, i)
            if phrase is not None and not phrase.meanings:
                i += len(phrase.words)
                continue
            if phrase is not None:
                meanings = [[_Word(f, a, 1.0) for f, a in m] for m in phrase.meanings]
                cap = None
                if len(phrase.words) > 1 or _VOWEL.search(phrase.words[0]):
                    cap = len(phrase.words) * _VOCABULARY_WORD_MASS
                slots.append(_Slot(meanings, from_vocabulary=True, mass_cap=cap))
                i += len(phrase.words)
                continue
            # Greetings and thanks say nothing about a procedure either.
            filler = self._fillers.match_at(pairs, i) or self._decline["greeting"].match_at(
                pairs, i
            )
            # "nha", "ha" ending a sentence are particles ("cảm ơn nha"), not "nhà".
            last = i == len(run) - 1 and run[i].accented in ("", run[i].folded)
            if last and run[i].folded in _FINAL_PARTICLES:
                filler = 1
            if filler and not (filler == 1 and self._in_known_pair(run, i)):
                i += filler
                continue
            context = self._context.match_at(pairs, i)
            if context > 1 or (context == 1 and not self._in_phrase(run, i)):
                for word in run[i : i + context]:
                    light = _Word(word.folded, word.accented, word.weight * _CONTEXT_WEIGHT)
                    slots.append(_Slot([[light]], context=True))
                i += context
                continue
            slots.append(_Slot([[run[i]]]))
            i += 1
        return slots

    def _in_known_pair(self, run: list[_Word], i: int) -> bool:
        """Whether a word typed without diacritics forms a pair of a name with a neighbour:
        "co phan" is "cổ phần", not the filler "có" followed by "phần"."""
        if run[i].accented:
            return False
        word = run[i].folded
        before = i > 0 and f"{run[i - 1].folded} {word}" in self.index.idf
        after = i + 1 < len(run) and f"{word} {run[i + 1].folded}" in self.index.idf
        return bool(before or after)

    def _in_phrase(self, run: list[_Word], i: int) -> bool:
        """Whether a word forms a cohesive pair of a name with a neighbour ("xã hội",
        "con nuôi"): then it is not context."""
        cohesion = self.index.cohesion
        word = run[i].folded
        before = cohesion.get(f"{run[i - 1].folded} {word}", 0.0) if i > 0 else 0.0
        after = cohesion.get(f"{word} {run[i + 1].folded}", 0.0) if i + 1 < len(run) else 0.0
        return max(before, after) >= _PAIRED_COHESION

    def _phrase_at(self, run: list[_Word], start: int) -> _Phrase | None:
        """The longest vocabulary phrase at `start`, unless a longer one starts inside it
        and reaches further, or it is one word that is part of a name's own phrase with
        its neighbour ("pháp" is France, but not in "tư pháp" or "pháp lý")."""
        phrase = self._longest_phrase(run, start)
        if phrase is None:
            return None
        one_syllable = len(phrase.words) == 1 and _SYLLABLE.fullmatch(phrase.words[0])
        if one_syllable and self._in_phrase(run, start):
            return None
        end = start + len(phrase.words)
        for inner in range(start + 1, end):
            other = self._longest_phrase(run, inner)
            if (
                other is not None
                and inner + len(other.words) > end
                and len(other.words) > len(phrase.words)
            ):
                return None
        return phrase

    def _longest_phrase(self, run: list[_Word], start: int) -> _Phrase | None:
        """The longest phrase at `start`. A one-word phrase also needs the diacritics the
        citizen typed on that word, if any ("lào" is Laos, "lao" is not); in a longer
        phrase the words around a slip ("giây phép xây dựng") say what it is."""
        for phrase in self._phrases.get(run[start].folded, ()):
            typed = run[start : start + len(phrase.words)]
            if tuple(word.folded for word in typed) != phrase.words:
                continue
            marked = len(typed) == 1 and typed[0].accented != typed[0].folded
            if marked and not same_word(phrase.written[0], (typed[0].folded, typed[0].accented)):
                continue
            return phrase
        return None

    def _weigh(self, slots: list[_Slot], query: _Query) -> None:
        """Terms and the mass the best procedure should explain, from the slots."""
        idf = self.index.idf
        # What the question says twice it asks once: a term adds to the required mass
        # only as far as it weighs more than when it was last counted ("chuyển mục đích
        # sang đất thổ cư", where "thổ cư" means "chuyển mục đích sử dụng đất ở").
        counted: dict[str, float] = {}
        # Word pairs between neighbouring slots (each meaning of a phrase pairs with its
        # neighbours; meanings of one phrase never pair with each other).
        for left, right in itertools.pairwise(slots):
            best, best_pair = 0.0, ""
            for a in (alt[-1] for alt in left.alternatives if alt):
                for b in (alt[0] for alt in right.alternatives if alt):
                    bigram = f"{a.folded} {b.folded}"
                    if bigram in idf:
                        cohesion = self.index.cohesion[bigram]
                        if cohesion >= _PAIRED_COHESION:
                            left.paired = right.paired = True
                        weight = min(a.weight, b.weight) * _BIGRAM_BOOST * cohesion
                        _add(query.terms, bigram, weight, _pair_accent(a, b))
                        if weight * idf[bigram] > best:
                            best, best_pair = weight * idf[bigram], bigram
            # A pair the citizen typed counts; one that only appears next to a
            # vocabulary meaning, or a kept cue, is a bonus when it matches.
            plain = not (left.from_vocabulary or right.from_vocabulary)
            if best and plain and not (left.optional or right.optional):
                query.required_mass += _count(counted, best_pair, best)
        mentioned: list[str] = []
        seen_choices: set[tuple[tuple[str, ...], ...]] = set()
        for slot in slots:
            if slot.from_vocabulary:
                query.vocabulary_used = True
            alternatives: list[tuple[Terms, float]] = []
            unknown: dict[str, float] = {}
            for alternative in slot.alternatives:
                mentioned.extend(w.folded for w in alternative)
                terms: Terms = {}
                mass = self._alternative_terms(slot, alternative, terms, unknown, query)
                alternatives.append((terms, mass))
            if len(alternatives) == 1:
                terms, mass = alternatives[0]
                for term, (weight, accented) in terms.items():
                    _add(query.terms, term, weight, accented)
                    if not slot.optional:
                        query.required_mass += _count(counted, term, weight * idf[term])
                if not slot.optional:
                    for word, word_mass in unknown.items():
                        query.required_mass += _count(counted, f"?{word}", word_mass)
            elif alternatives:
                # The same phrase said twice is one choice (and a pasted text repeating
                # it hundreds of times costs no more than saying it once).
                key = tuple(tuple(sorted(terms)) for terms, _ in alternatives)
                if key in seen_choices:
                    continue
                seen_choices.add(key)
                # The question means one of the meanings: the largest sets the mass.
                choice = _Choice(max(mass for _, mass in alternatives), alternatives)
                query.choices.append(choice)
                query.required_mass += choice.mass
        query.mentioned = " " + " ".join(mentioned) + " "

    def _alternative_terms(
        self,
        slot: _Slot,
        alternative: list[_Word],
        terms: Terms,
        unknown_words: dict[str, float],
        query: _Query,
    ) -> float:
        """Fills `terms` (and `unknown_words`, their mass) for one meaning of a slot;
        returns its mass."""
        idf = self.index.idf
        mass = 0.0
        unknown_words.clear()
        for a, b in itertools.pairwise(alternative):
            bigram = f"{a.folded} {b.folded}"
            if bigram in idf:
                cohesion = self.index.cohesion[bigram]
                if cohesion >= _PAIRED_COHESION:
                    slot.paired = True
                weight = min(a.weight, b.weight) * _BIGRAM_BOOST * cohesion
                _add(terms, bigram, weight, _pair_accent(a, b))
                mass += weight * idf[bigram]
        for word in alternative:
            if word.folded not in _WEAK_WORDS and not slot.optional:
                query.content = True
            weight = word.weight
            # A word outside any known pair is more likely chat ("bé nhà em") than part
            # of a procedure's name: it weighs less.
            known = word.folded in idf
            if not (slot.paired or slot.from_vocabulary) and known:
                weight *= _LONE_WORD_WEIGHT if word.folded.isalpha() else _NUMBER_WEIGHT
            if known:
                _add(terms, word.folded, weight, word.accented)
                mass += weight * idf[word.folded]
            elif word.folded.isalpha() and not slot.context:
                # (A context word no name has, "hôm qua", is not what is asked about.)
                unknown = weight * _UNKNOWN_WEIGHT * self.index.unknown_idf
                mass += unknown
                unknown_words[word.folded] = max(unknown, unknown_words.get(word.folded, 0.0))
                if not slot.optional:
                    query.unknown_mass += unknown
        if slot.mass_cap is not None and mass > slot.mass_cap:
            scale = slot.mass_cap / mass
            for term, (weight, accented) in terms.items():
                terms[term] = (weight * scale, accented)
            for folded in unknown_words:
                unknown_words[folded] *= scale
            mass = slot.mass_cap
        return mass

    def _decline_reason(
        self, pairs: list[Pair], focus: tuple[int, int] | None = None
    ) -> DeclineReason | None:
        for kind in ("complaint", "private_data", "small_talk", "greeting"):
            # Small talk in the story of a long message is context ("lên Cần Thơ khám
            # bệnh, ghé ở nhà tui"); in the clause that asks, it is the question.
            where = pairs[focus[0] : focus[1]] if focus and kind == "small_talk" else pairs
            if self._decline[kind].found_in(where):
                return DeclineReason(kind)
        return None

    def _after_done(
        self, pairs: list[Pair], clause_starts: frozenset[int], answer_doc: int
    ) -> list[Pair] | None:
        """What the message asks after saying the procedure it found is done ("đăng ký
        kết hôn xong, giờ coi ngày cưới", "làm khai sinh xong rồi, giờ làm bhyt cho bé"):
        its words, when they ask in words of their own about something else; None when
        the message asks about that procedure itself ("... xong rồi, giờ phải làm sao"),
        when the procedure found comes from what is asked ("mua đất viết giấy tay rồi,
        giờ chứng thực hợp đồng"), or when nothing is said to be done ("xong chưa" asks)."""
        done = self._decline["done"]
        start = end = None
        for i in range(len(pairs)):
            length = done.match_at(pairs, i)
            # A clause ending in "rồi" says what is done too ("làm khai tử rồi, đám tang...").
            if not length and pairs[i][0] == "roi" and i + 1 in clause_starts:
                length = 1
            if length and (i + length >= len(pairs) or pairs[i + length][0] != "chua"):
                start, end = i, i + length
                break
        if start is None or end is None:
            return None
        rest = pairs[end:]
        rest_words = [f for f, _ in rest]
        asking = {i for a, b, _kept in question_cue_spans(rest_words) for i in range(a, b)}
        own = [
            w
            for i, w in enumerate(rest_words)
            if i not in asking and w not in _WEAK_WORDS and len(w) > 1
        ]
        if len(own) < _FOLLOWING_OWN_WORDS and not self._events_in(rest):
            return None
        # What is said to be done is in the clause of the marker ("làm khai sinh cho con
        # xong rồi"); "rồi" ending a sentence of a long story ("cha nó bỏ đi lâu rồi.")
        # says nothing about a procedure.
        clause_start = max((i for i in clause_starts if i <= start), default=0)
        said_done = self._rank(self._analyse(pairs[clause_start:start], Intent.GENERAL))
        found = self.index.base_names[answer_doc]
        if not said_done or self.index.base_names[said_done[0].doc] != found:
            return None
        return rest

    def _focus(self, folded: list[str], clause_starts: frozenset[int]) -> tuple[int, int]:
        """Word positions of the clause that asks: the last one with a question phrase or
        ending like a question ("... được hông", "... chưa"), else the last clause."""
        bounds = [0, *sorted(i for i in clause_starts if 0 < i < len(folded)), len(folded)]
        ranges = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
        if len(ranges) <= 1:
            return (0, len(folded))
        cue_starts = [start for start, _end, _kept in question_cue_spans(folded)]
        for first, last in reversed(ranges):
            if folded[last - 1] in _QUESTION_ENDINGS or any(first <= c < last for c in cue_starts):
                return (first, last)
        return ranges[-1]

    def _names_something(self, words: Sequence[str]) -> bool:
        """Whether a clause has words of its own that procedures' names use (not only
        question words, fillers or weak words like "làm", "xin")."""
        content = [
            w
            for w in words
            if w in self.index.idf and w not in _WEAK_WORDS and w not in self.question_words
        ]
        return len(content) >= _FOCUS_CONTENT_WORDS

    def _rank(self, query: _Query) -> list[_Ranked]:
        index = self.index
        recall = self._accumulate(query.terms)
        for choice in query.choices:
            best: FloatArray = np.zeros(index.size, dtype=np.float32)
            for terms, mass in choice.alternatives:
                if mass > 0:
                    credit = self._accumulate(terms) * (choice.mass / mass)
                    np.maximum(best, credit, out=best)
            recall += best
        recall = np.minimum(recall / max(query.required_mass, 1e-6), 1.0)
        # Precision: how much of each name segment the question asked about, counting
        # every term once whichever meaning it came from.
        asked = set(query.terms)
        for choice in query.choices:
            for terms, _mass in choice.alternatives:
                asked.update(terms)
        matched: FloatArray = np.zeros(index.segment_count, dtype=np.float32)
        for term in asked:
            matched[index.postings[term].segment_ids] += index.idf[term]
        segment_precision = np.minimum(matched / index.segment_mass, 1.0)
        precision = np.maximum.reduceat(segment_precision, index.segment_starts)
        score = recall * (_PRECISION_FLOOR + (1.0 - _PRECISION_FLOOR) * precision)
        score *= 1.0 - _LEVEL_STEP * index.level_rank
        for hit in query.events:
            docs = self._event_docs.get(hit.event.id)
            if docs is None:
                continue
            ids, order = docs
            weight = _EVENT_PHRASE_WEIGHT.get(hit.phrase.words, 1.0)
            boosted = weight * _EVENT_BASE * (1.0 - _EVENT_ORDER_STEP * order)
            boosted *= 1.0 - _LEVEL_STEP * index.level_rank[ids]
            score[ids] = np.maximum(score[ids], boosted + _EVENT_KEEP * score[ids])
        pool = min(_POOL, index.size)
        if pool == 0:
            return []
        top = np.argpartition(-score, pool - 1)[:pool]
        ranked: list[_Ranked] = []
        for doc in top.tolist():
            value = float(score[doc])
            if value <= 0.0:
                continue
            mentioned = query.mentioned
            qualifiers = self._doc_qualifiers[doc]
            actions = self._doc_actions[doc]
            unasked = sum(1 for q in qualifiers if f" {q} " not in mentioned)
            # The special case the citizen named ("... người Hàn Quốc" -> "có yếu tố nước
            # ngoài") wins over the plain procedure, whose name is otherwise shorter.
            position = self._doc_action_positions[doc]
            main_asked = position < _MAIN_VERB_WORDS and f" {actions[0]} " in mentioned
            if unasked < len(qualifiers) or main_asked:
                value *= _ASKED_QUALIFIER_BONUS
            # A name that lists several actions ("thay đổi, cải chính, bổ sung") fits a
            # question that asks for any one of them.
            case_actions = self._doc_case_actions[doc]
            if position < _SITUATION_WORDS and not any(
                f" {a} " in mentioned for a in case_actions
            ):
                unasked += 1
            value *= _QUALIFIER_PENALTY ** min(unasked, _MAX_QUALIFIER_PENALTIES)
            # Citizens ask the bot; a procedure only organisations can apply for is
            # rarely what they mean.
            if self._doc_for_organisations[doc]:
                value *= _ORGANISATIONS_PENALTY
            if self._doc_for_staff[doc] and not any(f" {m} " in mentioned for m in self._members):
                value *= _STAFF_PENALTY
            if (
                query.ages
                and self._doc_ages[doc]
                and not _ages_fit(query.ages, self._doc_ages[doc])
            ):
                value *= _AGE_MISFIT
            ranked.append(_Ranked(doc, value, float(recall[doc]), float(precision[doc]), unasked))
        ranked.sort(key=lambda item: (-item.score, item.doc))
        ranked = self._quoted_first(ranked, query.words)
        # The same procedure at several levels: keep the first (best-scored) of each.
        seen: set[str] = set()
        unique: list[_Ranked] = []
        for item in ranked:
            name = index.base_names[item.doc]
            if name not in seen:
                seen.add(name)
                unique.append(item)
        return unique

    def _quoted_first(self, ranked: list[_Ranked], words: Sequence[str]) -> list[_Ranked]:
        """A question that quotes most of a long name ("Thành phần hồ sơ thủ tục Cấp, cấp
        lại giấy phép nhập khẩu thủy sản sống đối với trường hợp không phải đánh giá rủi ro
        gồm những gì") means that procedure, not its sibling whose name differs by the
        words that matter: "không phải", "trừ", "(thực hiện tại cấp trung ương)".

        How well a name is quoted: its words found in the question in order, less the
        question's words that interrupt them, over the name's length. The best-quoted
        names come first, however the weighted words scored them."""
        if len(words) < _QUOTE_MIN_NAME_WORDS:
            return ranked
        quotes: dict[int, tuple[float, int]] = {}  # doc -> (how well, words quoted)
        for item in ranked[:_QUOTE_POOL]:
            # The name as written, and without its level ("(thực hiện tại cấp tỉnh)"),
            # which a question may leave out.
            for name in self._name_words[item.doc]:
                if len(name) >= _QUOTE_MIN_NAME_WORDS:
                    quotes[item.doc] = max(quotes.get(item.doc, (0.0, 0)), _quote(name, words))
        best = max((quote for quote, _ in quotes.values()), default=0.0)
        if best < _QUOTED:
            return ranked
        lead = [item for item in ranked if quotes.get(item.doc, (0.0, 0))[0] >= best - _QUOTE_TIE]
        # Of names quoted alike, the one of which the question quotes more words ("... nhận
        # cha, mẹ, con có yếu tố nước ngoài" over "... nhận cha, mẹ, con").
        most = max(quotes[item.doc][1] for item in lead)
        lead = [
            dataclasses.replace(
                item,
                score=max(
                    item.score,
                    _QUOTE_SCORE * quotes[item.doc][0] * (quotes[item.doc][1] / most) ** 2,
                ),
            )
            for item in lead
        ]
        lead.sort(key=lambda item: (-quotes[item.doc][1], -item.score, item.doc))
        leading = {item.doc for item in lead}
        return lead + [item for item in ranked if item.doc not in leading]

    def _accumulate(self, terms: Terms) -> FloatArray:
        """Recall mass per procedure for `terms`."""
        index = self.index
        idf = index.idf
        recall: FloatArray = np.zeros(index.size, dtype=np.float32)
        for term, (weight, accented) in terms.items():
            posting = index.postings[term]
            value = weight * idf[term]
            # Fancy-index += adds once per distinct id, which is the intent: a term
            # counts once per procedure and once per segment.
            if posting.name_ids.size:
                # Marks that no name has ("hộ chiêu") are a typing slip: only marks that
                # some name has can tell words apart ("lái" / "lại").
                agreeing = index.accented_postings.get(accented) if accented else None
                if agreeing is not None:
                    recall[posting.name_ids] += value * _FOLDED_SHARE
                    recall[agreeing] += value * (1.0 - _FOLDED_SHARE)
                else:
                    recall[posting.name_ids] += value
            if posting.other_ids.size:
                recall[posting.other_ids] += value * posting.other_weights
        return recall

    def _event_of(self, doc: int, query: _Query) -> LifeEvent | None:
        """The first event described in the message whose procedures include `doc`."""
        for hit in query.events:
            docs = self._event_docs.get(hit.event.id)
            if docs is not None and doc in docs[0]:
                return hit.event
        return None

    def _features(self, ranked: list[_Ranked], query: _Query) -> tuple[float, ...]:
        """The signals of bot.search.confidence.FEATURES, in that order."""
        if not ranked:
            return ()
        top = ranked[0]
        best = min(top.score, 1.5)
        second = min(ranked[1].score, 1.5) if len(ranked) > 1 else 0.0
        mass = max(query.required_mass, 1e-6)
        fields = [self.index.procedures[item.doc].field for item in ranked[:3]]
        focus = query.words[query.focus[0] : query.focus[1]]
        return (
            best,
            best - second,
            second / best if best > 0 else 1.0,
            top.recall,
            top.precision,
            math.log1p(query.required_mass),
            min(query.unknown_mass / mass, 1.0),
            1.0 if self._event_of(top.doc, query) is not None else 0.0,
            sum(1 for f in fields if f == fields[0]) / len(fields),
            1.0 if query.vocabulary_used else 0.0,
            1.0 if query.decline is DeclineReason.SMALL_TALK else 0.0,
            1.0 if query.elsewhere else 0.0,
            1.0 if self._names_something(focus) else 0.0,
        )

    def _decide(self, ranked: list[_Ranked], query: _Query) -> SearchResult:
        procedures = self.index.procedures
        candidates = tuple(
            Candidate(procedures[item.doc], round(min(max(item.score, 0.0), 1.0), 4))
            for item in ranked[: self.max_choices + 1]
        )
        if self.confidence is not None and ranked:
            return self._decide_by_confidence(ranked, query, candidates)
        intent = query.intent
        best = candidates[0].score if candidates else 0.0
        second = candidates[1].score if len(candidates) > 1 else 0.0
        # A weak best match that does not stand out from the next is a guess: questions
        # about things the catalogue lacks look like this (several unrelated names
        # sharing a word or two with the question). Close siblings of one field ("chứng
        # thực chữ ký" and "chứng thực chữ ký người dịch") are a real question to clarify.
        unrelated = len(candidates) > 1 and (
            candidates[0].procedure.field != candidates[1].procedure.field
        )
        weak_guess = best < _UNSURE_BELOW and best - second < _UNSURE_MARGIN and unrelated
        stands_out = (
            best >= _STANDOUT_AT
            and second <= best * _STANDOUT_RATIO
            and ranked[0].precision >= _STANDOUT_PRECISION
        )
        if best >= _ANSWER_AT and best - second >= _ANSWER_MARGIN:
            return SearchResult(Decision.ANSWER, intent, candidates, True)
        event = self._event_of(ranked[0].doc, query) if ranked else None
        if event is not None:
            # The situation the message describes: its procedures are the choices.
            docs = set(self._event_docs[event.id][0].tolist())
            leading = next(
                (i for i, item in enumerate(ranked) if item.doc not in docs), len(ranked)
            )
            count = min(len(candidates), self.max_choices, max(_MIN_CHOICES, leading))
            return SearchResult(
                Decision.CLARIFY, intent, candidates, True, clarify_count=count, event=event
            )
        referral = next((hit.event for hit in query.events if hit.event.refer), None)
        if referral is not None:
            return SearchResult(
                Decision.DECLINE, intent, candidates, True, DeclineReason.REFER, event=referral
            )
        if (best < _CLARIFY_AT and not stands_out) or weak_guess:
            return SearchResult(Decision.DECLINE, intent, candidates, True, DeclineReason.NO_MATCH)
        close = [c for c in candidates[: self.max_choices] if c.score >= best * _CLARIFY_RATIO]
        if len(candidates) == 1:
            return SearchResult(Decision.ANSWER, intent, candidates, True)
        # At least a few choices when unsure: a citizen picks the right one from three
        # much more easily than rephrases the question.
        count = min(len(candidates), self.max_choices, max(_MIN_CHOICES, len(close)))
        return SearchResult(Decision.CLARIFY, intent, candidates, True, clarify_count=count)

    def _decide_by_confidence(
        self, ranked: list[_Ranked], query: _Query, candidates: tuple[Candidate, ...]
    ) -> SearchResult:
        """Answer, offer choices or decline by how likely each is right (see
        bot.search.confidence); a described life event always offers its procedures."""
        assert self.confidence is not None
        intent = query.intent
        features = self._features(ranked, query)
        p_answer, p_offer = self.confidence.predict(features)
        decided = functools.partial(
            SearchResult,
            intent=intent,
            candidates=candidates,
            names_procedure=True,
            confidence=round(p_offer, 4),
            features=features,
        )
        best, second = candidates[0].score, (candidates[1].score if len(candidates) > 1 else 0.0)
        # An answer needs both the model's confidence and a clear lead over the next name:
        # a wrong answer costs a citizen more than one more tap on a choice.
        clear = best >= _ANSWER_AT and best - second >= _ANSWER_MARGIN
        if (p_answer >= self.confidence.answer_at and clear) or len(candidates) == 1:
            return decided(Decision.ANSWER)
        event = self._event_of(ranked[0].doc, query)
        if event is not None:
            docs = set(self._event_docs[event.id][0].tolist())
            leading = next(
                (i for i, item in enumerate(ranked) if item.doc not in docs), len(ranked)
            )
            count = min(len(candidates), self.max_choices, max(_MIN_CHOICES, leading))
            return decided(Decision.CLARIFY, clarify_count=count, event=event)
        referral = next((hit.event for hit in query.events if hit.event.refer), None)
        if referral is not None:
            return decided(Decision.DECLINE, decline_reason=DeclineReason.REFER, event=referral)
        if p_offer < self.confidence.offer_at:
            return decided(Decision.DECLINE, decline_reason=DeclineReason.NO_MATCH)
        close = [c for c in candidates[: self.max_choices] if c.score >= best * _CLARIFY_RATIO]
        count = min(len(candidates), self.max_choices, max(_MIN_CHOICES, len(close)))
        return decided(Decision.CLARIFY, clarify_count=count)


def _event_docs(
    events: Sequence[LifeEvent], index: SearchIndex
) -> dict[str, tuple[IdArray, FloatArray]]:
    """Per event with procedures in the catalogue: their documents and each one's place in
    the event's list (a province's "1.001193.000.00.00.H37" is the national 1.001193)."""
    by_code: dict[str, list[int]] = {}
    for doc, procedure in enumerate(index.procedures):
        by_code.setdefault(procedure.code, []).append(doc)
        if code_shape(procedure.code) == "suffixed":
            by_code.setdefault(procedure.code[:8], []).append(doc)
    found: dict[str, tuple[IdArray, FloatArray]] = {}
    for event in events:
        pairs = [
            (doc, place) for place, code in enumerate(event.codes) for doc in by_code.get(code, ())
        ]
        if pairs:
            docs = dict(reversed(pairs))  # a document listed twice keeps its first place
            found[event.id] = (
                np.fromiter(docs, dtype=np.int32),
                np.fromiter(docs.values(), dtype=np.float32),
            )
    return found


_NAME_UNDER_AGE = re.compile(r"\bduoi (\d+) tuoi")
_NAME_FROM_AGE = re.compile(r"\b(?:tu )?du (\d+) tuoi|\b(\d+) tuoi tro len")


def _ages(folded: list[str]) -> tuple[int, ...]:
    """Ages a question mentions: a number followed by "tuổi"."""
    return tuple(
        int(number)
        for number, unit in itertools.pairwise(folded)
        if unit == "tuoi" and number.isdigit() and len(number) <= 3
    )


def _age_conditions(name: str) -> tuple[tuple[str, int], ...]:
    """("under", 14) for "dưới 14 tuổi", ("from", 14) for "từ đủ 14 tuổi trở lên"."""
    folded = " ".join(tokens(name))
    under = [("under", int(m)) for m in _NAME_UNDER_AGE.findall(folded)]
    above = [("from", int(a or b)) for a, b in _NAME_FROM_AGE.findall(folded)]
    return tuple(under + above)


def _ages_fit(ages: tuple[int, ...], conditions: tuple[tuple[str, int], ...]) -> bool:
    return any(
        all(age < limit if kind == "under" else age >= limit for kind, limit in conditions)
        for age in ages
    )


# Who may apply (the catalogue's "đối tượng thực hiện"): words that name people, and words
# that name organisations.
_INDIVIDUAL_APPLICANTS = (
    "cong dan",
    "ca nhan",
    "ho gia dinh",
    "nguoi",
    "cha",
    "me",
    "can bo",
    "cong chuc",
)
_ORGANISATION_APPLICANTS = ("to chuc", "doanh nghiep", "hop tac xa", "co quan", "htx")


@lru_cache(maxsize=4096)  # catalogues repeat a few dozen applicant lists
def _for_organisations_only(applicants: str) -> bool:
    text = " " + " ".join(tokens(applicants)) + " "
    names_organisation = any(f" {w} " in text for w in _ORGANISATION_APPLICANTS)
    names_person = any(f" {w} " in text for w in _INDIVIDUAL_APPLICANTS)
    return names_organisation and not names_person


def _quotable_names(name: str) -> tuple[tuple[str, ...], ...]:
    """A name's words as a question may quote them: whole, and without its level."""
    whole = tuple(tokens(_LEADING_THU_TUC.sub("", name)))
    without_level = tuple(tokens(LEVEL_PHRASE.sub(" ", _LEADING_THU_TUC.sub("", name))))
    return (whole, without_level) if without_level != whole else (whole,)


def _quote(name: Sequence[str], words: Sequence[str]) -> tuple[float, int]:
    """How well `words` quote `name`: the name's words found in order, less the words that
    interrupt them, over the name's length; and how many words were found."""
    blocks = [b for b in LCSseq.editops(name, words).as_matching_blocks() if b.size]
    if not blocks:
        return (0.0, 0)
    matched = sum(b.size for b in blocks)
    interrupting = blocks[-1].b + blocks[-1].size - blocks[0].b - matched
    return ((matched - interrupting) / len(name), matched)


def _scaled(slot: _Slot, factor: float) -> _Slot:
    """The slot with its words weighing `factor` times as much."""
    return dataclasses.replace(
        slot,
        alternatives=[
            [_Word(w.folded, w.accented, w.weight * factor) for w in alternative]
            for alternative in slot.alternatives
        ],
    )


def _count(counted: dict[str, float], key: str, mass: float) -> float:
    """The part of `mass` not counted yet for `key`, now counted."""
    before = counted.get(key, 0.0)
    if mass <= before:
        return 0.0
    counted[key] = mass
    return mass - before


def _add(terms: Terms, term: str, weight: float, accented: str) -> None:
    known = terms.get(term)
    if known is None or weight > known[0]:
        terms[term] = (weight, accented)


class _IndexText:
    """How procedure names are read for the index: like questions, fillers dropped and
    abbreviations spelled out ("sổ BHXH" is indexed as "sổ bảo hiểm xã hội", which is
    what a question "sổ bhxh" becomes)."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.fillers = PhraseSet(vocabulary.fillers)
        self.abbreviations: dict[str, list[Pair]] = {}
        for term in vocabulary.terms:
            key = tokens(term.phrase)
            # An abbreviation is a single token that is no Vietnamese syllable ("bhxh",
            # "bhyt", "tnlđ"); "y" makes "bhyt" look vowelled, so the syllable shape decides.
            if len(key) == 1 and not _SYLLABLE.fullmatch(key[0]) and term.meanings:
                self.abbreviations[key[0]] = words(term.meanings[0], written=True)

    def __call__(self, text: str) -> list[Pair]:
        expanded: list[Pair] = []
        for folded, accented in words(text, written=True):
            expanded.extend(self.abbreviations.get(folded, [(folded, accented)]))
        return self.fillers.strip(expanded)


_VOWEL = re.compile(r"[aeiouy]")
# A folded Vietnamese syllable: onset, vowels, final. Abbreviations ("bhyt", "cccd", "kt3")
# and foreign words ("passport") do not have this shape.
_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]+(?:ch|ng|nh|[cmnpt])?"
)


def _pair_accent(a: _Word, b: _Word) -> str:
    return f"{a.accented} {b.accented}" if a.accented and b.accented else ""


def _phrase_table(vocabulary: Vocabulary, prepare: _IndexText) -> dict[str, tuple[_Phrase, ...]]:
    """Vocabulary phrases by first word, longest first. Meanings are read the way names
    are (fillers dropped: "thế chấp" is indexed as "chấp", "không" not at all), so that
    every word of a meaning can match; a phrase whose meanings are all fillers ("hông" =
    "không", "mần" = "làm") has none, and is dropped from questions like a filler."""
    table: dict[str, list[_Phrase]] = {}
    for term in vocabulary.terms:
        written = tuple(words(term.phrase, written=True))
        key = tuple(folded for folded, _ in written)
        read = (tuple(prepare(meaning)) for meaning in term.meanings)
        meanings = tuple(dict.fromkeys(meaning for meaning in read if meaning))
        if key:
            table.setdefault(key[0], []).append(_Phrase(key, meanings, written))
    return {
        first: tuple(sorted(phrases, key=lambda p: -len(p.words)))
        for first, phrases in table.items()
    }


def _accented_words(text: str) -> str:
    """' word word ' in canonical accented spelling, for whole-word look-ups."""
    return " " + " ".join(_WORD.findall(canonical_text(text))) + " "
