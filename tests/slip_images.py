"""Receipt slips and phone photos of them, generated for the tests (nothing is downloaded).

`slip()` draws an A5 receipt slip at 150 dpi with the dossier code printed as a QR code
(or a Code 128 barcode) by zxing-cpp's own writer; `photo()` lays it on a desk and takes
a "phone photo" of it: turned, at an angle (a perspective warp), in poor light (darker,
flatter, blurred, with sensor noise), smaller in the frame, saved as JPEG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

DESK = (96, 74, 52)


def slip(
    code: str, barcode: zxingcpp.BarcodeFormat = zxingcpp.BarcodeFormat.QRCode
) -> Image.Image:
    """An A5 receipt slip (1240 x 1754 px) carrying `code` as text and as `barcode`."""
    page = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(page)
    title = ImageFont.load_default(size=34)
    body = ImageFont.load_default(size=26)
    draw.text((120, 100), "UBND TINH - TRUNG TAM PHUC VU HANH CHINH CONG", font=body, fill=0)
    draw.text((200, 200), "PHIEU TIEP NHAN VA HEN TRA KET QUA", font=title, fill=0)
    lines = [
        f"Ma ho so: {code}",
        "Nguoi nop: Nguyen Van An",
        "Thu tuc: Dang ky khai sinh",
        "Ngay hen tra ket qua: 05/12/2026",
        *(f"{n}. Giay to kem theo (ban chinh, ban sao)" for n in range(1, 7)),
    ]
    for number, line in enumerate(lines):
        draw.text((120, 320 + 60 * number), line, font=body, fill=0)
    if barcode is zxingcpp.BarcodeFormat.QRCode:
        drawn = zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(code, barcode), scale=6)
        picture = Image.fromarray(np.asarray(drawn))
    else:
        drawn = zxingcpp.write_barcode_to_image(zxingcpp.create_barcode(code, barcode), scale=3)
        picture = Image.fromarray(np.asarray(drawn)).resize((drawn.shape[1], 160))
    page.paste(picture, (page.width - picture.width - 120, page.height - picture.height - 200))
    return page.convert("RGB")


def blank_page() -> Image.Image:
    """A page of text with no code on it (a photo of something else)."""
    page = Image.new("RGB", (1240, 1754), (250, 250, 246))
    draw = ImageDraw.Draw(page)
    body = ImageFont.load_default(size=26)
    for number in range(20):
        draw.text(
            (120, 120 + 70 * number), f"Dong {number}: van ban khong co ma", font=body, fill=0
        )
    return page


@dataclass(frozen=True, slots=True)
class Shot:
    """How the photo is taken."""

    angle: float = 0.0  # degrees, counter-clockwise
    tilt: float = 0.0  # perspective: the far edge is narrower by this share on each side
    light: float = 1.0  # brightness factor (0.35 = a dim office)
    blur: float = 0.0  # Gaussian radius in pixels (shake, focus)
    noise: float = 0.0  # sensor noise, standard deviation in grey levels
    scale: float = 1.0  # the slip's size in the frame
    seed: int = 1


def photo(page: Image.Image, shot: Shot = Shot()) -> bytes:
    """A JPEG "phone photo" of `page` lying on a desk."""
    desk = Image.new("RGB", (int(page.width * 1.4), int(page.height * 1.3)), DESK)
    desk.paste(page, ((desk.width - page.width) // 2, (desk.height - page.height) // 2))
    image = desk.rotate(shot.angle, Image.Resampling.BICUBIC, expand=True, fillcolor=DESK)
    if shot.tilt:
        width, height = image.size
        narrow = shot.tilt * width
        corners = [(narrow, 0.0), (width - narrow, 0.0), (width, height), (0.0, height)]
        whole = [(0.0, 0.0), (width, 0.0), (width, height), (0.0, height)]
        image = image.transform(
            image.size,
            Image.Transform.PERSPECTIVE,
            _perspective(corners, whole),
            Image.Resampling.BICUBIC,
            fillcolor=DESK,
        )
    if shot.scale != 1.0:
        size = (int(image.width * shot.scale), int(image.height * shot.scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if shot.light != 1.0:
        image = ImageEnhance.Brightness(image).enhance(shot.light)
        image = ImageEnhance.Contrast(image).enhance(0.7)
    if shot.blur:
        image = image.filter(ImageFilter.GaussianBlur(shot.blur))
    if shot.noise:
        pixels = np.asarray(image).astype(np.float64)
        pixels += np.random.default_rng(shot.seed).normal(0.0, shot.noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return jpeg(image)


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _perspective(
    seen: list[tuple[float, float]], flat: list[tuple[float, float]]
) -> tuple[float, ...]:
    """Pillow's 8 coefficients mapping each output corner in `seen` to `flat` in the input."""
    rows: list[list[float]] = []
    targets: list[float] = []
    for (x, y), (u, v) in zip(seen, flat, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        targets += [u, v]
    solution = np.linalg.solve(np.array(rows), np.array(targets))
    return tuple(float(value) for value in solution)
