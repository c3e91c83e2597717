"""Issue and verify the furusato credential in its three formats, warm, in process.

Data Integrity (eddsa-rdfc-2022), VC-JOSE (vc+jwt) and SD-JWT VC (dc+sd-jwt, two selectively
disclosable claims; the holder presents one with a KB-JWT), all Ed25519, the same claims.
Prints median/min/max per operation and ratios against a bare Ed25519 verify measured in the
same run (the cryptographic floor), plus the sizes of what each format puts on the wire.
The first verify figures are the securing mechanism's own checks (signature, structure, typ,
time, disclosures, key binding); the ``vc.verify.verify`` ones add what the verifier does on
top for every format: data model, furusato profile, validity, and the revocation and
suspension lists (the same two signed lists, in memory, for all three; no registry here).

    python bench/bench_formats.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_di import ISSUER, METHOD, NOW, furusato_credential
from bench.common import machine, measure
from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey, PublicKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from vc.dataintegrity import ASSERTION_METHOD, verify_proof
from vc.dates import format_datetime
from vc.issue import issue_credential
from vc.jose import sign_vc_jwt, verify_vc_jwt
from vc.sdjwt import KeyBindingPolicy, VerifiedSdJwt, issue_sd_jwt, present, verify_sd_jwt
from vc.statuslist import BitstringStatusList, StatusListDocument, build_status_list_credential
from vc.verify import VerifyOptions, verify

VERIFY_AT = NOW + timedelta(days=1)
AUDIENCE = "redirect_uri:https://nursery.example.jp/oid4vp/response"


PURPOSES = ("revocation", "suspension")


def list_url(purpose: str) -> str:
    return f"https://furusato.example.jp/status/015814/{purpose}/1"


def status_entries() -> list[dict[str, str]]:
    return [
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": "4711",
            "statusListCredential": list_url(purpose),
        }
        for purpose in PURPOSES
    ]


class StatusLists:
    """The municipality's two lists, signed, in memory (a synced cache without the disk)."""

    def __init__(self, key: PrivateKey) -> None:
        self.lists = {}
        for purpose in PURPOSES:
            unsigned = build_status_list_credential(
                list_url=list_url(purpose),
                issuer=ISSUER,
                purpose=purpose,
                status_list=BitstringStatusList(),
                valid_from=format_datetime(VERIFY_AT - timedelta(hours=1)),
                valid_until=format_datetime(VERIFY_AT + timedelta(days=1)),
                ttl_ms=3_600_000,
            )
            signed = issue_credential(
                unsigned, key, verification_method=METHOD, created=VERIFY_AT - timedelta(hours=1)
            )
            self.lists[list_url(purpose)] = StatusListDocument(signed, VERIFY_AT)

    def get(self, url: str) -> StatusListDocument | None:
        return self.lists.get(url)


def sd_jwt_claims(holder: PrivateKey) -> dict[str, Any]:
    """The SD-JWT VC payload of docs/formats.md, with name and birth date to disclose."""
    return {
        "iss": ISSUER,
        "vct": "https://w3id.org/furusato/resident",
        "jti": "urn:uuid:0f5b1a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "iat": int(NOW.timestamp()),
        "nbf": int(datetime(2027, 1, 15, tzinfo=UTC).timestamp()),
        "exp": int(datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC).timestamp()),
        "cnf": {"jwk": holder.public_key.to_jwk()},
        "registrationTier": "premium",
        "municipality": {
            "lgCode": "015814",
            "name": "厚真町",
            "prefecture": "北海道",
            "prefectureCode": "010006",
        },
        "registeredSince": "2027-01-15",
        "status": {"bitstring_status_list": status_entries()},
        "name": "見本 花子",
        "birthDate": "1990-04-01",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    key = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
    holder = PrivateKey.from_seed(KeyType.ED25519, bytes(32))
    resolver = Resolver(
        documents={
            ISSUER: build_did_document(ISSUER, [VerificationKeyEntry("key-1", key.public_key)])
        }
    )

    def key_for(kid: str) -> PublicKey:
        assert kid == METHOD
        return key.public_key

    def issuer_key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        return key_for(str(header.get("kid")))

    unsigned = {
        **furusato_credential(did_key_from_public_key(holder.public_key)),
        "credentialStatus": status_entries(),
    }
    di = issue_credential(unsigned, key, verification_method=METHOD, created=NOW)
    vc_jwt = sign_vc_jwt(unsigned, key, kid=METHOD, issued_at=NOW)
    claims = sd_jwt_claims(holder)
    sd_jwt = issue_sd_jwt(
        claims,
        key,
        kid=METHOD,
        disclosable=("name", "birthDate"),
        random_bytes=secrets.token_bytes,
    )
    presented = present(
        sd_jwt,
        disclose=("name",),
        holder=holder,
        nonce="n-0S6_WzA2Mj",
        audience=AUDIENCE,
        issued_at=VERIFY_AT,
    )
    policy = KeyBindingPolicy(nonce="n-0S6_WzA2Mj", audience=AUDIENCE)

    def verify_presented() -> VerifiedSdJwt:
        return verify_sd_jwt(presented, issuer_key=issuer_key, now=VERIFY_AT, key_binding=policy)

    assert verify_proof(di, di["proof"], resolver=resolver, expected_purpose=ASSERTION_METHOD)
    assert verify_vc_jwt(vc_jwt, key_for=key_for, now=VERIFY_AT).credential["id"] == di["id"]
    assert verify_presented().disclosed == ("name",)

    lists = StatusLists(key)
    whole = VerifyOptions(now=VERIFY_AT, status_lists=lists)
    bound = VerifyOptions(
        now=VERIFY_AT,
        status_lists=lists,
        challenge="n-0S6_WzA2Mj",
        domain=AUDIENCE,
        presentation_max_age=timedelta(days=2),
    )
    for document, options in ((di, whole), (vc_jwt, whole), (presented, bound)):
        checked = verify(document, resolver=resolver, options=options)
        assert checked.verified, (checked.format, checked.codes)

    message = b"\x01" * 64
    signature = key.sign(message)
    runs = args.runs
    timings = [
        measure(
            "Ed25519 verify, 64 bytes (reference)",
            lambda: key.public_key.verify(signature, message),
            runs=runs * 10,
        ),
        measure(
            "DI eddsa-rdfc-2022: issue",
            lambda: issue_credential(unsigned, key, verification_method=METHOD, created=NOW),
            runs=runs,
        ),
        measure(
            "DI eddsa-rdfc-2022: verify proof",
            lambda: verify_proof(
                di, di["proof"], resolver=resolver, expected_purpose=ASSERTION_METHOD
            ),
            runs=runs,
        ),
        measure(
            "VC-JOSE vc+jwt: issue",
            lambda: sign_vc_jwt(unsigned, key, kid=METHOD, issued_at=NOW),
            runs=runs,
        ),
        measure(
            "VC-JOSE vc+jwt: verify",
            lambda: verify_vc_jwt(vc_jwt, key_for=key_for, now=VERIFY_AT),
            runs=runs,
        ),
        measure(
            "SD-JWT VC: issue (2 disclosable claims)",
            lambda: issue_sd_jwt(
                claims,
                key,
                kid=METHOD,
                disclosable=("name", "birthDate"),
                random_bytes=secrets.token_bytes,
            ),
            runs=runs,
        ),
        measure(
            "SD-JWT VC: present 1 claim + KB-JWT",
            lambda: present(
                sd_jwt,
                disclose=("name",),
                holder=holder,
                nonce="n-0S6_WzA2Mj",
                audience=AUDIENCE,
                issued_at=VERIFY_AT,
            ),
            runs=runs,
        ),
        measure("SD-JWT VC: verify with KB-JWT", verify_presented, runs=runs),
        measure(
            "vc.verify.verify, DI credential",
            lambda: verify(di, resolver=resolver, options=whole),
            runs=runs,
        ),
        measure(
            "vc.verify.verify, vc+jwt",
            lambda: verify(vc_jwt, resolver=resolver, options=whole),
            runs=runs,
        ),
        measure(
            "vc.verify.verify, SD-JWT VC + KB-JWT",
            lambda: verify(presented, resolver=resolver, options=bound),
            runs=runs,
        ),
    ]
    reference = timings[0].median
    print(f"# furusato-vc credential formats — {dt.date.today()} — {machine()}")
    for timing in timings:
        print(f"{timing.line()}  ×{timing.median / reference:,.1f} of Ed25519 verify")
    sizes = {
        "DI credential (JSON, compact)": len(json.dumps(di, separators=(",", ":")).encode()),
        "vc+jwt": len(vc_jwt),
        "dc+sd-jwt as issued (2 disclosures)": len(sd_jwt),
        "dc+sd-jwt presented (1 disclosure + KB-JWT)": len(presented),
    }
    for name, size in sizes.items():
        print(f"size  {name:<44} {size:6,} bytes")


if __name__ == "__main__":
    main()
