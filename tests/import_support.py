"""Helpers shared by the importer tests."""

from __future__ import annotations

from bot.catalogue.importers import ImportResult
from bot.catalogue.model import Procedure


def by_code(result: ImportResult, code: str) -> Procedure:
    """The one imported procedure with `code` (fails when there are none or several)."""
    found = [p for p in result.procedures if p.code == code]
    assert len(found) == 1, f"{code} imported {len(found)} times"
    return found[0]
