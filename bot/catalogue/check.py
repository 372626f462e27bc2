"""`bot catalogue check`: every problem of a catalogue as `file:line: message`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.catalogue.dated import SOON_DAYS, dated_problems
from bot.catalogue.files import CatalogueError, Problem, Severity, read_catalogue
from bot.catalogue.model import Catalogue, SourceLocation


def check_catalogue(
    path: Path, today: dt.date | None = None, soon_days: int = SOON_DAYS
) -> tuple[Catalogue, list[Problem]]:
    """Read the catalogue at `path` and return it with all its problems; with `today`,
    also the dated entries that have expired or end within `soon_days` (bot.catalogue.dated).
    """
    try:
        catalogue, problems = read_catalogue(path)
    except CatalogueError as exc:
        return Catalogue(()), [*exc.problems, Problem(SourceLocation(str(path)), str(exc))]
    if today is not None:
        problems.extend(dated_problems(catalogue, today, soon_days))
    return catalogue, problems


def report(problems: Iterable[Problem], count: int, out: TextIO, *, strict: bool) -> int:
    """Print problems and a summary; exit 1 on errors (or on warnings too when `strict`)."""
    listed = list(problems)
    for problem in listed:
        print(problem, file=out)
    errors = sum(1 for p in listed if p.severity is Severity.ERROR)
    warnings = len(listed) - errors
    print(f"{count} procedures checked: {errors} errors, {warnings} warnings", file=out)
    failed = errors > 0 or (strict and warnings > 0)
    return 1 if failed else 0
