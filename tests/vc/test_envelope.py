"""The compact QR envelope: lossless, small, strict (issue 4)."""

from __future__ import annotations

import contextlib
import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
import segno
from hypothesis import example, given, settings
from hypothesis import strategies as st

from did.errors import FurusatoError
from did.multibase import base64url_encode
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


# --- any values in the profile's structure ------------------------------------------------

CBOR_MIN, CBOR_MAX = -(2**64), 2**64 - 1
# every bound the reader checks, and the first and last second a datetime holds (years
# 0001-9999); the times are rebuilt from values 3, 3 + 4, 3 + 6 and 13
_BOUNDS = (0, 2**20, 2**31, 2**32, -envelope.MIN_TIME, envelope.MAX_TIME, 2**38, 2**40, 2**63)
EDGE_INTS = sorted(
    {
        sign * bound + step
        for bound in _BOUNDS
        for sign in (1, -1)
        for step in (-1, 0, 1)
        if CBOR_MIN <= sign * bound + step <= CBOR_MAX
    }
    | {CBOR_MIN, CBOR_MAX}
)
INTS = st.integers(CBOR_MIN, CBOR_MAX) | st.sampled_from(EDGE_INTS)
# values 3 and 13 within their range (0-2**40: mostly past year 9999) and around the last
# second of year 9999; values 4 and 6 within theirs, which add to value 3
TIMES = (
    INTS | st.integers(0, 2**40) | st.integers(envelope.MAX_TIME - 2**32, envelope.MAX_TIME + 2**32)
)
LIFETIMES = INTS | st.integers(0, 2**32)
OFFSETS = INTS | st.integers(-(2**31), 2**31)
PAIRS = st.tuples(INTS, INTS).map(list) | st.lists(INTS, max_size=3)


def _bytes_near(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size) | st.integers(
        max(0, size - 1), size + 1
    ).flatmap(lambda n: st.binary(min_size=n, max_size=n))


FIELDS: tuple[st.SearchStrategy[Any], ...] = (
    st.none() | st.just(issuer_did()) | st.text(max_size=40),
    INTS | st.sampled_from([15814, 11002, 10000, 999999]),
    _bytes_near(16),
    TIMES,
    LIFETIMES,
    INTS,
    OFFSETS,
    _bytes_near(64),
    _bytes_near(32),
    INTS,
    INTS,
    PAIRS,
    PAIRS,
    TIMES,
    st.binary(max_size=200) | st.text(max_size=260),
    _bytes_near(64),
)


def altered_values(base: list[Any]) -> st.SearchStrategy[list[Any]]:
    """``base`` (the 16 values of a payload) with one to four of them replaced by values of
    the same CBOR type, often at or just past a bound — half the time only the times and the
    challenge, so that far-future times reach the reader's last checks."""
    indexes = st.sets(st.integers(0, len(base) - 1), min_size=1, max_size=4) | st.sets(
        st.sampled_from((3, 4, 6, 13, 14)), min_size=1
    )

    @st.composite
    def altered(draw: st.DrawFn) -> list[Any]:
        values = list(base)
        for index in draw(indexes):
            values[index] = draw(FIELDS[index])
        return values

    return altered()


def _profile_values() -> list[Any]:
    values = cbor.decode(_profile_bytes())
    assert isinstance(values, list)
    return values


def _replaced(changes: dict[int, Any]) -> list[Any]:
    values = _profile_values()
    for index, value in changes.items():
        values[index] = value
    return values


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


@settings(max_examples=300, deadline=None)
@given(values=altered_values(_profile_values()))
@example(values=_replaced({13: 2**38}))
@example(values=_replaced({3: 2**40}))
@example(values=_replaced({3: envelope.MAX_TIME, 4: 1}))
@example(values=_replaced({3: envelope.MAX_TIME - 10, 6: 11}))
@example(values=_replaced({14: b""}))
@example(values=_replaced({14: bytes(193)}))
def test_any_profile_values_are_malformed_or_rebuilt_exactly(values: list[Any]) -> None:
    """Whatever the values, the reader refuses them (``malformed``, or ``issuer_unknown`` for
    an lgCode the registry does not list) or rebuilds a presentation with four-digit years
    that the writer puts back into profile 1 unchanged — never another exception."""
    payload = _wrap(cbor.encode(values))
    try:
        vp = decode(payload, issuer_for=lookup)
    except FurusatoError:
        with pytest.raises(EnvelopeError) as raised:
            decode(payload, issuer_for=lookup)
        assert raised.value.code in ("malformed", "issuer_unknown")
        assert raised.value.message_ja
        assert raised.value.message_en.count("QR payload:") == 1, raised.value.message_en
        return
    credential = vp["verifiableCredential"]
    for moment in (
        credential["validFrom"],
        credential["validUntil"],
        credential["proof"]["created"],
        vp["proof"]["created"],
    ):
        assert _DATE_TIME.fullmatch(moment), moment
    again = encode_presentation(vp, issuer_by_registry=values[0] is None)
    assert again.startswith(envelope.PROFILE_PREFIX)
    assert decode(again, issuer_for=lookup) == vp


def test_the_last_second_of_year_9999_is_the_last_time() -> None:
    last = _replaced({13: envelope.MAX_TIME})
    vp = decode(_wrap(cbor.encode(last)), issuer_for=lookup)
    assert vp["proof"]["created"] == "9999-12-31T23:59:59Z"
    with pytest.raises(EnvelopeError) as raised:
        decode(_wrap(cbor.encode(_replaced({13: envelope.MAX_TIME + 1}))), issuer_for=lookup)
    assert raised.value.code == "malformed"
    assert "field 13" in raised.value.message_en


@pytest.mark.parametrize(
    ("size", "prefix"), [(0, "FRJ:"), (1, "FR1:"), (192, "FR1:"), (193, "FRJ:")]
)
def test_the_writer_never_writes_a_challenge_the_reader_refuses(size: int, prefix: str) -> None:
    """A base64url challenge of 1-192 bytes is profile 1; none, or more, the generic form."""
    vp = presentation()
    vp["proof"]["challenge"] = base64url_encode(bytes(range(size)))
    text = encode_presentation(vp)
    assert text.startswith(prefix)
    assert decode(text, issuer_for=lookup) == vp


# --- what a payload is, for the replay log -------------------------------------------------


def test_one_presentation_has_one_key_in_every_form() -> None:
    """§7.2, §10: short, self-contained, generic, whitespace around — the same presentation."""
    vp = presentation()
    forms = [
        encode_presentation(vp),
        encode_presentation(vp, issuer_by_registry=False),
        envelope.encode_generic(vp),
        encode_presentation(vp) + "\n",
        " " + envelope.encode_generic(vp) + "\r\n",
    ]
    keys = {envelope.presentation_key(text) for text in forms}
    assert keys == {"proofValue:" + vp["proof"]["proofValue"]}
    other = presentation(challenge="AAAAAAAAAAAAAAAA")
    assert envelope.presentation_key(encode_presentation(other)) not in keys


def _jws(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64url_encode(json.dumps(value, separators=(",", ":")).encode())

    return f"{part(header)}.{part(payload)}.{base64url_encode(signature)}"


def _enveloped(media_type: str, compact: str) -> str:
    return envelope.encode_generic(
        {
            "@context": "https://www.w3.org/ns/credentials/v2",
            "type": "EnvelopedVerifiablePresentation",
            "id": f"data:{media_type},{compact}",
        }
    )


def test_a_jwt_is_keyed_on_what_it_signs_bare_or_enveloped() -> None:
    """A ``vp+jwt``: its ``header.payload``, whatever the signature (ECDSA can vary it)."""
    header = {"alg": "ES256", "typ": "vp+jwt", "kid": "did:key:zDn#zDn"}
    signed = {"nonce": "q83vEjRWeJq8", "aud": "furusato-qr", "iat": 1_803_546_000}
    token = _jws(header, signed, b"\x01" * 64)
    key = envelope.presentation_key(token)
    assert key == "jws:" + token.rsplit(".", 1)[0]
    assert envelope.presentation_key(_jws(header, signed, b"\x02" * 64)) == key
    assert envelope.presentation_key(token + "\n") == key
    assert envelope.presentation_key(_enveloped("application/vp+jwt", token)) == key
    later = _jws(header, {**signed, "iat": 1_803_546_001}, b"\x01" * 64)
    assert envelope.presentation_key(later) != key


def test_an_sd_jwt_is_keyed_on_its_key_binding_jwt() -> None:
    issuer_jwt = _jws({"alg": "EdDSA", "typ": "dc+sd-jwt"}, {"iss": "did:web:x"}, bytes(64))
    kb_jwt = _jws({"alg": "EdDSA", "typ": "kb+jwt"}, {"nonce": "n", "sd_hash": "h"}, bytes(64))
    disclosure = base64url_encode(b'["salt","registeredSince","2027-01-15"]')
    presented = f"{issuer_jwt}~{disclosure}~{kb_jwt}"
    key = envelope.presentation_key(presented)
    assert key == "jws:" + kb_jwt.rsplit(".", 1)[0]
    assert envelope.presentation_key(_enveloped("application/dc+sd-jwt", presented)) == key
    without_kb = f"{issuer_jwt}~{disclosure}~"
    assert envelope.presentation_key(without_kb) == "jws:" + issuer_jwt.rsplit(".", 1)[0]


@pytest.mark.parametrize(
    "text",
    ["", "  hello ", "FR1:garbage", "FRJ:", "a.b", "a..c", "~~", envelope.encode_generic({})],
)
def test_anything_else_is_its_own_key(text: str) -> None:
    assert envelope.presentation_key(text) == text.strip()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_presentation_key_never_raises(text: str) -> None:
    assert isinstance(envelope.presentation_key(text), str)


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
