"""The matcher: a citizen's message -> ranked procedures, a decision and what was asked.

    message ──truncate──> words, clauses ──> intents (documents/fee/time/..., all asked)
      │
      ├──> a procedure code typed ──────────────────────────────> that procedure
      ├──> asked of the center itself ([conversation]) ─────────> dossier / hours / person
      ├──> what staff taught (bot.search.lessons) ───────────────> as taught
      └──> read (bot.search.query: spelling, vocabulary, fillers, the clause that asks)
             ──> life events described (bot.search.events)
             ──> rank (bot.search.ranking, with what names say: bot.search.names)
             ──> decide: answer / choices / decline, by the confidence model
                 (bot.search.confidence) or fixed floors without one
             ──> rules a score cannot overrule: small talk, services of other agencies,
                 "xong rồi, giờ ..." asking about something else

Pure and I/O-free: `Matcher.build` once, then `search` from any channel; it never raises.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.catalogue.model import Catalogue, Procedure, code_shape
from bot.search.events import EventFinder, EventHit, LifeEvent, PhraseFinder
from bot.search.index import SearchIndex, terms_of
from bot.search.intent import (
    Intent,
    intent_of_tokens,
    intents_of_tokens,
    question_cue_spans,
    question_words,
)
from bot.search.lessons import Lesson, LessonKind, Lessons
from bot.search.names import (
    NameFeatures,
)
from bot.search.normalize import clauses, tokens, typed_marks
from bot.search.phrases import Pair
from bot.search.query import FINAL_PARTICLES, WEAK_WORDS, IndexText, Query, QueryReader
from bot.search.ranking import Ranked, Ranker
from bot.search.result import Candidate, Decision, DeclineReason, SearchResult
from bot.search.spelling import SpellingCorrector
from bot.search.vocabulary import Vocabulary

log = logging.getLogger(__name__)


# Messages are cut here before any work, so that a pasted 10,000-character text costs
# the same as a long question. Real questions are well under 300 characters.
MAX_MESSAGE_CHARS = 400
MAX_WORDS = 60

# A national procedure code typed in the message ("1.001193"), possibly with a
# province suffix ("1.000028.000.00.00.H37"). Receipt codes are recognised earlier.
_CODE = re.compile(r"(?<![\w.])(\d\.\d{6}(?:\.[0-9A-Za-z]{2,3})*)(?![\w])")

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

_MAX_EVENTS = 3  # events per message that may add candidates
# "Không phải": further candidates must score at least this share of the best match.
_ALTERNATIVE_SHARE = 0.35
# After a procedure said to be done: what follows asks about something else when it has
# this many words of its own and its best match scores under this.
_FOLLOWING_OWN_WORDS = 2
_FOLLOWING_NAMES_PROCEDURE = 0.35
_FOLLOWING_CLOSE = 0.8
# A dossier handed in is not a procedure done: "nộp hồ sơ xong bao lâu mới có tiền" asks
# about the procedure itself (its time), whatever the words after "xong".
_SUBMITTED = (("nop",), ("ho", "so"), ("nop", "don"))
# A word pair of a name that tells procedures apart is in at most this share of names:
# on the national catalogue "đăng ký" is in 18%, "giấy phép" 15%, "chứng nhận" 12%,
# "cấp lại" 8.7%, "kết hôn" 0.3%.
_TELLING_PAIR_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class _AfterDone:
    """What a message says after a procedure it names is done (Matcher._after_done)."""

    words: list[Pair]
    events: list[EventHit]
    finished: bool  # "xong", "làm rồi": the procedure itself was finished
    done_words: list[Pair]  # the clause that says what was done ("làm khai tử cho ba")


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
        self.reader = QueryReader(vocabulary, index, corrector)
        # A province's codes extend the national one ("1.001193.000.00.00.H37"): a citizen
        # typing the national code means that procedure.
        self._by_national_code = {
            p.code[:8]: p for p in catalogue.procedures if code_shape(p.code) == "suffixed"
        }

        self.names = NameFeatures(index, vocabulary)
        self._events = EventFinder(vocabulary.events)
        self._conversation = PhraseFinder(vocabulary.conversation)
        self._advice = PhraseFinder({"advice": vocabulary.decline.get("advice", ())})
        self._events_by_id = {event.id: event for event in vocabulary.events}
        self.ranker = Ranker(index, self.names, vocabulary.events)
        self.confidence = vocabulary.confidence

    @classmethod
    def build(
        cls,
        catalogue: Catalogue,
        vocabulary: Vocabulary,
        preferred_levels: Sequence[str] = ("Cấp tỉnh", "Cấp xã", "Cấp huyện"),
        max_choices: int = 5,
    ) -> Matcher:
        prepare = IndexText(vocabulary)
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
        no_context = set(WEAK_WORDS) | set(question_words())
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
            pairs = self.reader.question_word_slips(found[:MAX_WORDS])
            intent = intent_of_tokens([f for f, _ in pairs])
            query = self.reader.analyse(pairs, intent, clause_starts)
            query.events = self._events_in(pairs)
            ranked = self.ranker.rank(query)
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
            for hit in self._events.find([f for f, _ in pairs], self._marks(pairs))
            if hit.event.id in self.ranker.event_docs or hit.event.refer
        ][:_MAX_EVENTS]

    def _asks_advice(self, pairs: list[Pair]) -> bool:
        """Whether the words ask for advice or a market price ([decline] advice); marks
        typed tell words apart ("đồng nào", which coin, is not "dòng nào", which model)."""
        return self._advice.find([f for f, _ in pairs], self._marks(pairs)) is not None

    def _marks(self, pairs: list[Pair]) -> list[str] | tuple[()]:
        """The marks typed on the words (normalize.typed_marks), () when none is known:
        phrases are then compared without them."""
        marks = typed_marks(pairs, self.index.spellings)
        return marks if any(marks) else ()

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
        docs = self.ranker.event_docs.get(lesson.target)
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
        pairs = self.reader.question_word_slips(found[:MAX_WORDS])
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
        query = self.reader.analyse(pairs, intent, clause_starts)
        query.events = self._events_in(pairs)
        # Complaints about a person and requests for someone's data are never answered
        # with a procedure, whatever else the message says.
        if query.decline in (DeclineReason.COMPLAINT, DeclineReason.PRIVATE_DATA):
            return SearchResult(Decision.DECLINE, intent, (), query.content, query.decline)
        if not query.content and not query.events:
            reason = query.decline or DeclineReason.EMPTY
            return SearchResult(Decision.DECLINE, intent, (), False, reason)
        ranked = self.ranker.rank(query)
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
        # "Có bằng lái rồi, giờ nên mua Vision hay Lead": the clause that asks wants advice
        # or a market price, which no procedure gives; a procedure named elsewhere in the
        # message was said in passing. Answered only when that clause names it itself.
        focus = pairs[query.focus[0] : query.focus[1]]
        if ranked and self._asks_advice(focus) and not self._names(focus, ranked[0].doc):
            return declined(decline_reason=DeclineReason.SMALL_TALK)
        # "Làm khai sinh xong rồi, giờ đặt tên sao cho hợp tuổi": the procedure is done;
        # what is asked after it is another matter, or another procedure ("... xong rồi,
        # giờ làm bhyt cho bé"), judged on its own words.
        if result.decision is not Decision.DECLINE and ranked:
            after = self._after_done(pairs, clause_starts, ranked[0].doc)
            if after is not None:
                following = self.reader.analyse(after.words, intent)
                following.events = after.events
                done = self.index.base_names[ranked[0].doc]
                next_ranked = (
                    self.ranker.rank(following) if following.content or following.events else []
                )
                # Only something happened ("ly hôn ở tòa án Mỹ rồi", "mất bằng lái rồi"),
                # and what follows names the procedure found in its name's own words: it
                # asks about it ("về VN ghi chú ly hôn ở đâu", "xin cấp lại ở bển được
                # hông"). After "xong" it may still be chat about what the procedure gave
                # ("đăng ký xe xong, biển số tổng 9 nút có hên không").
                names_found = not after.finished and self._names(after.words, ranked[0].doc)
                if next_ranked and self.index.base_names[next_ranked[0].doc] == done:
                    # So it does when what follows clearly means that procedure in other
                    # words ("trả hết nợ ngân hàng rồi, xóa thế chấp sổ hồng"), unless the
                    # procedure itself was done ("đăng ký kết hôn xong, giờ coi ngày cưới",
                    # "làm khai tử rồi, đám tang ...").
                    clearly = next_ranked[0].score >= _ANSWER_AT and not after.finished
                    if names_found or (
                        clearly and not self._names(after.done_words, ranked[0].doc)
                    ):
                        return result
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
                    return (
                        result
                        if names_found
                        else declined(decline_reason=DeclineReason.SMALL_TALK)
                    )
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
        if self.reader.decline["private_data"].found_in(pairs):
            return DeclineReason.PRIVATE_DATA  # "hồ sơ của hàng xóm": not theirs to see
        kind, start, end = found
        if kind == "thanks":
            # "Cảm ơn, cho hỏi thêm làm căn cước ở đâu" is a question, not only thanks.
            rest = [*pairs[:start], *pairs[end:]]
            said = [
                f
                for f, _ in self.reader.fillers.strip(self.reader.decline["greeting"].strip(rest))
                if f not in FINAL_PARTICLES and f not in WEAK_WORDS
            ]
            return DeclineReason.THANKS if len(said) <= 1 else None
        return DeclineReason(kind)

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

    def _after_done(
        self, pairs: list[Pair], clause_starts: frozenset[int], answer_doc: int
    ) -> _AfterDone | None:
        """What the message asks after saying the procedure it found is done ("đăng ký
        kết hôn xong, giờ coi ngày cưới", "làm khai sinh xong rồi, giờ làm bhyt cho bé"):
        its words, when they ask in words of their own about something else; None when
        the message asks about that procedure itself ("... xong rồi, giờ phải làm sao"),
        when the procedure found comes from what is asked ("mua đất viết giấy tay rồi,
        giờ chứng thực hợp đồng"), or when nothing is said to be done ("xong chưa" asks)."""
        done = self.reader.decline["done"]
        start = end = None
        for i in range(len(pairs)):
            length = done.match_at(pairs, i)
            # A clause ending in "rồi" says what is done too ("làm khai tử rồi, đám tang...").
            if not length and pairs[i][0] == "roi" and i + 1 in clause_starts:
                length = 1
            if not length or _submitted(pairs, i):
                continue
            # A marker opening its clause ("làm xong giấy khai sanh rồi, giờ ...") has
            # nothing before it to be done: the clause's own end says it.
            clause_start = max((c for c in clause_starts if c <= i), default=0)
            if pairs[i][0] != "roi" and all(f in WEAK_WORDS for f, _ in pairs[clause_start:i]):
                continue
            if i + length >= len(pairs) or pairs[i + length][0] != "chua":
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
            if i not in asking and w not in WEAK_WORDS and len(w) > 1
        ]
        # The events of the rest are looked for first only when they decide.
        events = None
        if len(own) < _FOLLOWING_OWN_WORDS:
            events = self._events_in(rest)
            if not events:
                return None
        # What is said to be done is in the clause of the marker ("làm khai sinh cho con
        # xong rồi"); "rồi" ending a sentence of a long story ("cha nó bỏ đi lâu rồi.")
        # says nothing about a procedure.
        clause_start = max((i for i in clause_starts if i <= start), default=0)
        done_words = pairs[clause_start:start]
        said_done = self.ranker.rank(self.reader.analyse(done_words, Intent.GENERAL))
        found = self.index.base_names[answer_doc]
        if not said_done or self.index.base_names[said_done[0].doc] != found:
            return None
        # "rồi" alone ("cưới rồi", "bán xe rồi giờ ...") says that something happened;
        # "xong", "làm rồi", "cấp rồi" that a procedure was finished.
        finished = pairs[start][0] != "roi" or any(f == "xong" for f, _ in done_words)
        return _AfterDone(
            rest, self._events_in(rest) if events is None else events, finished, done_words
        )

    def _names(self, pairs: list[Pair], doc: int) -> bool:
        """Whether the words (spelling slips repaired) hold a telling word pair of the
        procedure's own name: "kết hôn", "sang tên", "cấp lại"; not "đăng ký", "giấy
        phép" or "chứng nhận", which a large share of all names have."""
        said = set(terms_of(self.reader.corrected_words(pairs)))
        most = _TELLING_PAIR_SHARE * self.index.size
        # A date in a name ("từ ngày 20-7-1954") is not what a message names ("ngày 20/10").
        return any(
            " " in term
            and term in said
            and 0 < self.index.frequency.get(term, 0.0) <= most
            and term.replace(" ", "").isalpha()
            for term in terms_of(self.index.base_names[doc].split())
        )

    def _features(self, ranked: list[Ranked], query: Query) -> tuple[float, ...]:
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
            1.0 if self.ranker.event_of(top.doc, query) is not None else 0.0,
            sum(1 for f in fields if f == fields[0]) / len(fields),
            1.0 if query.vocabulary_used else 0.0,
            1.0 if query.decline is DeclineReason.SMALL_TALK else 0.0,
            1.0 if query.elsewhere else 0.0,
            1.0 if self.reader.names_something(focus) else 0.0,
        )

    def _decide(self, ranked: list[Ranked], query: Query) -> SearchResult:
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
        referred = self._referred(ranked, query) if ranked else None
        if referred is not None:
            return SearchResult(
                Decision.DECLINE, intent, candidates, True, DeclineReason.REFER, event=referred
            )
        if best >= _ANSWER_AT and best - second >= _ANSWER_MARGIN:
            return SearchResult(Decision.ANSWER, intent, candidates, True)
        event = self.ranker.event_of(ranked[0].doc, query) if ranked else None
        if event is not None:
            # The situation the message describes: its procedures are the choices.
            docs = self.ranker.event_members(event.id)
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

    def _referred(self, ranked: list[Ranked], query: Query) -> LifeEvent | None:
        """A matter another body handles that the message describes ("vợ chồng tôi muốn ly
        hôn": the court), unless the best name is about those very words ("Văn phòng thừa
        phát lại" for a question on "thừa phát lại") or is one of an event's: then no
        procedure here is what is asked, however well another name shares its words
        ("... thỏa thuận vợ chồng ... theo bản án")."""
        hit = next((hit for hit in query.events if hit.event.refer), None)
        if hit is None or self.ranker.event_of(ranked[0].doc, query) is not None:
            return None
        said = set(query.words[hit.start : hit.end])
        named = said & set(self.index.base_names[ranked[0].doc].split())
        return hit.event if len(named) * 2 < len(said) else None

    def _decide_by_confidence(
        self, ranked: list[Ranked], query: Query, candidates: tuple[Candidate, ...]
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
        referred = self._referred(ranked, query)
        if referred is not None:
            return decided(Decision.DECLINE, decline_reason=DeclineReason.REFER, event=referred)
        if (p_answer >= self.confidence.answer_at and clear) or len(candidates) == 1:
            return decided(Decision.ANSWER)
        event = self.ranker.event_of(ranked[0].doc, query)
        if event is not None:
            docs = self.ranker.event_members(event.id)
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


def _submitted(pairs: Sequence[Pair], at: int) -> bool:
    """Whether the words before `at` say a dossier was handed in ("nộp hồ sơ xong")."""
    before = tuple(f for f, _ in pairs[max(0, at - 2) : at])
    return any(before[len(before) - len(words) :] == words for words in _SUBMITTED)
