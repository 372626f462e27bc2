"""What the web chat page is and what it is sent: the page's HTML with its texts and the
Content-Security-Policy hashes of its inline script and style, and replies as the JSON the
page renders (live, and as kept for a reload). Apart from bot.channels.web, which runs the
connections, so that how the page looks can be read (and changed) on its own."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from bot import texts
from bot.channels.web_history import PageMessage
from bot.messages import Reply

_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class ChatPage:
    """The page's HTML with the center's name filled in, and its Content-Security-Policy
    hashes (the page's script and style are inline, so they are allowed by hash)."""

    html: str
    script_hash: str
    style_hash: str

    @classmethod
    def load(cls, title: str) -> ChatPage:
        template = resources.files("bot.channels").joinpath("web_chat.html").read_text("utf-8")
        in_html = {
            "title": title,
            "connecting": texts.WEB_CONNECTING,
            "conversation_label": texts.WEB_CONVERSATION_LABEL,
            "input_label": texts.WEB_INPUT_LABEL,
            "input_placeholder": texts.WEB_INPUT_PLACEHOLDER,
            "send": texts.WEB_SEND,
            "photo_label": texts.WEB_PHOTO_BUTTON,
        }
        in_script = {
            "connecting": texts.WEB_CONNECTING,
            "reconnecting": texts.WEB_RECONNECTING,
            "notConnected": texts.WEB_NOT_CONNECTED,
            "typing": texts.WEB_TYPING,
            "image": texts.WEB_IMAGE_ALT,
            "you": texts.WEB_YOU,
            "bot": texts.WEB_BOT,
            "photoSent": texts.WEB_PHOTO_SENT,
            "photoFailed": texts.WEB_PHOTO_FAILED,
        }
        page = template
        for name, value in in_html.items():
            page = page.replace("{{" + name + "}}", html.escape(value))
        # JSON is a JavaScript literal; "</" is escaped so no text can close the script.
        script_texts = json.dumps(in_script, ensure_ascii=False).replace("</", "<\\/")
        page = page.replace("{{script_texts}}", script_texts)
        return cls(page, _inline_hash(page, "script"), _inline_hash(page, "style"))


def _inline_hash(page: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.DOTALL)
    body = match.group(1) if match else ""
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def reply_as_json(reply: Reply) -> dict[str, Any]:
    """What the page renders: plain text (the page escapes it), buttons, a data-URL image."""
    image = None
    if reply.image is not None:
        image = "data:image/png;base64," + base64.b64encode(reply.image.data).decode()
    return {
        "type": "reply",
        "sections": [
            {"heading": section.heading, "lines": list(section.lines)}
            for section in reply.sections
        ],
        "buttons": [
            [{"label": b.label, "action": b.action, "url": b.url} for b in row]
            for row in reply.buttons
        ],
        "image": image,
    }


def user_message(text: str, replies: list[Reply]) -> PageMessage:
    """The citizen's message as kept for a reload: digits masked in a turn answered with
    a dossier's details (they may be the verification digits)."""
    if any(reply.private for reply in replies):
        text = _DIGIT.sub("•", text)
    return {"type": "user", "text": text}


def kept_reply(reply: Reply) -> PageMessage:
    """A reply as kept for a reload."""
    # Without its picture: a chart is answered to staff on Telegram, and a row stays small.
    kept = {**reply_as_json(reply), "image": None}
    if reply.private:
        # A dossier's link buttons hold single-use tokens (bot.dossiers.follow_links): they
        # are not stored, and would not work again anyway.
        kept["buttons"] = [
            row for row in ([b for b in row if not b["url"]] for row in kept["buttons"]) if row
        ]
    return kept
