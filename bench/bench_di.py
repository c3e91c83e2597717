"""Sign and verify the furusato credential with eddsa-rdfc-2022, warm, in process.

Prints median/min/max per operation and ratios against a bare Ed25519 verify measured in the
same run (the cryptographic floor: everything above it is JSON-LD processing and checks).

    python bench/bench_di.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, measure
from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import municipality_table
from vc.dataintegrity import ASSERTION_METHOD, verify_proof
from vc.furusato import resident_credential
from vc.issue import issue_credential
from vc.jsonld import canonicalize
from vc.verify import VerifyOptions, verify_credential

NOW = datetime(2027, 3, 1, tzinfo=UTC)
ISSUER = "did:web:furusato.example.jp:lg:015814"
METHOD = ISSUER + "#key-1"


def furusato_credential(holder: str) -> dict[str, Any]:
    return resident_credential(
        credential_id="urn:uuid:0f5b1a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        issuer=ISSUER,
        issuer_name="厚真町",
        municipality=municipality_table().get("015814"),
        holder=holder,
        tier="premium",
        registered_since=date(2027, 1, 15),
        valid_from=datetime(2027, 1, 15, tzinfo=UTC),
        valid_until=datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    key = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
    holder = did_key_from_public_key(PrivateKey.from_seed(KeyType.ED25519, bytes(32)).public_key)
    resolver = Resolver(
        documents={
            ISSUER: build_did_document(ISSUER, [VerificationKeyEntry("key-1", key.public_key)])
        }
    )
    unsigned = furusato_credential(holder)
    signed = issue_credential(unsigned, key, verification_method=METHOD, created=NOW)
    options = VerifyOptions(now=NOW + timedelta(days=1))
    assert verify_credential(signed, resolver=resolver, options=options).verified
    message = b"\x01" * 64
    signature = key.sign(message)

    timings = [
        measure(
            "Ed25519 verify, 64 bytes (reference)",
            lambda: key.public_key.verify(signature, message),
            runs=args.runs * 10,
        ),
        measure("Ed25519 sign, 64 bytes", lambda: key.sign(message), runs=args.runs * 10),
        measure("RDFC-1.0 canonicalize credential", lambda: canonicalize(unsigned), runs=args.runs),
        measure(
            "eddsa-rdfc-2022 sign (issue_credential)",
            lambda: issue_credential(unsigned, key, verification_method=METHOD, created=NOW),
            runs=args.runs,
        ),
        measure(
            "eddsa-rdfc-2022 verify_proof",
            lambda: verify_proof(
                signed, signed["proof"], resolver=resolver, expected_purpose=ASSERTION_METHOD
            ),
            runs=args.runs,
        ),
        measure(
            "verify_credential (all checks, no status)",
            lambda: verify_credential(signed, resolver=resolver, options=options),
            runs=args.runs,
        ),
    ]
    reference = timings[0].median
    print(f"# furusato-vc Data Integrity benchmark — {dt.date.today()} — {machine()}")
    for timing in timings:
        print(f"{timing.line()}  ×{timing.median / reference:,.1f} of Ed25519 verify")


if __name__ == "__main__":
    main()
