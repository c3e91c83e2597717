"""did:jwk (quartzjer/did-jwk spec.md)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did.errors import DIDError, FurusatoError, KeyFormatError, LimitExceededError, UnsupportedError
from did.jwk import did_jwk_from_public_key, public_key_from_did_jwk, resolve_did_jwk
from did.keys import KeyType, PrivateKey, PublicKey
from did.multibase import base64url_encode

# quartzjer/did-jwk spec.md "Examples" (commit 8137ac4a9f7edd67a2b21077e4afc188bba7806b).
SPEC_P256_DID = (
    "did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoy"
    "dHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3"
    "NEk1TEtncmwyR3pIM25TRSJ9"
)
SPEC_P256_JWK = {
    "crv": "P-256",
    "kty": "EC",
    "x": "acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0",
    "y": "_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSE",
}
SPEC_X25519_DID = (
    "did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJYMjU1MTkiLCJ1c2UiOiJlbmMiLCJ4IjoiM3A3YmZY"
    "dDl3YlRUVzJIQzdPUTFOei1EUThoYmVHZE5yZngtRkctSUswOCJ9"
)


def _did_for(jwk: Mapping[str, object]) -> str:
    return "did:jwk:" + base64url_encode(json.dumps(jwk).encode())


def test_spec_p256_example() -> None:
    key = public_key_from_did_jwk(SPEC_P256_DID)
    assert key.to_jwk() == {k: SPEC_P256_JWK[k] for k in ("kty", "crv", "x", "y")}
    # Sorted keys and compact separators reproduce the spec's DID exactly.
    assert did_jwk_from_public_key(key) == SPEC_P256_DID
    assert public_key_from_did_jwk(SPEC_P256_DID + "#0") == key


def test_spec_p256_document() -> None:
    vm_id = SPEC_P256_DID + "#0"
    assert resolve_did_jwk(SPEC_P256_DID) == {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/jws-2020/v1",
        ],
        "id": SPEC_P256_DID,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "JsonWebKey2020",
                "controller": SPEC_P256_DID,
                "publicKeyJwk": SPEC_P256_JWK,
            }
        ],
        "assertionMethod": [vm_id],
        "authentication": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
        "keyAgreement": [vm_id],
    }


def test_spec_x25519_example_is_unsupported() -> None:
    # An encryption key: syntactically fine, but we only accept signature keys.
    with pytest.raises(UnsupportedError):
        resolve_did_jwk(SPEC_X25519_DID)


def test_use_sig_drops_key_agreement_and_use_enc_keeps_only_it() -> None:
    sig = resolve_did_jwk(_did_for({**SPEC_P256_JWK, "use": "sig"}))
    assert "keyAgreement" not in sig
    assert "assertionMethod" in sig
    enc = resolve_did_jwk(_did_for({**SPEC_P256_JWK, "use": "enc"}))
    assert "keyAgreement" in enc
    assert "assertionMethod" not in enc
    assert "authentication" not in enc


def test_kid_is_ignored_and_kept_in_the_method() -> None:
    did = _did_for({**SPEC_P256_JWK, "kid": "key-1"})
    document = resolve_did_jwk(did)
    assert document["verificationMethod"][0]["id"] == did + "#0"
    assert document["verificationMethod"][0]["publicKeyJwk"]["kid"] == "key-1"


def test_private_jwk_is_rejected() -> None:
    private = PrivateKey.from_seed(KeyType.ED25519, bytes(32)).to_jwk()
    did = _did_for(private)
    with pytest.raises(KeyFormatError):
        public_key_from_did_jwk(did)
    with pytest.raises(KeyFormatError):
        resolve_did_jwk(did)


@pytest.mark.parametrize(
    ("did", "error"),
    [
        (SPEC_P256_DID + "#1", DIDError),
        (SPEC_P256_DID + "#key-1", DIDError),
        (SPEC_P256_DID + "#", DIDError),
        (SPEC_P256_DID + "=", DIDError),  # padding
        (SPEC_P256_DID[:-1] + "+", DIDError),
        ("did:jwk:" + base64url_encode(b"[1, 2]"), DIDError),  # not an object
        ("did:jwk:" + base64url_encode(b"{not json"), DIDError),
        ("did:jwk:" + base64url_encode(b'{"kty":"EC","kty":"EC"}'), DIDError),  # duplicate
        ("did:jwk:" + base64url_encode(b"\xff\xfe"), DIDError),  # not UTF-8
        ("did:jwk:" + base64url_encode(b"[" * 50 + b"]" * 50), DIDError),  # too deep
        ("did:jwk:", DIDError),
        ("did:key:" + SPEC_P256_DID.removeprefix("did:jwk:"), DIDError),
        ("did:jwk:" + "A" * 4000, LimitExceededError),
        (_did_for({"kty": "RSA", "n": "AQAB", "e": "AQAB"}), UnsupportedError),
        (_did_for({**SPEC_P256_JWK, "x": SPEC_P256_JWK["x"] + "="}), KeyFormatError),
        (_did_for({**SPEC_P256_JWK, "y": SPEC_P256_JWK["x"]}), KeyFormatError),  # off curve
    ],
)
def test_did_jwk_negative_cases(did: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        public_key_from_did_jwk(did)


def test_resolve_rejects_did_urls() -> None:
    with pytest.raises(DIDError):
        resolve_did_jwk(SPEC_P256_DID + "#0")


@st.composite
def public_keys(draw: st.DrawFn) -> PublicKey:
    key_type = draw(st.sampled_from(list(KeyType)))
    if key_type is KeyType.ED25519:
        return PrivateKey.from_seed(key_type, draw(st.binary(min_size=32, max_size=32))).public_key
    size = 32 if key_type is KeyType.P256 else 48
    d = draw(st.integers(min_value=1, max_value=2 ** (8 * size - 1)))
    return PrivateKey.from_seed(key_type, d.to_bytes(size, "big")).public_key


@settings(max_examples=50, deadline=None)
@given(public_keys())
def test_did_jwk_round_trip(key: PublicKey) -> None:
    did = did_jwk_from_public_key(key)
    assert public_key_from_did_jwk(did) == key
    assert public_key_from_did_jwk(did + "#0") == key
    document = resolve_did_jwk(did)
    assert PublicKey.from_jwk(document["verificationMethod"][0]["publicKeyJwk"]) == key


@given(st.text(max_size=200))
def test_did_jwk_parser_raises_only_our_errors(text: str) -> None:
    for candidate in (text, "did:jwk:" + text):
        with contextlib.suppress(FurusatoError):
            resolve_did_jwk(candidate)


@given(st.binary(max_size=200))
def test_did_jwk_random_payloads_raise_only_our_errors(payload: bytes) -> None:
    with contextlib.suppress(FurusatoError):
        public_key_from_did_jwk("did:jwk:" + base64url_encode(payload))


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_did_jwk_random_json_raises_only_our_errors(value: object) -> None:
    with contextlib.suppress(FurusatoError):
        resolve_did_jwk(_did_for({"kty": "EC", "crv": "P-256", "x": value, "y": value}))
