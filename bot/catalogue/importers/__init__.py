"""Importers of real procedure catalogues into the bot's own model.

    import_source(path)          a national JSONL/JSON or provincial XLSX/CSV export, in memory
    load_catalogue_source(path)  a procedures folder, or any file `import_source` reads
    (`bot catalogue import SOURCE --into DIR` is bot/commands/catalogue.py)

The format is chosen by the file's extension: `.jsonl`/`.json` for the national portal's
export, `.xlsx`/`.csv` for a provincial portal's list.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.catalogue.files import load_catalogue
from bot.catalogue.importers.national import import_national
from bot.catalogue.importers.provincial import import_provincial_csv, import_provincial_xlsx
from bot.catalogue.importers.result import (
    CatalogueImportError,
    ImportResult,
    Skipped,
    SourceFormatError,
    SourceUnreadable,
)
from bot.catalogue.model import Catalogue

__all__ = [
    "SOURCE_EXTENSIONS",
    "CatalogueImportError",
    "ImportResult",
    "Skipped",
    "SourceFormatError",
    "SourceUnreadable",
    "import_source",
    "load_catalogue_source",
]

SOURCE_EXTENSIONS = (".jsonl", ".json", ".xlsx", ".csv")

Progress = Callable[[int, int], None]


def import_source(path: Path, progress: Progress | None = None) -> ImportResult:
    """Read one exported catalogue into procedures; `progress(done, total)` is called as
    records are processed.

    Records that cannot become procedures are returned as `skipped`, never raised; a file
    that cannot be read at all raises `SourceUnreadable` or `SourceFormatError`.
    """
    extension = path.suffix.lower()
    if extension not in SOURCE_EXTENSIONS:
        raise SourceFormatError(
            path, f"unknown file type '{path.suffix}': expected {', '.join(SOURCE_EXTENSIONS)}"
        )
    if extension == ".xlsx":
        _check_readable(path)
        return import_provincial_xlsx(path, progress)
    raw = _read(path)
    if extension == ".csv":
        return import_provincial_csv(path, raw, progress)
    return import_national(path, raw, progress)


def load_catalogue_source(path: Path) -> Catalogue:
    """A catalogue from a procedures folder or from any file `import_source` reads.

    Raises `CatalogueError` for a folder without usable procedures, `CatalogueImportError`
    for a file that cannot be imported or that gives no procedure.
    """
    if path.is_dir():
        catalogue, _problems = load_catalogue(path)
        return catalogue
    result = import_source(path)
    if not result.procedures:
        raise SourceFormatError(path, "no procedure could be imported")
    return Catalogue(result.procedures, dict(result.locations))


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise SourceUnreadable(path, "no such file")
    if not path.is_file():
        raise SourceUnreadable(path, "not a file")


def _read(path: Path) -> bytes:
    _check_readable(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceUnreadable(path, f"cannot read the file: {exc.strerror or exc}") from None
