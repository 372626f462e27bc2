"""Correcting a question's words against the words the index knows.

Two kinds of slips: a word that does not exist ("tein", "hog", "kys") and a real word
that does not fit its neighbour ("tư pháo" for "tư pháp", "tạm chú" for "tạm trú"). The
first is corrected to a known word one edit away (candidates found through a table of
single-letter deletions, built once, so no per-query pass over the vocabulary; rapidfuzz
confirms the distance). The second is corrected only when the corrected pair is a pair
the index knows, which keeps real words from being "corrected" into something else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import lru_cache

from rapidfuzz.distance import OSA

from bot.search.normalize import sound_alike, telex_repairs

# Shorter words have too many neighbours one edit away for a guess to be worth making.
_MIN_LENGTH = 3
# How firm a phrase must be (index cohesion) for a real word to be corrected into it.
_KNOWN_WORD_COHESION = 0.5


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class SpellingCorrector:
    def __init__(
        self,
        words: Iterable[str],
        bigrams: frozenset[str],
        frequency: Mapping[str, float],
        protected: Iterable[str] = (),
        no_context: Iterable[str] = (),
        cohesion: Mapping[str, float] | None = None,
    ) -> None:
        self.words = frozenset(words)
        # Words never changed: fillers, question words, vocabulary phrases.
        self.protected = frozenset(protected)
        # Words that never count as the other half of a pair, because they go with
        # anything ("làm" must not become "lại" to fit "lại khai").
        self.no_context = frozenset(no_context)
        self.cohesion: Mapping[str, float] = cohesion or {}
        self.bigrams = bigrams
        self.frequency = frequency
        by_deletion: dict[str, set[str]] = defaultdict(set)
        for word in self.words:
            if len(word) >= _MIN_LENGTH and word.isalpha():
                for deleted in _deletions(word):
                    by_deletion[deleted].add(word)
        self._by_deletion = {k: tuple(sorted(v)) for k, v in by_deletion.items()}
        # Bounded, per-index caches: questions repeat the same slips.
        self.neighbours = lru_cache(maxsize=20_000)(self._neighbours)
        self.telex = lru_cache(maxsize=20_000)(self._telex)

    def _neighbours(self, word: str) -> tuple[str, ...]:
        """Known words one edit (or a sound-alike spelling) away, most likely first."""
        if len(word) < _MIN_LENGTH or not word.isalpha():
            return ()
        found: set[str] = set(self._by_deletion.get(word, ()))  # a letter missing
        for deleted in _deletions(word):
            if deleted in self.words:  # a letter too many
                found.add(deleted)
            found.update(self._by_deletion.get(deleted, ()))  # one letter wrong or swapped
        found.update(v for v in sound_alike(word) if v in self.words)
        found.discard(word)
        sound = set(sound_alike(word))
        scored = [
            (candidate, OSA.distance(word, candidate))
            for candidate in found
            if candidate in sound or OSA.distance(word, candidate) <= 1
        ]
        # Missing letters are the commonest slip on a phone keyboard, then wrong letters;
        # among equals the more frequent word wins.
        scored.sort(
            key=lambda item: (
                item[1],
                0 if len(item[0]) > len(word) else 1 if len(item[0]) == len(word) else 2,
                -self.frequency.get(item[0], 0.0),
                item[0],
            )
        )
        return tuple(candidate for candidate, _ in scored)

    def _telex(self, word: str) -> str | None:
        """The known word an unknown one spells with telex keys left in ("kys" -> "ky")."""
        for repaired in telex_repairs(word):
            if repaired in self.words:
                return repaired
        return None

    def correct(self, words: list[str]) -> list[tuple[str, float]]:
        """Each word with its correction and a confidence: 1.0 when unchanged.

        Unknown words are repaired when they are telex leftovers, or when a neighbour
        one slip away forms a known pair with the next or previous word; known words
        change only to complete a pair. An unknown word with no such evidence stays as
        it is: it may be a name, a place or something the catalogue does not cover
        ("karaoke"), and guessing would make an unrelated question look answerable.
        """
        result: list[tuple[str, float]] = []
        for i, word in enumerate(words):
            left = words[i - 1] if i > 0 else ""
            right = words[i + 1] if i + 1 < len(words) else ""
            if word in self.protected or not word.isalpha():
                result.append((word, 1.0))
                continue
            if word in self.words:
                fitted = self._fit_pair(word, left, right)
                result.append((fitted, 0.7) if fitted else (word, 1.0))
                continue
            telex = self.telex(word)
            if telex:
                result.append((telex, 0.9))
                continue
            fitted = self._fit_pair(word, left, right, known=False)
            result.append((fitted, 0.85) if fitted else (word, 1.0))
        return result

    def _fit_pair(self, word: str, left: str, right: str, known: bool = True) -> str | None:
        """A neighbour of `word` that makes a known pair where `word` makes none."""
        if not word or len(word) < _MIN_LENGTH:
            return None
        left = "" if left in self.no_context or not left.isalpha() else left
        right = "" if right in self.no_context or not right.isalpha() else right
        has_pair = (left and f"{left} {word}" in self.bigrams) or (
            right and f"{word} {right}" in self.bigrams
        )
        if has_pair:
            return None
        if known and not (left or right):
            return None
        # A real word is only changed into one half of a firm phrase ("tư pháo" ->
        # "tư pháp"), never to fit a pair that merely exists somewhere.
        needed = _KNOWN_WORD_COHESION if known else 0.0
        for candidate in self.neighbours(word):
            for pair in (
                f"{left} {candidate}" if left else "",
                f"{candidate} {right}" if right else "",
            ):
                if pair and pair in self.bigrams and self.cohesion.get(pair, 1.0) >= needed:
                    return candidate
        return None
