"""The search index: built once from a catalogue, then queried without I/O.

Every procedure is reduced to folded words (syllables) and word pairs (bigrams, which
carry most of the meaning in Vietnamese: "khai sinh", "kết hôn", "hộ chiếu"), each with an
inverse document frequency (IDF) so that rare, telling words weigh more than "đăng ký" or
"cấp". Names and aliases are the main field; the procedure's field (lĩnh vực) counts
less. Postings are numpy arrays, so one query term costs one vectorised add, whatever
the catalogue size.

Long names are also cut into segments, one per case they list, so that a question about
one case is not judged against the length of all of them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.catalogue.model import Level, Procedure
from bot.search.phrases import Pair

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int32]

# Weight of a word found only in the procedure's field, relative to one in its name.
FIELD_WEIGHT = 0.3
# Word-pair cohesion (see SearchIndex.cohesion): sqrt(df(pair) / df(rarer word)) scaled.
COHESION_SCALE = 1.5
COHESION_FLOOR = 0.1
# Parts of names that say where a procedure is handled, not what it is: the level is a
# separate preference (config search.preferred_levels), and these words would otherwise
# make "cấp" (level, but also "issue") and "tỉnh" look meaningful.
_LEVELS = r"(?:tỉnh|xã|huyện|bộ|tw|trung ương)"
LEVEL_PHRASE = re.compile(
    rf"\(?\s*(?:(?:thực hiện|giải quyết)\s+)?(?:(?:tại|ở)\s+)?"
    rf"cấp\s+{_LEVELS}(?:\s*,\s*cấp\s+{_LEVELS})*\s*\)?",
    re.IGNORECASE,
)
_THU_TUC = re.compile(r"^\s*thủ tục\s+", re.IGNORECASE)
# How a procedure may be submitted, which some names repeat ("... thực hiện bằng dịch vụ
# công trực tuyến một phần hoặc trực tiếp"): a channel, not a different procedure. The
# online-only variant stays distinguishable through the qualifiers, which read full names.
_CHANNEL_PHRASE = re.compile(
    r"(?:thực\s+hiện\s+)?bằng\s+dịch\s+vụ\s+công\s+(?:trực\s+tuyến\s+)?"
    r"(?:một\s+phần\s+hoặc\s+trực\s+tiếp|toàn\s+trình)",
    re.IGNORECASE,
)
# Where a name lists several cases.
_CASE_SEPARATORS = re.compile(r";|\s/\s?|/\s")
_MIN_SEGMENT_WORDS = 3

# Turns a text into the words that are indexed (fillers dropped, abbreviations spelled
# out), the same way questions are treated.
Prepare = Callable[[str], list[Pair]]


def base_name(name: str) -> str:
    """The name without its level and channel ("Cấp hộ chiếu (thực hiện tại cấp tỉnh)" ->
    "Cấp hộ chiếu"), so that the same procedure at several levels is offered once."""
    stripped = LEVEL_PHRASE.sub(" ", _CHANNEL_PHRASE.sub(" ", _THU_TUC.sub("", name)))
    return " ".join(stripped.replace(" ,", ",").split()).strip(" ,.;:")


def terms_of(words: Sequence[str]) -> list[str]:
    """Unigrams and bigrams of a word sequence; a bigram is "a b" (one space)."""
    found = list(words)
    found.extend(f"{a} {b}" for a, b in itertools.pairwise(words))
    return found


def accented_terms_of(pairs: Sequence[Pair]) -> list[str]:
    """Unigrams and bigrams of the accented forms, where both words have one."""
    found = [accented for _, accented in pairs if accented]
    found.extend(f"{a[1]} {b[1]}" for a, b in itertools.pairwise(pairs) if a[1] and b[1])
    return found


@dataclass(frozen=True, slots=True)
class Posting:
    """Where one term occurs: procedures whose name/aliases contain it, the name segments
    that contain it, and procedures that have it only in another field."""

    name_ids: IdArray
    segment_ids: IdArray
    other_ids: IdArray
    other_weights: FloatArray


class SearchIndex:
    """Term postings, IDF and the name segments of a catalogue's procedures."""

    def __init__(
        self,
        procedures: Sequence[Procedure],
        extra_names: dict[str, tuple[str, ...]],
        prepare: Prepare,
        preferred_levels: Sequence[str],
        known_words: Iterable[str] = (),
    ) -> None:
        self.procedures = tuple(procedures)
        self.size = len(self.procedures)
        name_terms: list[set[str]] = []
        accented_terms: list[set[str]] = []
        segment_terms: list[set[str]] = []
        segment_doc: list[int] = []
        other_terms: list[dict[str, float]] = []
        self.base_names: list[str] = []
        for doc, procedure in enumerate(self.procedures):
            plain_name = base_name(procedure.name)
            own = prepare(plain_name)
            self.base_names.append(" ".join(f for f, _ in own))
            names = set(terms_of([f for f, _ in own]))
            accented = set(accented_terms_of(own))
            for segment in _segments(plain_name, own, prepare):
                segment_terms.append(set(terms_of(segment)))
                segment_doc.append(doc)
            for alias in (*procedure.aliases, *extra_names.get(procedure.code, ())):
                alias_pairs = prepare(alias)
                alias_words = [f for f, _ in alias_pairs]
                names.update(terms_of(alias_words))
                accented.update(accented_terms_of(alias_pairs))
                if alias_words:
                    segment_terms.append(set(terms_of(alias_words)))
                    segment_doc.append(doc)
            others = {
                term: FIELD_WEIGHT
                for term in terms_of([f for f, _ in prepare(procedure.field)])
                if term not in names
            }
            name_terms.append(names)
            accented_terms.append(accented)
            other_terms.append(others)

        document_frequency: dict[str, int] = defaultdict(int)
        for names, others in zip(name_terms, other_terms, strict=True):
            for term in names:
                document_frequency[term] += 1
            for term in others:
                document_frequency[term] += 1
        # How many procedures use each term; spelling prefers frequent words.
        self.frequency: dict[str, float] = {t: float(df) for t, df in document_frequency.items()}
        n = max(self.size, 1)
        self.idf: dict[str, float] = {
            term: math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for term, df in document_frequency.items()
        }
        # The weight of a word no procedure contains: as telling as the rarest words.
        self.unknown_idf = math.log(1.0 + (n + 0.5) / 1.5)
        # How much a word pair is a phrase rather than two words that happen to meet:
        # "khai sinh" occurs about as often as "sinh" itself, "nhà cho" almost never
        # compared with "nhà" or "cho". A rare pair is only telling when it is cohesive.
        self.cohesion: dict[str, float] = {}
        for term, df in document_frequency.items():
            if " " in term:
                first, second = term.split(" ", 1)
                parts = min(document_frequency.get(first, df), document_frequency.get(second, df))
                ratio = df / max(parts, 1)
                self.cohesion[term] = min(1.0, max(COHESION_FLOOR, COHESION_SCALE * ratio**0.5))

        name_postings: dict[str, list[int]] = defaultdict(list)
        segment_postings: dict[str, list[int]] = defaultdict(list)
        other_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        accented_postings: dict[str, list[int]] = defaultdict(list)
        for doc, (names, others) in enumerate(zip(name_terms, other_terms, strict=True)):
            for term in names:
                name_postings[term].append(doc)
            for term, weight in others.items():
                other_postings[term].append((doc, weight))
        for segment_id, segment_set in enumerate(segment_terms):
            for term in segment_set:
                segment_postings[term].append(segment_id)
        for doc, terms in enumerate(accented_terms):
            for term in terms:
                accented_postings[term].append(doc)
        empty = _ids(())
        self.postings: dict[str, Posting] = {}
        for term in document_frequency:
            other = other_postings.get(term)
            self.postings[term] = Posting(
                name_ids=_ids(name_postings[term]) if term in name_postings else empty,
                segment_ids=_ids(segment_postings[term]) if term in segment_postings else empty,
                other_ids=_ids([d for d, _ in other]) if other else empty,
                other_weights=np.array([w for _, w in other] if other else [], np.float32),
            )
        # Names with their diacritics: a question typed with marks gets full credit only
        # where the marks agree ("lái xe" is not "cấp lại").
        self.accented_postings: dict[str, IdArray] = {
            term: _ids(ids) for term, ids in accented_postings.items()
        }
        # Words as the names spell them: a citizen's word typed so is that word ("thuê",
        # "lao"), while marks no name has ("chứng thục") are more likely a slip.
        self.spellings: frozenset[str] = frozenset(t for t in accented_postings if " " not in t)
        # Segments of one procedure are contiguous: `segment_starts` feeds reduceat.
        self.segment_count = len(segment_terms)
        self.segment_starts: IdArray = _ids(
            i for i, doc in enumerate(segment_doc) if i == 0 or segment_doc[i - 1] != doc
        )
        self.segment_mass: FloatArray = np.array(
            [max(sum(self.idf[t] for t in terms), 1e-6) for terms in segment_terms],
            dtype=np.float32,
        )
        self.level_rank: FloatArray = np.array(
            [_level_rank(p.levels, preferred_levels) for p in self.procedures],
            dtype=np.float32,
        )
        self.words: frozenset[str] = frozenset(
            t for t in document_frequency if " " not in t
        ) | frozenset(known_words)
        self.bigrams: frozenset[str] = frozenset(t for t in document_frequency if " " in t)


def _ids(values: Iterable[int]) -> IdArray:
    return np.fromiter(values, dtype=np.int32)


def _segments(name: str, whole: list[Pair], prepare: Prepare) -> list[list[str]]:
    """The whole name, then each case it lists ("Giao đất, cho thuê đất, chuyển mục đích
    sử dụng đất ...; gia hạn sử dụng đất ...", "Khai lệ phí trước bạ/ Miễn lệ phí trước
    bạ"). Commas are not case separators: they mostly join the items of one list.
    Parts shorter than three words are details, not cases."""
    segments = [[f for f, _ in whole]]
    parts = [p for p in _CASE_SEPARATORS.split(name) if p.strip()]
    if len(parts) > 1:
        for part in parts:
            part_words = [f for f, _ in prepare(part)]
            if len(part_words) >= _MIN_SEGMENT_WORDS:
                segments.append(part_words)
    return segments


def _level_rank(levels: Sequence[Level], preferred: Sequence[str]) -> float:
    """0 for the most preferred level the procedure is handled at, 1, 2... for the next;
    len(preferred) when it is handled at none of them."""
    ranks = [preferred.index(level.value) for level in levels if level.value in preferred]
    return float(min(ranks)) if ranks else float(len(preferred))
