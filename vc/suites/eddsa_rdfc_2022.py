"""``eddsa-rdfc-2022`` — Data Integrity EdDSA Cryptosuites v1.0 §3 (W3C Rec 2025-05-15).

Ed25519 keys only (multicodec 0xed); pure EdDSA over the 64-byte ``hashData``.
"""

from __future__ import annotations

from did.keys import KeyType
from vc.suites.base import RdfcCryptosuite

EDDSA_RDFC_2022 = RdfcCryptosuite("eddsa-rdfc-2022", frozenset({KeyType.ED25519}))
