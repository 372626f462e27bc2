"""Typed, frozen configuration, loaded once from a TOML file (or built-in defaults).

Every key is declared in this package with its type and default; `config.example.toml`
documents the same keys for the center's staff. Loading is strict on purpose: an unknown key
is almost always a typo that would otherwise silently fall back to a default, so it stops
start-up with one line that names the file, the key and what was expected.

Secrets (fields listed in `SECRET_FIELDS`) may also come from environment variables named
`BOT_<SECTION>_<KEY>`, e.g. `BOT_TELEGRAM_TOKEN`, which win over the file.

Relative paths (the catalogue, SQLite files) are read from the folder holding the config
file, so that `bot run --config /srv/bot/config.toml` means the same from any folder; with
no config file, from the current folder. The catalogue shipped with the bot is found
beside the package (`SHIPPED_CATALOGUE`), wherever it is installed.

Where things live (import them from `bot.config`, as ever):
    values.py     ConfigError, the readers of TOML values, office-hour periods
    center.py     [center], [center.office_hours], [catalogue], [search], [handoff]
    dossiers.py   [dossiers], [dossiers.sql], [dossiers.http]
    channels.py   [telegram], [zalo], [web]
    broadcast.py  [broadcast], and the lease rule its delivery engine and checks share
    root.py       Config (every section), [storage], [logging]
    checks.py     the checks types alone cannot express
    loading.py    load_config, secrets from the environment, paths relative to the file
"""

from bot.config.broadcast import (
    CLAIM_RENEWALS_PER_LEASE,
    LEASE_EXPECTED,
    BroadcastConfig,
    claim_renewal_seconds,
    lease_is_usable,
    usable_claim_seconds,
)
from bot.config.center import (
    SHIPPED_CATALOGUE,
    CatalogueConfig,
    CenterConfig,
    HandoffConfig,
    OfficeHoursConfig,
    SearchConfig,
)
from bot.config.channels import TelegramConfig, TelegramMode, WebConfig, ZaloConfig
from bot.config.dossiers import (
    DossierConfig,
    DossierHttpConfig,
    DossierSourceKind,
    DossierSqlConfig,
    Verification,
)
from bot.config.loading import DEFAULT_CONFIG_FILE, SECRET_FIELDS, env_name, load_config
from bot.config.root import Config, LoggingConfig, StorageConfig
from bot.config.values import ConfigError, OfficePeriod, parse_periods

__all__ = [
    "CLAIM_RENEWALS_PER_LEASE",
    "DEFAULT_CONFIG_FILE",
    "LEASE_EXPECTED",
    "SECRET_FIELDS",
    "SHIPPED_CATALOGUE",
    "BroadcastConfig",
    "CatalogueConfig",
    "CenterConfig",
    "Config",
    "ConfigError",
    "DossierConfig",
    "DossierHttpConfig",
    "DossierSourceKind",
    "DossierSqlConfig",
    "HandoffConfig",
    "LoggingConfig",
    "OfficeHoursConfig",
    "OfficePeriod",
    "SearchConfig",
    "StorageConfig",
    "TelegramConfig",
    "TelegramMode",
    "Verification",
    "WebConfig",
    "ZaloConfig",
    "claim_renewal_seconds",
    "env_name",
    "lease_is_usable",
    "load_config",
    "parse_periods",
    "usable_claim_seconds",
]
