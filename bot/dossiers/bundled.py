"""The bundled dossier schema and its queries: the default source, and what `bot demo` fills.

A center without its own one-stop database (or trying the bot out) uses these two tables;
the shipped config leaves `dossiers.sql.*_query` empty, which selects the queries below.
They also show a vendor how to write its own queries against the column contract in
`bot.dossiers.contract`.

    dossiers          one row per dossier, `status` as the standard number 1..10
    dossier_history   one row per processing step; its increasing `id` is the change cursor
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

# Separate from the bot's own `bot.storage.database.metadata`: this is the center's
# database, which the bot only reads (the demo and the benchmark write it).
dossier_metadata = MetaData()

dossiers = Table(
    "dossiers",
    dossier_metadata,
    Column("code", String(64), primary_key=True),
    Column("procedure_code", String(32), nullable=False, default=""),
    Column("procedure_name", Text, nullable=False),
    Column("applicant_name", Text, nullable=False),
    Column("applicant_phone", String(32), nullable=False, default=""),
    Column("applicant_id_number", String(32), nullable=False, default=""),
    Column("status", SmallInteger, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("due_at", DateTime),
    Column("new_due_at", DateTime),
    Column("finished_at", DateTime),
    Column("returned_at", DateTime),
    Column("current_step", Text, nullable=False, default=""),
    Column("agency", Text, nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    # One document per line, while a supplement is requested.
    Column("missing_documents", Text, nullable=False, default=""),
    Column("pickup_place", Text, nullable=False, default=""),
)

dossier_history = Table(
    "dossier_history",
    dossier_metadata,
    # SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not BIGINT.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("dossier_code", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("step", Text, nullable=False, default=""),
    Column("agency", Text, nullable=False, default=""),
    Column("note", Text, nullable=False, default=""),
    Index("ix_dossier_history_code_at", "dossier_code", "at"),
)

LOOKUP_QUERY = """
SELECT code, procedure_code, status, procedure_name, applicant_name, received_at, due_at,
       new_due_at, finished_at, returned_at, current_step, agency, note, missing_documents,
       pickup_place, applicant_phone, applicant_id_number
FROM dossiers
WHERE code = :code
"""

HISTORY_QUERY = """
SELECT at, status, step, agency, note
FROM dossier_history
WHERE dossier_code = :code
ORDER BY at, id
"""

CHANGED_SINCE_QUERY = """
SELECT h.id AS cursor, h.id AS change_id, h.at AS changed_at, d.code, h.status,
       d.procedure_code, d.procedure_name, d.applicant_name, d.received_at, d.due_at,
       d.new_due_at, d.finished_at, d.returned_at, h.step AS current_step, h.agency,
       h.note, d.missing_documents, d.pickup_place
FROM dossier_history AS h
JOIN dossiers AS d ON d.code = h.dossier_code
WHERE h.id > :cursor
ORDER BY h.id
LIMIT :limit
"""

CHANGE_HEAD_QUERY = "SELECT COALESCE(MAX(id), 0) AS cursor FROM dossier_history"
