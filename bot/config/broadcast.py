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
