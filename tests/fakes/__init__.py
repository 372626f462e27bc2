"""Fake platform servers (Telegram Bot API, Zalo OA API) for tests and benchmarks.

Tests import them as `from fakes import ...` (pytest puts tests/ on sys.path).
Both are real aiohttp servers on 127.0.0.1 random ports, so the bot's own HTTP clients
(python-telegram-bot over the bot's aiohttp transport, the Zalo adapter's aiohttp) are
exercised for real.
"""

from .dialogue import ScriptedDialogue
from .telegram_api import FakeTelegramBotApi, Fault, SentMessage, WebhookDelivery
from .zalo_api import FakeZaloApi, RefreshCall, ZaloFault, ZaloSentMessage

__all__ = [
    "FakeTelegramBotApi",
    "FakeZaloApi",
    "Fault",
    "RefreshCall",
    "ScriptedDialogue",
    "SentMessage",
    "WebhookDelivery",
    "ZaloFault",
    "ZaloSentMessage",
]
