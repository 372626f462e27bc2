"""What each procedure's name says about it, read once when the matcher is built.

The special cases a name states ("có yếu tố nước ngoài", "lưu động"), the actions it
names and where its main verb stands ("Cấp lại ...", "Đăng ký biến động đối với trường hợp
thay đổi ..."), the ages it is for, whether only organisations or an agency's own force may
apply, and its words as a question may quote them. The ranking (bot.search.ranking) weighs
a question against these.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache

from rapidfuzz.distance import LCSseq

from bot.search.index import LEVEL_PHRASE, SearchIndex
from bot.search.normalize import canonical_text, tokens
from bot.search.vocabulary import Vocabulary

_WORD = re.compile(r"[^\W_]+")
_CASE_BREAK = re.compile(r";|/")
LEADING_THU_TUC = re.compile(r"^\s*thủ tục\s+", re.IGNORECASE)

# A name's main verb is among its first words ("Cấp giấy phép xây dựng sửa chữa"); its
# situation follows ("Đăng ký biến động đối với trường hợp thay đổi").
MAIN_VERB_WORDS = 6
SITUATION_WORDS = 10
_QUALIFIER_WORDS = 16  # who/how qualifiers are looked for in this many first words,
_SPECIFIC_WORDS = 3  # ... unless they have at least this many words


class NameFeatures:
    """Per procedure of the index (by document number): what its name says."""

    def __init__(self, index: SearchIndex, vocabulary: Vocabulary) -> None:
        # A qualifier is found in a name with its diacritics ("lại" is not "lái"), and
        # in a question without them (citizens often type none).
        def compiled(phrases: Sequence[str]) -> list[tuple[str, str]]:
            return [(accented_words(q), " ".join(tokens(q))) for q in phrases if tokens(q)]

        who = compiled(vocabulary.qualifiers.get("who", ()))
        how = compiled(vocabulary.qualifiers.get("how", ()))
        what = compiled(vocabulary.qualifiers.get("what", ()))
        citizens = [a for a, _ in compiled(vocabulary.qualifiers.get("citizens", ()))]
        # Per procedure: the special cases its name states and the actions it names.
        self.qualifiers: list[tuple[str, ...]] = []
        self.actions: list[tuple[str, ...]] = []
        self.case_actions: list[tuple[str, ...]] = []
        self.action_positions: list[int] = []

        self.for_organisations: list[bool] = []
        staff_agencies = [
            " ".join(tokens(a)) for a in vocabulary.qualifiers.get("staff_agencies", ())
        ]
        self.members = tuple(
            " ".join(tokens(m)) for m in vocabulary.qualifiers.get("members", ()) if tokens(m)
        )
        staff_names: set[str] = set()
        self.ages: list[tuple[tuple[str, int], ...]] = []
        for doc, procedure in enumerate(index.procedures):
            name = accented_words(LEADING_THU_TUC.sub("", procedure.name))
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
            self.qualifiers.append(tuple(found))
            self.ages.append(_age_conditions(procedure.name))
            self.for_organisations.append(_for_organisations_only(procedure.applicants))
            agency = " " + " ".join(tokens(procedure.agency)) + " "
            if any(f" {a} " in agency for a in staff_agencies if a):
                staff_names.add(index.base_names[doc])
            # Actions in the order the name says them, the first being its main verb;
            # only in its first case ("Khai lệ phí trước bạ/ Miễn lệ phí trước bạ" is
            # about declaring, with an exemption as a further case).
            first_case = accented_words(_CASE_BREAK.split(procedure.name)[0])
            actions = sorted((first_case.index(a), f) for a, f in what if a in first_case)
            self.actions.append(tuple(f for _, f in actions))
            # Any case may be what the question asks ("Đăng ký biến động ... trong các
            # trường hợp chuyển đổi ...; chuyển nhượng, thừa kế, tặng cho ...").
            self.case_actions.append(tuple(f for a, f in what if a in name))
            # Where the first action stands: a name starts with its main verb ("Cấp lại
            # ...", "Đăng ký thay đổi ..."), then says the situation ("Đăng ký biến động
            # đối với trường hợp thay đổi ..."); an action further on describes one of
            # several cases ("... tự xây dựng hoặc cải tạo, sửa chữa nhà ở").
            position = SITUATION_WORDS
            if actions:
                phrase = next(a for a, f in what if f == actions[0][1] and a in first_case)
                plain_name = accented_words(LEADING_THU_TUC.sub("", procedure.name))
                if phrase in plain_name:
                    position = plain_name[: plain_name.index(phrase)].count(" ")
            self.action_positions.append(position)
        # The same procedure at another level is for the same members, whichever agency
        # that level's record happens to list ("Bảo hiểm xã hội tỉnh, Công an tỉnh").
        self.for_staff = [name in staff_names for name in index.base_names]
        self.quotable = [quotable_names(p.name) for p in index.procedures]


_NAME_UNDER_AGE = re.compile(r"\bduoi (\d+) tuoi")
_NAME_FROM_AGE = re.compile(r"\b(?:tu )?du (\d+) tuoi|\b(\d+) tuoi tro len")


def question_ages(folded: list[str]) -> tuple[int, ...]:
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


def ages_fit(ages: tuple[int, ...], conditions: tuple[tuple[str, int], ...]) -> bool:
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


def quotable_names(name: str) -> tuple[tuple[str, ...], ...]:
    """A name's words as a question may quote them: whole, and without its level."""
    whole = tuple(tokens(LEADING_THU_TUC.sub("", name)))
    without_level = tuple(tokens(LEVEL_PHRASE.sub(" ", LEADING_THU_TUC.sub("", name))))
    return (whole, without_level) if without_level != whole else (whole,)


def quote(name: Sequence[str], words: Sequence[str]) -> tuple[float, int]:
    """How well `words` quote `name`: the name's words found in order, less the words that
    interrupt them, over the name's length; and how many words were found."""
    blocks = [b for b in LCSseq.editops(name, words).as_matching_blocks() if b.size]
    if not blocks:
        return (0.0, 0)
    matched = sum(b.size for b in blocks)
    interrupting = blocks[-1].b + blocks[-1].size - blocks[0].b - matched
    return ((matched - interrupting) / len(name), matched)


def accented_words(text: str) -> str:
    """' word word ' in canonical accented spelling, for whole-word look-ups."""
    return " " + " ".join(_WORD.findall(canonical_text(text))) + " "
