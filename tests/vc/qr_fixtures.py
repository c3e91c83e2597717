"""A holder-bound furusato presentation, as a wallet shows it, for the envelope tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import municipality_table
from vc.envelope import QR_DOMAIN
from vc.furusato import resident_credential
from vc.issue import issue_credential
from vc.presentation import create_presentation, sign_presentation

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ISSUER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(32))
HOLDER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes([1]) * 32)


def issuer_did(lg_code: str = "015814", host: str = "furusato.example.jp") -> str:
    return f"did:web:{host}:lg:{lg_code}"


def resolver(lg_code: str = "015814", host: str = "furusato.example.jp") -> Resolver:
    did = issuer_did(lg_code, host)
    return Resolver(
        documents={
            did: build_did_document(did, [VerificationKeyEntry("key-1", ISSUER_KEY.public_key)])
        }
    )


def signed_credential(
    *,
    lg_code: str = "015814",
    tier: str = "premium",
    host: str = "furusato.example.jp",
    holder_key: PrivateKey = HOLDER_KEY,
    indexes: tuple[int, int] = (94567, 131000),
    lists: tuple[int, int] = (1, 1),
    valid_from: datetime = NOW - timedelta(days=30),
) -> dict[str, Any]:
    did = issuer_did(lg_code, host)
    scheme = "http" if host.startswith("localhost") else "https"
    base = f"{scheme}://{host.replace('%3A', ':')}/status/{lg_code}"
    unsigned = resident_credential(
        credential_id="urn:uuid:0f5b1a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        issuer=did,
        issuer_name=municipality_table().get(lg_code).name,
        municipality=municipality_table().get(lg_code),
        holder=did_key_from_public_key(holder_key.public_key),
        tier=tier,
        registered_since=date(2027, 1, 15),
        valid_from=valid_from,
        valid_until=valid_from + timedelta(days=365),
        status=[
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": f"{base}/{purpose}/{number}",
            }
            for purpose, index, number in zip(
                ("revocation", "suspension"), indexes, lists, strict=True
            )
        ],
    )
    return issue_credential(
        unsigned, ISSUER_KEY, verification_method=did + "#key-1", created=valid_from
    )


def presentation(
    credential: dict[str, Any] | None = None,
    *,
    holder_key: PrivateKey = HOLDER_KEY,
    challenge: str = "q83vEjRWeJq8",
    created: datetime = NOW,
) -> dict[str, Any]:
    credential = credential or signed_credential()
    holder = did_key_from_public_key(holder_key.public_key)
    return sign_presentation(
        create_presentation([credential], holder=holder),
        holder_key,
        verification_method=did_key_verification_method_id(holder_key.public_key),
        challenge=challenge,
        domain=QR_DOMAIN,
        created=created,
    )
