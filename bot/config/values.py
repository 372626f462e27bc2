"""The readers that turn TOML values into typed settings, and the one config error.

`build_from_table` fills a frozen config dataclass from a TOML table: it refuses unknown keys
(almost always a typo that would otherwise silently fall back to a default) and reads each
value by its field's type: integers that are not booleans, finite numbers (TOML allows inf
and nan, no setting does), dates, paths, literals, lists and tables. `parse_periods` reads
office hours ("07:30-11:30,13:30-17:00"). Each failure is one line naming the key and what
was expected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal


class ConfigError(Exception):
    """A configuration value is unknown, missing or of the wrong type; the message is one line."""


_PERIOD = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")

OfficePeriod = tuple[dt.time, dt.time]


def parse_periods(text: str) -> tuple[OfficePeriod, ...]:
    """ "07:30-11:30,13:30-17:00" -> ((07:30, 11:30), (13:30, 17:00)); "" -> ().

    Raises ValueError when a period is malformed, empty or overlaps the one before."""
    periods: list[OfficePeriod] = []
    for piece in text.split(","):
        piece = piece.strip()
        if not piece and not text.strip():
            continue
        match = _PERIOD.fullmatch(piece)
        if match is None:
            raise ValueError(f"period {piece!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        try:
            start, end = dt.time(h1, m1), dt.time(h2, m2)
        except ValueError:
            raise ValueError(f"period {piece!r} has an impossible time") from None
        if end <= start:
            raise ValueError(f"period {piece!r} ends before it starts")
        if periods and start < periods[-1][1]:
            raise ValueError(f"period {piece!r} overlaps or precedes the one before")
        periods.append((start, end))
    return tuple(periods)


_T = typing.TypeVar("_T")


def build_from_table(cls: type[_T], data: Mapping[str, Any], prefix: str, source: str) -> _T:
    """A `cls` from the TOML table `data` found at `prefix` ("" for the whole file)."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "loaded_from"}  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            where = f"[{prefix}] " if prefix else ""
            expected = ", ".join(sorted(known))
            raise ConfigError(f"{source}: {where}unknown key '{key}'; expected one of: {expected}")
    kwargs: dict[str, Any] = {}
    for name in known:
        if name not in data:
            continue
        dotted = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(hints[name], data[name], dotted, source)
    return cls(**kwargs)


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {_describe(typing.get_args(tp)[0])}"
    if origin in (Mapping, dict):
        key_t, value_t = typing.get_args(tp)
        return f"a table of {_describe(key_t)} -> {_describe(value_t)}"
    names = {
        str: "a string",
        int: "an integer",
        float: "a (finite) number",
        bool: "true or false",
        Path: "a path (string)",
        dt.date: "a date (YYYY-MM-DD)",
    }
    if dataclasses.is_dataclass(tp):
        return "a table"
    return names.get(tp, str(tp))


def _fail(tp: Any, value: Any, dotted: str, source: str) -> ConfigError:
    section, _, key = dotted.rpartition(".")
    where = f"[{section}] {key}" if section else key
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ConfigError(f"{source}: {where}: expected {_describe(tp)}, got {shown}")


def _coerce(tp: Any, value: Any, dotted: str, source: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise _fail(tp, value, dotted, source)
        return build_from_table(tp, value, dotted, source)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise _fail(tp, value, dotted, source)
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _fail(tp, value, dotted, source)
        item_t = typing.get_args(tp)[0]
        return tuple(_coerce(item_t, item, f"{dotted}", source) for item in value)
    if origin in (Mapping, dict) or tp is Mapping:
        if not isinstance(value, dict):
            raise _fail(tp, value, dotted, source)
        _key_t, value_t = typing.get_args(tp)
        return types.MappingProxyType(
            {str(k): _coerce(value_t, v, f"{dotted}.{k}", source) for k, v in value.items()}
        )
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(tp, value, dotted, source)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(tp, value, dotted, source)
        return value
    if tp is float:
        # inf and nan are valid TOML floats but no setting's value (an endless timeout).
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _fail(tp, value, dotted, source)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(tp, value, dotted, source)
        return value
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise _fail(tp, value, dotted, source)
        return Path(value)
    if tp is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise _fail(tp, value, dotted, source)
    raise _fail(tp, value, dotted, source)  # pragma: no cover - a type this loader lacks
