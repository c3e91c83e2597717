"""Bitstring Status List v1.0 (W3C Rec 2025-05-15): the codec and the status check.

* ``encodedList`` is multibase base64url without padding (prefix ``u``) of the GZIP
  (RFC 1952) of the bitstring; index 0 is the left-most (most significant) bit of byte 0
  (§2.2, and ``shared/vectors/bitstring-status-list/expected.json``).
* A list has at least 131,072 entries (16 KiB) for herd privacy (§6.1).
* ``ttl`` is in milliseconds.
* Decompression is bounded, so a small gzip bomb cannot exhaust memory.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from did.errors import LimitExceededError, MalformedValueError, ValueRangeError
from did.multibase import base64url_decode, base64url_encode
from vc.model import as_list

MIN_ENTRIES = 131_072
MAX_LIST_BYTES = 16 * 1024 * 1024  # 134 million entries: far above any municipality
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_TYPE = "BitstringStatusList"
PURPOSES = ("revocation", "suspension", "refresh", "message")


@dataclass
class BitstringStatusList:
    """A mutable bitstring of ``length`` bits (all zero by default)."""

    length: int = MIN_ENTRIES
    bits: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        if self.length <= 0 or self.length % 8:
            raise ValueRangeError(
                f"a status list length must be a positive multiple of 8, got {self.length}",
                f"ステータスリストの長さは8の倍数の正の数です: {self.length}",
            )
        if not self.bits:
            self.bits = bytearray(self.length // 8)
        elif len(self.bits) * 8 != self.length:
            raise ValueRangeError("bitstring length does not match", "ビット列の長さが一致しません")

    def _position(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.length:
            raise ValueRangeError(
                f"status index {index} is outside the list (0–{self.length - 1})",
                f"ステータス番号 {index} がリストの範囲外です (0–{self.length - 1})",
                path="statusListIndex",
            )
        return index // 8, 7 - index % 8

    def get(self, index: int) -> bool:
        byte, bit = self._position(index)
        return bool(self.bits[byte] >> bit & 1)

    def set(self, index: int, value: bool) -> None:
        byte, bit = self._position(index)
        if value:
            self.bits[byte] |= 1 << bit
        else:
            self.bits[byte] &= ~(1 << bit) & 0xFF

    def get_status(self, index: int, size: int = 1) -> int:
        """The ``size``-bit status value of entry ``index`` (entry starts at bit index×size)."""
        value = 0
        for bit_index in range(index * size, index * size + size):
            value = value << 1 | self.get(bit_index)
        return value

    def encode(self) -> str:
        """``encodedList``: ``u`` + base64url(gzip(bits)), deterministic (mtime 0)."""
        return "u" + base64url_encode(gzip.compress(bytes(self.bits), compresslevel=9, mtime=0))

    @classmethod
    def decode(cls, encoded: object, *, max_bytes: int = MAX_LIST_BYTES) -> BitstringStatusList:
        """Parse an ``encodedList``; raise MalformedValueError / LimitExceededError."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise MalformedValueError(
                "encodedList must be multibase base64url (starting with 'u')",
                "encodedList は 'u' で始まる base64url のマルチベースでなければなりません",
                path="credentialSubject.encodedList",
            )
        if len(encoded) > max_bytes * 2:
            raise LimitExceededError(
                "encodedList is too long",
                "encodedList が長すぎます",
                path="credentialSubject.encodedList",
            )
        compressed = base64url_decode(encoded[1:], max_length=max_bytes * 2)
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            bits = inflater.decompress(compressed, max_bytes + 1)
        except zlib.error:
            raise MalformedValueError(
                "encodedList is not GZIP data",
                "encodedList が GZIP 形式ではありません",
                path="credentialSubject.encodedList",
            ) from None
        if len(bits) > max_bytes or inflater.unconsumed_tail:
            raise LimitExceededError(
                f"the status list expands beyond {max_bytes} bytes",
                f"ステータスリストの展開後の大きさが上限 {max_bytes} バイトを超えます",
                path="credentialSubject.encodedList",
            )
        if not inflater.eof:
            raise MalformedValueError(
                "encodedList is truncated",
                "encodedList が途中で切れています",
                path="credentialSubject.encodedList",
            )
        if not bits:
            raise MalformedValueError(
                "encodedList is empty",
                "encodedList が空です",
                path="credentialSubject.encodedList",
            )
        return cls(len(bits) * 8, bytearray(bits))


@dataclass(frozen=True)
class StatusEntry:
    """A parsed ``BitstringStatusListEntry`` of a credential."""

    purpose: str
    index: int
    list_url: str
    size: int = 1


def parse_status_entries(credential: Mapping[str, Any]) -> list[StatusEntry]:
    """The Bitstring status entries of a credential; other status types raise."""
    entries = []
    for i, item in enumerate(as_list(credential.get("credentialStatus", []))):
        path = f"credentialStatus[{i}]"
        if not isinstance(item, dict) or item.get("type") != ENTRY_TYPE:
            raise MalformedValueError(
                f"{path}: only {ENTRY_TYPE} is supported",
                f"{path}: {ENTRY_TYPE} のみ対応しています",
                path=path,
            )
        purpose = item.get("statusPurpose")
        index = item.get("statusListIndex")
        url = item.get("statusListCredential")
        size = item.get("statusSize", 1)
        if not isinstance(purpose, str) or not purpose:
            raise MalformedValueError(
                f"{path}.statusPurpose is required",
                f"{path}.statusPurpose は必須です",
                path=f"{path}.statusPurpose",
            )
        # statusListIndex is a string holding a base-10 integer (§2.1), not a JSON number.
        if (
            not isinstance(index, str)
            or not index.isascii()
            or not index.isdigit()
            or (len(index) > 1 and index.startswith("0"))
            or len(index) > 12
        ):
            raise MalformedValueError(
                f'{path}.statusListIndex must be a string of digits like "94567"',
                f'{path}.statusListIndex は "94567" のような数字の文字列でなければなりません',
                path=f"{path}.statusListIndex",
            )
        if not isinstance(url, str) or ":" not in url:
            raise MalformedValueError(
                f"{path}.statusListCredential must be a URL",
                f"{path}.statusListCredential は URL でなければなりません",
                path=f"{path}.statusListCredential",
            )
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 8:
            raise MalformedValueError(
                f"{path}.statusSize must be an integer 1–8",
                f"{path}.statusSize は1〜8の整数でなければなりません",
                path=f"{path}.statusSize",
            )
        entries.append(StatusEntry(purpose, int(index), url, size))
    return entries


@dataclass(frozen=True)
class StatusListDocument:
    """A status list credential as a verifier holds it, and when it was retrieved."""

    credential: Mapping[str, Any]
    retrieved_at: datetime | None = None


def build_status_list_credential(
    *,
    list_url: str,
    issuer: str | Mapping[str, Any],
    purpose: str,
    status_list: BitstringStatusList,
    valid_from: str,
    valid_until: str | None = None,
    ttl_ms: int | None = None,
    contexts: tuple[str, ...] = ("https://www.w3.org/ns/credentials/v2",),
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` for one list (§2.2)."""
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": LIST_TYPE,
        "statusPurpose": purpose,
        "encodedList": status_list.encode(),
    }
    if ttl_ms is not None:
        subject["ttl"] = ttl_ms
    credential: dict[str, Any] = {
        "@context": list(contexts),
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": valid_from,
    }
    if valid_until is not None:
        credential["validUntil"] = valid_until
    credential["credentialSubject"] = subject
    return credential
