"""`bot catalogue`: check a catalogue folder, or import an export into one.

    bot catalogue check [PATH] [--vocabulary FILE] [--strict] [--today D] [--soon-days N]
    bot catalogue import SOURCE [--details NATIONAL] --into DIR [--replace]

`check` reports every problem of the folder and the vocabulary (bot.catalogue.check) and
exits 1 on errors. `import` prints what happened: procedures imported, files
new/changed/unchanged/removed, records skipped grouped by reason (with a few examples
each), warnings, and the parts whose original text was kept because they could not be
fully parsed. Progress goes to stderr.

With `--details`, a province's list is completed from the national portal's export
(bot.catalogue.importers.details): the summary says how many procedures took national
details, and the others are listed in DIR/_not_enriched.txt (code, name, reason).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.catalogue.check import check_catalogue, report
from bot.catalogue.files import procedure_files, write_catalogue
from bot.catalogue.importers import import_source
from bot.catalogue.importers.details import Enrichment, add_national_details
from bot.catalogue.importers.result import CatalogueImportError, ImportResult, Skipped
from bot.config import CatalogueConfig
from bot.progress import ProgressBar

EXAMPLES_PER_REASON = 3
WARNINGS_SHOWN = 5
DETAILS_EXTENSIONS = (".jsonl", ".json")


# Written into the target folder so that a later import of the same source may replace
# the tree, while an import over a hand-written catalogue (e.g. procedures/) is refused.
MARKER = "_import.toml"
# The procedures of a `--details` import that found no national record, for staff to
# complete by hand (the catalogue loader skips files starting with "_").
NOT_ENRICHED_LIST = "_not_enriched.txt"


def run_check(
    configured: CatalogueConfig,
    path: Path | None,
    vocabulary: Path | None,
    *,
    today: dt.date,
    soon_days: int,
    strict: bool,
    out: TextIO,
) -> int:
    """Check the folder `path` (default: the configured one) and a vocabulary: the one
    given, else the configured one when checking the configured folder, else the
    folder's own _vocabulary.toml. The exit status: 1 on errors (on warnings too, `strict`)."""
    # Imported here: `bot catalogue import` does without the search package.
    from bot.search import check_vocabulary

    folder = path if path is not None else configured.path
    catalogue, problems = check_catalogue(folder, today, soon_days)
    if vocabulary is None and path is None:
        vocabulary = configured.vocabulary
    if vocabulary is None and (folder / "_vocabulary.toml").is_file():
        vocabulary = folder / "_vocabulary.toml"
    if vocabulary is not None:
        problems += check_vocabulary(vocabulary, catalogue if len(catalogue) else None)
    return report(problems, len(catalogue), out, strict=strict)


def run_import(
    source: Path,
    into: Path,
    out: TextIO,
    err: TextIO | None = None,
    *,
    replace: bool = False,
    details: Path | None = None,
) -> int:
    """Import `source` into the folder `into`; exit status 0, or 1 when nothing could be
    imported or written (the reason is printed on `err`, stderr by default).

    With `details` (the national portal's JSONL), each procedure of `source` whose base
    code the national file holds takes its documents, time, fees, place, steps, legal
    basis and page address from there.

    Files of `into` that the source does not contain are removed, so importing into a
    folder that holds another catalogue is refused unless `replace` is set.
    """
    err = err if err is not None else sys.stderr
    if details is not None and details.suffix.lower() not in DETAILS_EXTENSIONS:
        print(
            f"bot catalogue import: {details}: --details takes the national portal's export "
            f"({', '.join(DETAILS_EXTENSIONS)})",
            file=err,
        )
        return 1
    if not replace and (refusal := _foreign_catalogue(source, into)):
        print(f"bot catalogue import: {refusal}", file=err)
        return 1
    try:
        result = _read(source, err)
        enrichment = None
        if details is not None:
            enrichment = add_national_details(result, _read(details, err))
            result = enrichment.result
    except CatalogueImportError as exc:
        print(f"bot catalogue import: {exc}", file=err)
        return 1
    if not result.procedures:
        print(
            f"bot catalogue import: {source}: no procedure could be imported; "
            f"{into} left unchanged",
            file=err,
        )
        _print_skipped(result.skipped, out)
        return 1
    if into.exists() and not into.is_dir():
        print(f"bot catalogue import: {into}: not a folder", file=err)
        return 1
    before = _snapshot(into)
    try:
        written = write_catalogue(result.procedures, into)
        marker = f'source = "{_marker_name(source)}"\n'
        if details is not None:
            marker += f'details = "{_marker_name(details)}"\n'
        (into / MARKER).write_text(marker, encoding="utf-8")
        _write_not_enriched(into, enrichment)
    except OSError as exc:
        print(f"bot catalogue import: cannot write into {into}: {exc}", file=err)
        return 1
    _print_summary(source, into, result, before, written, out)
    if enrichment is not None and details is not None:
        _print_enrichment(details, into, enrichment, out)
    return 0


def _read(source: Path, err: TextIO) -> ImportResult:
    bar = ProgressBar(f"Importing {source.name}", 0, stream=err)
    result = import_source(source, progress=lambda done, total: bar.update(done, total))
    bar.finish(f"{len(result.procedures)} procedures")
    return result


def _write_not_enriched(into: Path, enrichment: Enrichment | None) -> None:
    listing = into / NOT_ENRICHED_LIST
    if enrichment is None:
        listing.unlink(missing_ok=True)
        return
    rows = "".join(f"{item}\n" for item in enrichment.not_enriched)
    listing.write_text("code\tname\treason\n" + rows, encoding="utf-8")


def _print_enrichment(details: Path, into: Path, enrichment: Enrichment, out: TextIO) -> None:
    total = len(enrichment.enriched) + len(enrichment.not_enriched)
    print(
        f"National details from {details.name}: {len(enrichment.enriched)} of {total} "
        "procedures enriched (joined by base code)",
        file=out,
    )
    if not enrichment.not_enriched:
        return
    print(
        f"Not enriched: {len(enrichment.not_enriched)} (names only; answers give the hotline), "
        f"all listed in {into / NOT_ENRICHED_LIST}",
        file=out,
    )
    by_reason: dict[str, list[str]] = {}
    for missing in enrichment.not_enriched:
        by_reason.setdefault(missing.reason, []).append(f"{missing.code} {missing.name}")
    for reason, lines in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"  {len(lines)} x {reason}", file=out)
        for line in lines[:EXAMPLES_PER_REASON]:
            print(f"      {line[:100]}", file=out)


def _marker_name(source: Path) -> str:
    return source.name.replace("\\", "").replace('"', "")


def _foreign_catalogue(source: Path, into: Path) -> str | None:
    """Why importing into `into` would destroy files not from `source`, or None."""
    if not into.is_dir():
        return None
    existing = procedure_files(into)
    if not existing:
        return None
    marker = into / MARKER
    try:
        recorded = marker.read_text(encoding="utf-8")
    except OSError:
        recorded = ""
    if f'source = "{_marker_name(source)}"' in recorded:
        return None
    return (
        f"{into} already holds {len(existing)} procedure files not imported from "
        f"{source.name}; importing would replace them. Choose an empty folder, or pass "
        "--replace to do it anyway"
    )


def _snapshot(root: Path) -> dict[Path, bytes]:
    if not root.is_dir():
        return {}
    return {path: path.read_bytes() for path in procedure_files(root)}


def _print_summary(
    source: Path,
    into: Path,
    result: ImportResult,
    before: dict[Path, bytes],
    written: Sequence[Path],
    out: TextIO,
) -> None:
    new = sum(1 for path in written if path not in before)
    changed = sum(1 for path in written if path in before and path.read_bytes() != before[path])
    removed = len(set(before) - set(written))
    print(f"Imported {len(result.procedures)} procedures from {source.name} into {into}", file=out)
    print(
        f"  files: {new} new, {changed} changed, {len(written) - new - changed} unchanged, "
        f"{removed} removed",
        file=out,
    )
    _print_skipped(result.skipped, out)
    kept = Counter(part for p in result.procedures for part in p.original)
    if kept:
        parts = ", ".join(f"{part} {count}" for part, count in sorted(kept.items()))
        print(f"Original text kept beside the parsed values: {parts}", file=out)
    print(f"Warnings: {len(result.warnings)}", file=out)
    for warning in result.warnings[:WARNINGS_SHOWN]:
        print(f"  {warning}", file=out)
    if len(result.warnings) > WARNINGS_SHOWN:
        print(f"  ... and {len(result.warnings) - WARNINGS_SHOWN} more", file=out)


def _print_skipped(skipped: Sequence[Skipped], out: TextIO) -> None:
    print(f"Skipped: {len(skipped)}", file=out)
    by_reason: dict[str, list[Skipped]] = {}
    for item in skipped:
        by_reason.setdefault(item.reason, []).append(item)
    for reason, items in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"  {len(items)} x {reason}", file=out)
        for item in items[:EXAMPLES_PER_REASON]:
            print(f"      {item}", file=out)
