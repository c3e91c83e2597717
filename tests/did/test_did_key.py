"""did:key (W3C-CCG did:key; REFERENCES.md §4)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did.errors import DIDError, FurusatoError, KeyFormatError, LimitExceededError, UnsupportedError
from did.key import (
    did_key_from_public_key,
    did_key_verification_method_id,
    public_key_from_did_key,
    resolve_did_key,
)
from did.keys import KeyType, PrivateKey, PublicKey
from did.multibase import BASE58BTC_ALPHABET, base58btc_encode, varint_encode
from tests.did.conftest import SpecKeyPair

# w3c-ccg/did-method-key test-vectors/ed25519-x25519.json
# (commit 801b0a91ce5af882c389ca399fa1fd1a75229c09):
# seed (hex) -> did:key, publicKeyBase58 of the raw Ed25519 key.
ED25519_SEED_VECTORS = [
    (
        "00" * 32,
        "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
        "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS",
    ),
    (
        "00" * 31 + "01",
        "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
        "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt",
    ),
    (
        "00" * 31 + "02",
        "did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf",
        "8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH",
    ),
    (
        "00" * 31 + "03",
        "did:key:z6MkvqoYXQfDDJRv8L4wKzxYeuKyVZBfi9Qo6Ro8MiLH3kDQ",
        "HPYVwAQmskwT1qEEeRzhoomyfyupJGASQQtCXSNG8XS2",
    ),
    (
        "00" * 31 + "04",
        "did:key:z6MkwW6aqMnjgrhJXFUko3NnZPGzVpkNzhYK7yEhnsibmLwL",
        "J3qYF7YJMKCqQke47UQwiHizgFUXapHxRxKmxbkar89x",
    ),
]

# w3c-ccg/did-method-key test-vectors/nist-curves.json
# (commit 1d340287a73f6ad5acc477f0900efec50df44a87).
NIST_VECTORS = [
    (
        "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
        {
            "kty": "EC",
            "crv": "P-256",
            "x": "igrFmi0whuihKnj9R3Om1SoMph72wUGeFaBbzG2vzns",
            "y": "efsX5b10x8yjyrj4ny3pGfLcY7Xby1KzgqOdqnsrJIM",
            "d": "gPh-VvVS8MbvKQ9LSVVmfnxnKjHn4Tqj0bmbpehRlpc",
        },
    ),
    (
        "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",
        {
            "kty": "EC",
            "crv": "P-256",
            "x": "fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI",
            "y": "hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU",
            "d": "YjRs6vNvw4sYrzVVY8ipkEpDAD9PFqw1sUnvPRMA-WI",
        },
    ),
    (
        "did:key:z82Lm1MpAkeJcix9K8TMiLd5NMAhnwkjjCBeWHXyu3U4oT2MVJJKXkcVBgjGhnLBn2Kaau9",
        {
            "kty": "EC",
            "crv": "P-384",
            "x": "lInTxl8fjLKp_UCrxI0WDklahi-7-_6JbtiHjiRvMvhedhKVdHBfi2HCY8t_QJyc",
            "y": "y6N1IC-2mXxHreETBW7K3mBcw0qGr3CWHCs-yl09yCQRLcyfGv7XhqAngHOu51Zv",
            "d": "hAyGZNj9031guBCdpAOaZkO-E5m-LKLYnMIq0-msrp8JLctseaOeNTHmP3uKVWwX",
        },
    ),
    (
        "did:key:z82LkvCwHNreneWpsgPEbV3gu1C6NFJEBg4srfJ5gdxEsMGRJUz2sG9FE42shbn2xkZJh54",
        {
            "kty": "EC",
            "crv": "P-384",
            "x": "CA-iNoHDg1lL8pvX3d1uvExzVfCz7Rn6tW781Ub8K5MrDf2IMPyL0RTDiaLHC1JT",
            "y": "Kpnrn8DkXUD3ge4mFxi-DKr0DYO2KuJdwNBrhzLRtfMa3WFMZBiPKUPfJj8dYNl_",
            "d": "Xe1HHeh-UsrJPRNLR_Y06VTrWpZYBXi7a7kiRqCgwnAOlJZPwE-xzL3DIIVMavAL",
        },
    ),
]
# Same file: a P-521 did:key (multicodec 0x1202), which we do not support.
P521_DID = (
    "did:key:z2J9gaYxrKVpdoG9A4gRnmpnRCcxU6agDtFVVBVdn1JedouoZN7SzcyREXXzWgt3gGiw"
    "poHq7K68X4m32D8HgzG8wv3sY5j7"
)


@pytest.mark.parametrize(("seed", "did", "base58"), ED25519_SEED_VECTORS)
def test_ed25519_seed_vectors(seed: str, did: str, base58: str) -> None:
    key = PrivateKey.from_seed(KeyType.ED25519, bytes.fromhex(seed))
    assert did_key_from_public_key(key.public_key) == did
    assert base58btc_encode(key.public_key.raw) == base58
    assert public_key_from_did_key(did) == key.public_key


@pytest.mark.parametrize(("did", "jwk"), NIST_VECTORS)
def test_nist_curve_vectors(did: str, jwk: dict[str, str]) -> None:
    key = PrivateKey.from_jwk(jwk)
    assert did_key_from_public_key(key.public_key) == did
    public = public_key_from_did_key(did)
    assert public.to_jwk() == {k: v for k, v in jwk.items() if k != "d"}


def test_p521_is_unsupported() -> None:
    with pytest.raises(UnsupportedError):
        public_key_from_did_key(P521_DID)


def test_spec_key_pairs_as_did_key(spec_pair: SpecKeyPair) -> None:
    public = PublicKey.from_multikey(spec_pair.public_multibase)
    did = did_key_from_public_key(public)
    assert did == "did:key:" + spec_pair.public_multibase
    vm_id = did_key_verification_method_id(public)
    assert vm_id == f"{did}#{spec_pair.public_multibase}"
    assert public_key_from_did_key(vm_id) == public


def test_resolve_document_shape() -> None:
    did = ED25519_SEED_VECTORS[0][1]
    mb = did.removeprefix("did:key:")
    vm_id = f"{did}#{mb}"
    assert resolve_did_key(did) == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {"id": vm_id, "type": "Multikey", "controller": did, "publicKeyMultibase": mb}
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
    }


def _ed_did() -> str:
    return ED25519_SEED_VECTORS[1][1]


@pytest.mark.parametrize(
    ("did", "error"),
    [
        (_ed_did() + "#0", DIDError),  # fragment other than the multibase value
        (_ed_did() + "#key-1", DIDError),
        (_ed_did() + "#", DIDError),
        (_ed_did().replace("did:key:", "did:web:"), DIDError),
        ("did:key:", DIDError),
        ("did:key:u7QE", DIDError),  # not base58btc
        ("did:key:1:" + _ed_did().removeprefix("did:key:"), DIDError),  # version segment
        (_ed_did() + "0", DIDError),  # '0' not in the alphabet
        ("did:key:z" + base58btc_encode(varint_encode(0xED) + bytes(31)), KeyFormatError),
        ("did:key:" + "z" + base58btc_encode(varint_encode(0xEC) + bytes(32)), UnsupportedError),
        ("did:key:z" + base58btc_encode(varint_encode(0xED) + bytes(32)), KeyFormatError),  # weak
        ("did:key:z" + "2" * 600, LimitExceededError),
        (None, DIDError),
    ],
)
def test_did_key_negative_cases(did: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        public_key_from_did_key(did)


def test_resolve_rejects_did_urls() -> None:
    did = _ed_did()
    with pytest.raises(DIDError):
        resolve_did_key(did + "#" + did.removeprefix("did:key:"))


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_did_key_round_trip(seed: bytes) -> None:
    public = PrivateKey.from_seed(KeyType.ED25519, seed).public_key
    did = did_key_from_public_key(public)
    assert public_key_from_did_key(did) == public
    assert public_key_from_did_key(did_key_verification_method_id(public)) == public
    document = resolve_did_key(did)
    assert document["verificationMethod"][0]["publicKeyMultibase"] == public.multikey


@given(st.text(max_size=80))
def test_did_key_parser_raises_only_our_errors(text: str) -> None:
    for candidate in (text, "did:key:" + text, "did:key:z" + text):
        with contextlib.suppress(FurusatoError):
            public_key_from_did_key(candidate)


@given(st.text(alphabet=BASE58BTC_ALPHABET, max_size=60))
def test_did_key_base58_bodies_raise_only_our_errors(body: str) -> None:
    with contextlib.suppress(FurusatoError):
        resolve_did_key("did:key:z" + body)
