"""Reading QR codes out of image files (PNG, JPEG, …) for the shells: zxing-cpp over Pillow.

Bounded: files over 20 MB or 40 megapixels are refused before decoding.
"""

from __future__ import annotations

from pathlib import Path

from did.errors import LimitExceededError, ParsingError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF")


def looks_like_image(data: bytes) -> bool:
    return data.startswith(_MAGIC)


def read_qr_texts(path: Path) -> list[str]:
    """Every QR code's text in the image, in reading order."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise LimitExceededError(f"{path} is larger than 20 MB", f"{path} が 20 MB を超えています")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as image:
            image.load()
            found = zxingcpp.read_barcodes(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ParsingError(
            f"{path} is not a readable image ({type(exc).__name__})",
            f"{path} は読み取れる画像ではありません",
        ) from None
    return [
        result.text
        for result in found
        if result.valid and result.format == zxingcpp.BarcodeFormat.QRCode
    ]


def read_one_qr(path: Path) -> str:
    texts = read_qr_texts(path)
    if len(texts) != 1:
        raise ParsingError(
            f"{path}: expected one QR code, found {len(texts)}",
            f"{path}: QR コードが1つではありません ({len(texts)} 個)",
        )
    return texts[0]
