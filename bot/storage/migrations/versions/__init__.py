"""The revisions, one per schema change (Alembic reads them by their `revision` ids)."""
