"""did:jwk (https://github.com/quartzjer/did-jwk/blob/main/spec.md; REFERENCES.md §4).

``did:jwk:`` + base64url (no padding) of the UTF-8 JSON of a *public* JWK. The only
fragment is ``#0``. The serialization is not canonical: store the DID string, never
re-derive it from a key and compare.
"""

from __future__ import annotations

import json
from typing import Any

from did.errors import DIDError, LimitExceededError, MalformedValueError, ParsingError
from did.jsonio import Limits, load_json
from did.key import DID_CONTEXT
from did.keys import PublicKey
from did.multibase import base64url_decode, base64url_encode

__all__ = [
    "JWS_2020_CONTEXT",
    "did_jwk_from_public_key",
    "public_key_from_did_jwk",
    "resolve_did_jwk",
]

JWS_2020_CONTEXT = "https://w3id.org/security/suites/jws-2020/v1"
PREFIX = "did:jwk:"
MAX_DID_JWK_LENGTH = 2048
_SIGNATURE_RELATIONSHIPS = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
)


def did_jwk_from_public_key(pk: PublicKey) -> str:
    """``did:jwk:`` + base64url of the public JWK, keys sorted, no whitespace."""
    text = json.dumps(pk.to_jwk(), sort_keys=True, separators=(",", ":"))
    return PREFIX + base64url_encode(text.encode("utf-8"))


def _decode(did: str) -> tuple[str, dict[str, Any], str | None]:
    """Return (DID without fragment, decoded JWK, fragment or None)."""
    if not isinstance(did, str):
        raise DIDError("did:jwk: expected a string", "did:jwk: 文字列が必要です")
    if len(did) > MAX_DID_JWK_LENGTH:
        raise LimitExceededError(
            f"did:jwk: longer than {MAX_DID_JWK_LENGTH} characters",
            f"did:jwk: {MAX_DID_JWK_LENGTH} 文字を超えています",
        )
    if not did.startswith(PREFIX):
        raise DIDError(
            f"not a did:jwk DID: {did[:40]!r}", f"did:jwk の DID ではありません: {did[:40]!r}"
        )
    base, hash_mark, fragment = did.partition("#")
    if hash_mark and fragment != "0":
        raise DIDError(
            "did:jwk: the only fragment is '#0'",
            "did:jwk: フラグメントは '#0' のみです",
        )
    try:
        raw = base64url_decode(base[len(PREFIX) :], max_length=MAX_DID_JWK_LENGTH)
        jwk = load_json(raw, Limits(max_bytes=MAX_DID_JWK_LENGTH, max_depth=4))
    except (MalformedValueError, ParsingError) as exc:
        raise DIDError(
            f"did:jwk: not base64url-encoded JSON: {exc.message_en}",
            f"did:jwk: base64url 符号化された JSON ではありません: {exc.message_ja}",
        ) from exc
    if not isinstance(jwk, dict):
        raise DIDError(
            "did:jwk: the JWK must be a JSON object",
            "did:jwk: JWK は JSON オブジェクトでなければなりません",
        )
    return base, jwk, (fragment if hash_mark else None)


def public_key_from_did_jwk(did: str) -> PublicKey:
    """The public key of a did:jwk DID or ``#0`` DID URL.

    A private JWK is rejected (:class:`KeyFormatError`), as the spec requires.
    """
    _, jwk, _ = _decode(did)
    return PublicKey.from_jwk(jwk)


def resolve_did_jwk(did: str) -> dict[str, Any]:
    """The DID document of a did:jwk DID (a DID, not a DID URL).

    One ``JsonWebKey2020`` method ``<did>#0`` carrying the JWK as given. Relationships:
    all five; ``use: "sig"`` drops ``keyAgreement``; ``use: "enc"`` keeps only ``keyAgreement``.
    """
    base, jwk, fragment = _decode(did)
    if fragment is not None:
        raise DIDError(
            "did:jwk: expected a DID, not a DID URL with a fragment",
            "did:jwk: フラグメント付きの DID URL ではなく DID が必要です",
        )
    PublicKey.from_jwk(jwk)  # validates: public, supported, on the curve
    vm_id = base + "#0"
    document: dict[str, Any] = {
        "@context": [DID_CONTEXT, JWS_2020_CONTEXT],
        "id": base,
        "verificationMethod": [
            {"id": vm_id, "type": "JsonWebKey2020", "controller": base, "publicKeyJwk": jwk}
        ],
    }
    use = jwk.get("use")
    if use != "enc":
        for relationship in _SIGNATURE_RELATIONSHIPS:
            document[relationship] = [vm_id]
    if use != "sig":
        document["keyAgreement"] = [vm_id]
    return document
