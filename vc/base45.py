"""Base45 (RFC 9285): bytes as QR alphanumeric characters.

Every character of the alphabet is in the QR code's alphanumeric set, so a Base45 payload
is encoded in alphanumeric mode (5.5 bits a character) instead of byte mode (8 bits).
Decoding is strict: any character outside the alphabet, a length of 1 mod 3, or a group
whose value does not fit its byte count is an error (RFC 9285 §4.2).
"""

from __future__ import annotations

from did.errors import MalformedValueError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(ALPHABET[c] + ALPHABET[d] + ALPHABET[e])
    if len(data) % 2:
        c, d = divmod(data[-1], 45)
        out.append(ALPHABET[d] + ALPHABET[c])
    return "".join(out)


def _bad(en: str, ja: str) -> MalformedValueError:
    return MalformedValueError(f"base45: {en}", f"base45: {ja}")


def decode(text: str) -> bytes:
    if len(text) % 3 == 1:
        raise _bad("the length is not valid", "長さが正しくありません")
    try:
        values = [_VALUE[c] for c in text]
    except KeyError as exc:
        raise _bad(
            f"character {exc.args[0]!r} is not in the alphabet",
            f"文字 {exc.args[0]!r} は使えません",
        ) from None
    out = bytearray()
    for i in range(0, len(values) - 2, 3):
        n = values[i] + values[i + 1] * 45 + values[i + 2] * 45 * 45
        if n > 0xFFFF:
            raise _bad("a group is out of range", "値が範囲外です")
        out += n.to_bytes(2, "big")
    if len(values) % 3 == 2:
        n = values[-2] + values[-1] * 45
        if n > 0xFF:
            raise _bad("the last group is out of range", "最後の値が範囲外です")
        out.append(n)
    return bytes(out)
