"""Reading a citizen's message: its words, what they mean in catalogue language, and what
weight each carries in the search.

    words ──spelling (telex leftovers, slips)──> vocabulary phrases (sổ đỏ -> giấy chứng
    nhận quyền sử dụng đất) ──fillers out, context words light──> slots ──> terms with
    weights and the mass a procedure should explain (Query)

Question phrases ("cần giấy tờ gì", "ở đâu") are cut out first: they say what is asked,
not which procedure. Words of different clauses never form a pair; in a long message the
clause that asks weighs more than the story around it. Pure: `QueryReader.analyse` reads
nothing but its arguments and what it was built with.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.search.events import EventHit
from bot.search.index import SearchIndex
from bot.search.intent import Intent, question_cue_spans, question_word_pairs, question_words
from bot.search.names import question_ages
from bot.search.normalize import tokens, typed_marks, words
from bot.search.phrases import Pair, PhraseSet, same_word
from bot.search.result import DeclineReason
from bot.search.spelling import SpellingCorrector
from bot.search.vocabulary import DECLINE_KINDS, PHRASE_SYNTAX_DECLINE_KINDS, Vocabulary

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
# Long messages: words outside the clause that asks weigh this much (see _analyse), when
# that clause has at least this many words of procedure names of its own.
_BACKSTORY_WEIGHT = 0.6
_FOCUS_CONTENT_WORDS = 2
# Last words that make a clause a question ("... có phải khai báo hông", "... xong chưa").
_QUESTION_ENDINGS = frozenset(
    {"khong", "hong", "hok", "ko", "k", "kg", "chua", "ha", "hả", "vay", "z", "dzay", "day"}
    | {"sao", "gi", "j", "nao", "dau", "ai", "nhi", "nha", "khong a", "a", "ad", "ah"}
)

FINAL_PARTICLES = frozenset({"nha", "ha", "hen", "nhen", "nghen"})
# Who a citizen addresses, after the question's last word ("... được hông mấy anh").
_ADDRESS_WORDS = frozenset(
    {"may", "anh", "chi", "em", "co", "chu", "bac", "ad", "admin", "a", "ah", "hen", "nghen"}
    | {"nhen", "nha", "moi", "nguoi", "mn", "ban", "oi"}
)

# Words that cannot name a procedure on their own ("còn ... thì sao", "làm", "nộp"):
# a follow-up made only of these asks about the procedure already being discussed.
WEAK_WORDS = frozenset(
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
class Query:
    intent: Intent
    decline: DeclineReason | None
    # The clause that asks names a service of another agency ("trợ cấp thất nghiệp"); in
    # the story it is context ("con học lớp 5, cô giáo biểu đi làm căn cước").
    elsewhere: bool = False
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


class QueryReader:
    """Built once with the matcher; `analyse` turns a message's words into a Query."""

    def __init__(
        self, vocabulary: Vocabulary, index: SearchIndex, corrector: SpellingCorrector
    ) -> None:
        self.index = index
        self.corrector = corrector
        self.phrases = _phrase_table(vocabulary, IndexText(vocabulary))
        self.fillers = PhraseSet(vocabulary.fillers)
        self.question_words = frozenset(question_words()) | frozenset(
            w for filler in vocabulary.fillers for w in tokens(filler)
        )
        self.question_corrector = SpellingCorrector(self.question_words, frozenset(), {})
        self.question_pairs = question_word_pairs()
        self.context = PhraseSet(vocabulary.context)
        self.decline = {
            kind: PhraseSet(vocabulary.decline.get(kind, ()))
            for kind in DECLINE_KINDS
            if kind not in PHRASE_SYNTAX_DECLINE_KINDS
        }

    def question_word_slips(self, pairs: list[Pair]) -> list[Pair]:
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

    def analyse(
        self, pairs: list[Pair], intent: Intent, clause_starts: frozenset[int] = frozenset()
    ) -> Query:
        folded = [f for f, _ in pairs]
        focus = self.focus(folded, clause_starts)
        query = Query(
            intent=intent,
            decline=self.decline_reason(pairs, focus),
            elsewhere=self.decline["elsewhere"].found_in(pairs[focus[0] : focus[1]]),
            ages=question_ages(folded),
            focus=focus,
            words=folded,
        )
        # In a long message the clause that asks says what is wanted; the story around it
        # (who, where, what happened) weighs less, unless that clause names nothing itself
        # ("giờ phải làm sao"): then the story is all there is.
        backstory = _BACKSTORY_WEIGHT if self.names_something(folded[focus[0] : focus[1]]) else 1.0
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

    def corrected_words(self, pairs: list[Pair]) -> list[str]:
        """The folded words with spelling slips repaired, as `analyse` reads them."""
        return [word.folded for word in self._corrected(pairs)]

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
        marks = typed_marks(pairs, self.index.spellings)
        i = 0
        while i < len(run):
            phrase = self._phrase_at(run, i, marks)
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
            filler = self.fillers.match_at(pairs, i) or self.decline["greeting"].match_at(pairs, i)
            # "nha", "ha" ending a sentence are particles ("cảm ơn nha"), not "nhà".
            last = i == len(run) - 1 and run[i].accented in ("", run[i].folded)
            if last and run[i].folded in FINAL_PARTICLES:
                filler = 1
            if filler and not (filler == 1 and self._in_known_pair(run, i)):
                i += filler
                continue
            context = self.context.match_at(pairs, i)
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

    def _phrase_at(self, run: list[_Word], start: int, marks: list[str]) -> _Phrase | None:
        """The longest vocabulary phrase at `start`, unless a longer one starts inside it
        and reaches further, or it is one word that is part of a name's own phrase with
        its neighbour ("pháp" is France, but not in "tư pháp" or "pháp lý")."""
        phrase = self._longest_phrase(run, start, marks)
        if phrase is None:
            return None
        one_syllable = len(phrase.words) == 1 and _SYLLABLE.fullmatch(phrase.words[0])
        if one_syllable and self._in_phrase(run, start):
            return None
        end = start + len(phrase.words)
        for inner in range(start + 1, end):
            other = self._longest_phrase(run, inner, marks)
            if (
                other is not None
                and inner + len(other.words) > end
                and len(other.words) > len(phrase.words)
            ):
                return None
        return phrase

    def _longest_phrase(self, run: list[_Word], start: int, marks: list[str]) -> _Phrase | None:
        """The longest phrase at `start`. A one-word phrase also needs the diacritics the
        citizen typed on that word, if any ("cười" is not "cưới"), or meant by typing it
        bare in a message with marks (`marks`, see typed_marks: "lào" is Laos, "lao" in
        "nhà trên cù lao" is not); in a longer phrase the words around a slip ("giây phép
        xây dựng") say what it is."""
        for phrase in self.phrases.get(run[start].folded, ()):
            typed = run[start : start + len(phrase.words)]
            if tuple(word.folded for word in typed) != phrase.words:
                continue
            marked = len(typed) == 1 and (
                typed[0].accented != typed[0].folded or bool(marks[start])
            )
            if marked and not same_word(phrase.written[0], (typed[0].folded, typed[0].accented)):
                continue
            return phrase
        return None

    def _weigh(self, slots: list[_Slot], query: Query) -> None:
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
        query: Query,
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
            if word.folded not in WEAK_WORDS and not slot.optional:
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

    def decline_reason(
        self, pairs: list[Pair], focus: tuple[int, int] | None = None
    ) -> DeclineReason | None:
        for kind in ("complaint", "private_data", "small_talk", "greeting"):
            # Small talk in the story of a long message is context ("lên Cần Thơ khám
            # bệnh, ghé ở nhà tui"); in the clause that asks, it is the question.
            where = pairs[focus[0] : focus[1]] if focus and kind == "small_talk" else pairs
            if self.decline[kind].found_in(where):
                return DeclineReason(kind)
        return None

    def focus(self, folded: list[str], clause_starts: frozenset[int]) -> tuple[int, int]:
        """Word positions of the clause that asks: the last one with a question phrase or
        ending like a question ("... được hông", "... chưa"), else the last clause."""
        bounds = [0, *sorted(i for i in clause_starts if 0 < i < len(folded)), len(folded)]
        ranges = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
        if len(ranges) <= 1:
            return (0, len(folded))
        # A clause that ends like a question asks, though a later one holds a cue word
        # ("tỷ giá hôm nay nhiêu vậy, tui tính đổi tiền trước khi nộp hồ sơ"); the words
        # the citizen addresses people with come after its ending ("... có mưa hông mấy anh").
        for first, last in reversed(ranges):
            while last - 1 > first and folded[last - 1] in _ADDRESS_WORDS:
                last -= 1
            if folded[last - 1] in _QUESTION_ENDINGS:
                return (first, last)
        cue_starts = [start for start, _end, _kept in question_cue_spans(folded)]
        for first, last in reversed(ranges):
            if any(first <= c < last for c in cue_starts):
                return (first, last)
        return ranges[-1]

    def names_something(self, words: Sequence[str]) -> bool:
        """Whether a clause has words of its own that procedures' names use (not only
        question words, fillers or weak words like "làm", "xin")."""
        content = [
            w
            for w in words
            if w in self.index.idf and w not in WEAK_WORDS and w not in self.question_words
        ]
        return len(content) >= _FOCUS_CONTENT_WORDS


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


class IndexText:
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


def _phrase_table(vocabulary: Vocabulary, prepare: IndexText) -> dict[str, tuple[_Phrase, ...]]:
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
