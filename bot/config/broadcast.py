"""The [broadcast] section: announcements sent to every subscriber, their topics and how
the delivery engine paces, retries and hands over its sends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BroadcastConfig:
    api_token: str = ""
    # Topic key -> label shown to citizens, e.g. {"dat-dai" = "Đất đai"}.
    topics: Mapping[str, str] = field(default_factory=dict)
    # Sends in flight at once per delivery process: also the most messages a crash can
    # send twice (see bot/broadcast/delivery.py).
    concurrency: int = 8
    # Tries per recipient for network/5xx failures before the outcome is "failed".
    max_attempts: int = 5
    # Backoff between those tries: base * 2^(try-1), capped, with jitter.
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    # A send that takes longer counts as a network failure.
    send_timeout_seconds: float = 15.0
    # A claimed recipient whose process stopped renewing its claim for this long is
    # handed to another process (or the restarted one).
    lease_seconds: float = 60.0
    # A 429 pauses the whole channel at most this long; the recipient that got it waits
    # its full retry_after, the others go on.
    max_pause_seconds: float = 10.0


# The lease rule, written once: the config check, the delivery settings and the send loop
# (bot/broadcast) all use it. The delivery engine renews its claims every lease/6
# seconds and a send may take up to send_timeout_seconds; a row may start sending only
# while its claim is younger than `usable_claim_seconds`, and a lease is usable only if
# that leaves at least a second.
CLAIM_RENEWALS_PER_LEASE = 6
LEASE_EXPECTED = (
    "more than send_timeout_seconds ({send_timeout:g}) plus a sixth of itself and a second"
)


def claim_renewal_seconds(lease_seconds: float) -> float:
    """How often a delivery worker renews its claims."""
    return lease_seconds / CLAIM_RENEWALS_PER_LEASE


def usable_claim_seconds(lease_seconds: float, send_timeout_seconds: float) -> float:
    """How long after its claim (or last renewal) a row may still start sending."""
    return lease_seconds - send_timeout_seconds - claim_renewal_seconds(lease_seconds)


def lease_is_usable(lease_seconds: float, send_timeout_seconds: float) -> bool:
    """True when a claim outlives a send and a renewal period with a second to spare."""
    return usable_claim_seconds(lease_seconds, send_timeout_seconds) >= 1.0
