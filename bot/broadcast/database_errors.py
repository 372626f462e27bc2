"""The database errors a delivery loop survives, and how it logs them.

Outages, and statement failures such as PostgreSQL's "deadlock detected" or a
serialization failure, which a retry resolves. Every loop of the delivery engine (claims,
renewals, outcomes, worker membership) catches `DATABASE_ERRORS`, logs with
`log_database_error`, waits and tries again.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError

from bot.storage.database import StorageUnavailable

log = logging.getLogger(__name__)

DATABASE_ERRORS = (StorageUnavailable, DBAPIError)


def log_database_error(what: str, exc: BaseException) -> None:
    if isinstance(exc, StorageUnavailable):
        # The outage itself is logged once, where it was raised (bot.storage.outage).
        log.debug("%s: %s", what, exc)
    else:
        log.error("%s", what, exc_info=exc)
