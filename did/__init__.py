"""Keys, multibase/Multikey, did:key, did:jwk, did:web and a resolver (functional core).

Names are loaded on first use, so ``import did.errors`` stays cheap (no ``cryptography``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from did.document import find_verification_method, public_key_from_verification_method
    from did.errors import (
        DIDError,
        DIDResolutionError,
        FurusatoError,
        InvalidSignatureError,
        KeyFormatError,
        LimitExceededError,
        MalformedValueError,
        UnsupportedError,
    )
    from did.jwk import did_jwk_from_public_key, public_key_from_did_jwk, resolve_did_jwk
    from did.key import (
        did_key_from_public_key,
        did_key_verification_method_id,
        public_key_from_did_key,
        resolve_did_key,
    )
    from did.keys import KeyType, PrivateKey, PublicKey, Signer, generate_private_key
    from did.multibase import multibase_decode, multibase_encode
    from did.resolver import Fetcher, Resolver
    from did.web import VerificationKeyEntry, build_did_document, did_web_to_url, url_to_did_web

_EXPORTS = {
    "find_verification_method": "did.document",
    "public_key_from_verification_method": "did.document",
    "DIDError": "did.errors",
    "DIDResolutionError": "did.errors",
    "FurusatoError": "did.errors",
    "InvalidSignatureError": "did.errors",
    "KeyFormatError": "did.errors",
    "LimitExceededError": "did.errors",
    "MalformedValueError": "did.errors",
    "UnsupportedError": "did.errors",
    "did_jwk_from_public_key": "did.jwk",
    "public_key_from_did_jwk": "did.jwk",
    "resolve_did_jwk": "did.jwk",
    "did_key_from_public_key": "did.key",
    "did_key_verification_method_id": "did.key",
    "public_key_from_did_key": "did.key",
    "resolve_did_key": "did.key",
    "KeyType": "did.keys",
    "PrivateKey": "did.keys",
    "PublicKey": "did.keys",
    "Signer": "did.keys",
    "generate_private_key": "did.keys",
    "multibase_decode": "did.multibase",
    "multibase_encode": "did.multibase",
    "Fetcher": "did.resolver",
    "Resolver": "did.resolver",
    "VerificationKeyEntry": "did.web",
    "build_did_document": "did.web",
    "did_web_to_url": "did.web",
    "url_to_did_web": "did.web",
}

__all__ = [
    "DIDError",
    "DIDResolutionError",
    "Fetcher",
    "FurusatoError",
    "InvalidSignatureError",
    "KeyFormatError",
    "KeyType",
    "LimitExceededError",
    "MalformedValueError",
    "PrivateKey",
    "PublicKey",
    "Resolver",
    "Signer",
    "UnsupportedError",
    "VerificationKeyEntry",
    "build_did_document",
    "did_jwk_from_public_key",
    "did_key_from_public_key",
    "did_key_verification_method_id",
    "did_web_to_url",
    "find_verification_method",
    "generate_private_key",
    "multibase_decode",
    "multibase_encode",
    "public_key_from_did_jwk",
    "public_key_from_did_key",
    "public_key_from_verification_method",
    "resolve_did_jwk",
    "resolve_did_key",
    "url_to_did_web",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'did' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
