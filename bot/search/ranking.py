"""Ranking procedures for an analysed message (bot.search.query.Query).

How much of the question each name explains (recall, IDF-weighted, word pairs counting
extra, full credit only where typed diacritics agree), how much of the name the question
asked about (precision, per case of a long name), special cases the question did not
mention, the action a name starts with, the levels the center handles, who may apply,
ages; the procedures of a life event the message describes; and names the question quotes
(bot.search.names) first. The same procedure offered at several levels is ranked once, at
the most preferred level. Vectorised over the whole catalogue first, then the best
`_POOL` re-ranked one by one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from bot.catalogue.model import code_shape
from bot.search.events import LifeEvent
from bot.search.index import FloatArray, IdArray, SearchIndex, terms_of
from bot.search.names import MAIN_VERB_WORDS, SITUATION_WORDS, NameFeatures, ages_fit, quote
from bot.search.query import Query, Terms

# Share of a word's credit earned without diacritics: a question typed with marks gets
# the rest only where the name has the same marks.
_FOLDED_SHARE = 0.35
# A word typed with marks no name has ("cúng" where names have "cung cấp") is more likely
# another word than a slip: it earns this share. The hỏi and ngã tones, which southern
# writers swap ("thai sãn"), are the same word here.
_UNKNOWN_MARKS_SHARE = 0.6
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
_LEVEL_STEP = 0.03  # per step down the preferred levels
# Candidates re-ranked in full after the vectorised first pass (30 and 40 gave the same
# outcome on every question set; fewer candidates, fewer qualifier checks per search).
_POOL = 30
# Life events (bot.search.events): the procedures of a situation the message describes
# score at least this much, less a step per place down the event's list, plus a share of
# their own score, so that among them the one the words fit best comes first, and a
# procedure the words name outright ("làm lại căn cước") still beats the event's others.
_EVENT_BASE = 0.36
_EVENT_ORDER_STEP = 0.03
_EVENT_KEEP = 0.5
# How sure a phrase is, by its length in words: "khai sinh" alone may be said in passing,
# "vợ mới sanh em bé" is the situation.
_EVENT_PHRASE_WEIGHT = {1: 0.6, 2: 0.85}

# A quoted name (see _quoted_first): names this long or longer, quoted at least this well,
# among the best-scored this many; names within _QUOTE_TIE of the best quote lead, scoring
# at least _QUOTE_SCORE times their quote.
_QUOTE_MIN_NAME_WORDS = 6
_QUOTED = 0.85
_QUOTE_POOL = 12
_QUOTE_TIE = 0.02
_QUOTE_SCORE = 0.9
# Words of most names that tell no procedure from another ("Thủ tục đăng ký khai tử").
_NOT_TELLING = frozenset({"thu", "tuc"})


class Variant(NamedTuple):
    """A procedure whose name is one of an event's procedures' names and more ("đăng ký
    chấm dứt giám hộ" of "đăng ký giám hộ", "... kết hôn có yếu tố nước ngoài" of "...
    kết hôn"), though the event does not list it."""

    doc: int
    place: int  # the listed procedure's place in the event's list
    asked: frozenset[str]  # the word pairs its name has and the listed one's has not


class Ranked(NamedTuple):
    """One procedure's place for a query (a tuple: thirty are made per search)."""

    doc: int
    score: float  # confidence, once _decide has combined the evidence
    recall: float
    precision: float
    unasked: int  # special cases in the name that the question did not mention


class Ranker:
    """Built once with the matcher; `rank` scores the catalogue for one Query."""

    def __init__(
        self, index: SearchIndex, names: NameFeatures, events: Sequence[LifeEvent]
    ) -> None:
        self.index = index
        self.names = names
        self.event_docs = _event_docs(events, index)
        self.event_variants = _event_variants(self.event_docs, index)
        self._event_members = {
            event_id: frozenset(ids.tolist())
            | {v.doc for v in self.event_variants.get(event_id, ())}
            for event_id, (ids, _order) in self.event_docs.items()
        }
        self._spellings_hoi_as_nga = frozenset(
            _hoi_as_nga(term) for term in index.accented_postings
        )
        # Names' words as looked up in Query.mentioned (" a b "), padded once here.
        self._qualifiers = [tuple(f" {q} " for q in found) for found in names.qualifiers]
        self._case_actions = [tuple(f" {a} " for a in found) for found in names.case_actions]
        self._main_actions = [f" {found[0]} " if found else "" for found in names.actions]
        self._members = tuple(f" {m} " for m in names.members)

    def rank(self, query: Query) -> list[Ranked]:
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
        matched = _sums_per_id(
            index.segment_count,
            [index.postings[term].segment_ids for term in asked],
            [index.idf[term] for term in asked],
        )
        segment_precision = np.minimum(matched / index.segment_mass, 1.0)
        precision = np.maximum.reduceat(segment_precision, index.segment_starts)
        score = recall * (_PRECISION_FLOOR + (1.0 - _PRECISION_FLOOR) * precision)
        score *= 1.0 - _LEVEL_STEP * index.level_rank
        words_score = score.copy() if query.events else score
        for hit in query.events:
            docs = self.event_docs.get(hit.event.id)
            if docs is None:
                continue
            ids, order = docs
            weight = _EVENT_PHRASE_WEIGHT.get(hit.phrase.words, 1.0)
            boosted = weight * _EVENT_BASE * (1.0 - _EVENT_ORDER_STEP * order)
            boosted *= 1.0 - _LEVEL_STEP * index.level_rank[ids]
            score[ids] = np.maximum(score[ids], boosted + _EVENT_KEEP * score[ids])
            # The event's procedure in the special case the question names ("giờ muốn
            # chấm dứt việc giám hộ", "đăng ký lại" a marriage with a foreigner) is the
            # one the situation leads to: lifted as the listed one is, when the
            # question has a word pair of the case and fits its name better.
            for variant in self.event_variants.get(hit.event.id, ()):
                if variant.asked.isdisjoint(query.terms):
                    continue
                own = words_score[variant.doc]
                if own > words_score[ids[variant.place]]:
                    lifted = boosted[variant.place] + _EVENT_KEEP * own
                    score[variant.doc] = max(score[variant.doc], lifted)
        pool = min(_POOL, index.size)
        if pool == 0:
            return []
        top = np.argpartition(-score, pool - 1)[:pool]
        ranked: list[Ranked] = []
        mentioned = query.mentioned
        for doc, value, doc_recall, doc_precision in zip(
            top.tolist(),
            score[top].tolist(),
            recall[top].tolist(),
            precision[top].tolist(),
            strict=True,
        ):
            if value <= 0.0:
                continue
            qualifiers = self._qualifiers[doc]
            unasked = sum(1 for q in qualifiers if q not in mentioned)
            # The special case the citizen named ("... người Hàn Quốc" -> "có yếu tố nước
            # ngoài") wins over the plain procedure, whose name is otherwise shorter.
            position = self.names.action_positions[doc]
            main = self._main_actions[doc]
            main_asked = position < MAIN_VERB_WORDS and bool(main) and main in mentioned
            if unasked < len(qualifiers) or main_asked:
                value *= _ASKED_QUALIFIER_BONUS
            # A name that lists several actions ("thay đổi, cải chính, bổ sung") fits a
            # question that asks for any one of them.
            if position < SITUATION_WORDS and not any(
                a in mentioned for a in self._case_actions[doc]
            ):
                unasked += 1
            value *= _QUALIFIER_PENALTY ** min(unasked, _MAX_QUALIFIER_PENALTIES)
            # Citizens ask the bot; a procedure only organisations can apply for is
            # rarely what they mean.
            if self.names.for_organisations[doc]:
                value *= _ORGANISATIONS_PENALTY
            if self.names.for_staff[doc] and not any(m in mentioned for m in self._members):
                value *= _STAFF_PENALTY
            if (
                query.ages
                and self.names.ages[doc]
                and not ages_fit(query.ages, self.names.ages[doc])
            ):
                value *= _AGE_MISFIT
            ranked.append(Ranked(doc, value, doc_recall, doc_precision, unasked))
        ranked.sort(key=lambda item: (-item.score, item.doc))
        ranked = self._quoted_first(ranked, query.words)
        # The same procedure at several levels: keep the first (best-scored) of each.
        seen: set[str] = set()
        unique: list[Ranked] = []
        for item in ranked:
            name = index.base_names[item.doc]
            if name not in seen:
                seen.add(name)
                unique.append(item)
        return unique

    def _quoted_first(self, ranked: list[Ranked], words: Sequence[str]) -> list[Ranked]:
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
            for name in self.names.quotable[item.doc]:
                if len(name) >= _QUOTE_MIN_NAME_WORDS:
                    quotes[item.doc] = max(quotes.get(item.doc, (0.0, 0)), quote(name, words))
        best = max((quote for quote, _ in quotes.values()), default=0.0)
        if best < _QUOTED:
            return ranked
        lead = [item for item in ranked if quotes.get(item.doc, (0.0, 0))[0] >= best - _QUOTE_TIE]
        # Of names quoted alike, the one of which the question quotes more words ("... nhận
        # cha, mẹ, con có yếu tố nước ngoài" over "... nhận cha, mẹ, con").
        most = max(quotes[item.doc][1] for item in lead)
        lead = [
            item._replace(
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
        """Recall mass per procedure for `terms`.

        A term counts once per procedure (its postings hold each procedure once); the
        terms' ids and credits are gathered and summed at once (_sums_per_id)."""
        index = self.index
        idf = index.idf
        # Names credit each of their procedures alike: one value per posting, spread by
        # np.repeat; other text carries a weight per procedure.
        name_ids: list[IdArray] = []
        name_credits: list[float] = []
        other_ids: list[IdArray] = []
        other_credits: list[FloatArray] = []
        for term, (weight, accented) in terms.items():
            posting = index.postings[term]
            value = weight * idf[term]
            if posting.name_ids.size:
                # Marks that no name has ("hộ chiêu") are a typing slip: only marks that
                # some name has can tell words apart ("lái" / "lại").
                agreeing = index.accented_postings.get(accented) if accented else None
                if agreeing is not None:
                    name_ids += (posting.name_ids, agreeing)
                    name_credits += (value * _FOLDED_SHARE, value * (1.0 - _FOLDED_SHARE))
                else:
                    name_ids.append(posting.name_ids)
                    slip = not accented or _hoi_as_nga(accented) in self._spellings_hoi_as_nga
                    name_credits.append(value if slip else value * _UNKNOWN_MARKS_SHARE)
            if posting.other_ids.size:
                other_ids.append(posting.other_ids)
                other_credits.append(value * posting.other_weights)
        return _sums_per_id(index.size, name_ids, name_credits, other_ids, other_credits)

    def event_members(self, event_id: str) -> frozenset[int]:
        """The documents an event offers: its procedures and their variants."""
        return self._event_members.get(event_id, frozenset())

    def event_of(self, doc: int, query: Query) -> LifeEvent | None:
        """The first event described in the message whose procedures (or their variants)
        include `doc`."""
        for hit in query.events:
            if doc in self.event_members(hit.event.id):
                return hit.event
        return None


def _sums_per_id(
    size: int,
    groups: list[IdArray],
    values: list[float],
    weighted_groups: Sequence[IdArray] = (),
    weights: Sequence[FloatArray] = (),
) -> FloatArray:
    """Per id below `size`, the sum of `values[i]` over the groups holding it and of the
    weights of `weighted_groups` (id by id): one `bincount` over all of them, which costs
    less than adding group by group into an array (the search's hottest loop)."""
    ids = [*groups, *weighted_groups]
    if not ids:
        return np.zeros(size, dtype=np.float32)
    spread = np.repeat(np.array(values, dtype=np.float64), [group.size for group in groups])
    sums: FloatArray = np.bincount(
        np.concatenate(ids), weights=np.concatenate([spread, *weights]), minlength=size
    ).astype(np.float32)
    return sums


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


def _event_variants(
    event_docs: dict[str, tuple[IdArray, FloatArray]], index: SearchIndex
) -> dict[str, tuple[Variant, ...]]:
    """Per event, the variants of its procedures that it does not list: names holding
    every word of a listed name and more (see Variant)."""
    words = [frozenset(name.split()) - _NOT_TELLING for name in index.base_names]
    docs_with: dict[str, set[int]] = {}
    for doc, name_words in enumerate(words):
        for word in name_words:
            docs_with.setdefault(word, set()).add(doc)
    variants: dict[str, tuple[Variant, ...]] = {}
    for event_id, (ids, _order) in event_docs.items():
        listed = set(ids.tolist())
        found: list[Variant] = []
        for place, doc in enumerate(ids.tolist()):
            if not words[doc]:
                continue
            own = set(terms_of(index.base_names[doc].split()))
            wider = set.intersection(*(docs_with[word] for word in words[doc]))
            for other in sorted(wider - listed):
                if len(words[other]) > len(words[doc]):
                    pairs = {
                        term
                        for term in terms_of(index.base_names[other].split())
                        if " " in term and term not in own
                    }
                    found.append(Variant(other, place, frozenset(pairs)))
        if found:
            variants[event_id] = tuple(found)
    return variants


def _hoi_as_nga(text: str) -> str:
    """`text` with the hỏi tone written as ngã (NFC in, NFC out)."""
    return unicodedata.normalize(
        "NFC", unicodedata.normalize("NFD", text).replace("\u0309", "\u0303")
    )
