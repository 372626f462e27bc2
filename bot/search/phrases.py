"""Phrases matched word by word, the same way in questions and in procedure names.

A word is a pair (folded, accented) from `normalize.words`. Two words match when their
folded forms are equal and, if both sides know their diacritics, the diacritics agree:
the filler "thế" must not remove "thẻ" (card) from "thẻ căn cước" or "thể" from "giải
thể", while a question typed without diacritics ("the nao") still loses its "thế".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from bot.search.normalize import words

Pair = tuple[str, str]  # (folded, accented or "")


def same_word(phrase_word: Pair, word: Pair) -> bool:
    if phrase_word[0] != word[0]:
        return False
    return not phrase_word[1] or not word[1] or phrase_word[1] == word[1]


class PhraseSet:
    """A set of phrases, looked up by first folded word, longest first."""

    def __init__(self, phrases: Iterable[str]) -> None:
        table: dict[str, list[tuple[Pair, ...]]] = defaultdict(list)
        for phrase in phrases:
            pairs = tuple(words(phrase, written=True))
            if pairs:
                table[pairs[0][0]].append(pairs)
        self._table = {k: tuple(sorted(v, key=len, reverse=True)) for k, v in table.items()}

    def __bool__(self) -> bool:
        return bool(self._table)

    def match_at(self, pairs: Sequence[Pair], start: int) -> int:
        """Length of the longest phrase at `start`, 0 when none."""
        for phrase in self._table.get(pairs[start][0], ()):
            end = start + len(phrase)
            if end <= len(pairs) and all(
                same_word(p, w) for p, w in zip(phrase, pairs[start:end], strict=True)
            ):
                return len(phrase)
        return 0

    def strip(self, pairs: Sequence[Pair]) -> list[Pair]:
        """`pairs` without the phrases of this set."""
        kept: list[Pair] = []
        i = 0
        while i < len(pairs):
            length = self.match_at(pairs, i)
            if length:
                i += length
            else:
                kept.append(pairs[i])
                i += 1
        return kept

    def found_in(self, pairs: Sequence[Pair]) -> bool:
        """Whether any phrase of this set occurs in `pairs`."""
        return any(self.match_at(pairs, i) for i in range(len(pairs)))
