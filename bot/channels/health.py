"""The state of one running component, as `/healthz` reports it.

Each channel (and any other long-lived service the composition root owns) exposes a
`health()` method returning a `ComponentHealth`; the web server's `/healthz` gathers them.
Anyone may ask `/healthz`, so it answers only the overall status; the components and their
details (database URLs, file paths, errors) only with the staff token (the broadcast API's
`Authorization: Bearer`).
"""

from __future__ import annotations

import hmac
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


def bearer_matches(authorization: str, token: str) -> bool:
    """True when an `Authorization: Bearer <token>` header carries `token` (compared in
    constant time); never with no token configured."""
    scheme, _, value = authorization.partition(" ")
    if not token or scheme.lower() != "bearer" or not value.strip():
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())
