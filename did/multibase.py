"""Multibase (base58btc ``z``, base64url-no-pad ``u``) and unsigned varints.

CID 1.0 §2.4 (Multibase, Multikey) and its "Base Encode"/"Base Decode" algorithms;
RFC 4648 §5 (base64url); multiformats unsigned-varint (at most 9 bytes, minimal encoding).

Every decoder is strict — one text for one byte string — and bounded by
:data:`MAX_MULTIBASE_LENGTH` unless the caller passes a larger ``max_length``.
"""

from __future__ import annotations

import base64
import binascii
import re

from did.errors import LimitExceededError, MalformedValueError, UnsupportedError

__all__ = [
    "BASE58BTC_ALPHABET",
    "MAX_MULTIBASE_LENGTH",
    "MAX_VARINT_BYTES",
    "base58btc_decode",
    "base58btc_encode",
    "base64url_decode",
    "base64url_encode",
    "multibase_decode",
    "multibase_encode",
    "varint_decode",
    "varint_encode",
]

BASE58BTC_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
"""The Bitcoin base58 alphabet (CID 1.0 §2.4, multibase ``z``)."""

MAX_MULTIBASE_LENGTH = 4096
"""Default bound, in characters, on text given to the decoders (keys, signatures, DIDs)."""

MAX_VARINT_BYTES = 9
"""multiformats unsigned-varint: at most 9 bytes (63 bits)."""

_B58_INDEX = {c: i for i, c in enumerate(BASE58BTC_ALPHABET)}
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")


def _check_text(text: object, max_length: int, what: str) -> str:
    if not isinstance(text, str):
        raise MalformedValueError(
            f"{what}: expected a string, got {type(text).__name__}",
            f"{what}: 文字列が必要です ({type(text).__name__} が与えられました)",
        )
    if len(text) > max_length:
        raise LimitExceededError(
            f"{what}: {len(text)} characters exceeds the limit of {max_length}",
            f"{what}: {len(text)} 文字は上限 {max_length} 文字を超えています",
        )
    return text


# --- base58btc --------------------------------------------------------------------------------


def base58btc_encode(data: bytes) -> str:
    """Encode bytes as base58btc (no multibase prefix); leading zero bytes become ``1``."""
    data = bytes(data)
    zeros = len(data) - len(data.lstrip(b"\x00"))
    num = int.from_bytes(data, "big")
    digits: list[str] = []
    while num:
        num, rem = divmod(num, 58)
        digits.append(BASE58BTC_ALPHABET[rem])
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str, *, max_length: int = MAX_MULTIBASE_LENGTH) -> bytes:
    """Decode base58btc text (no multibase prefix); each leading ``1`` is a zero byte.

    Raises :class:`MalformedValueError` on a character outside the alphabet and
    :class:`LimitExceededError` past ``max_length`` characters.
    """
    text = _check_text(text, max_length, "base58btc")
    num = 0
    for pos, char in enumerate(text):
        value = _B58_INDEX.get(char)
        if value is None:
            raise MalformedValueError(
                f"base58btc: invalid character {char!r} at position {pos}",
                f"base58btc: 位置 {pos} に使用できない文字 {char!r} があります",
            )
        num = num * 58 + value
    zeros = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\x00" * zeros + body


# --- base64url (RFC 4648 §5, no padding) ------------------------------------------------------


def base64url_encode(data: bytes) -> str:
    """Encode bytes as base64url without padding (RFC 4648 §5; RFC 7515 §2)."""
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def base64url_decode(text: str, *, max_length: int = MAX_MULTIBASE_LENGTH) -> bytes:
    """Decode base64url without padding, strictly.

    Rejects padding, ``+``, ``/``, whitespace, any other character, an impossible length and
    non-zero trailing bits (the text must be the canonical encoding of its bytes).
    """
    text = _check_text(text, max_length, "base64url")
    if _B64URL_RE.fullmatch(text) is None:
        raise MalformedValueError(
            "base64url: only A-Z a-z 0-9 - _ are allowed (no padding, '+', '/' or whitespace)",
            "base64url: 使用できる文字は A-Z a-z 0-9 - _ のみです"
            " (パディング・'+'・'/'・空白は不可)",
        )
    if len(text) % 4 == 1:
        raise MalformedValueError(
            "base64url: impossible length",
            "base64url: 長さが不正です",
        )
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - excluded by the checks above
        raise MalformedValueError("base64url: cannot decode", "base64url: 復号できません") from exc
    if base64url_encode(data) != text:
        raise MalformedValueError(
            "base64url: non-canonical encoding (non-zero trailing bits)",
            "base64url: 正規形ではない符号化です (末尾のビットが 0 ではありません)",
        )
    return data


# --- multibase --------------------------------------------------------------------------------


def multibase_encode(data: bytes, base: str = "z") -> str:
    """Multibase-encode: ``z`` + base58btc (default) or ``u`` + base64url-no-pad."""
    if base == "z":
        return "z" + base58btc_encode(data)
    if base == "u":
        return "u" + base64url_encode(data)
    raise UnsupportedError(
        f"multibase: unsupported base {base!r} (only 'z' and 'u')",
        f"multibase: 対応していない基数 {base!r} です ('z' と 'u' のみ)",
    )


def multibase_decode(text: str, *, max_length: int = MAX_MULTIBASE_LENGTH) -> bytes:
    """Decode a multibase string with header ``z`` (base58btc) or ``u`` (base64url-no-pad).

    Any other header is a :class:`MalformedValueError`.
    """
    text = _check_text(text, max_length, "multibase")
    if text.startswith("z"):
        return base58btc_decode(text[1:], max_length=max_length)
    if text.startswith("u"):
        return base64url_decode(text[1:], max_length=max_length)
    raise MalformedValueError(
        "multibase: header must be 'z' (base58btc) or 'u' (base64url)",
        "multibase: 先頭文字は 'z' (base58btc) または 'u' (base64url) でなければなりません",
    )


# --- unsigned varint (multiformats) -----------------------------------------------------------


def varint_encode(n: int) -> bytes:
    """Encode a non-negative integer below 2**63 as a minimal unsigned varint (LEB128)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n >= 1 << 63:
        raise MalformedValueError(
            "varint: value must be an integer in [0, 2**63)",
            "varint: 値は 0 以上 2**63 未満の整数でなければなりません",
        )
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint_decode(data: bytes) -> tuple[int, int]:
    """Decode an unsigned varint at the start of ``data``; return ``(value, bytes consumed)``.

    Rejects truncated input, non-minimal encodings and encodings longer than 9 bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedValueError("varint: expected bytes", "varint: バイト列が必要です")
    data = bytes(data)
    value = 0
    for i, byte in enumerate(data[:MAX_VARINT_BYTES]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise MalformedValueError(
                    "varint: non-minimal encoding",
                    "varint: 最小長ではない符号化です",
                )
            return value, i + 1
    if len(data) >= MAX_VARINT_BYTES:
        raise MalformedValueError(
            f"varint: longer than {MAX_VARINT_BYTES} bytes",
            f"varint: {MAX_VARINT_BYTES} バイトを超えています",
        )
    raise MalformedValueError("varint: truncated", "varint: 途中で切れています")
