"""vc-di-eddsa v1.0 test vectors (§A.1 "Representation: eddsa-rdfc-2022"), byte for byte.

Vectors: w3c/vc-di-eddsa TestVectors at abb673eb (see tests/vectors/PROVENANCE.md).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from did.keys import PrivateKey
from did.resolver import Resolver
from schemas.loader import EXAMPLES_V2, StaticDocumentLoader, bundled_context_urls
from vc.dataintegrity import ASSERTION_METHOD, add_proof, verify_proof
from vc.suites import EDDSA_RDFC_2022
from vc.verify import DEFAULT_ACCEPTED_CONTEXTS, VerifyOptions, verify_credential

LOADER = StaticDocumentLoader(allowed=bundled_context_urls())
Load = Callable[[str], Any]


def _created(proof_config: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(proof_config["created"].replace("Z", "+00:00"))


def test_canonical_document_a1(load_vector: Load) -> None:
    canonical = EDDSA_RDFC_2022.canonical_forms(
        load_vector("eddsa-rdfc-2022/unsigned.json"),
        load_vector("eddsa-rdfc-2022/proofConfigDataInt.json"),
        LOADER,
    )
    assert canonical[1] == load_vector("eddsa-rdfc-2022/canonDocDataInt.txt")
    assert canonical[0] == load_vector("eddsa-rdfc-2022/proofCanonDataInt.txt")


def test_hashes_a1(load_vector: Load) -> None:
    proof_canon, doc_canon = EDDSA_RDFC_2022.canonical_forms(
        load_vector("eddsa-rdfc-2022/unsigned.json"),
        load_vector("eddsa-rdfc-2022/proofConfigDataInt.json"),
        LOADER,
    )
    doc_hash = hashlib.sha256(doc_canon.encode()).hexdigest()
    proof_hash = hashlib.sha256(proof_canon.encode()).hexdigest()
    assert doc_hash == load_vector("eddsa-rdfc-2022/docHashDataInt.txt").strip()
    assert proof_hash == load_vector("eddsa-rdfc-2022/proofHashDataInt.txt").strip()
    assert proof_hash + doc_hash == load_vector("eddsa-rdfc-2022/combinedHashDataInt.txt").strip()


def test_signature_and_signed_document_a1(load_vector: Load) -> None:
    key_pair = load_vector("eddsa-rdfc-2022/keyPair.json")
    key = PrivateKey.from_secret_multikey(key_pair["privateKeyMultibase"])
    assert key.public_key.multikey == key_pair["publicKeyMultibase"]
    config = load_vector("eddsa-rdfc-2022/proofConfigDataInt.json")
    signed = add_proof(
        load_vector("eddsa-rdfc-2022/unsigned.json"),
        key,
        verification_method=config["verificationMethod"],
        suite=EDDSA_RDFC_2022,
        created=_created(config),
        loader=LOADER,
    )
    expected = load_vector("eddsa-rdfc-2022/signedDataInt.json")
    assert (
        signed["proof"]["proofValue"] == load_vector("eddsa-rdfc-2022/sigBTC58DataInt.txt").strip()
    )
    assert key.sign(
        bytes.fromhex(load_vector("eddsa-rdfc-2022/combinedHashDataInt.txt").strip())
    ).hex() == (load_vector("eddsa-rdfc-2022/sigHexDataInt.txt").strip())
    assert signed == expected


def test_published_signature_verifies(load_vector: Load) -> None:
    signed = load_vector("eddsa-rdfc-2022/signedDataInt.json")
    result = verify_proof(
        signed,
        signed["proof"],
        resolver=Resolver(),
        expected_purpose=ASSERTION_METHOD,
        loader=LOADER,
    )
    assert (
        result.public_key.multikey
        == load_vector("eddsa-rdfc-2022/keyPair.json")["publicKeyMultibase"]
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("credentialSubject", "alumniOf"), "The School of Examples (forged)"),
        (("issuer",), "https://vc.example/issuers/0000"),
        (("validFrom",), "2023-01-01T00:00:00Z"),
        (("proof", "created"), "2023-02-24T23:36:39Z"),
        (("proof", "proofPurpose"), "assertionMethod"),  # unchanged value: must still verify
    ],
)
def test_tampering_is_detected(load_vector: Load, path: tuple[str, ...], value: str) -> None:
    signed = load_vector("eddsa-rdfc-2022/signedDataInt.json")
    tampered = copy.deepcopy(signed)
    target = tampered
    for key in path[:-1]:
        target = target[key]
    unchanged = target.get(path[-1]) == value
    target[path[-1]] = value
    options = VerifyOptions(
        now=datetime.fromisoformat("2024-01-01T00:00:00+00:00"),
        accepted_contexts=DEFAULT_ACCEPTED_CONTEXTS | {EXAMPLES_V2},
        check_issuer_controller=False,
    )
    result = verify_credential(tampered, resolver=Resolver(), options=options)
    if unchanged:
        assert result.verified, result.to_json()
    else:
        assert not result.verified
        assert result.codes == ["signature_invalid"]
