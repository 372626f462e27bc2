"""The state of one running component, as `/healthz` reports it.

Each channel (and any other long-lived service the composition root owns) exposes a
`health()` method returning a `ComponentHealth`; the web server's `/healthz` gathers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HealthState = Literal["ok", "starting", "degraded", "down", "disabled"]

# States in which the component does its job (or was deliberately not started).
HEALTHY_STATES: frozenset[HealthState] = frozenset({"ok", "disabled"})


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """`state` for machines, `detail` (one line, English, for staff) for people."""

    state: HealthState
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state in HEALTHY_STATES

    def as_json(self) -> dict[str, str]:
        return {"state": self.state, "detail": self.detail}
