"""What an import produces (procedures, skipped records, warnings) and how it can fail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.catalogue.model import Procedure, SourceLocation


class CatalogueImportError(Exception):
    """The source as a whole cannot be imported; the message is one line naming the file."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class SourceFormatError(CatalogueImportError):
    """Unknown extension, or a file that is not what its extension says (no header row,
    not a workbook, not UTF-8)."""


class SourceUnreadable(CatalogueImportError):
    """The file cannot be opened or read (missing, a folder, no permission)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A source record that did not become a procedure.

    `reason` is a short category shared by similar records (so a summary can group them);
    `detail` says what exactly was found there.
    """

    where: str  # "line 12", "row 7", "item 3"
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"{self.where}: {self.reason}{tail}"


@dataclass(frozen=True)
class ImportResult:
    procedures: tuple[Procedure, ...]  # in source order
    skipped: tuple[Skipped, ...] = ()
    warnings: tuple[str, ...] = ()
    # Where each imported procedure came from (file and line or sheet row), by code.
    locations: Mapping[str, SourceLocation] = field(default_factory=dict)
    # Codes whose level the source did not state (a province's list filed under its own
    # level by default): national details may say better.
    guessed_levels: frozenset[str] = frozenset()
