"""What every Data Integrity cryptosuite provides, and the RDFC-1.0 family of suites.

eddsa-rdfc-2022 (vc-di-eddsa §3.2) and ecdsa-rdfc-2019 (vc-di-ecdsa §3.2) share one
algorithm: canonicalize the proof configuration (with the document's ``@context``) and the
document with RDFC-1.0, hash each, and sign ``hash(proofConfig) || hash(document)`` — proof
hash first.  They differ only in key types and, for P-384, in the hash (SHA-384).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from did.keys import KeyType
from schemas.loader import StaticDocumentLoader
from vc.jsonld import canonicalize


class Cryptosuite(Protocol):
    """A Data Integrity cryptosuite (type ``DataIntegrityProof``)."""

    @property
    def name(self) -> str: ...

    @property
    def key_types(self) -> frozenset[KeyType]: ...

    def verify_data(
        self,
        document: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        key_type: KeyType,
        loader: StaticDocumentLoader,
    ) -> bytes:
        """The bytes the signature covers (transformation + hashing of the spec)."""
        ...


@dataclass(frozen=True)
class RdfcCryptosuite:
    """A cryptosuite of the RDFC-1.0 family.

    ``fast`` selects the compiled canonicalization path (:mod:`vc.fastld`, byte-identical
    N-Quads, falling back by itself); ``dataclasses.replace(suite, fast=False)`` is the same
    suite on the pyld reference path, for the benchmarks and the differential tests.
    """

    name: str
    key_types: frozenset[KeyType]
    fast: bool = True

    def hash(self, key_type: KeyType, data: bytes) -> bytes:
        if key_type is KeyType.P384:
            return hashlib.sha384(data).digest()
        return hashlib.sha256(data).digest()

    def canonical_forms(
        self,
        document: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        loader: StaticDocumentLoader,
    ) -> tuple[str, str]:
        """(canonical proof configuration, canonical document) as N-Quads."""
        return (
            canonicalize(proof_config, loader, fast=self.fast),
            canonicalize(document, loader, fast=self.fast),
        )

    def verify_data(
        self,
        document: Mapping[str, Any],
        proof_config: Mapping[str, Any],
        key_type: KeyType,
        loader: StaticDocumentLoader,
    ) -> bytes:
        canonical_proof, canonical_document = self.canonical_forms(document, proof_config, loader)
        return self.hash(key_type, canonical_proof.encode("utf-8")) + self.hash(
            key_type, canonical_document.encode("utf-8")
        )
