"""`Config`, the whole configuration with one field per TOML section, and the two small
sections about the bot's own running: its database ([storage]) and its log ([logging])."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.config.broadcast import BroadcastConfig
from bot.config.center import CatalogueConfig, CenterConfig, HandoffConfig, SearchConfig
from bot.config.channels import TelegramConfig, WebConfig, ZaloConfig
from bot.config.dossiers import DossierConfig


@dataclass(frozen=True, slots=True)
class StorageConfig:
    url: str = "sqlite+aiosqlite:///data/bot.sqlite3"
    # Days to keep question texts, chat ids in statistics and audits, and conversation
    # contexts; then they are erased (counts are kept). 0 keeps them without limit.
    personal_data_days: int = 365
    # An older schema (a newer bot on an old database) is migrated at start-up instead of
    # refused with "run `bot migrate`".
    auto_migrate: bool = False


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True, slots=True)
class Config:
    center: CenterConfig = field(default_factory=CenterConfig)
    catalogue: CatalogueConfig = field(default_factory=CatalogueConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    dossiers: DossierConfig = field(default_factory=DossierConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    zalo: ZaloConfig = field(default_factory=ZaloConfig)
    web: WebConfig = field(default_factory=WebConfig)
    broadcast: BroadcastConfig = field(default_factory=BroadcastConfig)
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    # Where this config came from (a file path or "built-in defaults"); not a TOML key.
    loaded_from: str = "built-in defaults"
