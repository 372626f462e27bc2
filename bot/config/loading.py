"""`load_config`: the config file read once, secrets from the environment, relative paths
made the file's own.

Secrets (fields listed in `SECRET_FIELDS`) may also come from environment variables named
`BOT_<SECTION>_<KEY>`, e.g. `BOT_TELEGRAM_TOKEN`, which win over the file. Relative paths
(the catalogue, SQLite files) are read from the folder holding the config file; with no
config file, from the current folder.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.config.checks import validate
from bot.config.root import Config
from bot.config.values import ConfigError, build_from_table

DEFAULT_CONFIG_FILE = Path("config.toml")


SECRET_FIELDS: frozenset[str] = frozenset(
    {
        "telegram.token",
        "telegram.secret_token",
        "zalo.oa_secret_key",
        "zalo.app_secret_key",
        "zalo.access_token",
        "zalo.refresh_token",
        "dossiers.push_secret",
        "dossiers.http.auth_token",
        "dossiers.sql.url",
        "storage.url",
        "broadcast.api_token",
    }
)


def env_name(dotted_key: str) -> str:
    """`telegram.token` -> `BOT_TELEGRAM_TOKEN`."""
    return "BOT_" + dotted_key.replace(".", "_").upper()


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the config from `path`, or `config.toml` when present, else the defaults.

    Raises ConfigError with a one-line message naming the file and key.
    """
    env = os.environ if environ is None else environ
    if path is None and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    data: dict[str, Any] = {}
    source = "built-in defaults"
    if path is not None:
        source = str(path)
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not valid UTF-8 text") from None
    data = _apply_env(_shipped_catalogue_when_empty(data), env)
    config = build_from_table(Config, data, prefix="", source=source)
    validate(config, source)
    if path is not None:
        config = _relative_to(path.resolve().parent, config)
    return dataclasses.replace(config, loaded_from=source)


def _shipped_catalogue_when_empty(data: dict[str, Any]) -> dict[str, Any]:
    """`[catalogue] path = ""` (and vocabulary): the default, the shipped catalogue."""
    catalogue = data.get("catalogue")
    if not isinstance(catalogue, dict):
        return data
    kept = {k: v for k, v in catalogue.items() if not (k in ("path", "vocabulary") and v == "")}
    return {**data, "catalogue": kept}


def _relative_to(folder: Path, config: Config) -> Config:
    """The config with its relative paths read from `folder` (the config file's)."""
    catalogue = dataclasses.replace(
        config.catalogue,
        # An absolute path stays as it is.
        path=folder / config.catalogue.path.expanduser(),
        vocabulary=folder / config.catalogue.vocabulary.expanduser(),
    )
    storage = dataclasses.replace(config.storage, url=_sqlite_file_in(folder, config.storage.url))
    dossiers = config.dossiers
    sql = dataclasses.replace(dossiers.sql, url=_sqlite_file_in(folder, dossiers.sql.url))
    return dataclasses.replace(
        config,
        catalogue=catalogue,
        storage=storage,
        dossiers=dataclasses.replace(dossiers, sql=sql),
    )


def _sqlite_file_in(folder: Path, url: str) -> str:
    """A SQLite URL whose file is a relative path, made absolute under `folder`; any other
    URL as it is (a malformed one is reported where it is used)."""
    # Here, not at the top: `bot --help` and commands without a database stay quick.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url
    database = parsed.database or ""
    if (
        parsed.get_backend_name() != "sqlite"
        or database in ("", ":memory:")
        or database.startswith("file:")
        or Path(database).expanduser().is_absolute()
    ):
        return url
    return parsed.set(database=str(folder / database)).render_as_string(hide_password=False)


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for dotted in sorted(SECRET_FIELDS):
        value = env.get(env_name(dotted))
        if value is None or value == "":
            continue
        parts = dotted.split(".")
        node = merged
        for part in parts[:-1]:
            child = node.get(part)
            child = {} if not isinstance(child, dict) else dict(child)
            node[part] = child
            node = child
        node[parts[-1]] = value
    return merged
