"""The delivery engine's own settings: per-channel limits, concurrency, retries, lease.

The composition root (bot.app) and `bot broadcast` build them from the config sections
the engine reads (`[broadcast]`, and the rate limits of `[telegram]` and `[zalo]`);
tests and benchmarks build them directly. Nothing here knows the whole `Config`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.config import (
    LEASE_EXPECTED,
    BroadcastConfig,
    TelegramConfig,
    ZaloConfig,
    claim_renewal_seconds,
    lease_is_usable,
    usable_claim_seconds,
)
from bot.messages import Channel


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    rate_per_second: float
    per_chat_interval_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    limits: Mapping[Channel, ChannelLimits] = field(default_factory=dict)
    concurrency: int = 8
    max_attempts: int = 5
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0
    send_timeout_seconds: float = 15.0
    lease_seconds: float = 60.0
    # 429 answers one recipient may get before it counts as failed: a guard against a
    # platform that keeps answering 429 for one chat, not a limit reached in practice.
    max_throttled: int = 20
    # The longest a 429 pauses the whole channel; the recipient that got it waits its full
    # `retry_after` (a chat's own flood ban can be minutes long).
    max_pause_seconds: float = 10.0
    # How often an idle worker looks for due rows and new jobs.
    idle_poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("broadcast concurrency must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("broadcast max_attempts must be at least 1")
        if not lease_is_usable(self.lease_seconds, self.send_timeout_seconds):
            expected = LEASE_EXPECTED.format(send_timeout=self.send_timeout_seconds)
            raise ValueError(
                f"broadcast lease_seconds is too short: expected {expected}, "
                f"got {self.lease_seconds:g}"
            )

    @classmethod
    def from_config(
        cls, broadcast: BroadcastConfig, telegram: TelegramConfig, zalo: ZaloConfig
    ) -> DeliverySettings:
        """The settings of `[broadcast]`, with the channels' rates from their sections."""
        return cls(
            limits={
                Channel.TELEGRAM: ChannelLimits(
                    telegram.rate_per_second, telegram.per_chat_interval_seconds
                ),
                Channel.ZALO: ChannelLimits(zalo.rate_per_second),
            },
            concurrency=broadcast.concurrency,
            max_attempts=broadcast.max_attempts,
            retry_base_seconds=broadcast.retry_base_seconds,
            retry_max_seconds=broadcast.retry_max_seconds,
            send_timeout_seconds=broadcast.send_timeout_seconds,
            lease_seconds=broadcast.lease_seconds,
            max_pause_seconds=broadcast.max_pause_seconds,
        )

    @property
    def heartbeat_seconds(self) -> float:
        return claim_renewal_seconds(self.lease_seconds)

    @property
    def usable_claim_seconds(self) -> float:
        """How long after its claim (or last renewal) a row may still start sending."""
        return usable_claim_seconds(self.lease_seconds, self.send_timeout_seconds)

    def limits_for(self, channel: Channel) -> ChannelLimits:
        return self.limits.get(channel, ChannelLimits(rate_per_second=10.0))

    def backoff(self, attempts: int) -> float:
        """Seconds before try `attempts + 1`: doubling from the base, capped, half jittered."""
        delay: float = min(
            self.retry_max_seconds, self.retry_base_seconds * 2.0 ** max(attempts - 1, 0)
        )
        return delay / 2 + random.uniform(0, delay / 2)
