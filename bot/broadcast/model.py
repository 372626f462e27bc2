"""Typed values and errors of the broadcast feature: who asks, what is sent, how it went."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from bot.messages import Channel, Reply

# Channels that can receive a message the citizen did not just ask for. The web chat and
# the terminal have no way to reach someone who is not connected.
BROADCAST_CHANNELS: tuple[Channel, ...] = (Channel.TELEGRAM, Channel.ZALO)

AUDIENCE_ALL = "all"

# Zalo's OA message API takes at most 2,000 characters; keeping a notice within one
# message on every channel keeps the rate accounting exact (one send per recipient).
NOTICE_MAX_CHARS = 2000


class BroadcastError(Exception):
    """A broadcast request that cannot be carried out; subclasses say why."""


class NotStaff(BroadcastError):
    """The requester may not send, see or stop broadcasts."""

    def __init__(self, requester: Requester) -> None:
        super().__init__(f"{requester} is not on the staff list")
        self.requester = requester


class UnknownAudience(BroadcastError):
    """The audience is neither 'all' nor a topic from config `broadcast.topics`."""

    def __init__(self, audience: str, topics: tuple[str, ...]) -> None:
        known = ", ".join(topics) or "none configured"
        super().__init__(f"unknown audience {audience!r}; use 'all' or a topic ({known})")
        self.audience = audience
        self.topics = topics


class UnknownTopic(BroadcastError):
    """A citizen asked for a topic that config `broadcast.topics` does not list."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"unknown topic {topic!r}")
        self.topic = topic


class ChannelNotAvailable(BroadcastError):
    """The channel cannot carry notices (web chat, terminal) or is not configured."""

    def __init__(self, channel: Channel | str) -> None:
        name = channel.value if isinstance(channel, Channel) else channel
        super().__init__(f"channel {name!r} cannot carry notices here")
        self.channel = channel


class InvalidNotice(BroadcastError):
    """The notice text is empty or too long."""


class EmptyAudience(BroadcastError):
    """Nobody would receive the notice; no job is created."""


class JobNotFound(BroadcastError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"no broadcast job {job_id}")
        self.job_id = job_id


class JobFinished(BroadcastError):
    """The job is already done, so it cannot be cancelled or resumed."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"broadcast job {job_id} is already finished")
        self.job_id = job_id


class RequesterKind(StrEnum):
    CHAT_USER = "chat"  # someone writing to the bot on a channel
    API_CLIENT = "api"  # another system of the center, through the HTTP endpoint
    OPERATOR = "operator"  # someone at the server's terminal (`bot broadcast`)


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks for a broadcast action; the service decides from it whether to obey.

    Staff on Telegram are identified by user id (config `telegram.staff_ids`). The HTTP
    endpoint creates an API_CLIENT only after checking the bearer token. An OPERATOR is
    trusted because running `bot broadcast` needs the server's config and database.
    """

    kind: RequesterKind
    name: str
    channel: Channel | None = None

    @classmethod
    def chat_user(cls, channel: Channel, user_id: str) -> Requester:
        return cls(RequesterKind.CHAT_USER, user_id, channel)

    @classmethod
    def api_client(cls, name: str) -> Requester:
        return cls(RequesterKind.API_CLIENT, name)

    @classmethod
    def operator(cls, name: str) -> Requester:
        return cls(RequesterKind.OPERATOR, name)

    def __str__(self) -> str:
        if self.kind is RequesterKind.CHAT_USER and self.channel is not None:
            return f"{self.channel.value}:{self.name}"
        return f"{self.kind.value}:{self.name}"


@dataclass(frozen=True, slots=True)
class BroadcastRequest:
    """What staff want to send: the text, to whom ('all' or a topic), on which channels
    (none given: every channel this deployment can send on)."""

    text: str
    audience: str = AUDIENCE_ALL
    channels: tuple[Channel, ...] = ()


@dataclass(frozen=True, slots=True)
class BroadcastPreview:
    """What a confirmed request would do: who gets it and what it looks like."""

    request: BroadcastRequest
    recipients: Mapping[Channel, int]
    notice: Reply
    # The topic's label from config, or None when the audience is every subscriber.
    topic_label: str | None

    @property
    def total(self) -> int:
        return sum(self.recipients.values())


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Counts of a job's recipients by state; `left` are still to be delivered."""

    job_id: int
    state: str
    total: int
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    opted_out: int = 0
    cancelled: int = 0
    pending: int = 0
    sending: int = 0

    @property
    def left(self) -> int:
        return self.pending + self.sending

    @property
    def done(self) -> int:
        return self.total - self.left

    @property
    def finished(self) -> bool:
        return self.state != "running" or self.left == 0


@dataclass(frozen=True, slots=True)
class JobReport:
    """A job's outcome: counts overall and per channel, timing, possible duplicates."""

    job_id: int
    text: str
    audience: str
    channels: tuple[Channel, ...]
    requested_by: str
    progress: JobProgress
    by_channel: Mapping[Channel, JobProgress]
    created_at: dt.datetime
    finished_at: dt.datetime | None
    cancelled_by: str | None
    # Sends that were retried after a network error or a 429.
    retries: int = 0
    # Recipients taken over from a process that died holding them: an upper bound on
    # the messages that may have arrived twice.
    possible_duplicates: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)

    @property
    def duration(self) -> dt.timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.created_at


@dataclass(frozen=True, slots=True)
class JobSummary:
    job_id: int
    state: str
    audience: str
    total: int
    requested_by: str
    created_at: dt.datetime
    text: str
