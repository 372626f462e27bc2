"""Vietnamese text normalisation for matching: what a phone sends -> comparable tokens.

Phones send the same word in different byte forms: precomposed (NFC) or decomposed (NFD)
characters, the tone mark on either vowel of "oa/oe/uy" (hòa/hoà, thủy/thuỷ), upper or
lower case, with or without diacritics, sometimes with telex keystrokes left in
("ddang kys"). `tokens` reduces all of these to one form: lower-case syllables without
diacritics ("dang", "ky"), with numbers split from their units ("100m2" -> "100", "m2").

Matching happens on the folded form because about 40% of citizens type without
diacritics; `canonical_syllable` keeps the accented form comparable too, for callers that
want to tell "thuế" (tax) from "thuê" (rent) when the citizen did type the marks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from functools import lru_cache

from bot.catalogue.slug import fold_diacritics

# Combining marks of the five Vietnamese tones (NFD); the vowel-quality marks (circumflex,
# breve, horn) are not tones and stay on their letter.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VOWELS = frozenset("aăâeêioôơuưy")
_QUALITY_VOWELS = frozenset("ăâêôơư")
_LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)

# Units written stuck to a number or in words, mapped to one spelling (folded).
_UNIT_SPELLINGS = {
    "m²": "m2",
    "㎡": "m2",
    "mét vuông": "m2",
    "met vuong": "m2",
    "km²": "km2",
}
_UNIT_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_UNIT_SPELLINGS, key=len)[::-1]))
# A number glued to letters ("100m2", "2tuần", "5tr") is split, but letters followed by
# digits stay one token: they are names such as "kt3", "ct07", "a1", "m2". Thousands
# separators inside numbers ("1.000.000", "2,5") are kept inside the token.
_NUMBER_THEN_LETTERS = re.compile(r"(\d)([^\W\d_])")

_HAS_VOWEL = re.compile(r"[aeiouy]")
_DOUBLE_LETTER = re.compile(r"([a-z])\1+")

# Telex leftovers: the keys that type a tone (s f r x j) or a vowel mark (aa ee oo dd w).
# No Vietnamese syllable ends in s, f, r, x or j, so one there is a tone key.
_TELEX_TONE_KEY = re.compile(r"(?<=[a-z])[sfrxj]$")
_TELEX_DOUBLES = (("dd", "d"), ("aa", "a"), ("ee", "e"), ("oo", "o"))
_TELEX_W = re.compile(r"(?<=[aou])w|w(?=[aou])")


def nfc(text: str) -> str:
    """The precomposed form; phones on some platforms send decomposed (NFD) text."""
    return unicodedata.normalize("NFC", text)


def canonical_syllable(syllable: str) -> str:
    """One spelling per accented syllable: lower case, NFC, tone mark on the traditional vowel.

    'hoà' and 'hòa' both become 'hòa'; 'thuỷ' and 'thủy' become 'thủy'. The rule is the
    traditional one (tone on the first vowel of an open "oa/oe/uy"), which most official
    texts use; the point is only that both placements end up identical.
    """
    decomposed = unicodedata.normalize("NFD", syllable.lower())
    tone = ""
    letters: list[str] = []
    for char in decomposed:
        if char in _TONE_MARKS:
            tone = tone or char
        elif unicodedata.combining(char) and letters:
            letters[-1] += char
        else:
            letters.append(char)
    letters = [unicodedata.normalize("NFC", letter) for letter in letters]
    if not tone:
        return "".join(letters)
    position = _tone_position(letters)
    if position is None:
        return unicodedata.normalize("NFC", "".join(letters) + tone)
    letters[position] = unicodedata.normalize("NFC", letters[position] + tone)
    return "".join(letters)


def _tone_position(letters: list[str]) -> int | None:
    """Index of the letter that carries the tone mark, by the Vietnamese spelling rules."""
    start = 0
    word = "".join(letters)
    # In "qu" and "gi" (before another vowel) the u/i belong to the consonant.
    if word.startswith("qu") or (
        word.startswith("gi") and len(letters) > 2 and letters[2] in _VOWELS
    ):
        start = 2
    while start < len(letters) and letters[start] not in _VOWELS:
        start += 1
    end = start
    while end < len(letters) and letters[end] in _VOWELS:
        end += 1
    cluster = list(range(start, end))
    if not cluster:
        return None
    marked = [i for i in cluster if letters[i] in _QUALITY_VOWELS]
    if marked:
        return marked[-1]
    if len(cluster) == 1:
        return cluster[0]
    if end < len(letters):  # closed syllable: "hoàng", "toán"
        return cluster[-1]
    if len(cluster) == 3:  # "ngoài", "khuỷu"
        return cluster[1]
    return cluster[0]


def canonical_text(text: str) -> str:
    """NFC, lower case, and one tone placement for every syllable of `text`."""
    return _LETTERS.sub(lambda m: _canonical_cached(m.group(0)), nfc(text).lower())


_canonical_cached = lru_cache(maxsize=65_536)(canonical_syllable)


def fold(text: str) -> str:
    """Lower case without diacritics ('Đăng ký' -> 'dang ky'), from NFC or NFD input."""
    return fold_diacritics(nfc(text)).lower()


def tokens(text: str) -> list[str]:
    """Folded syllables, numbers and unit tokens of `text`, in order.

    'Lên thổ cư 100m2' -> ['len', 'tho', 'cu', '100', 'm2'].
    """
    return [folded for folded, _accented in words(text)]


def words(text: str, *, written: bool = False) -> list[tuple[str, str]]:
    """Each token of `text` as (folded, accented): 'Đăng kí' -> [('dang', 'đăng'),
    ('ky', 'ký')].

    The accented form is the canonical spelling (`canonical_syllable`, final i/y unified),
    or "" when the citizen typed no diacritics anywhere in the message: then "dang" may
    be any of đang/đăng/dâng and nothing about marks can be concluded. It is also "" for
    stretched words ("đâuuu"), numbers and units. `written` text (procedure names, the
    vocabulary) is trusted to have its marks: "do" there is "do", never "đỏ".
    """
    return clauses(text, written=written)[0]


def clauses(text: str, *, written: bool = False) -> tuple[list[tuple[str, str]], frozenset[int]]:
    """`words(text)`, and the positions of the words that begin a new clause: those
    after a comma, full stop, question mark... ("bố em mới mất, làm giấy khai tử": "làm"
    begins one). Words of different clauses are not a phrase ("mất giấy")."""
    lowered = nfc(text).lower()
    lowered = _UNIT_PATTERN.sub(lambda m: " " + _UNIT_SPELLINGS[m.group(0)] + " ", lowered)
    lowered = _NUMBER_THEN_LETTERS.sub(r"\1 \2", lowered)
    found: list[tuple[str, str]] = []
    starts: set[int] = set()
    marked = False
    previous_end = 0
    for match in _RAW_TOKEN.finditer(lowered):
        token = _token(match.group(0))
        if token is None:
            continue  # letters of other scripts: nothing in the catalogue to match
        if found and _CLAUSE_BREAK.search(lowered, previous_end, match.start()):
            starts.add(len(found))
        previous_end = match.end()
        folded, accented, has_marks = token
        marked = marked or has_marks
        found.append((folded, accented))
    if not marked and not written:
        found = [(folded, "") for folded, _ in found]
    return found, frozenset(starts)


@lru_cache(maxsize=65_536)
def _token(raw: str) -> tuple[str, str, bool] | None:
    """(folded, accented, typed with marks) of one lower-case token; None when it has no
    Latin letters or digits. Cached: texts repeat a few thousand syllables."""
    folded = fold_diacritics(raw)
    if not _FOLDED_TOKEN.fullmatch(folded):
        return None
    unit = _UNIT_SPELLINGS.get(folded)
    if unit is not None or not raw[0].isalpha():
        return (unit or folded, "", folded != raw)
    plain = _unstretch(folded)
    accented = _i_to_y_accented(canonical_syllable(raw)) if plain == folded else ""
    return (_i_to_y(plain), accented, folded != raw)


# Punctuation that ends a clause; a hyphen or a slash does not ("51G-123", "tháng/quý").
_CLAUSE_BREAK = re.compile(r"[,.;:!?()\n]")
_RAW_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+\d*")
_FOLDED_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+\d*")


# After h, k, l, m, s, t a final i and y are two spellings of one sound (lí/lý, kĩ/kỹ,
# đăng kí/đăng ký); both sides of a match use "y".
_FINAL_I = re.compile(r"^([hklmst])i$")


def _i_to_y(token: str) -> str:
    return _FINAL_I.sub(r"\1y", token)


def _i_to_y_accented(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable)
    marks_only = all(unicodedata.combining(c) for c in decomposed[2:])
    if len(decomposed) >= 2 and decomposed[0] in "hklmst" and decomposed[1] == "i" and marks_only:
        return unicodedata.normalize("NFC", decomposed[0] + "y" + decomposed[2:])
    return syllable


def _unstretch(token: str) -> str:
    """'dauu' -> 'dau', 'ddang' -> 'dang': no Vietnamese syllable doubles a letter except
    "oo" (xoong) and the "uu" that "ưu" folds to (lưu, hưu, cứu, hữu), so any other double
    is a stretched word or a telex "dd". Tokens without a vowel are abbreviations and keep
    their letters ("lltp", "tthc", "cccd")."""
    if not _HAS_VOWEL.search(token) or not _DOUBLE_LETTER.search(token):
        return token
    collapsed = _DOUBLE_LETTER.sub(
        lambda m: m.group(0) if m.group(1) == "o" else m.group(1), token
    )
    # "luu" (lưu), "nguu" (ngưu): consonants then "uu" is the rhyme "ưu", not a stretch.
    rhyme_uu = _UU_RHYME.fullmatch(token)
    if rhyme_uu:
        return _unstretch(rhyme_uu.group(1)) + "uu" if rhyme_uu.group(1) else "uu"
    return collapsed


_UU_RHYME = re.compile(r"([^aeiouy]*)uu+")


def telex_repairs(token: str) -> list[str]:
    """Folded spellings `token` may stand for when telex keystrokes were left in it.

    'kys' -> ['ky'], 'ddang' -> ['dang'], 'dduowngf' -> ['duong']. Most likely first; the
    caller keeps the first one that is a known word. Empty when nothing looks like telex.
    """
    repaired: list[str] = []
    stripped = _TELEX_TONE_KEY.sub("", token) if len(token) > 2 else token
    for candidate in (token, stripped):
        fixed = candidate
        for double, single in _TELEX_DOUBLES:
            fixed = fixed.replace(double, single)
        fixed = _TELEX_W.sub("", fixed)
        for form in (fixed, candidate):
            if form != token and form and form not in repaired:
                repaired.append(form)
    return repaired


# Frequent phonetic spelling confusions (regional accents and quick typing): initial
# ch/tr, s/x, d/gi/r/v, l/n; final c/t, n/ng; i/y. Used to propose corrections for
# words that do not fit their neighbours, never applied blindly.
_INITIAL_SWAPS = (
    ("ch", "tr"),
    ("tr", "ch"),
    ("s", "x"),
    ("x", "s"),
    ("gi", "d"),
    ("d", "gi"),
    ("r", "d"),
    ("d", "r"),
    ("v", "d"),
    ("l", "n"),
    ("n", "l"),
)
_FINAL_SWAPS = (("c", "t"), ("t", "c"), ("ng", "n"), ("n", "ng"), ("i", "y"), ("y", "i"))


def sound_alike(token: str) -> list[str]:
    """Spellings of a folded syllable that sound alike in some accent ('chu' -> 'tru')."""
    variants: list[str] = []
    for old, new in _INITIAL_SWAPS:
        if token.startswith(old) and not (old == "n" and token.startswith("ng")):
            variants.append(new + token[len(old) :])
    for old, new in _FINAL_SWAPS:
        # A final "n" is not the n of "nh"; "ng"/"nh" are handled as whole finals.
        if token.endswith(old) and not (old == "n" and token.endswith("nh")):
            variants.append(token[: -len(old)] + new)
    return [v for v in dict.fromkeys(variants) if v != token]


# A message with marks on at least this share of its words is typed with marks: a word
# left bare there is meant bare ("cù lao" is not "Lào"); in a message typed mostly
# without them a bare word may be any ("lam cccd ở đâu").
_MARKED_SHARE = 0.4


def typed_marks(pairs: Sequence[tuple[str, str]], spellings: Collection[str]) -> list[str]:
    """Per word, the word the citizen meant, with its marks, or "" where that is unsure:
    a word typed as one of the known `spellings` ("thuê", not "thuế"; "lao", not "lào"),
    with marks or bare in a message typed with marks. Marks no known word has ("chứng
    thục", "căn cươc") are a slip; a bare word in a message without marks may be any."""
    marked = sum(1 for folded, accented in pairs if accented and accented != folded)
    with_marks = bool(pairs) and marked >= _MARKED_SHARE * len(pairs)
    return [
        accented
        if accented and (accented != folded or with_marks) and accented in spellings
        else ""
        for folded, accented in pairs
    ]
