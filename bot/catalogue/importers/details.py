"""A province's procedure list completed with the national catalogue's details.

A province's export names its procedures (code, name, field, online level) but gives no
documents, time, fee, place or steps; the national portal's export has those for the
procedures of the ministries it covers. The two share the national base code: the
province's `1.004723.000.00.00.H37` is the national `1.004723`. Joined on it, each
procedure keeps what the province says (its code, name, field, online level, decision,
and levels when the province states them) and takes the rest from the national record.

Levels: a province's list usually does not say them, and the importer then files every
procedure under the province (see `provincial`). Where that was only this default, the
national record's local levels (province, district, commune) are used instead, so that a
birth registration reads "nộp tại UBND cấp xã"; a ministry level is never taken over, a
citizen hands nothing in at a ministry through the provincial center.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.catalogue.importers.result import ImportResult
from bot.catalogue.model import Level, Procedure, code_shape

_LOCAL_LEVELS = (Level.PROVINCE, Level.DISTRICT, Level.COMMUNE)

LOCAL_CODE = "local code, no national code to join on"
NOT_IN_NATIONAL = "base code not in the national file"


@dataclass(frozen=True, slots=True)
class NotEnriched:
    code: str
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.code}\t{self.name}\t{self.reason}"


@dataclass(frozen=True)
class Enrichment:
    result: ImportResult  # the province's procedures, with details where found
    enriched: tuple[str, ...]  # codes that took national details
    not_enriched: tuple[NotEnriched, ...]


def add_national_details(province: ImportResult, national: ImportResult) -> Enrichment:
    """The province's procedures, each completed from the national record with its base
    code; those without one keep their names only and are listed."""
    by_base: dict[str, Procedure] = {}
    for national_procedure in national.procedures:
        by_base.setdefault(national_procedure.base_code, national_procedure)
    procedures: list[Procedure] = []
    enriched: list[str] = []
    missing: list[NotEnriched] = []
    for procedure in province.procedures:
        record = by_base.get(procedure.base_code)
        if record is None:
            local = code_shape(procedure.code) == "local"
            reason = LOCAL_CODE if local else NOT_IN_NATIONAL
            missing.append(NotEnriched(procedure.code, procedure.name, reason))
            procedures.append(procedure)
            continue
        guessed = procedure.code in province.guessed_levels
        procedures.append(_completed(procedure, record, levels_guessed=guessed))
        enriched.append(procedure.code)
    result = replace(
        province,
        procedures=tuple(procedures),
        guessed_levels=frozenset(
            code for code in province.guessed_levels if code not in set(enriched)
        ),
    )
    return Enrichment(result, tuple(enriched), tuple(missing))


def _completed(province: Procedure, national: Procedure, *, levels_guessed: bool) -> Procedure:
    levels = province.levels
    if levels_guessed:
        local = tuple(level for level in national.levels if level in _LOCAL_LEVELS)
        levels = local or levels
    # The national name is how the portal and many citizens' papers say it: searchable.
    known = {" ".join(n.casefold().split()) for n in (province.name, *province.aliases)}
    aliases = list(province.aliases)
    for name in (national.name, *national.aliases):
        key = " ".join(name.casefold().split())
        if key not in known:
            known.add(key)
            aliases.append(name)
    original: Mapping[str, str] = {**national.original, **province.original}
    return replace(
        national,
        code=province.code,
        name=province.name,
        field=province.field,
        levels=levels,
        agency=province.agency or national.agency,
        online=province.online,
        online_url=province.online_url or national.online_url,
        decision=province.decision or national.decision,
        aliases=tuple(aliases),
        original=dict(original),
    )
