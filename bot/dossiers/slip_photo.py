"""Reading what the QR code or barcode of a receipt slip says, from a citizen's photo.

One-stop receipt slips (phiếu tiếp nhận và hẹn trả kết quả) print the dossier code as a QR
code or a barcode beside it. A citizen who photographs the slip gets the lookup without
typing 25 characters:

    reader = SlipPhotoReader()
    reading = await reader.read(photo_bytes)   # SlipReading(texts=("000.00.12.H58-...",))
    reading.problem                            # None, or why nothing could be read

zxing-cpp decodes (QR, Data Matrix, Aztec, PDF417, Code 128, Code 39); Pillow opens the
photo and shrinks it first. What the codes say is returned as text: the dialogue finds the
receipt code in it as in a typed message (a QR code may hold a link with the code).

Photos are phone pictures of paper: at an angle, crooked, in poor light. The passes below
were chosen on generated slips (tests/slip_images.py) rotated, warped, blurred and noised:
the photo as it is, then halved (which averages noise away), then turned by 15, 30 and 45
degrees either way (a barcode's bars must cross the scan lines), then enlarged by half
(small, blurred codes). The first pass that reads a code wins.

Bounded work, so that a photo can neither stall the bot nor exhaust it: more than
`MAX_PHOTO_BYTES` or `MAX_PIXELS` is refused before decoding, a JPEG is decoded straight at
the working size (`Image.draft`), at most `WORK_SIDE` pixels on its longer side, passes
stop after `READ_SECONDS`, and at most `CONCURRENT_READS` photos are read at once.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.messages import MAX_PHOTO_BYTES, PhotoProblem

log = logging.getLogger(__name__)

# Phone cameras take up to 48-50 megapixels; a larger picture is not a photo of a slip.
MAX_PIXELS = 64_000_000
WORK_SIDE = 2000
READ_SECONDS = 4.0
# The machine has two cores; the event loop keeps one.
CONCURRENT_READS = 1
# Formats phones and chat apps send (Telegram and Zalo re-encode photos as JPEG; browsers
# upload what the page made, JPEG). HEIC is not among Pillow's: such a file is "unreadable".
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
BARCODE_FORMATS = zxingcpp.BarcodeFormats(
    [
        zxingcpp.BarcodeFormat.QRCode,
        zxingcpp.BarcodeFormat.MicroQRCode,
        zxingcpp.BarcodeFormat.DataMatrix,
        zxingcpp.BarcodeFormat.Aztec,
        zxingcpp.BarcodeFormat.PDF417,
        zxingcpp.BarcodeFormat.Code128,
        zxingcpp.BarcodeFormat.Code39,
    ]
)

_Pass = Callable[[Image.Image], Image.Image]


def _turned(degrees: int) -> _Pass:
    def turn(image: Image.Image) -> Image.Image:
        return image.rotate(
            degrees, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=128
        )

    return turn


def _scaled(factor: float) -> _Pass:
    def scale(image: Image.Image) -> Image.Image:
        size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
        method = Image.Resampling.BOX if factor < 1 else Image.Resampling.BICUBIC
        return image.resize(size, method)

    return scale


PASSES: tuple[tuple[str, _Pass], ...] = (
    ("as taken", lambda image: image),
    ("halved", _scaled(0.5)),
    *((f"turned {d}°", _turned(d)) for d in (-15, 15, -30, 30, -45, 45)),
    ("enlarged", _scaled(1.5)),
)


@dataclass(frozen=True, slots=True)
class SlipReading:
    """What the codes in a photo say (`texts`), or why nothing could be read."""

    texts: tuple[str, ...] = ()
    problem: PhotoProblem | None = None


class SlipPhotoReader:
    """Reads slip photos in a worker thread, a bounded number at a time."""

    def __init__(self, *, read_seconds: float = READ_SECONDS) -> None:
        self._read_seconds = read_seconds
        self._slots = asyncio.Semaphore(CONCURRENT_READS)

    async def read(self, data: bytes) -> SlipReading:
        if len(data) > MAX_PHOTO_BYTES:
            return SlipReading(problem=PhotoProblem.TOO_LARGE)
        async with self._slots:
            return await asyncio.to_thread(read_codes, data, self._read_seconds)


def read_codes(data: bytes, seconds: float = READ_SECONDS) -> SlipReading:
    """What the codes in the photo `data` say; blocking (CPU), see `SlipPhotoReader`."""
    started = time.monotonic()
    image = _open(data)
    if isinstance(image, PhotoProblem):
        return SlipReading(problem=image)
    for name, prepare in PASSES:
        if time.monotonic() - started > seconds:
            log.info("slip photo: no code after %.1f s; stopped before pass %r", seconds, name)
            return SlipReading(problem=PhotoProblem.TOO_SLOW)
        found = zxingcpp.read_barcodes(prepare(image), formats=BARCODE_FORMATS)
        texts = tuple(dict.fromkeys(code.text for code in found if code.text))
        if texts:
            log.debug("slip photo: %d code(s) read in pass %r", len(texts), name)
            return SlipReading(texts=texts)
    return SlipReading()


def _open(data: bytes) -> Image.Image | PhotoProblem:
    """The photo in grey at the working size, or why it cannot be."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own pixel limit; here that is a refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        width, height = opened.size
        if width * height > MAX_PIXELS:
            raise Image.DecompressionBombError(f"{width}x{height} pixels")
        # A JPEG decodes straight at (about) the working size: far less time and memory.
        opened.draft("L", (WORK_SIDE, WORK_SIDE))
        # Phones store the camera's orientation apart from the pixels.
        image = ImageOps.exif_transpose(opened).convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        log.info("slip photo refused: %s", exc)
        return PhotoProblem.TOO_LARGE
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        log.info("slip photo unreadable: %s", exc)
        return PhotoProblem.UNREADABLE
    image.thumbnail((WORK_SIDE, WORK_SIDE))
    return image
