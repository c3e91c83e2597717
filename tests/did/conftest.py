"""The W3C key pairs for the did/ tests (tests/vectors; provenance in its PROVENANCE.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from did.keys import KeyType

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


@dataclass(frozen=True)
class SpecKeyPair:
    name: str
    key_type: KeyType
    public_multibase: str
    secret_multibase: str
    signed_data: bytes
    signature: bytes


def _load(name: str, key_type: KeyType, folder: str, hash_file: str, sig_file: str) -> SpecKeyPair:
    base = VECTORS / folder
    pair = json.loads((base / "keyPair.json").read_text())
    # vc-di-eddsa says privateKeyMultibase, vc-di-ecdsa secretKeyMultibase (CID 1.0 term).
    secret = pair.get("secretKeyMultibase") or pair["privateKeyMultibase"]
    return SpecKeyPair(
        name,
        key_type,
        pair["publicKeyMultibase"],
        secret,
        bytes.fromhex((base / hash_file).read_text().strip()),
        bytes.fromhex((base / sig_file).read_text().strip()),
    )


SPEC_KEY_PAIRS = [
    _load(
        "eddsa-rdfc-2022",
        KeyType.ED25519,
        "eddsa-rdfc-2022",
        "combinedHashDataInt.txt",
        "sigHexDataInt.txt",
    ),
    _load(
        "ecdsa-rdfc-2019-p256",
        KeyType.P256,
        "ecdsa-rdfc-2019/p256",
        "combinedHashECDSAP256.txt",
        "sigHexECDSAP256.txt",
    ),
    _load(
        "ecdsa-rdfc-2019-p384",
        KeyType.P384,
        "ecdsa-rdfc-2019/p384",
        "combinedHashECDSAP384.txt",
        "sigHexECDSAP384.txt",
    ),
]


@pytest.fixture(params=SPEC_KEY_PAIRS, ids=lambda p: p.name)
def spec_pair(request: pytest.FixtureRequest) -> SpecKeyPair:
    pair: SpecKeyPair = request.param
    return pair
