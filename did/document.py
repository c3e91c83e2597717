"""Finding verification methods in DID / controlled identifier documents.

CID 1.0 §3.3 "Retrieve Verification Method" (and Data Integrity §5.9–5.10): the method must
belong to the document, be bound to its controller, and be referenced under the
verification relationship that the proof's purpose names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from did.errors import DIDResolutionError, KeyFormatError, UnsupportedError
from did.keys import KeyType, PublicKey

__all__ = [
    "VERIFICATION_RELATIONSHIPS",
    "find_verification_method",
    "public_key_from_verification_method",
]

VERIFICATION_RELATIONSHIPS = (
    "authentication",
    "assertionMethod",
    "keyAgreement",
    "capabilityInvocation",
    "capabilityDelegation",
)

_SECRET_MEMBERS = ("secretKeyMultibase", "privateKeyMultibase", "secretKeyJwk", "privateKeyJwk")


def _unresolved(en: str, ja: str) -> DIDResolutionError:
    return DIDResolutionError(en, ja)


def _absolute(ref: str, base: str) -> str:
    return base + ref if ref.startswith("#") else ref


def _as_list(value: object, name: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    if isinstance(value, list):
        return value
    raise _unresolved(f"'{name}' must be a list", f"'{name}' はリストでなければなりません")


def find_verification_method(
    document: Mapping[str, Any], vm_id: str, relationship: str | None
) -> dict[str, Any]:
    """The verification method ``vm_id`` (absolute or ``#fragment``) of ``document``.

    Searches ``verificationMethod`` and methods embedded in relationship arrays (an embedded
    method counts only for its own relationship). If ``relationship`` is given, the method
    must be referenced or embedded under it. The method's ``controller`` must be the
    document ``id`` (CID 1.0 §3.3). Returns a copy with an absolute ``id``; otherwise raises
    :class:`DIDResolutionError` (code ``verification_method_unresolved``).
    """
    if not isinstance(document, Mapping):
        raise _unresolved(
            "the DID document is not an object", "DID ドキュメントがオブジェクトではありません"
        )
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise _unresolved("the DID document has no 'id'", "DID ドキュメントに 'id' がありません")
    if not isinstance(vm_id, str) or not vm_id:
        raise _unresolved(
            "verification method id must be a string",
            "検証メソッド ID は文字列でなければなりません",
        )
    target = _absolute(vm_id, doc_id)
    if target.partition("#")[0] != doc_id:
        raise _unresolved(
            f"verification method {target!r} does not belong to {doc_id!r}",
            f"検証メソッド {target!r} は {doc_id!r} に属していません",
        )
    if relationship is not None and relationship not in VERIFICATION_RELATIONSHIPS:
        raise _unresolved(
            f"unknown verification relationship {relationship!r}",
            f"不明な検証関係 {relationship!r} です",
        )

    searched = [relationship] if relationship is not None else list(VERIFICATION_RELATIONSHIPS)
    candidates: list[Mapping[str, Any]] = [
        vm
        for vm in _as_list(document.get("verificationMethod"), "verificationMethod")
        if isinstance(vm, Mapping)
    ]
    for name in searched:
        candidates += [vm for vm in _as_list(document.get(name), name) if isinstance(vm, Mapping)]
    matches = [
        vm
        for vm in candidates
        if isinstance(vm.get("id"), str) and _absolute(vm["id"], doc_id) == target
    ]
    if not matches:
        raise _unresolved(
            f"verification method {target!r} not found in the DID document",
            f"検証メソッド {target!r} が DID ドキュメントにありません",
        )
    if any(dict(vm) != dict(matches[0]) for vm in matches[1:]):
        raise _unresolved(
            f"verification method {target!r} is defined more than once",
            f"検証メソッド {target!r} が複数回定義されています",
        )
    vm = dict(matches[0])

    if relationship is not None:
        allowed = False
        for entry in _as_list(document.get(relationship), relationship):
            ref = entry.get("id") if isinstance(entry, Mapping) else entry
            if isinstance(ref, str) and _absolute(ref, doc_id) == target:
                allowed = True
                break
        if not allowed:
            raise _unresolved(
                f"verification method {target!r} is not authorized for {relationship!r}",
                f"検証メソッド {target!r} は {relationship!r} に登録されていません",
            )

    controller = vm.get("controller")
    if not isinstance(controller, str) or not controller:
        raise _unresolved(
            f"verification method {target!r} has no 'controller'",
            f"検証メソッド {target!r} に 'controller' がありません",
        )
    if _absolute(controller, doc_id) != doc_id:
        raise _unresolved(
            f"verification method {target!r} is controlled by {controller!r}, not {doc_id!r}",
            f"検証メソッド {target!r} の controller {controller!r} が {doc_id!r} と異なります",
        )
    if not isinstance(vm.get("type"), str):
        raise _unresolved(
            f"verification method {target!r} has no 'type'",
            f"検証メソッド {target!r} に 'type' がありません",
        )
    vm["id"] = target
    return vm


def public_key_from_verification_method(vm: Mapping[str, Any]) -> PublicKey:
    """The public key of a verification method (CID 1.0 §2.2).

    ``Multikey`` and ``Ed25519VerificationKey2020`` (``publicKeyMultibase``), ``JsonWebKey``
    and ``JsonWebKey2020`` (``publicKeyJwk``). Other types are :class:`UnsupportedError`;
    secret material anywhere in the method is a :class:`KeyFormatError`.
    """
    if not isinstance(vm, Mapping):
        raise KeyFormatError(
            "verification method must be an object",
            "検証メソッドはオブジェクトでなければなりません",
        )
    for name in _SECRET_MEMBERS:
        if name in vm:
            raise KeyFormatError(
                f"verification method carries secret key material ({name})",
                f"検証メソッドに秘密鍵 ({name}) が含まれています",
            )
    vm_type = vm.get("type")
    if vm_type in ("Multikey", "Ed25519VerificationKey2020"):
        text = vm.get("publicKeyMultibase")
        if not isinstance(text, str):
            raise KeyFormatError(
                f"{vm_type}: 'publicKeyMultibase' missing or not a string",
                f"{vm_type}: 'publicKeyMultibase' がないか文字列ではありません",
            )
        key = PublicKey.from_multikey(text)
        if vm_type == "Ed25519VerificationKey2020" and key.key_type is not KeyType.ED25519:
            raise KeyFormatError(
                "Ed25519VerificationKey2020 holds a non-Ed25519 key",
                "Ed25519VerificationKey2020 に Ed25519 以外の鍵が含まれています",
            )
        return key
    if vm_type in ("JsonWebKey", "JsonWebKey2020"):
        jwk = vm.get("publicKeyJwk")
        if not isinstance(jwk, Mapping):
            raise KeyFormatError(
                f"{vm_type}: 'publicKeyJwk' missing or not an object",
                f"{vm_type}: 'publicKeyJwk' がないかオブジェクトではありません",
            )
        return PublicKey.from_jwk(jwk)
    raise UnsupportedError(
        f"unsupported verification method type {vm_type!r}",
        f"対応していない検証メソッドの種類です {vm_type!r}",
    )
