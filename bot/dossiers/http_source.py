"""The dossier source for a one-stop system that offers a JSON API, through aiohttp.

Configured by `dossiers.http`: URL templates (`{code}`, `{cursor}`), one auth header, and a
field map from the contract names of `bot.dossiers.contract` to dotted paths in the JSON
(`"status" = "data.trangThai.ten"`). Unmapped fields are read under their contract name, so
an API that already speaks the contract needs no map.

    lookup:        GET url_template            404 or no mapped "code" -> no such dossier
    history:       GET history_url_template    a list, or one at "history_items"; entries
                                               mapped by "history.<field>"
    changed since: GET changed_since_url       an object with the list at "changes_items"
                                               (default "changes") and the next cursor at
                                               "changes_cursor" (default "cursor"); items
                                               mapped by "change.<field>" for cursor,
                                               change_id, changed_at and by the lookup
                                               names for the dossier fields

Timeouts, connection errors, 5xx and non-JSON answers raise `SourceUnavailable`; 401/403
raise `SourceMisconfigured` (the token is wrong: staff must act).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Mapping
from typing import Any

import aiohttp

from bot.config import DossierConfig, DossierHttpConfig
from bot.dossiers.contract import CHANGE_COLUMNS, HISTORY_COLUMNS, LOOKUP_COLUMNS, ContractReader
from bot.dossiers.model import ChangePage, Dossier, HistoryEntry, StatusMapping
from bot.dossiers.source import PROBE_CODE, SourceMisconfigured, SourceUnavailable

_MISSING = object()


def dotted_get(document: Any, path: str) -> Any:
    """`dotted_get({"a": {"b": [5, 6]}}, "a.b.1") == 6`; a missing step gives `_MISSING`."""
    node = document
    for step in path.split("."):
        if isinstance(node, Mapping) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return _MISSING
    return node


class HttpDossierSource:
    def __init__(
        self,
        config: DossierHttpConfig,
        reader: ContractReader,
        timeout_seconds: float,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not config.url_template or "{code}" not in config.url_template:
            raise SourceMisconfigured("dossiers.http.url_template must be set and contain {code}")
        self._config = config
        self._reader = reader
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session = session
        self._owns_session = session is None
        self._headers = {config.auth_header: config.auth_token} if config.auth_token else {}

    @classmethod
    def from_config(cls, config: DossierConfig) -> HttpDossierSource:
        reader = ContractReader(
            StatusMapping(config.status_labels),
            dt.timezone(dt.timedelta(hours=config.utc_offset_hours)),
            "dossier API",
        )
        return cls(config.http, reader, config.timeout_seconds)

    async def lookup(self, code: str) -> Dossier | None:
        url = self._config.url_template.replace("{code}", urllib.parse.quote(code, safe=""))
        document = await self._get(url, not_found_ok=True)
        if document is None:
            return None
        row = self._row(document, LOOKUP_COLUMNS, "")
        if row.get("code") in (None, ""):
            return None
        return self._reader.dossier(row)

    async def history(self, code: str) -> list[HistoryEntry]:
        template = self._config.history_url_template
        if not template:
            return []
        url = template.replace("{code}", urllib.parse.quote(code, safe=""))
        document = await self._get(url, not_found_ok=True)
        if document is None:
            return []
        items = self._list(document, "history_items", "items")
        return [
            self._reader.history_entry(self._row(i, HISTORY_COLUMNS, "history.")) for i in items
        ]

    async def changed_since(self, cursor: str | None) -> ChangePage:
        template = self._config.changed_since_url
        if not template:
            return ChangePage((), cursor or "")
        url = template.replace("{cursor}", urllib.parse.quote(cursor or "", safe=""))
        document = await self._get(url, not_found_ok=False)
        items = self._list(document, "changes_items", "changes")
        changes = []
        for item in items:
            row = self._row(item, LOOKUP_COLUMNS, "")
            row.update(self._row(item, CHANGE_COLUMNS[:3], "change."))
            changes.append(self._reader.change(row))
        next_cursor = dotted_get(document, self._config.field_map.get("changes_cursor", "cursor"))
        if next_cursor is _MISSING or next_cursor in (None, ""):
            if changes:
                raise SourceMisconfigured(
                    "dossier API: the changes answer has no cursor; map it with "
                    "dossiers.http.field_map.changes_cursor"
                )
            next_cursor = cursor or ""
        return ChangePage(tuple(changes), str(next_cursor))

    async def check(self) -> None:
        """Ask for a dossier that does not exist: a refused token or a broken URL template
        shows at start-up. (The changes feed is left alone: without a cursor it may be long.)
        """
        await self.lookup(PROBE_CODE)
        await self.history(PROBE_CODE)

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    def _row(self, item: Any, columns: tuple[str, ...], prefix: str) -> dict[str, Any]:
        field_map = self._config.field_map
        row: dict[str, Any] = {}
        for column in columns:
            value = dotted_get(item, field_map.get(prefix + column, column))
            if value is not _MISSING:
                row[column] = value
        return row

    def _list(self, document: Any, key: str, default_path: str) -> list[Any]:
        if isinstance(document, list):
            return document
        items = dotted_get(document, self._config.field_map.get(key, default_path))
        if not isinstance(items, list):
            raise SourceMisconfigured(
                f"dossier API: no list at {self._config.field_map.get(key, default_path)!r}; "
                f"map it with dossiers.http.field_map.{key}"
            )
        return items

    async def _get(self, url: str, *, not_found_ok: bool) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        where = urllib.parse.urlsplit(url)._replace(query="").geturl()
        try:
            async with self._session.get(url, headers=self._headers) as response:
                if response.status == 404 and not_found_ok:
                    return None
                if response.status in (401, 403):
                    raise SourceMisconfigured(
                        f"dossier API {where}: HTTP {response.status}; check "
                        "dossiers.http.auth_header and auth_token"
                    )
                if response.status >= 400:
                    raise SourceUnavailable(f"dossier API {where}: HTTP {response.status}")
                try:
                    return await response.json(content_type=None)
                except ValueError:
                    raise SourceUnavailable(f"dossier API {where}: answer is not JSON") from None
        except TimeoutError:
            raise SourceUnavailable(f"dossier API {where}: no answer in time") from None
        except aiohttp.ClientError as exc:
            raise SourceUnavailable(f"dossier API {where}: {type(exc).__name__}: {exc}") from exc
