"""Verification method retrieval (CID 1.0 §3.3, Data Integrity §5.9–5.10) and key extraction."""

from __future__ import annotations

from typing import Any

import pytest

from did.document import find_verification_method, public_key_from_verification_method
from did.errors import DIDResolutionError, KeyFormatError, UnsupportedError
from did.key import did_key_from_public_key, resolve_did_key
from did.keys import KeyType, PrivateKey

DOC_ID = "did:web:furusato.example.jp:lg:015814"
ED = PrivateKey.from_seed(KeyType.ED25519, bytes([1]) * 32)
P256 = PrivateKey.from_seed(KeyType.P256, bytes([2]) * 32)


def _document() -> dict[str, Any]:
    return {
        "id": DOC_ID,
        "verificationMethod": [
            {
                "id": f"{DOC_ID}#key-1",
                "type": "Multikey",
                "controller": DOC_ID,
                "publicKeyMultibase": ED.public_key.multikey,
            },
            {
                "id": "#key-2",  # relative (allowed in a document we build ourselves)
                "type": "JsonWebKey",
                "controller": DOC_ID,
                "publicKeyJwk": P256.public_key.to_jwk(),
            },
            {
                "id": f"{DOC_ID}#foreign",
                "type": "Multikey",
                "controller": "did:web:attacker.example",
                "publicKeyMultibase": ED.public_key.multikey,
            },
            {
                "id": f"{DOC_ID}#no-controller",
                "type": "Multikey",
                "publicKeyMultibase": ED.public_key.multikey,
            },
        ],
        "assertionMethod": [
            f"{DOC_ID}#key-1",
            "#key-2",
            f"{DOC_ID}#foreign",
            f"{DOC_ID}#no-controller",
        ],
        "authentication": [
            {
                "id": f"{DOC_ID}#auth-only",
                "type": "Multikey",
                "controller": DOC_ID,
                "publicKeyMultibase": ED.public_key.multikey,
            }
        ],
    }


def test_finds_absolute_and_relative_ids() -> None:
    document = _document()
    vm = find_verification_method(document, f"{DOC_ID}#key-1", "assertionMethod")
    assert vm["id"] == f"{DOC_ID}#key-1"
    assert find_verification_method(document, "#key-1", "assertionMethod") == vm
    vm2 = find_verification_method(document, f"{DOC_ID}#key-2", "assertionMethod")
    assert vm2["id"] == f"{DOC_ID}#key-2"  # made absolute in the copy
    assert public_key_from_verification_method(vm2) == P256.public_key
    assert document["verificationMethod"][1]["id"] == "#key-2"  # input untouched


def test_embedded_method_counts_only_for_its_relationship() -> None:
    document = _document()
    vm = find_verification_method(document, "#auth-only", "authentication")
    assert vm["id"] == f"{DOC_ID}#auth-only"
    assert find_verification_method(document, "#auth-only", None) == vm
    with pytest.raises(DIDResolutionError):
        find_verification_method(document, "#auth-only", "assertionMethod")


def test_method_not_under_relationship_is_refused() -> None:
    document = _document()
    with pytest.raises(DIDResolutionError) as info:
        find_verification_method(document, "#key-1", "authentication")
    assert info.value.code == "verification_method_unresolved"
    assert info.value.message_ja
    find_verification_method(document, "#key-1", None)  # no relationship asked: found


@pytest.mark.parametrize(
    ("vm_id", "relationship"),
    [
        ("#missing", None),
        ("#foreign", "assertionMethod"),  # controller is another DID (CID 1.0 §3.3)
        ("#no-controller", "assertionMethod"),
        ("did:web:other.example#key-1", None),  # belongs to another document
        ("", None),
        ("#key-1", "assertionMethods"),  # unknown relationship
    ],
)
def test_find_negative_cases(vm_id: str, relationship: str | None) -> None:
    with pytest.raises(DIDResolutionError):
        find_verification_method(_document(), vm_id, relationship)


def test_duplicate_conflicting_definitions_are_refused() -> None:
    document = _document()
    clash = dict(document["verificationMethod"][0], publicKeyMultibase=P256.public_key.multikey)
    document["verificationMethod"].append(clash)
    with pytest.raises(DIDResolutionError):
        find_verification_method(document, "#key-1", "assertionMethod")


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"id": 5},
        {"id": DOC_ID, "verificationMethod": "nope"},
        [],
    ],
)
def test_malformed_documents(document: Any) -> None:
    with pytest.raises(DIDResolutionError):
        find_verification_method(document, f"{DOC_ID}#key-1", None)


def test_did_key_document() -> None:
    did = did_key_from_public_key(ED.public_key)
    document = resolve_did_key(did)
    vm_id = document["verificationMethod"][0]["id"]
    for relationship in ("assertionMethod", "authentication", "capabilityInvocation"):
        vm = find_verification_method(document, vm_id, relationship)
        assert public_key_from_verification_method(vm) == ED.public_key
    with pytest.raises(DIDResolutionError):
        find_verification_method(document, vm_id, "keyAgreement")


# --- public_key_from_verification_method ----------------------------------------------------


def test_supported_types() -> None:
    mb = ED.public_key.multikey
    assert (
        public_key_from_verification_method({"type": "Multikey", "publicKeyMultibase": mb})
        == ED.public_key
    )
    assert (
        public_key_from_verification_method(
            {"type": "Ed25519VerificationKey2020", "publicKeyMultibase": mb}
        )
        == ED.public_key
    )
    for vm_type in ("JsonWebKey", "JsonWebKey2020"):
        vm = {"type": vm_type, "publicKeyJwk": P256.public_key.to_jwk()}
        assert public_key_from_verification_method(vm) == P256.public_key


@pytest.mark.parametrize(
    ("vm", "error"),
    [
        ({"type": "Ed25519VerificationKey2018", "publicKeyBase58": "x"}, UnsupportedError),
        ({"type": "EcdsaSecp256k1VerificationKey2019"}, UnsupportedError),
        ({"publicKeyMultibase": ED.public_key.multikey}, UnsupportedError),
        ({"type": "Multikey"}, KeyFormatError),
        ({"type": "Multikey", "publicKeyMultibase": 5}, KeyFormatError),
        ({"type": "JsonWebKey"}, KeyFormatError),
        ({"type": "JsonWebKey", "publicKeyJwk": "x"}, KeyFormatError),
        ({"type": "JsonWebKey", "publicKeyJwk": P256.to_jwk()}, KeyFormatError),  # private d
        (
            {
                "type": "Multikey",
                "publicKeyMultibase": ED.public_key.multikey,
                "secretKeyMultibase": ED.secret_multikey,
            },
            KeyFormatError,
        ),
        (
            {
                "type": "Multikey",
                "publicKeyMultibase": ED.public_key.multikey,
                "privateKeyMultibase": ED.secret_multikey,
            },
            KeyFormatError,
        ),
        ({"type": "Multikey", "publicKeyMultibase": ED.secret_multikey}, KeyFormatError),
        (
            {"type": "Ed25519VerificationKey2020", "publicKeyMultibase": P256.public_key.multikey},
            KeyFormatError,
        ),
        ("Multikey", KeyFormatError),
    ],
)
def test_public_key_from_verification_method_negative(vm: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        public_key_from_verification_method(vm)
