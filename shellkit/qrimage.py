"""Reading QR codes out of image files (PNG, JPEG, …) for the shells: zxing-cpp over Pillow.

Bounded: files over 20 MB or 40 megapixels are refused before decoding.
"""

from __future__ import annotations

import io
from pathlib import Path

from did.errors import LimitExceededError, ParsingError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF")


def looks_like_image(data: bytes) -> bool:
    return data.startswith(_MAGIC)


def read_qr_texts(path: Path) -> list[str]:
    """Every QR code's text in the image file, in reading order."""
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise LimitExceededError(f"{path} is larger than 20 MB", f"{path} が 20 MB を超えています")
    return qr_texts_of(path.read_bytes(), name=str(path))


def qr_texts_of(data: bytes, *, name: str = "the image") -> list[str]:
    """Every QR code's text in an image given as bytes (an upload, a camera frame)."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_IMAGE_BYTES:
        raise LimitExceededError(f"{name} is larger than 20 MB", f"{name} が 20 MB を超えています")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            found = zxingcpp.read_barcodes(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ParsingError(
            f"{name} is not a readable image ({type(exc).__name__})",
            f"{name} は読み取れる画像ではありません",
        ) from None
    return [
        result.text
        for result in found
        if result.valid and result.format == zxingcpp.BarcodeFormat.QRCode
    ]


def _one(texts: list[str], name: str) -> str:
    if len(texts) != 1:
        raise ParsingError(
            f"{name}: expected one QR code, found {len(texts)}",
            f"{name}: QR コードが1つではありません ({len(texts)} 個)",
        )
    return texts[0]


def read_one_qr(path: Path) -> str:
    return _one(read_qr_texts(path), str(path))


def read_one_qr_bytes(data: bytes, *, name: str = "the image") -> str:
    return _one(qr_texts_of(data, name=name), name)
