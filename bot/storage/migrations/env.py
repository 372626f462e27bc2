"""Alembic's environment: the connection the revisions run on and the models to compare.

`bot migrate` and the start-up check (bot/storage/schema.py) pass a connection they
opened and locked in `config.attributes["connection"]`. Run from a checkout, Alembic's
own command (configured in pyproject.toml) opens one the same way, on the database of
`-x url=...` or else of the bot's config (./config.toml, BOT_STORAGE_URL), e.g. to write
the next revision from what the models add to a database built by the revisions:

    .venv/bin/alembic -x url=sqlite+aiosqlite:////tmp/scratch.sqlite3 upgrade head
    .venv/bin/alembic -x url=sqlite+aiosqlite:////tmp/scratch.sqlite3 \\
        revision --autogenerate --rev-id 0006 -m "what changes"

(Not `bot migrate`: it creates a new database from the models, which already hold the
change, so Alembic would find no difference.)
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from bot.config import load_config
from bot.storage import schema


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **schema.MIGRATION_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


async def run_from_command_line(url: str) -> None:
    async with schema.schema_connection(url) as connection:
        await connection.run_sync(run_migrations)


if context.is_offline_mode():
    raise SystemExit("the bot's migrations run on a database: `bot migrate`, not --sql")
given = context.config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or load_config().storage.url
    asyncio.run(run_from_command_line(url))
