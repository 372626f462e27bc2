"""`bot stats`: the statistics table in the terminal, and the chart as a PNG file."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from bot import staff_texts
from bot.catalogue.files import CatalogueError, read_catalogue
from bot.catalogue.model import Catalogue
from bot.config import Config
from bot.stats.charts import render_chart
from bot.stats.report import StaffStatistics, collect_statistics, format_statistics
from bot.storage.database import StorageError, StorageUnavailable, create_engine
from bot.storage.schema import SchemaError, ensure_schema


def run_stats(config: Config, days: int, chart: Path | None, out: TextIO) -> int:
    """Print the statistics of the last `days` days; draw the chart into `chart` if given."""
    if days < 1:
        print("bot stats: --days must be at least 1", file=sys.stderr)
        return 2
    catalogue = _catalogue_or_none(config)
    try:
        stats = asyncio.run(_collect(config, days, catalogue))
    except (StorageError, StorageUnavailable, SchemaError) as exc:
        print(f"bot stats: {exc}", file=sys.stderr)
        return 1
    out.write(format_statistics(stats))
    if chart is not None:
        try:
            chart.write_bytes(render_chart(stats))
        except OSError as exc:
            print(f"bot stats: cannot write {chart}: {exc.strerror}", file=sys.stderr)
            return 1
        out.write("\n" + staff_texts.REPORT_CHART_WRITTEN.format(path=chart) + "\n")
    return 0


async def _collect(config: Config, days: int, catalogue: Catalogue | None) -> StaffStatistics:
    engine = create_engine(config.storage.url)
    try:
        # An empty database gets the tables (empty) rather than an error.
        await ensure_schema(engine, migrate=config.storage.auto_migrate)
        return await collect_statistics(engine, days, catalogue=catalogue)
    finally:
        await engine.dispose()


def _catalogue_or_none(config: Config) -> Catalogue | None:
    """The catalogue, for procedure names; the statistics do without it."""
    try:
        catalogue, _ = read_catalogue(config.catalogue.path)
    except (CatalogueError, OSError):
        return None
    return catalogue
