"""Alembic revisions of the bot's database (run by `bot migrate`; see bot/storage/schema.py).

env.py          how Alembic gets its connection and the models to compare with
versions/       one file per revision, oldest first: r0001 is the schema of the first
                release, each later one what changed since
script.py.mako  the template `alembic revision` fills for a new revision
"""
