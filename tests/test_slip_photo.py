"""Reading the receipt code from photos of the slip (bot.dossiers.slip_photo): generated
slips with a QR code or a barcode, photographed crooked, at an angle and in poor light; a
photo with no code; photos too large, broken, or too slow to read."""

from __future__ import annotations

import io
import logging

import pytest
import zxingcpp
from PIL import Image
from slip_images import Shot, blank_page, jpeg, photo, slip

from bot.dossiers.receipt_codes import ReceiptCodeRecognizer
from bot.dossiers.slip_photo import SlipPhotoReader, SlipReading, read_codes
from bot.messages import MAX_PHOTO_BYTES, PhotoProblem

CODE = "000.00.12.H58-261201-0001"
QR = zxingcpp.BarcodeFormat.QRCode
BARCODE = zxingcpp.BarcodeFormat.Code128

SHOTS = {
    "straight": Shot(),
    "turned 17°": Shot(angle=17),
    "upside down": Shot(angle=180),
    "sideways": Shot(angle=90),
    "at an angle": Shot(angle=5, tilt=0.18),
    "dim, shaken, noisy": Shot(light=0.35, blur=2.0, noise=12),
    "all of it": Shot(angle=-12, tilt=0.15, light=0.4, blur=1.5, noise=10),
    "far away in a dim room": Shot(scale=0.5, light=0.4, blur=1.2, noise=8),
}
# A barcode's bars are thin: heavy blur wipes them out, as it does for a phone's camera.
BARCODE_SHOTS = {
    "straight": Shot(),
    "turned 17°": Shot(angle=17),
    "turned -35°": Shot(angle=-35),
    "sideways": Shot(angle=90),
    "at an angle": Shot(angle=5, tilt=0.15),
    "dim and noisy": Shot(light=0.4, blur=1.2, noise=8),
}


@pytest.mark.parametrize("shot", SHOTS.values(), ids=SHOTS.keys())
def test_the_qr_code_of_a_slip_is_read_from_a_phone_photo(shot: Shot) -> None:
    assert read_codes(photo(slip(CODE, QR), shot)) == SlipReading(texts=(CODE,))


@pytest.mark.parametrize("shot", BARCODE_SHOTS.values(), ids=BARCODE_SHOTS.keys())
def test_the_barcode_of_a_slip_is_read_from_a_phone_photo(shot: Shot) -> None:
    assert read_codes(photo(slip(CODE, BARCODE), shot)) == SlipReading(texts=(CODE,))


def test_a_qr_code_holding_a_link_with_the_code_gives_the_code() -> None:
    link = f"https://dichvucong.example.gov.vn/tra-cuu?ma={CODE}"
    [text] = read_codes(photo(slip(link, QR), Shot(angle=8))).texts
    found = ReceiptCodeRecognizer().find(text)
    assert found is not None and str(found) == CODE


def test_a_photo_without_a_code_reads_nothing() -> None:
    assert read_codes(photo(blank_page(), Shot(angle=4, light=0.6))) == SlipReading()


def test_too_many_pixels_are_refused_before_decoding(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "bot.dossiers.slip_photo")
    buffer = io.BytesIO()
    Image.new("L", (10_000, 7_000), 255).save(buffer, "PNG")  # 70 MP, a few KB
    assert read_codes(buffer.getvalue()) == SlipReading(problem=PhotoProblem.TOO_LARGE)
    assert "10000x7000 pixels" in caplog.text


async def test_too_many_bytes_are_refused_unopened() -> None:
    reading = await SlipPhotoReader().read(b"\xff" * (MAX_PHOTO_BYTES + 1))
    assert reading == SlipReading(problem=PhotoProblem.TOO_LARGE)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", jpeg(slip(CODE))[:20_000], b"GIF89a" + b"\x00" * 50],
    ids=["empty", "text", "truncated JPEG", "broken GIF"],
)
def test_a_broken_or_foreign_file_is_unreadable(data: bytes) -> None:
    assert read_codes(data) == SlipReading(problem=PhotoProblem.UNREADABLE)


def test_reading_stops_when_its_time_is_up() -> None:
    no_code = photo(blank_page())
    assert read_codes(no_code, seconds=0.0) == SlipReading(problem=PhotoProblem.TOO_SLOW)


async def test_the_reader_reads_in_a_worker_thread() -> None:
    reader = SlipPhotoReader()
    readings = [await reader.read(photo(slip(CODE), Shot(angle=a))) for a in (0, 30)]
    assert readings == [SlipReading(texts=(CODE,))] * 2
