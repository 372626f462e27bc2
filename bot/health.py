"""The running bot's health, component by component, as `/healthz` reports it.

    components = await bot_health(parts)   # {"catalogue": ComponentHealth, ...}

The web server (bot.channels.server) asks for this when `/healthz` is called; the
composition root (bot.app) says what runs (`HealthParts`). Each part reports itself here:
the catalogue by its size, the database by a `SELECT 1`, the dossier source by its guard,
the broadcast worker by its jobs, the watcher by its interval, the channels by their own
`health()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcast.delivery import DeliveryWorker
from bot.catalogue.model import Catalogue
from bot.channels.health import ComponentHealth
from bot.config import DossierConfig
from bot.dossiers.service import DossierService
from bot.dossiers.source import GuardedSource
from bot.storage.database import StorageUnavailable, connect, redacted


class ReportsHealth(Protocol):
    """A channel, which knows its own state (connected, retrying, refused...)."""

    def health(self) -> ComponentHealth: ...


@dataclass(frozen=True)
class HealthParts:
    """What runs in this process; None for a part that is not configured."""

    catalogue: Catalogue
    engine: AsyncEngine
    dossier_config: DossierConfig
    dossiers: DossierService | None
    delivery: DeliveryWorker | None
    watching: bool
    telegram: ReportsHealth | None
    zalo: ReportsHealth | None


async def bot_health(parts: HealthParts) -> dict[str, ComponentHealth]:
    components: dict[str, ComponentHealth] = {
        "catalogue": ComponentHealth("ok", f"{len(parts.catalogue)} procedures"),
        "database": await database_health(parts.engine),
    }
    if parts.dossiers is None:
        components["dossiers"] = ComponentHealth("disabled", "dossiers.source = none")
    else:
        source = parts.dossiers.source
        down = isinstance(source, GuardedSource) and source.is_down
        components["dossiers"] = (
            ComponentHealth("degraded", "the center's dossier system is unreachable")
            if down
            else ComponentHealth("ok", parts.dossier_config.source)
        )
    components["broadcasts"] = (
        ComponentHealth(
            "ok",
            f"jobs {list(parts.delivery.active_jobs)}, {parts.delivery.in_flight} in flight",
        )
        if parts.delivery is not None
        else ComponentHealth("disabled", "no channel that can carry notices")
    )
    components["watcher"] = (
        ComponentHealth("ok", f"every {parts.dossier_config.watch_interval_seconds:g}s")
        if parts.watching
        else ComponentHealth("disabled", "no change source configured")
    )
    components["telegram"] = (
        parts.telegram.health()
        if parts.telegram is not None
        else ComponentHealth("disabled", "no [telegram] token")
    )
    components["zalo"] = (
        parts.zalo.health()
        if parts.zalo is not None
        else ComponentHealth("disabled", "no [zalo] credentials")
    )
    return components


async def database_health(engine: AsyncEngine) -> ComponentHealth:
    try:
        async with connect(engine) as connection:
            await connection.execute(text("SELECT 1"))
    except StorageUnavailable as exc:
        return ComponentHealth("down", str(exc))
    return ComponentHealth("ok", redacted(str(engine.url)))
