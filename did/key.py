"""did:key (W3C-CCG did:key method; REFERENCES.md §4).

``did:key:`` + ``publicKeyMultibase``; the verification method id is
``<did>#<the same multibase value>`` (every example of the spec, v0.7 and v0.9). Resolved locally.
"""

from __future__ import annotations

from typing import Any

from did.errors import DIDError, LimitExceededError
from did.keys import PublicKey
from did.multibase import BASE58BTC_ALPHABET

__all__ = [
    "DID_CONTEXT",
    "MULTIKEY_CONTEXT",
    "did_key_from_public_key",
    "did_key_verification_method_id",
    "public_key_from_did_key",
    "resolve_did_key",
]

DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
PREFIX = "did:key:"
MAX_DID_KEY_LENGTH = 512
_B58 = frozenset(BASE58BTC_ALPHABET)


def did_key_from_public_key(pk: PublicKey) -> str:
    """The did:key DID of a public key (``did:key:z6Mk…``, ``did:key:zDn…``, ``did:key:z82…``)."""
    return PREFIX + pk.multikey


def did_key_verification_method_id(pk: PublicKey) -> str:
    """The verification method id: ``did:key:<mb>#<mb>``."""
    return f"{PREFIX}{pk.multikey}#{pk.multikey}"


def _split(did: str) -> tuple[str, str | None]:
    """Return (multibase value, fragment or None) of a did:key DID or DID URL."""
    if not isinstance(did, str):
        raise DIDError("did:key: expected a string", "did:key: 文字列が必要です")
    if len(did) > MAX_DID_KEY_LENGTH:
        raise LimitExceededError(
            f"did:key: longer than {MAX_DID_KEY_LENGTH} characters",
            f"did:key: {MAX_DID_KEY_LENGTH} 文字を超えています",
        )
    if not did.startswith(PREFIX):
        raise DIDError(
            f"not a did:key DID: {did[:40]!r}", f"did:key の DID ではありません: {did[:40]!r}"
        )
    rest = did[len(PREFIX) :]
    value, hash_mark, fragment = rest.partition("#")
    if not value or not value.startswith("z") or not set(value) <= _B58:
        raise DIDError(
            "did:key: the method-specific id must be base58btc multibase ('z…')",
            "did:key: メソッド固有識別子は base58btc マルチベース ('z…') でなければなりません",
        )
    return value, (fragment if hash_mark else None)


def public_key_from_did_key(did: str) -> PublicKey:
    """The public key of a did:key DID, or of a DID URL whose fragment is the same value.

    Raises :class:`DIDError` (syntax, other fragment), :class:`UnsupportedError` (multicodec
    other than Ed25519/P-256/P-384), :class:`KeyFormatError` (length, not on the curve).
    """
    value, fragment = _split(did)
    if fragment is not None and fragment != value:
        raise DIDError(
            "did:key: the fragment must equal the multibase value",
            "did:key: フラグメントはマルチベース値と同じでなければなりません",
        )
    return PublicKey.from_multikey(value)


def resolve_did_key(did: str) -> dict[str, Any]:
    """The DID document of a did:key DID (a DID, not a DID URL).

    One ``Multikey`` verification method, referenced from ``authentication``,
    ``assertionMethod``, ``capabilityInvocation`` and ``capabilityDelegation``.
    """
    value, fragment = _split(did)
    if fragment is not None:
        raise DIDError(
            "did:key: expected a DID, not a DID URL with a fragment",
            "did:key: フラグメント付きの DID URL ではなく DID が必要です",
        )
    pk = PublicKey.from_multikey(value)
    vm_id = did_key_verification_method_id(pk)
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": pk.multikey,
            }
        ],
        "authentication": [vm_id],
        "assertionMethod": [vm_id],
        "capabilityInvocation": [vm_id],
        "capabilityDelegation": [vm_id],
    }
