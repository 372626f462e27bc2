"""`bot migrate`: bring the bot's database to the schema of this version of the bot."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.config import Config
from bot.storage.database import StorageError, StorageUnavailable, create_engine
from bot.storage.schema import SchemaChange, SchemaError, ensure_schema, revision_summary


def run_migrate(config: Config, out: TextIO) -> int:
    """Create or migrate `[storage] url`; print what was done. Exit code 1 when it cannot."""
    try:
        change = asyncio.run(_migrate(config.storage.url))
    except StorageError as exc:
        print(f"bot migrate: [storage] url: {exc}", file=sys.stderr)
        return 1
    except (StorageUnavailable, SchemaError) as exc:
        print(f"bot migrate: {exc}", file=sys.stderr)
        return 1
    out.write(describe(change))
    return 0


async def _migrate(url: str) -> SchemaChange:
    engine = create_engine(url)
    try:
        return await ensure_schema(engine, migrate=True)
    finally:
        await engine.dispose()


def describe(change: SchemaChange) -> str:
    if change.created:
        return f"New database created at schema revision {change.after}.\n"
    if not change.migrated:
        if change.legacy:
            return (
                f"The database, made before the bot had migrations, matches schema revision "
                f"{change.after}, the newest: its revision is now recorded.\n"
            )
        return f"The database is at schema revision {change.after}, the newest: nothing to do.\n"
    made = " (made before the bot had migrations)" if change.legacy else ""
    lines = [
        f"Migrated the database{made} from schema revision {change.before} to {change.after}:"
    ]
    lines += [f"  {revision}  {revision_summary(revision)}" for revision in change.applied]
    return "\n".join(lines) + "\n"
