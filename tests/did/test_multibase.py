"""Multibase, base58btc, base64url and varint (CID 1.0 §2.4, RFC 4648 §5, unsigned-varint)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from did.errors import FurusatoError, LimitExceededError, MalformedValueError, UnsupportedError
from did.multibase import (
    BASE58BTC_ALPHABET,
    MAX_MULTIBASE_LENGTH,
    base58btc_decode,
    base58btc_encode,
    base64url_decode,
    base64url_encode,
    multibase_decode,
    multibase_encode,
    varint_decode,
    varint_encode,
)

# --- known answers ---------------------------------------------------------------------------

# draft-msporny-base58 §5 examples.
BASE58_KNOWN = [
    (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
    (bytes.fromhex("0000287fb4cd"), "11233QC4"),
    (b"", ""),
    (b"\x00", "1"),
    (b"\x00\x00\x00", "111"),
]


@pytest.mark.parametrize(("data", "text"), BASE58_KNOWN)
def test_base58btc_known_answers(data: bytes, text: str) -> None:
    assert base58btc_encode(data) == text
    assert base58btc_decode(text) == data


@pytest.mark.parametrize("bad", ["0", "O", "I", "l", "z0", "abc+", " 2NEpo", "2NEpo\n", "é"])
def test_base58btc_rejects_characters_outside_the_alphabet(bad: str) -> None:
    with pytest.raises(MalformedValueError):
        base58btc_decode(bad)


# RFC 4648 §10 test vectors, base64url without padding.
BASE64URL_KNOWN = [
    (b"", ""),
    (b"f", "Zg"),
    (b"fo", "Zm8"),
    (b"foo", "Zm9v"),
    (b"foob", "Zm9vYg"),
    (b"fooba", "Zm9vYmE"),
    (b"foobar", "Zm9vYmFy"),
    (b"\xfb\xff", "-_8"),
]


@pytest.mark.parametrize(("data", "text"), BASE64URL_KNOWN)
def test_base64url_known_answers(data: bytes, text: str) -> None:
    assert base64url_encode(data) == text
    assert base64url_decode(text) == data


@pytest.mark.parametrize(
    "bad",
    [
        "Zg==",  # padding
        "Zg=",
        "+_8",  # standard alphabet
        "-/8",
        "Zm9v Yg",  # whitespace
        "Zm9vYg\n",
        "Z",  # impossible length
        "Zh",  # non-zero trailing bits ("Zg" is canonical)
        "Zm9=",
        "Zm9vYmF=",
        "Zm9vYmG",  # canonical is Zm9vYmE
        "ＺＧ",  # fullwidth letters
    ],
)
def test_base64url_is_strict(bad: str) -> None:
    with pytest.raises(MalformedValueError):
        base64url_decode(bad)


def test_multibase_headers() -> None:
    assert multibase_encode(b"hi") == "z" + base58btc_encode(b"hi")
    assert multibase_encode(b"hi", "u") == "uaGk"
    assert multibase_decode("uaGk") == b"hi"
    assert multibase_decode("z" + base58btc_encode(b"hi")) == b"hi"
    with pytest.raises(UnsupportedError):
        multibase_encode(b"hi", "m")


@pytest.mark.parametrize("bad", ["", "maGk", "Z2NEpo", "f6869", "b", "uaGk=", "z0"])
def test_multibase_rejects_other_bases_and_bad_bodies(bad: str) -> None:
    with pytest.raises(MalformedValueError):
        multibase_decode(bad)


def test_decoders_are_bounded() -> None:
    long_text = "z" + "2" * MAX_MULTIBASE_LENGTH
    with pytest.raises(LimitExceededError):
        multibase_decode(long_text)
    with pytest.raises(LimitExceededError):
        base58btc_decode("2" * (MAX_MULTIBASE_LENGTH + 1))
    with pytest.raises(LimitExceededError):
        base64url_decode("A" * (MAX_MULTIBASE_LENGTH + 4))
    # A caller with bigger data (e.g. a status list) raises the bound explicitly.
    big = bytes(range(256)) * 40
    assert multibase_decode(multibase_encode(big, "u"), max_length=20_000) == big


@pytest.mark.parametrize("value", [None, 42, b"zabc", ["z"]])
def test_decoders_reject_non_strings(value: object) -> None:
    for decode in (base58btc_decode, base64url_decode, multibase_decode):
        with pytest.raises(MalformedValueError):
            decode(value)  # type: ignore[arg-type]


# multicodec prefixes of CID 1.0 §2.4 (REFERENCES.md table) and unsigned-varint examples.
VARINT_KNOWN = [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (255, "ff01"),
    (300, "ac02"),
    (16384, "808001"),
    (0xED, "ed01"),
    (0x1200, "8024"),
    (0x1201, "8124"),
    (0x1300, "8026"),
    (0x1306, "8626"),
    (0x1307, "8726"),
    (2**63 - 1, "ffffffffffffffff7f"),
]


@pytest.mark.parametrize(("value", "hex_bytes"), VARINT_KNOWN)
def test_varint_known_answers(value: int, hex_bytes: str) -> None:
    encoded = bytes.fromhex(hex_bytes)
    assert varint_encode(value) == encoded
    assert varint_decode(encoded + b"\xaa\xbb") == (value, len(encoded))


@pytest.mark.parametrize(
    "bad",
    [
        "",  # empty
        "80",  # truncated
        "ff",
        "8000",  # non-minimal 0
        "ed81",  # truncated after continuation
        "ed8100",  # non-minimal
        "ffffffffffffffffff01",  # 10 bytes
        "808080808080808080",  # 9 continuation bytes
    ],
)
def test_varint_rejects(bad: str) -> None:
    with pytest.raises(MalformedValueError):
        varint_decode(bytes.fromhex(bad))


@pytest.mark.parametrize("value", [-1, 2**63, True, 1.0])
def test_varint_encode_rejects(value: object) -> None:
    with pytest.raises(MalformedValueError):
        varint_encode(value)  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_base58btc_round_trip(data: bytes) -> None:
    text = base58btc_encode(data)
    assert set(text) <= set(BASE58BTC_ALPHABET)
    assert base58btc_decode(text) == data


@given(st.text(alphabet=BASE58BTC_ALPHABET, max_size=120))
def test_base58btc_text_is_canonical(text: str) -> None:
    assert base58btc_encode(base58btc_decode(text)) == text


@given(st.binary(max_size=200))
def test_base64url_round_trip(data: bytes) -> None:
    assert base64url_decode(base64url_encode(data)) == data


@given(st.binary(max_size=200), st.sampled_from(["z", "u"]))
def test_multibase_round_trip(data: bytes, base: str) -> None:
    text = multibase_encode(data, base)
    assert text[0] == base
    assert multibase_decode(text) == data


@given(st.integers(min_value=0, max_value=2**63 - 1), st.binary(max_size=4))
def test_varint_round_trip(value: int, tail: bytes) -> None:
    encoded = varint_encode(value)
    assert 1 <= len(encoded) <= 9
    assert varint_decode(encoded + tail) == (value, len(encoded))


@given(st.text(max_size=300))
def test_text_decoders_raise_only_our_errors(text: str) -> None:
    for decode in (base58btc_decode, base64url_decode, multibase_decode):
        with contextlib.suppress(FurusatoError):
            decode(text)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ "))
def test_base64url_accepts_only_canonical(text: str) -> None:
    try:
        data = base64url_decode(text)
    except MalformedValueError:
        return
    assert base64url_encode(data) == text


@given(st.binary(max_size=20))
def test_varint_decode_raises_only_our_errors(data: bytes) -> None:
    try:
        value, used = varint_decode(data)
    except FurusatoError:
        return
    assert varint_encode(value) == data[:used]
