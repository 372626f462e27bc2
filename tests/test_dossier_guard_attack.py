"""The guessing attack of issue 10, run for real against the whole bot's web chat over
HTTP and WebSocket: a script that opens a new chat (a new connection, from another network
address through X-Forwarded-For) every 3 guesses tries all 10,000 four-digit values on a
demo dossier, the right one among the first. It must not get in; the dossier's owner, from
their own chat, must once the wait is over; the log names the dossier and the addresses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import DemoDossier, base_config, demo_dossier

from bot import texts
from bot.app import running_bot
from bot.config import Config

pytestmark = pytest.mark.slow

ATTEMPTS = 10_000
GUESSES_PER_CHAT = 3
# Addresses of the documentation ranges (RFC 5737), only ever written into a header.
ADDRESSES = [
    f"{net}.{host}" for net in ("192.0.2", "198.51.100", "203.0.113") for host in range(1, 86)
]
VERIFY_PROMPT = texts.VERIFY_PHONE.split("{")[0]
ATTEMPTS_LEFT = texts.DOSSIER_ATTEMPTS_LEFT.split("{")[0]
REVEALED = texts.DOSSIER_STATUS.split("{")[0]  # only a found dossier's answer has it


def attack_config(tmp_path: Path, project_root: Path, **dossiers: Any) -> Config:
    config = base_config(tmp_path, project_root)
    return dataclasses.replace(
        config,
        web=dataclasses.replace(config.web, trust_forwarded_for=True),
        dossiers=dataclasses.replace(config.dossiers, **dossiers),
    )


class WebChatClient:
    """One chat on one WebSocket connection, as the page (or a script) opens it."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket

    @classmethod
    async def open(
        cls, session: aiohttp.ClientSession, url: str, address: str
    ) -> tuple[WebChatClient, aiohttp.ClientWebSocketResponse]:
        socket = await session.ws_connect(url + "/ws", headers={"X-Forwarded-For": address})
        client = cls(socket)
        await socket.send_json({"type": "hello", "chat_id": None, "resume": False})
        await socket.receive_json(timeout=10)  # the session
        await client.turn_text()  # the greeting
        return client, socket

    async def say(self, text: str) -> str:
        await self.socket.send_json({"type": "text", "text": text})
        return await self.turn_text()

    async def turn_text(self) -> str:
        parts: list[str] = []
        while True:
            message = await self.socket.receive_json(timeout=10)
            if message["type"] == "reply":
                for section in message["sections"]:
                    heading = [section["heading"]] if section["heading"] else []
                    parts.extend([*heading, *section["lines"]])
            elif message["type"] == "notice":
                parts.append(message["text"])
                return "\n".join(parts)
            elif message["type"] == "done":
                return "\n".join(parts)


async def test_a_new_chat_every_3_guesses_does_not_find_the_digits_in_10000_attempts(
    tmp_path: Path, project_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = attack_config(tmp_path, project_root)
    dossier = await demo_dossier(config)
    right = int(dossier.phone_last4)
    # Every value once; the right one is the 6th guess (in the second chat).
    guesses = [f"{(right - 5 + n) % 10_000:04d}" for n in range(ATTEMPTS)]
    caplog.set_level(logging.WARNING, "bot.dossiers.guard")
    started = time.monotonic()
    async with running_bot(config, port=0) as running, aiohttp.ClientSession() as session:
        sent = 0
        revealed: list[str] = []
        answers_to_the_right_digits: list[str] = []
        chats = 0
        while sent < ATTEMPTS:
            address = ADDRESSES[chats % len(ADDRESSES)]
            client, socket = await WebChatClient.open(session, running.web_url, address)
            chats += 1
            async with socket:
                waiting_for_digits = False
                for digits in guesses[sent : sent + GUESSES_PER_CHAT]:
                    if not waiting_for_digits:
                        asked = await client.say(dossier.code)
                        revealed += [asked] if REVEALED in asked else []
                    answer = await client.say(digits)
                    sent += 1
                    if REVEALED in answer:
                        revealed.append(answer)
                    if digits == dossier.phone_last4:
                        answers_to_the_right_digits.append(answer)
                    waiting_for_digits = ATTEMPTS_LEFT in answer
    elapsed = time.monotonic() - started

    assert sent == ATTEMPTS and chats == -(-ATTEMPTS // GUESSES_PER_CHAT)
    assert revealed == [], f"the dossier was shown after {len(revealed)} answers"
    # The right digits came while the dossier was waiting: not even compared.
    [answer] = answers_to_the_right_digits
    assert REVEALED not in answer and dossier.procedure not in answer
    guarded = [r for r in caplog.records if dossier.code in r.getMessage()]
    assert guarded, "a warning names the dossier"
    assert "addresses: 192.0.2.1" in guarded[0].getMessage()
    print(f"{ATTEMPTS} guesses, {chats} chats, {len(ADDRESSES)} addresses: {elapsed:.1f} s")


async def test_the_owner_gets_in_once_the_wait_is_over(tmp_path: Path, project_root: Path) -> None:
    # Waits of 1, 2, 4 ... seconds instead of minutes, so that the test can outwait one.
    config = attack_config(tmp_path, project_root, guard_first_wait_seconds=1)
    dossier: DemoDossier = await demo_dossier(config)
    wrong = f"{(int(dossier.phone_last4) + 1) % 10_000:04d}"
    async with running_bot(config, port=0) as running, aiohttp.ClientSession() as session:
        guesser, socket = await WebChatClient.open(session, running.web_url, "203.0.113.66")
        async with socket:
            assert VERIFY_PROMPT in await guesser.say(dossier.code)
            for _ in range(GUESSES_PER_CHAT):
                answer = await guesser.say(wrong)
        # The guesser's own chat is locked out (for longer than the dossier waits here).
        assert texts.DOSSIER_LOCKED.split("{")[0] in answer

        # The owner, from home, during the wait: told to wait or to call or come in.
        owner, socket = await WebChatClient.open(session, running.web_url, "198.51.100.23")
        async with socket:
            during = await owner.say(f"tra cứu hồ sơ {dossier.code}")
            hotline = config.center.hotline
            assert during == texts.DOSSIER_GUARDED.format(
                code=dossier.code, wait=texts.DURATION_SECONDS.format(seconds=1), hotline=hotline
            )
            await asyncio.sleep(1.1)
            assert VERIFY_PROMPT in await owner.say(dossier.code)
            found = await owner.say(f"số cuối là {dossier.phone_last4}")
        assert REVEALED in found and dossier.procedure in found
