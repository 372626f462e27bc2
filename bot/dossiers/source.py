"""The dossier source protocol, its typed failures, and the guard every source runs behind.

A `DossierSource` reads the center's one-stop system (read-only):

    lookup(code) -> Dossier | None          one dossier by its canonical receipt code
    history(code) -> list[HistoryEntry]     its processing steps, oldest first
    changed_since(cursor) -> ChangePage     changes after `cursor`, in order, and the next
                                            cursor; `cursor=None` means "start now": no
                                            changes, just the current cursor
    check()                                 run each configured query or request once, at
                                            start-up: raises SourceMisconfigured when one
                                            does not fit the contract
    close()

Implementations: `bot.dossiers.sql_source.SqlDossierSource` (any SQLAlchemy async URL,
configured queries) and `bot.dossiers.http_source.HttpDossierSource` (a JSON API).
Failures to reach or read the system raise `SourceUnavailable`; a query or mapping that does
not fit the contract raises `SourceMisconfigured` (a subclass, because to the citizen both
mean "try again later", while the log tells staff what to fix).

`GuardedSource` wraps a source with the configured timeout and logs each outage once (and
its end once), not once per message; the service and the watcher share one guarded source.
`bot.dossiers.service.open_dossier_source(config)` builds the configured source, guarded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Protocol, TypeVar

from bot.dossiers.model import ChangePage, Dossier, HistoryEntry
from bot.storage.outage import OutageLog

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# A well-formed receipt code no dossier has (dated 1 January 2000, counter 0): what
# `check()` looks up to try the configured queries or requests.
PROBE_CODE = "000.00.00.H00-000101-0000"


class SourceUnavailable(Exception):
    """The one-stop system could not be reached, failed, or answered too slowly."""


class SourceMisconfigured(SourceUnavailable):
    """A configured query, URL or field mapping does not fit the contract; the message says how."""


class SourceSwitchedOff(SourceUnavailable):
    """`dossiers.source = "none"`: not an outage, so never logged as one."""


class DossierSource(Protocol):
    async def lookup(self, code: str) -> Dossier | None: ...

    async def history(self, code: str) -> list[HistoryEntry]: ...

    async def changed_since(self, cursor: str | None) -> ChangePage: ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class DisabledSource:
    """`dossiers.source = "none"`: every call is unavailable (the center offers no lookups)."""

    async def lookup(self, code: str) -> Dossier | None:
        raise SourceSwitchedOff("dossier lookups are switched off (dossiers.source = 'none')")

    async def history(self, code: str) -> list[HistoryEntry]:
        raise SourceSwitchedOff("dossier lookups are switched off (dossiers.source = 'none')")

    async def changed_since(self, cursor: str | None) -> ChangePage:
        raise SourceSwitchedOff("dossier lookups are switched off (dossiers.source = 'none')")

    async def check(self) -> None:
        """Nothing is configured to check."""

    async def close(self) -> None:
        return None


class GuardedSource:
    """A source with a timeout on every call and one log line per outage.

    Anything a call raises other than cancellation becomes `SourceUnavailable` (the dialogue
    must keep answering procedure questions whatever the vendor's driver throws).
    """

    def __init__(self, inner: DossierSource, timeout_seconds: float, name: str = "dossier source"):
        self.inner = inner
        self._timeout = timeout_seconds
        self._name = name
        self._outage = OutageLog(name, log)

    @property
    def is_down(self) -> bool:
        return self._outage.is_down

    async def lookup(self, code: str) -> Dossier | None:
        return await self._guard(self.inner.lookup(code))

    async def history(self, code: str) -> list[HistoryEntry]:
        return await self._guard(self.inner.history(code))

    async def changed_since(self, cursor: str | None) -> ChangePage:
        return await self._guard(self.inner.changed_since(cursor))

    async def check(self) -> None:
        await self._guard(self.inner.check())

    async def close(self) -> None:
        await self.inner.close()

    async def _guard(self, call: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(self._timeout):
                result = await call
        except TimeoutError:
            self._went_down(f"no answer within {self._timeout:g} s")
            raise SourceUnavailable(
                f"{self._name}: no answer within {self._timeout:g} s"
            ) from None
        except SourceSwitchedOff:
            raise
        except SourceUnavailable as exc:
            self._went_down(str(exc))
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self._went_down(reason)
            raise SourceUnavailable(f"{self._name}: {reason}") from exc
        self._outage.succeeded()
        return result

    def _went_down(self, reason: str) -> None:
        self._outage.failed(reason)
