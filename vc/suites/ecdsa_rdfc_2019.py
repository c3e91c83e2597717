"""``ecdsa-rdfc-2019`` — Data Integrity ECDSA Cryptosuites v1.0 §3 (W3C Rec 2025-05-15).

P-256 (SHA-256, 64-byte r||s) and P-384 (SHA-384, 96-byte r||s).  The combined hash is
hashed again by ECDSA itself; deterministic (RFC 6979) signing, no low-S normalisation, so the
spec's vectors reproduce byte for byte.
"""

from __future__ import annotations

from did.keys import KeyType
from vc.suites.base import RdfcCryptosuite

ECDSA_RDFC_2019 = RdfcCryptosuite("ecdsa-rdfc-2019", frozenset({KeyType.P256, KeyType.P384}))
