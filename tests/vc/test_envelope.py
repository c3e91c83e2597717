"""The compact QR envelope: lossless, small, strict (issue 4)."""

from __future__ import annotations

import contextlib
import zlib
from pathlib import Path
from typing import Any

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from did.errors import FurusatoError
from tests.vc.qr_fixtures import NOW, issuer_did, presentation, resolver, signed_credential
from vc import base45, cbor, envelope
from vc.envelope import EnvelopeError, IssuerLookupRequired, decode, encode_presentation
from vc.verify import VerifyOptions, verify_presentation

CORPUS = Path(__file__).with_name("envelope_corpus.txt")


def lookup(lg_code: str) -> str | None:
    return issuer_did(lg_code)


@pytest.mark.parametrize("tier", ["basic", "premium"])
@pytest.mark.parametrize("by_registry", [True, False])
def test_profile_round_trip_is_exact(tier: str, by_registry: bool) -> None:
    vp = presentation(signed_credential(tier=tier))
    text = encode_presentation(vp, issuer_by_registry=by_registry)
    assert text.startswith(envelope.PROFILE_PREFIX)
    assert decode(text, issuer_for=lookup) == vp


def test_decoded_presentation_verifies_with_its_challenge_and_domain() -> None:
    vp = presentation()
    decoded = decode(encode_presentation(vp), issuer_for=lookup)
    options = VerifyOptions(
        now=NOW, challenge="q83vEjRWeJq8", domain=envelope.QR_DOMAIN, require_holder_binding=True
    )
    result = verify_presentation(decoded, resolver=resolver(), options=options)
    errors = [c.code for c in result.errors]
    assert errors == ["status_unknown"], result.to_json()  # no status lists in this unit test


@pytest.mark.parametrize(
    ("error", "by_registry", "max_version"), [("m", True, 11), ("m", False, 12)]
)
def test_size_goal(error: str, by_registry: bool, max_version: int) -> None:
    text = encode_presentation(presentation(), issuer_by_registry=by_registry)
    code = segno.make_qr(text, error=error, boost_error=False)
    assert code.mode == "alphanumeric"
    assert isinstance(code.version, int)  # a full QR code, never a Micro QR
    assert code.version <= max_version, (len(text), code.version)


def test_the_registry_form_needs_the_registry() -> None:
    text = encode_presentation(presentation())
    with pytest.raises(IssuerLookupRequired) as raised:
        decode(text)
    assert raised.value.code == "issuer_unknown"
    assert "015814" in raised.value.message_en
    with pytest.raises(IssuerLookupRequired):
        decode(text, issuer_for=lambda lg: None)


@pytest.mark.parametrize(
    "change",
    [
        lambda vp: vp["verifiableCredential"]["issuer"].__setitem__("name", "別の名前"),
        lambda vp: vp["verifiableCredential"]["credentialSubject"].__setitem__("extra", 1),
        lambda vp: vp["proof"].__setitem__("domain", "elsewhere"),
        lambda vp: vp.__setitem__("id", "urn:uuid:1b7cbd62-6b53-4c26-b0a9-1a0bb5a7c7a9"),
        lambda vp: vp["verifiableCredential"]["credentialStatus"][0].__setitem__(
            "statusListCredential", "https://elsewhere.example/status/1"
        ),
        lambda vp: vp["verifiableCredential"]["proof"].__setitem__(
            "verificationMethod", issuer_did() + "#primary"
        ),
        lambda vp: vp["verifiableCredential"].__setitem__("validFrom", "2027-01-30T09:00:00.5Z"),
    ],
)
def test_anything_outside_the_profile_goes_generic_and_stays_exact(change: Any) -> None:
    vp = presentation()
    change(vp)
    text = encode_presentation(vp)
    assert text.startswith(envelope.GENERIC_PREFIX)
    assert decode(text) == vp


def test_generic_for_any_json_object() -> None:
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "note": "ふるさと",
        "n": [1, 2],
    }
    assert decode(envelope.encode_generic(document)) == document


def _profile_bytes() -> bytes:
    return base45.decode(encode_presentation(presentation())[len(envelope.PROFILE_PREFIX) :])


def _wrap(data: bytes) -> str:
    return envelope.PROFILE_PREFIX + base45.encode(data)


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("empty", ""),
        ("prefix only", "FR1:"),
        ("unknown prefix", "HC1:NCFOXN%TS3DH"),
        ("lowercase", "fr1:" + encode_presentation(presentation())[4:].lower()),
        ("truncated", encode_presentation(presentation())[:-3]),
        ("base45 length 1 mod 3", encode_presentation(presentation()) + "A"),
        ("base45 bad char", encode_presentation(presentation())[:-1] + "a"),
        ("padded CBOR", _wrap(_profile_bytes() + b"\x00")),
        ("CBOR cut", _wrap(_profile_bytes()[:-10])),
        ("not an array", _wrap(cbor.encode(5))),
        ("short array", _wrap(cbor.encode([None, 15814]))),
        ("non-minimal int", _wrap(b"\x90\xf6\x1a\x00\x00\x3d\xc6" + _profile_bytes()[5:])),
        ("indefinite array", _wrap(b"\x9f\xff")),
        ("tag", _wrap(b"\xc1\x1a\x00\x00\x00\x01")),
        ("float", _wrap(b"\xf9\x3c\x00")),
        ("oversized", "FR1:" + "0" * (envelope.MAX_PAYLOAD_CHARS + 3)),
        ("generic not zlib", envelope.GENERIC_PREFIX + base45.encode(b"not compressed")),
        (
            "generic bomb",
            envelope.GENERIC_PREFIX + base45.encode(zlib.compress(b"[" * 10 + b" " * 200_000)),
        ),
        ("generic not an object", envelope.GENERIC_PREFIX + base45.encode(zlib.compress(b"[1,2]"))),
        ("generic padded", envelope.GENERIC_PREFIX + base45.encode(zlib.compress(b"{}") + b"xx")),
    ],
)
def test_malformed_payloads(name: str, payload: str) -> None:
    with pytest.raises(EnvelopeError) as raised:
        decode(payload, issuer_for=lookup)
    assert raised.value.code == "malformed", name
    assert raised.value.message_ja
    assert raised.value.message_en


def _field(values: list[Any], index: int, value: Any) -> str:
    changed = list(values)
    changed[index] = value
    return _wrap(cbor.encode(changed))


def test_each_field_is_checked() -> None:
    values = cbor.decode(_profile_bytes())
    assert isinstance(values, list)
    bad = [
        (1, 12),
        (1, "015814"),
        (2, b"\x00" * 15),
        (7, b"\x00" * 63),
        (8, b"\x00" * 31),
        (9, 2),
        (11, [1]),
        (11, [1, -1]),
        (12, "x"),
        (14, ""),
        (15, b"\x00" * 65),
        (5, 0),
        (3, -1),
        (1, 999997),  # well-formed check digit? unknown municipality either way
    ]
    for index, value in bad:
        with pytest.raises(EnvelopeError):
            decode(_field(values, index, value), issuer_for=lookup)


def test_a_flipped_bit_never_crashes_and_never_verifies() -> None:
    text = encode_presentation(presentation())
    data = bytearray(base45.decode(text[4:]))
    for position in range(0, len(data) * 8, 7):
        flipped = bytearray(data)
        flipped[position // 8] ^= 1 << (position % 8)
        try:
            vp = decode(_wrap(bytes(flipped)), issuer_for=lookup)
        except FurusatoError:
            continue
        options = VerifyOptions(
            now=NOW,
            challenge=vp["proof"].get("challenge"),
            domain=envelope.QR_DOMAIN,
            require_holder_binding=True,
        )
        result = verify_presentation(vp, resolver=resolver(), options=options)
        assert not result.verified or vp == presentation(), position


def test_corpus_of_malformed_payloads() -> None:
    lines = [
        line for line in CORPUS.read_text("utf-8").splitlines() if line and not line.startswith("#")
    ]
    assert len(lines) >= 30
    for line in lines:
        with pytest.raises(EnvelopeError):
            decode(line, issuer_for=lookup)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_random_text_is_malformed_or_a_document(text: str) -> None:
    try:
        result = decode(text, issuer_for=lookup)
    except FurusatoError:
        return
    assert isinstance(result, dict)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_behind_the_prefixes(data: bytes) -> None:
    for prefix in (envelope.PROFILE_PREFIX, envelope.GENERIC_PREFIX):
        with contextlib.suppress(FurusatoError):
            decode(prefix + base45.encode(data), issuer_for=lookup)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_payloads_are_malformed_or_decode(data: st.DataObject) -> None:
    text = encode_presentation(presentation())
    position = data.draw(st.integers(0, len(text) - 1))
    operation = data.draw(st.sampled_from(["delete", "insert", "replace"]))
    char = data.draw(st.sampled_from(base45.ALPHABET + "abc\x00é"))
    if operation == "delete":
        mutated = text[:position] + text[position + 1 :]
    elif operation == "insert":
        mutated = text[:position] + char + text[position:]
    else:
        mutated = text[:position] + char + text[position + 1 :]
    with contextlib.suppress(FurusatoError):
        decode(mutated, issuer_for=lookup)


@pytest.mark.parametrize(
    "value",
    [
        0,
        1,
        23,
        24,
        255,
        256,
        65535,
        65536,
        2**32,
        -1,
        -24,
        -25,
        b"",
        b"ab",
        "",
        "ふ",
        [],
        [1, [2, None, True, False]],
    ],
)
def test_cbor_round_trip(value: Any) -> None:
    assert cbor.decode(cbor.encode(value)) == value


@given(st.binary(max_size=64))
def test_base45_round_trip(data: bytes) -> None:
    assert base45.decode(base45.encode(data)) == data


def test_base45_rfc9285_examples() -> None:
    assert base45.encode(b"AB") == "BB8"
    assert base45.encode(b"Hello!!") == "%69 VD92EX0"
    assert base45.encode(b"base-45") == "UJCLQE7W581"
    assert base45.decode("QED8WEX0") == b"ietf!"
    for bad in ("GGW", "A", ":::"):
        with pytest.raises(FurusatoError):
            base45.decode(bad)
