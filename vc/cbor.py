"""The small, strict CBOR subset the compact QR envelope uses (RFC 8949).

Only what the envelope needs: unsigned and negative integers, byte strings, text strings,
arrays, null, false and true.  Encoding is deterministic (RFC 8949 §4.2.1: shortest integer
heads, definite lengths), and decoding accepts exactly that form and nothing else: no tags,
maps, floats or indefinite lengths, no non-minimal heads, no trailing bytes, bounded depth and
length.  So every value has one encoding, and anything else is ``malformed``.

(A general CBOR library would decode more than we accept — tags into dates, trailing data
ignored — and then we would have to take it back; this subset is shorter than those checks.)
"""

from __future__ import annotations

from typing import Any

from did.errors import MalformedValueError

MAX_DEPTH = 4
MAX_ITEMS = 64
Value = int | bytes | str | list[Any] | None | bool


def _head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * size):
            return bytes([major << 5 | info]) + argument.to_bytes(size, "big")
    raise ValueError("integer too large for CBOR")


def encode(value: Value) -> bytes:
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(encode(item) for item in value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _bad(en: str, ja: str) -> MalformedValueError:
    return MalformedValueError(f"CBOR: {en}", f"CBOR: {ja}")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _bad("the data ends too early (truncated)", "データが途中で終わっています")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def head(self) -> tuple[int, int, int]:
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            return major, info, initial
        sizes = {24: 1, 25: 2, 26: 4, 27: 8}
        if info not in sizes:
            raise _bad(
                "indefinite lengths and reserved heads are not accepted",
                "不定長や予約された形式は使えません",
            )
        argument = int.from_bytes(self.take(sizes[info]), "big")
        if _head(major, argument) != bytes([initial]) + argument.to_bytes(sizes[info], "big"):
            raise _bad("an integer is not in its shortest form", "整数が最短の形ではありません")
        return major, argument, initial

    def value(self, depth: int) -> Value:
        major, argument, initial = self.head()
        if major == 0:
            return argument
        if major == 1:
            return -1 - argument
        if major == 2:
            return self.take(argument)
        if major == 3:
            try:
                return self.take(argument).decode("utf-8")
            except UnicodeDecodeError:
                raise _bad("a text string is not UTF-8", "文字列が UTF-8 ではありません") from None
        if major == 4:
            if depth >= MAX_DEPTH or argument > MAX_ITEMS:
                raise _bad("too deep or too long", "入れ子または要素数が多すぎます")
            return [self.value(depth + 1) for _ in range(argument)]
        if initial == 0xF6:
            return None
        if initial == 0xF5:
            return True
        if initial == 0xF4:
            return False
        raise _bad("tags, maps and floats are not accepted", "タグ・マップ・浮動小数点は使えません")


def decode(data: bytes) -> Value:
    """Decode one value; every byte must belong to it."""
    reader = _Reader(data)
    value = reader.value(0)
    if reader.pos != len(data):
        raise _bad("there are bytes after the value (padding?)", "値の後に余分なデータがあります")
    return value
