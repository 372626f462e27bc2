"""What a citizen asks about a procedure: its documents, fee, time, place, steps, online use.

Questions end with the phrase that says what is wanted ("... cần giấy tờ gì", "... mất bao
lâu", "... nộp ở đâu"), and a message can hold several ("... có phải ra xã không? Hồ sơ
gồm những gì?"). Each cue has a strength; the strongest wins and, among equals, the last
one, because the actual question usually comes last.

The cue phrases are also what `question_cue_spans` strips from a message before matching:
they say what is asked, not which procedure.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from enum import StrEnum

from bot.search.normalize import tokens


class Intent(StrEnum):
    DOCUMENTS = "documents"
    FEE = "fee"
    TIME = "time"
    WHERE = "where"
    STEPS = "steps"
    ONLINE = "online"
    GENERAL = "general"


_STRONG = 2
_WEAK = 1
# A message that names a fee asks about the fee, whatever else it says ("lệ phí trước bạ
# tính thế nào" wants the amount, not the steps).
_FEE_STRENGTH = 3

# (folded phrase, intent, strength). Folded because 40% of messages have no diacritics.
# Typing slips that are common in these cues ("gj", "gii", "bao nhiu") are listed as cues.
_CUES: tuple[tuple[str, Intent, int], ...] = (
    # documents
    ("giay to", Intent.DOCUMENTS, _STRONG),
    ("giay to gi", Intent.DOCUMENTS, _STRONG),
    ("ho so", Intent.DOCUMENTS, _WEAK),
    ("ho so gom", Intent.DOCUMENTS, _STRONG),
    ("thanh phan ho so", Intent.DOCUMENTS, _STRONG),
    ("can gi", Intent.DOCUMENTS, _STRONG),
    ("can gj", Intent.DOCUMENTS, _STRONG),
    ("can nhung gi", Intent.DOCUMENTS, _STRONG),
    ("can nhung gj", Intent.DOCUMENTS, _STRONG),
    ("can nhung giay", Intent.DOCUMENTS, _STRONG),
    ("can mang", Intent.DOCUMENTS, _STRONG),
    ("mang gi", Intent.DOCUMENTS, _STRONG),
    ("mang theo", Intent.DOCUMENTS, _STRONG),
    ("mang nhung gi", Intent.DOCUMENTS, _STRONG),
    ("chuan bi", Intent.DOCUMENTS, _STRONG),
    ("gom gi", Intent.DOCUMENTS, _STRONG),
    ("gom nhung", Intent.DOCUMENTS, _STRONG),
    ("nhung gi", Intent.DOCUMENTS, _WEAK),
    ("can co gi", Intent.DOCUMENTS, _STRONG),
    ("can giay", Intent.DOCUMENTS, _STRONG),
    ("can giay to", Intent.DOCUMENTS, _STRONG),
    ("can giay to gi", Intent.DOCUMENTS, _STRONG),
    ("can nhung giay to", Intent.DOCUMENTS, _STRONG),
    ("can nhung giay to gi", Intent.DOCUMENTS, _STRONG),
    ("can nhung", Intent.DOCUMENTS, _STRONG),
    # fee
    ("bao nhieu tien", Intent.FEE, _FEE_STRENGTH),
    ("bao nhiu tien", Intent.FEE, _FEE_STRENGTH),
    ("bao nhieu tein", Intent.FEE, _STRONG),
    ("nhieu tien", Intent.FEE, _FEE_STRENGTH),
    ("het bao nhieu", Intent.FEE, _STRONG),
    ("ton bao nhieu", Intent.FEE, _STRONG),
    ("mat bao nhieu", Intent.FEE, _STRONG),
    ("mat bao nhieu tien", Intent.FEE, _FEE_STRENGTH),
    ("nop bao nhieu", Intent.FEE, _STRONG),
    ("phi bao nhieu", Intent.FEE, _FEE_STRENGTH),
    ("bao nhieu phan tram", Intent.FEE, _STRONG),
    ("phi", Intent.FEE, _FEE_STRENGTH),
    ("le phi", Intent.FEE, _FEE_STRENGTH),
    ("mat phi", Intent.FEE, _FEE_STRENGTH),
    ("ton phi", Intent.FEE, _FEE_STRENGTH),
    ("chi phi", Intent.FEE, _FEE_STRENGTH),
    ("muc phi", Intent.FEE, _FEE_STRENGTH),
    ("mien phi", Intent.FEE, _FEE_STRENGTH),
    ("ton tien", Intent.FEE, _STRONG),
    ("mat tien", Intent.FEE, _STRONG),
    ("tinh tien", Intent.FEE, _STRONG),
    ("bao nhieu", Intent.FEE, _WEAK),
    ("bao nhiu", Intent.FEE, _WEAK),
    # time
    ("bao lau", Intent.TIME, _STRONG),
    # "mất" here is "takes", not "lost": the whole phrase is the cue.
    ("mat bao lau", Intent.TIME, _STRONG),
    ("mat may ngay", Intent.TIME, _STRONG),
    ("mat bao nhieu ngay", Intent.TIME, _STRONG),
    ("mat thoi gian", Intent.TIME, _STRONG),
    ("het bao lau", Intent.TIME, _STRONG),
    ("ton bao lau", Intent.TIME, _STRONG),
    ("bao lau thi", Intent.TIME, _STRONG),
    ("may ngay", Intent.TIME, _STRONG),
    ("bao nhieu ngay", Intent.TIME, _STRONG),
    ("may hom", Intent.TIME, _STRONG),
    ("may tuan", Intent.TIME, _STRONG),
    ("may thang", Intent.TIME, _STRONG),
    ("bao gio", Intent.TIME, _STRONG),
    ("khi nao", Intent.TIME, _WEAK),
    ("lay lien", Intent.TIME, _STRONG),
    ("lay ngay", Intent.TIME, _STRONG),
    ("co lien", Intent.TIME, _STRONG),
    ("trong ngay", Intent.TIME, _WEAK),
    ("thoi gian", Intent.TIME, _STRONG),
    ("thoi han", Intent.TIME, _WEAK),
    ("lau khong", Intent.TIME, _STRONG),
    ("co ket qua", Intent.TIME, _STRONG),  # "bao lâu có kết quả", "mấy ngày có kết quả"
    ("lau ko", Intent.TIME, _STRONG),
    # where
    ("o dau", Intent.WHERE, _STRONG),
    ("o dau vay", Intent.WHERE, _STRONG),
    ("dau vay", Intent.WHERE, _WEAK),
    ("noi nao", Intent.WHERE, _STRONG),
    ("cho nao", Intent.WHERE, _STRONG),
    ("co quan nao", Intent.WHERE, _STRONG),
    ("xa nao", Intent.WHERE, _STRONG),
    ("phuong nao", Intent.WHERE, _STRONG),
    ("huyen nao", Intent.WHERE, _STRONG),
    ("dia chi", Intent.WHERE, _STRONG),
    ("nop tai", Intent.WHERE, _WEAK),
    ("ra xa", Intent.WHERE, _WEAK),
    ("len huyen", Intent.WHERE, _WEAK),
    ("ve que", Intent.WHERE, _STRONG),
    ("ra cong an", Intent.WHERE, _STRONG),
    ("len cong an", Intent.WHERE, _STRONG),
    ("o xa hay", Intent.WHERE, _STRONG),
    # steps
    ("the nao", Intent.STEPS, _STRONG),
    ("nhu the nao", Intent.STEPS, _STRONG),
    ("nhu nao", Intent.STEPS, _STRONG),
    ("ntn", Intent.STEPS, _STRONG),
    ("ra sao", Intent.STEPS, _STRONG),
    ("lam sao", Intent.STEPS, _STRONG),
    ("sao a", Intent.STEPS, _WEAK),
    ("cac buoc", Intent.STEPS, _STRONG),
    ("tung buoc", Intent.STEPS, _STRONG),
    ("buoc nao", Intent.STEPS, _STRONG),
    ("nhung buoc", Intent.STEPS, _STRONG),
    ("quy trinh", Intent.STEPS, _STRONG),
    ("trinh tu", Intent.STEPS, _STRONG),
    ("huong dan", Intent.STEPS, _WEAK),
    ("kieu gi", Intent.STEPS, _STRONG),
    ("lam gi", Intent.STEPS, _WEAK),
    ("the nao a", Intent.STEPS, _STRONG),
    # online
    ("online", Intent.ONLINE, _WEAK),
    ("onl", Intent.ONLINE, _WEAK),
    ("truc tuyen", Intent.ONLINE, _WEAK),
    ("qua mang", Intent.ONLINE, _WEAK),
    ("tren mang", Intent.ONLINE, _WEAK),
    ("vneid", Intent.ONLINE, _WEAK),
    ("dich vu cong", Intent.ONLINE, _WEAK),
    # general: yes/no questions ("... có được không", "có phải ... không")
    ("duoc khong", Intent.GENERAL, _WEAK),
    ("duoc ko", Intent.GENERAL, _WEAK),
    ("dc ko", Intent.GENERAL, _WEAK),
    ("dc khong", Intent.GENERAL, _WEAK),
    ("dc k", Intent.GENERAL, _WEAK),
    ("co phai", Intent.GENERAL, _WEAK),
    ("co can", Intent.GENERAL, _WEAK),
    ("bat buoc", Intent.GENERAL, _WEAK),
    ("dieu kien", Intent.GENERAL, _STRONG),
    ("thu tuc gi", Intent.GENERAL, _WEAK),
)

# Phrases that contain a cue's words but are not questions; matching them first keeps the
# cue inside from firing ("đất phi nông nghiệp" is land, not a fee).
_NOT_CUES = ("phi nong nghiep", "phi thue quan", "gia han", "chi phi dau tu")

# "How" in general: the steps when nothing else is asked, else how that other part goes.
_HOW_CUES = frozenset(
    {"the nao", "nhu the nao", "nhu nao", "ntn", "ra sao", "lam sao", "sao a", "the nao a"}
    | {"kieu gi", "lam gi"}
)

# Cue phrases that are also words of procedure names and stay in the text for matching.
_KEPT_FOR_MATCHING = frozenset(
    {
        "online",
        "onl",
        "truc tuyen",
        "vneid",
        "dich vu cong",
        "dieu kien",
        "thoi han",
        "le phi",
        "trinh tu",
        "dia chi",
    }
)

_BY_LENGTH = sorted(
    ((tuple(phrase.split()), intent, strength) for phrase, intent, strength in _CUES),
    key=lambda cue: -len(cue[0]),
)
_CUE_INDEX: dict[tuple[str, ...], tuple[Intent, int] | None] = {
    words: (intent, strength) for words, intent, strength in _BY_LENGTH
}
_CUE_INDEX.update({tuple(phrase.split()): None for phrase in _NOT_CUES})
_MAX_CUE = max(len(words) for words in _CUE_INDEX)


def detect_intent(text: str) -> Intent:
    """What the message asks (documents, fee, time, where, steps, online), else GENERAL."""
    return intent_of_tokens(tokens(text))


def intent_of_tokens(words: Sequence[str]) -> Intent:
    best: tuple[int, int] = (0, -1)
    found = Intent.GENERAL
    for _start, end, intent, strength in _cue_matches(words):
        rank = (strength, end)
        # GENERAL cues only decide when nothing more specific was asked.
        if intent is Intent.GENERAL:
            rank = (0, end)
        if rank > best:
            best, found = rank, intent
    return found


def intents_of_tokens(words: Sequence[str]) -> tuple[Intent, ...]:
    """Every part a message asks about, in the order asked ("nộp ở đâu, bao nhiêu tiền" ->
    WHERE, FEE). Weak cues ("hồ sơ", "khi nào") count only when nothing is asked
    strongly: "hồ sơ nộp ở đâu" asks where, not for the documents. Yes/no cues (GENERAL)
    only when nothing specific is asked."""
    matches = [m for m in _cue_matches(words) if m[2] is not Intent.GENERAL]
    chosen = [m for m in matches if m[3] >= _STRONG] or matches
    # "thế nào", "ra sao" also ask how another part goes ("lệ phí tính thế nào", "thời
    # gian ra sao"): with another part asked, only the steps' own words ask for the steps.
    if any(intent is not Intent.STEPS for _s, _e, intent, _n in chosen):
        chosen = [
            (start, end, intent, strength)
            for start, end, intent, strength in chosen
            if intent is not Intent.STEPS or " ".join(words[start:end]) not in _HOW_CUES
        ]
    return tuple(dict.fromkeys(intent for _s, _e, intent, _n in chosen)) or (Intent.GENERAL,)


def question_cue_spans(words: Sequence[str]) -> list[tuple[int, int, bool]]:
    """(start, end, kept) of each cue phrase (leftmost-longest). Cues are stripped before
    matching, except those that are also words of procedure names ("lệ phí", "trực
    tuyến"), which are `kept`: they may match a name but do not name a procedure."""
    return [
        (start, end, " ".join(words[start:end]) in _KEPT_FOR_MATCHING)
        for start, end, _intent, _strength in _cue_matches(words)
    ]


def _cue_matches(words: Sequence[str]) -> list[tuple[int, int, Intent, int]]:
    """Non-overlapping cue phrases, leftmost-longest."""
    matches: list[tuple[int, int, Intent, int]] = []
    position = 0
    while position < len(words):
        for length in range(min(_MAX_CUE, len(words) - position), 0, -1):
            key = tuple(words[position : position + length])
            if key in _CUE_INDEX:
                cue = _CUE_INDEX[key]
                if cue is not None:
                    matches.append((position, position + length, cue[0], cue[1]))
                position += length
                break
        else:
            position += 1
    return matches


def question_words() -> frozenset[str]:
    """Every word of a question cue; spelling correction leaves them alone."""
    return frozenset(word for words in _CUE_INDEX for word in words)


def question_word_pairs() -> frozenset[str]:
    """Every pair of neighbouring words inside a cue ("bao nhieu", "nhieu tien")."""
    return frozenset(f"{a} {b}" for words in _CUE_INDEX for a, b in itertools.pairwise(words))
