"""Bitstring Status List v1.0 codec (§2.2, §7.1): bit order, gzip, bounds."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import pytest

from did.errors import LimitExceededError, MalformedValueError, ValueRangeError
from did.multibase import base64url_encode
from vc.statuslist import MIN_ENTRIES, BitstringStatusList, parse_status_entries

Load = Callable[[str], Any]


@pytest.mark.parametrize("name", ["spec-example-slc.json", "js-generated-slc-unsigned.json"])
def test_vectors_decode_to_the_expected_bits(load_vector: Load, name: str) -> None:
    expected = load_vector("bitstring-status-list/expected.json")[name]
    credential = load_vector(f"bitstring-status-list/{name}")
    status_list = BitstringStatusList.decode(credential["credentialSubject"]["encodedList"])
    assert status_list.length == expected["length"]
    assert len(status_list.bits) == expected["uncompressedBytes"]
    assert [i for i in range(status_list.length) if status_list.get(i)] == expected["setIndices"]
    for byte, value in expected["nonZeroBytes"].items():
        assert status_list.bits[int(byte)] == int(value, 16)


def test_our_encoding_sets_the_same_bits_as_digital_bazaar(load_vector: Load) -> None:
    ours = BitstringStatusList()
    for index in (5, 42, 131071):
        ours.set(index, True)
    theirs = load_vector("bitstring-status-list/js-generated-slc-unsigned.json")
    decoded = BitstringStatusList.decode(theirs["credentialSubject"]["encodedList"])
    assert decoded.bits == ours.bits
    assert BitstringStatusList.decode(ours.encode()).bits == ours.bits


def test_encoding_is_deterministic_and_compact() -> None:
    first, second = BitstringStatusList(), BitstringStatusList()
    assert first.encode() == second.encode()
    assert first.encode().startswith("uH4sI")  # multibase u + base64url of the gzip magic
    assert len(first.encode()) < 200


def test_set_and_clear() -> None:
    status_list = BitstringStatusList()
    status_list.set(7, True)
    status_list.set(8, True)
    assert status_list.bits[:2] == bytearray([0x01, 0x80])
    status_list.set(7, False)
    assert not status_list.get(7)
    assert status_list.get(8)


def test_multi_bit_status() -> None:
    status_list = BitstringStatusList(16)
    status_list.set(2, True)
    status_list.set(3, True)  # entry 1 of size 2 is bits 2..3 → 0b11
    assert status_list.get_status(1, size=2) == 3
    assert status_list.get_status(0, size=2) == 0


@pytest.mark.parametrize("index", [-1, MIN_ENTRIES])
def test_index_out_of_range(index: int) -> None:
    with pytest.raises(ValueRangeError):
        BitstringStatusList().get(index)


def test_gzip_bomb_is_bounded() -> None:
    bomb = "u" + base64url_encode(gzip.compress(bytes(64 * 1024 * 1024)))
    assert len(bomb) < 200_000
    with pytest.raises(LimitExceededError):
        BitstringStatusList.decode(bomb, max_bytes=1024 * 1024)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "z123",
        "u",
        "u!!!",
        "u" + base64url_encode(b"not gzip"),
        "u" + base64url_encode(gzip.compress(b"abc", mtime=0)[:-6]),
    ],
)
def test_malformed_lists(encoded: str) -> None:
    with pytest.raises(MalformedValueError):
        BitstringStatusList.decode(encoded)


def _entry(**changes: Any) -> dict[str, Any]:
    entry = {
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://example.jp/status/1",
    }
    entry.update(changes)
    return {"credentialStatus": entry}


def test_parse_entry() -> None:
    (entry,) = parse_status_entries(_entry())
    assert (entry.purpose, entry.index, entry.list_url, entry.size) == (
        "revocation",
        94567,
        "https://example.jp/status/1",
        1,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"statusListIndex": 94567},  # a number, not a string (§2.1)
        {"statusListIndex": "-1"},
        {"statusListIndex": "0x10"},
        {"statusListIndex": "007"},
        {"statusListIndex": "1" * 13},
        {"statusListCredential": "not a url"},
        {"statusPurpose": ""},
        {"statusSize": 0},
        {"statusSize": True},
        {"type": "StatusList2021Entry"},
    ],
)
def test_malformed_entries(changes: dict[str, Any]) -> None:
    with pytest.raises(MalformedValueError):
        parse_status_entries(_entry(**changes))
