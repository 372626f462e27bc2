"""Repairing procedure codes as they come out of spreadsheets.

National codes are one digit, a dot and six digits (1.000110). Excel stores a code typed
into a cell as a number and drops its trailing zeros (1.00011); provinces append their own
suffix (1.000028.000.00.00.H37) and type it by hand, with stray spaces, commas, doubled or
missing dots and trailing dots. Local codes (CCCX_01) are kept as they are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.catalogue.model import code_shape

_FLOAT_LOST_ZEROS = re.compile(r"^(\d)\.(\d{1,5})$")
# National part, with its dot possibly missing (2000027 -> 2.000027), then the rest.
_SUFFIXED = re.compile(r"^(?P<digit>\d)\.?(?P<number>\d{6})(?P<rest>(?:\.?[0-9A-Z]+)*)$")
# The province part: zeros in groups ("000.00.00", typed "00000.00" or "0000.00.00" too),
# the province (H37), and an optional level mark added by the province (".H", ".X").
_PROVINCE = re.compile(r"^\.?(?P<zeros>[0.]*?)\.?(?P<province>H\d{2})(?P<tail>(?:\.[A-Z0-9]+)*)$")
_STANDARD_ZEROS = ".000.00.00"


@dataclass(frozen=True, slots=True)
class RepairedCode:
    code: str  # "" when the value cannot be read as a code
    changes: tuple[str, ...] = ()  # what was changed, for the import's warnings
    level_mark: str = ""  # "H" (district) or "X" (commune) when a level mark was removed


def repair_code(value: object) -> RepairedCode:
    """The code in a clean form, or an empty code when nothing sensible can be made of it.

    A code the catalogue format already accepts is never changed except for spaces, case,
    commas and stray dots.
    """
    if isinstance(value, bool) or value is None:
        return RepairedCode("")
    if isinstance(value, float):
        return _from_number(value)
    if isinstance(value, int):
        return _from_text(str(value), ())
    if not isinstance(value, str):
        return RepairedCode("")
    return _from_text(value, ())


def _from_number(value: float) -> RepairedCode:
    if not math.isfinite(value) or not 0 < value < 10:
        return RepairedCode("")
    text = f"{value:.6f}"
    if float(text) != value:
        return RepairedCode("")  # more than six decimals: not a code
    if text == repr(value):
        return RepairedCode(text, (f"stored as the number {value!r}",))
    return RepairedCode(text, (f"stored as the number {value!r}, trailing zeros restored",))


def _from_text(raw: str, changes: tuple[str, ...]) -> RepairedCode:
    text = raw.strip()
    notes = list(changes)
    compact = re.sub(r"\s+", "", text).replace(",", ".").lstrip("'")
    compact = re.sub(r"\.{2,}", ".", compact).rstrip(".").upper()
    if not compact:
        return RepairedCode("")
    if compact != text:
        notes.append("spaces, commas, case or stray dots fixed")
    if code_shape(compact) in ("national", "suffixed", "local"):
        return RepairedCode(compact, tuple(notes))
    lost = _FLOAT_LOST_ZEROS.match(compact)
    if lost:
        # A bare number with fewer than six decimals is a code Excel shortened.
        code = f"{lost.group(1)}.{lost.group(2).ljust(6, '0')}"
        return RepairedCode(code, (*notes, "trailing zeros lost by a spreadsheet restored"))
    return _from_suffixed(compact, notes)


def _from_suffixed(compact: str, notes: list[str]) -> RepairedCode:
    match = _SUFFIXED.match(compact)
    if match is None:
        return RepairedCode("")
    national = f"{match.group('digit')}.{match.group('number')}"
    if not compact.startswith(national):
        notes.append("missing dot after the first digit added")
    rest = match.group("rest")
    if not rest:
        return RepairedCode(national, tuple(notes))
    province = _PROVINCE.match(rest)
    if province is None:
        candidate = f"{national}.{rest.lstrip('.')}"
        ok = code_shape(candidate) == "suffixed"
        return RepairedCode(candidate if ok else "", tuple(notes))
    zeros = province.group("zeros").replace(".", "")
    if zeros.strip("0"):
        return RepairedCode("")
    standard = f"{national}{_STANDARD_ZEROS}.{province.group('province')}"
    if rest != standard[len(national) :] + province.group("tail"):
        notes.append(f"province part '{rest}' written the standard way")
    tail = province.group("tail")
    candidate = standard + tail
    if code_shape(candidate) == "suffixed":
        return RepairedCode(candidate, tuple(notes))
    # A one-letter level mark (".H" district, ".X" commune) that the catalogue format does not
    # accept in a code: the level is kept apart, the code without it.
    if re.fullmatch(r"\.[HX]", tail):
        notes.append(f"level mark '{tail}' moved out of the code")
        return RepairedCode(standard, tuple(notes), level_mark=tail[1:])
    return RepairedCode("")
