"""A photo of the receipt slip gets the dossier lookup, end to end on every channel with the
whole bot: Telegram (photo update -> getFile -> the file from the fake Bot API's file URL),
Zalo (a signed user_send_image event, the picture served by the fake Zalo server), the web
chat (the page's upload over HTTP, then the digits over the WebSocket; and the camera button
in headless Chromium at phone and desktop sizes). Photos without a code, too large or broken
get a clear answer."""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from e2e_support import (
    DemoDossier,
    TelegramCitizen,
    ZaloCitizen,
    base_config,
    bot_on_telegram,
    demo_dossier,
    zalo_config_for,
)
from fakes import FakeTelegramBotApi, FakeZaloApi
from playwright.async_api import ViewportSize, async_playwright, expect
from slip_images import Shot, blank_page, photo, slip

from bot import texts
from bot.app import RunningBot, running_bot
from bot.config import Config
from bot.messages import MAX_PHOTO_BYTES

# As a phone would take it: a little crooked, in an office's light.
SHOT = Shot(angle=12, tilt=0.08, light=0.55, blur=0.8, noise=6)
NO_CODE = texts.PHOTO_NO_CODE
TOO_LARGE = texts.PHOTO_TOO_LARGE.format(megabytes=MAX_PHOTO_BYTES // 2**20)


@pytest.fixture
async def config(tmp_path: Path, project_root: Path) -> Config:
    return base_config(tmp_path, project_root)


@pytest.fixture
async def dossier(config: Config) -> DemoDossier:
    return await demo_dossier(config)


def asked(dossier: DemoDossier) -> str:
    return texts.VERIFY_PHONE.format(code=dossier.code)


def shown(dossier: DemoDossier) -> str:
    return texts.DOSSIER_HEADING.format(code=dossier.code)


# --- Telegram ---------------------------------------------------------------------------------


async def test_telegram_photo_and_image_file_of_the_slip(
    config: Config, dossier: DemoDossier
) -> None:
    slip_photo = photo(slip(dossier.code), SHOT)
    async with FakeTelegramBotApi() as api, bot_on_telegram(config, api):
        citizen = TelegramCitizen(api, 7001)
        await citizen.say("/start", texts.MENU_DOSSIER)

        read = await citizen.send_photo(slip_photo, texts.PHOTO_CODE_READ[:20])
        assert read.plain_text == texts.PHOTO_CODE_READ.format(code=dossier.code)
        # The photo itself was fetched, not its thumbnail.
        assert api.downloaded == ["photos/file-1.jpg"]
        await api.wait_until(lambda: asked(dossier) in api.messages_to(7001)[-1].plain_text)
        found = await citizen.say(dossier.phone_last4, shown(dossier))
        assert dossier.procedure in found.plain_text

        # Sent as a file (uncompressed), another chat: the same lookup.
        other = TelegramCitizen(api, 7002)
        await other.send_photo(slip_photo, asked(dossier), as_document=True)

        # No code on it; a caption with the code does the work instead.
        no_code = photo(blank_page(), SHOT)
        await other.send_photo(no_code, NO_CODE)
        await other.send_photo(no_code, asked(dossier), caption=f"mã {dossier.code}")
        # A file larger than allowed: refused without downloading it. (Of a photo, the
        # largest size within the limit would be read.)
        downloads = len(api.downloaded)
        too_large = {"as_document": True, "declared_size": MAX_PHOTO_BYTES + 1}
        await other.send_photo(b"x" * 100, TOO_LARGE, **too_large)
        assert len(api.downloaded) == downloads
        await other.send_photo(b"\x89PNG broken", texts.PHOTO_UNREADABLE)


# --- Zalo -------------------------------------------------------------------------------------


async def test_zalo_image_message_of_the_slip(config: Config, dossier: DemoDossier) -> None:
    async with FakeZaloApi() as zalo:
        zalo_config = zalo_config_for(zalo)
        async with running_bot(dataclasses.replace(config, zalo=zalo_config), port=0) as bot:
            citizen = ZaloCitizen(zalo, bot.web_url + zalo_config.webhook_path, "zalo-photo")
            url = zalo.add_media(photo(slip(dossier.code), SHOT))
            # The first message of a new follower: greeted, then answered.
            answer = await citizen.send(zalo.user_image("zalo-photo", url), asked(dossier))
            assert texts.PHOTO_CODE_READ.format(code=dossier.code) in [
                m.text for m in zalo.messages_to("zalo-photo")
            ]
            found = await citizen.say(dossier.phone_last4, shown(dossier))
            assert dossier.procedure in found and answer

            blank = zalo.add_media(photo(blank_page(), SHOT))
            await citizen.send(zalo.user_image("zalo-photo", blank), NO_CODE)
            gone = zalo.base_url + "/media/removed.jpg"
            await citizen.send(zalo.user_image("zalo-photo", gone), texts.PHOTO_NOT_RECEIVED)
            large = zalo.add_media(b"\xff" * (MAX_PHOTO_BYTES + 1))
            await citizen.send(zalo.user_image("zalo-photo", large), TOO_LARGE)


# --- the web chat -----------------------------------------------------------------------------


@pytest.fixture
async def web_bot(config: Config, dossier: DemoDossier) -> AsyncIterator[RunningBot]:
    async with running_bot(config, port=0) as running:
        yield running


async def receive_turn(socket: aiohttp.ClientWebSocketResponse) -> str:
    lines: list[str] = []
    while (message := await socket.receive_json(timeout=10))["type"] != "done":
        for section in message.get("sections", []):
            lines += section["lines"]
    return "\n".join(lines)


def reply_lines(answer: dict[str, Any]) -> str:
    return "\n".join(
        line for reply in answer["replies"] for s in reply["sections"] for line in s["lines"]
    )


async def test_web_chat_upload_over_http_then_the_digits(
    web_bot: RunningBot, dossier: DemoDossier
) -> None:
    url = web_bot.web_url
    slip_photo = photo(slip(dossier.code), SHOT)
    async with aiohttp.ClientSession() as session, session.ws_connect(url + "/ws") as socket:
        await socket.send_json({"type": "hello", "chat_id": None, "resume": False})
        chat_id = (await socket.receive_json(timeout=10))["chat_id"]
        await receive_turn(socket)  # the greeting

        headers = {"X-Chat-Id": chat_id, "Content-Type": "image/jpeg", "Origin": url}
        async with session.post(url + "/photo", data=slip_photo, headers=headers) as response:
            assert response.status == 200
            answer = await response.json()
        assert reply_lines(answer).split("\n") == [
            texts.PHOTO_CODE_READ.format(code=dossier.code),
            asked(dossier),
        ]
        await socket.send_json({"type": "text", "text": dossier.phone_last4})
        assert texts.DOSSIER_STATUS.split("{")[0] in await receive_turn(socket)

        async def upload(data: Any, **extra: str) -> tuple[int, str]:
            sent = {**headers, **extra}
            async with session.post(url + "/photo", data=data, headers=sent) as response:
                if response.content_type != "application/json":
                    return response.status, await response.text()
                return response.status, reply_lines(await response.json())

        assert await upload(photo(blank_page())) == (200, NO_CODE)
        assert await upload(b"%PDF-1.7 not a picture") == (200, texts.PHOTO_UNREADABLE)
        huge = b"\xff" * (MAX_PHOTO_BYTES + 1)
        assert await upload(io.BytesIO(huge)) == (200, TOO_LARGE)  # by its Content-Length

        async def streamed() -> AsyncIterator[bytes]:
            for start in range(0, len(huge), 1 << 20):
                yield huge[start : start + (1 << 20)]

        assert await upload(streamed()) == (200, TOO_LARGE)  # chunked: counted as it comes
        # Another site's page cannot post into a citizen's chat; a made-up chat is refused.
        assert (await upload(slip_photo, Origin="https://evil.example"))[0] == 403
        assert (await upload(slip_photo, **{"X-Chat-Id": "x"}))[0] == 400


PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.mark.browser
@pytest.mark.parametrize("screen", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_the_camera_button_sends_a_photo_in_chromium(
    web_bot: RunningBot,
    dossier: DemoDossier,
    chromium_path: str,
    tmp_path: Path,
    screen: ViewportSize,
) -> None:
    slip_photo = photo(slip(dossier.code), SHOT)
    name = "phone" if screen is PHONE else "desktop"
    # Screenshots land in tmp_path, and in SCREENSHOTS_DIR too when it is set.
    shots = [
        tmp_path,
        *([Path(os.environ["SCREENSHOTS_DIR"])] if "SCREENSHOTS_DIR" in os.environ else []),
    ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        context = await browser.new_context(
            viewport=screen, is_mobile=screen is PHONE, has_touch=screen is PHONE
        )
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(web_bot.web_url + "/")
        camera = page.get_by_role("button", name=texts.WEB_PHOTO_BUTTON)
        await expect(camera).to_be_enabled()
        box = await camera.bounding_box()
        assert box is not None and box["width"] >= 44 and box["height"] >= 44  # a finger's
        assert box["x"] + box["width"] <= screen["width"]
        assert box["y"] + box["height"] <= screen["height"]
        for folder in shots:
            await page.screenshot(path=str(folder / f"web-photo-button-{name}.png"))

        # Choosing a photo (the camera on a phone) sends it at once.
        async with page.expect_file_chooser() as chooser:
            await camera.click()
        await (await chooser.value).set_files(
            {"name": "phieu-hen.jpg", "mimeType": "image/jpeg", "buffer": slip_photo}
        )
        await expect(page.locator(".msg.user").last).to_contain_text(texts.WEB_PHOTO_SENT)
        await expect(page.locator(".msg.bot").last).to_contain_text(asked(dossier))
        await expect(page.locator(".msg.user img")).to_have_count(1)  # what was sent
        for folder in shots:
            await page.screenshot(path=str(folder / f"web-photo-sent-{name}.png"))
        question = page.get_by_label(texts.WEB_INPUT_LABEL)
        await question.fill(dossier.phone_last4)
        await question.press("Enter")
        await expect(page.locator(".msg.bot").last).to_contain_text(shown(dossier))
        for folder in shots:
            await page.screenshot(path=str(folder / f"web-photo-lookup-{name}.png"))
        assert await page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        await browser.close()
    assert errors == []
