"""vc-di-ecdsa v1.0 test vectors (§A "ecdsa-rdfc-2019", P-256 and P-384), byte for byte.

The vectors were made with deterministic ECDSA (RFC 6979) without low-S normalisation, so an
RFC 6979 signer reproduces the exact signatures (tests/vectors/PROVENANCE.md).
Vectors: w3c/vc-di-ecdsa TestVectors at 00781de5.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from did.errors import InvalidSignatureError
from did.keys import PrivateKey
from did.multibase import base58btc_decode
from did.resolver import Resolver
from schemas.loader import StaticDocumentLoader, bundled_context_urls
from vc.dataintegrity import ASSERTION_METHOD, add_proof, verify_proof
from vc.suites import ECDSA_RDFC_2019

LOADER = StaticDocumentLoader(allowed=bundled_context_urls())
Load = Callable[[str], Any]
CURVES = [("p256", "ECDSAP256", hashlib.sha256), ("p384", "ECDSAP384", hashlib.sha384)]


@pytest.mark.parametrize(("folder", "suffix", "hash_fn"), CURVES)
def test_canonical_forms_and_hashes(
    load_vector: Load, folder: str, suffix: str, hash_fn: Any
) -> None:
    base = f"ecdsa-rdfc-2019/{folder}/"
    proof_canon, doc_canon = ECDSA_RDFC_2019.canonical_forms(
        load_vector("ecdsa-rdfc-2019/unsigned.json"),
        load_vector(f"{base}proofConfig{suffix}.json"),
        LOADER,
    )
    assert doc_canon == load_vector(f"{base}canonDoc{suffix}.txt")
    assert proof_canon == load_vector(f"{base}proofCanon{suffix}.txt")
    doc_hash = hash_fn(doc_canon.encode()).hexdigest()
    proof_hash = hash_fn(proof_canon.encode()).hexdigest()
    assert doc_hash == load_vector(f"{base}docHash{suffix}.txt").strip()
    assert proof_hash == load_vector(f"{base}proofHash{suffix}.txt").strip()
    assert proof_hash + doc_hash == load_vector(f"{base}combinedHash{suffix}.txt").strip()


@pytest.mark.parametrize(("folder", "suffix", "hash_fn"), CURVES)
def test_published_signature_verifies(
    load_vector: Load, folder: str, suffix: str, hash_fn: Any
) -> None:
    signed = load_vector(f"ecdsa-rdfc-2019/{folder}/signed{suffix}.json")
    verify_proof(
        signed,
        signed["proof"],
        resolver=Resolver(),
        expected_purpose=ASSERTION_METHOD,
        loader=LOADER,
    )
    signature = base58btc_decode(signed["proof"]["proofValue"][1:])
    assert signature.hex() == load_vector(f"ecdsa-rdfc-2019/{folder}/sigHex{suffix}.txt").strip()


@pytest.mark.parametrize(("folder", "suffix", "hash_fn"), CURVES)
def test_rfc6979_signer_reproduces_the_signed_document(
    load_vector: Load, folder: str, suffix: str, hash_fn: Any
) -> None:
    base = f"ecdsa-rdfc-2019/{folder}/"
    key_pair = load_vector(f"{base}keyPair.json")
    key = PrivateKey.from_secret_multikey(key_pair["secretKeyMultibase"])
    assert key.public_key.multikey == key_pair["publicKeyMultibase"]
    config = load_vector(f"{base}proofConfig{suffix}.json")
    signed = add_proof(
        load_vector("ecdsa-rdfc-2019/unsigned.json"),
        key,
        verification_method=config["verificationMethod"],
        suite=ECDSA_RDFC_2019,
        created=datetime.fromisoformat(config["created"].replace("Z", "+00:00")),
        loader=LOADER,
    )
    assert signed["proof"]["proofValue"] == load_vector(f"{base}sigBTC58{suffix}.txt").strip()
    assert signed == load_vector(f"{base}signed{suffix}.json")


@pytest.mark.parametrize(("folder", "suffix", "hash_fn"), CURVES)
def test_tampered_vector_fails(load_vector: Load, folder: str, suffix: str, hash_fn: Any) -> None:
    signed = copy.deepcopy(load_vector(f"ecdsa-rdfc-2019/{folder}/signed{suffix}.json"))
    signed["credentialSubject"]["alumniOf"] = "Forged University"
    with pytest.raises(InvalidSignatureError):
        verify_proof(
            signed,
            signed["proof"],
            resolver=Resolver(),
            expected_purpose=ASSERTION_METHOD,
            loader=LOADER,
        )
