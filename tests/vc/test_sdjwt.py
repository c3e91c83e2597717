"""SD-JWT (RFC 9901) and SD-JWT VC: vc/sdjwt.py.

1. RFC 9901 examples byte for byte (§4.2.1–§4.2.3, §5.1, §5.2, §6, Appendix A.5)
2. round trips: issue → present subsets → verify, with and without Key Binding
3. one negative case per strictness rule, each token built by hand and signed properly so that
   only that rule fails
4. the Holder's side (present) and the Issuer's refusals

Provenance of the RFC vectors: the text of RFC 9901 §4.2, §5 and Appendix A.5 as rendered in
draft-ietf-oauth-selective-disclosure-jwt-20 (oauth-wg/oauth-selective-disclosure-jwt, file
``20/draft-ietf-oauth-selective-disclosure-jwt.txt``).  The example salts are fixed by the
generator, so the Disclosures and digests are those printed in the RFC; the signatures verify
with the Appendix A.5 key and the holder key in ``cnf`` whatever run of the generator produced
them.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest

from did.errors import FurusatoError
from did.keys import KeyType, PrivateKey, PublicKey, generate_private_key
from did.multibase import base64url_decode, base64url_encode
from vc import sdjwt
from vc.sdjwt import (
    CODES,
    KeyBindingPolicy,
    SdJwtError,
    disclosure_digest,
    issue_sd_jwt,
    parse,
    present,
    verify_sd_jwt,
)


def deterministic_random(seed: bytes) -> Callable[[int], bytes]:
    counter = itertools.count()

    def random_bytes(n: int) -> bytes:
        return hashlib.shake_256(seed + next(counter).to_bytes(8, "big")).digest(n)

    return random_bytes


ISSUER_ED = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
ISSUER_P256 = generate_private_key(KeyType.P256, deterministic_random(b"issuer-p256"))
HOLDER_ED = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32, 64)))
HOLDER_P256 = generate_private_key(KeyType.P256, deterministic_random(b"holder-p256"))
OTHER_ED = PrivateKey.from_seed(KeyType.ED25519, bytes(range(64, 96)))

NOW = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)
T_ISSUED = int(datetime(2027, 1, 15, tzinfo=UTC).timestamp())
T_EXPIRES = int(datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC).timestamp())
NONCE = "n-0S6_WzA2Mj"
AUDIENCE = "https://verifier.furusato.example.jp"
VCT = "https://w3id.org/furusato/resident"
# Selectively disclosable values: no error message may ever contain them.
SECRET_NAME = "山田 花子"
SECRET_BIRTH = "1990-04-01"


def furusato_claims(holder: PrivateKey = HOLDER_ED) -> dict[str, Any]:
    return {
        "iss": "did:web:furusato.example.jp:lg:015814",
        "vct": VCT,
        "iat": T_ISSUED,
        "nbf": T_ISSUED,
        "exp": T_EXPIRES,
        "cnf": {"jwk": holder.public_key.to_jwk()},
        "registrationTier": "premium",
        "municipality": {"lgCode": "015814", "name": "厚真町", "prefecture": "北海道"},
        "registeredSince": "2027-01-15",
        "name": SECRET_NAME,
        "birthDate": SECRET_BIRTH,
    }


def issuer_key_of(key: PrivateKey) -> Callable[[Mapping[str, Any], Mapping[str, Any]], PublicKey]:
    def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        return key.public_key

    return resolve


def verify(token: str, **options: Any) -> sdjwt.VerifiedSdJwt:
    options.setdefault("issuer_key", issuer_key_of(ISSUER_ED))
    options.setdefault("now", NOW)
    return verify_sd_jwt(token, **options)


def kb_policy(**changes: Any) -> KeyBindingPolicy:
    fields: dict[str, Any] = {"nonce": NONCE, "audience": AUDIENCE}
    fields.update(changes)
    return KeyBindingPolicy(**fields)


# --- hand-made tokens ------------------------------------------------------------------------


def b64_json(value: Any) -> str:
    return base64url_encode(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any], key: PrivateKey) -> str:
    signing_input = f"{b64_json(header)}.{b64_json(payload)}"
    return f"{signing_input}.{base64url_encode(key.sign(signing_input.encode('ascii')))}"


def disc(*content: Any) -> str:
    """A Disclosure from its JSON array content."""
    return b64_json(list(content))


def craft(
    payload: Mapping[str, Any],
    disclosures: tuple[str, ...] | list[str] = (),
    *,
    header: Mapping[str, Any] | None = None,
    key: PrivateKey = ISSUER_ED,
) -> str:
    """An SD-JWT signed by *key*: ``<jwt>~<d1>~…~<dn>~``."""
    header = {"alg": key.alg, "typ": "dc+sd-jwt", "kid": "k1"} if header is None else header
    return sign_jws(header, payload, key) + "~" + "".join(d + "~" for d in disclosures)


def base_payload(holder: PrivateKey = HOLDER_ED, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "iss": "did:web:furusato.example.jp:lg:015814",
        "vct": VCT,
        "iat": T_ISSUED,
        "exp": T_EXPIRES,
        "cnf": {"jwk": holder.public_key.to_jwk()},
    }
    payload.update(extra)
    return payload


D_NAME = disc("c2FsdC1uYW1lLTEyMzQ1Ng", "name", SECRET_NAME)
D_BIRTH = disc("c2FsdC1iaXJ0aC0xMjM0NQ", "birthDate", SECRET_BIRTH)


def with_kb(
    sd_jwt: str,
    holder: PrivateKey = HOLDER_ED,
    *,
    header: Mapping[str, Any] | None = None,
    **claims: Any,
) -> str:
    """Append a KB-JWT; *claims* override the correct ``iat``/``aud``/``nonce``/``sd_hash``."""
    payload: dict[str, Any] = {
        "iat": int(NOW.timestamp()),
        "aud": AUDIENCE,
        "nonce": NONCE,
        "sd_hash": base64url_encode(hashlib.sha256(sd_jwt.encode("ascii")).digest()),
    }
    for name, value in claims.items():
        if value is ...:
            payload.pop(name, None)
        else:
            payload[name] = value
    header = {"alg": holder.alg, "typ": "kb+jwt"} if header is None else header
    return sd_jwt + sign_jws(header, payload, holder)


def assert_refused(call: Callable[[], object], code: str) -> SdJwtError:
    with pytest.raises(SdJwtError) as info:
        call()
    error = info.value
    assert error.code == code, (error.code, error.message_en)
    assert error.message_en.startswith("SD-JWT")
    assert error.message_ja.startswith("SD-JWT")
    for secret in (SECRET_NAME, SECRET_BIRTH):
        assert secret not in error.message_en
        assert secret not in error.message_ja
    return error


# =============================================================================================
# 1. RFC 9901 examples
# =============================================================================================

# RFC 9901 §4.2.1: ["_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius"] and three other valid
# encodings of the same claim (escaped umlaut, no white space, newlines).
RFC_4_2_1 = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
RFC_4_2_1_VARIANTS = (
    "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNXHUwMGY2Yml1cyJd",
    "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsImZhbWlseV9uYW1lIiwiTcO2Yml1cyJd",
    "WwoiXzI2YmM0TFQtYWM2cTJLSTZjQlc1ZXMiLAoiZmFtaWx5X25hbWUiLAoiTcO2Yml1cyIKXQ",
)
# RFC 9901 §4.2.2: ["lklxF5jMYlGTPUovMNIvCA", "FR"]; digest from §4.2.4.2.
RFC_4_2_2 = "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0"

# RFC 9901 §5.1: (claim, Disclosure, SHA-256 digest, contents), in the order printed.
RFC_5_1_DISCLOSURES: tuple[tuple[str, str, str, list[Any]], ...] = (
    (
        "given_name",
        "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd",
        "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4",
        ["2GLC42sKQveCfGfryNRN9w", "given_name", "John"],
    ),
    (
        "family_name",
        "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZSJd",
        "TGf4oLbgwd5JQaHyKVQZU9UdGE0w5rtDsrZzfUaomLo",
        ["eluV5Og3gSNII8EYnsxA_A", "family_name", "Doe"],
    ),
    (
        "email",
        "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgImVtYWlsIiwgImpvaG5kb2VAZXhhbXBsZS5jb20iXQ",
        "JzYjH4svliH0R3PyEMfeZu6Jt69u5qehZo7F7EPYlSE",
        ["6Ij7tM-a5iVPGboS5tmvVA", "email", "johndoe@example.com"],
    ),
    (
        "phone_number",
        "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgInBob25lX251bWJlciIsICIrMS0yMDItNTU1LTAxMDEiXQ",
        "PorFbpKuVu6xymJagvkFsFXAbRoc2JGlAUA2BA4o7cI",
        ["eI8ZWm9QnKPpNPeNenHdhQ", "phone_number", "+1-202-555-0101"],
    ),
    (
        "phone_number_verified",
        "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgInBob25lX251bWJlcl92ZXJpZmllZCIsIHRydWVd",
        "XQ_3kPKt1XyX7KANkqVR6yZ2Va5NrPIvPYbyMvRKBMM",
        ["Qg_O64zqAxe412a108iroA", "phone_number_verified", True],
    ),
    (
        "address",
        "WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImFkZHJlc3MiLCB7InN0cmVldF9hZGRyZXNzIjogIjEyMyBNYWlu"
        "IFN0IiwgImxvY2FsaXR5IjogIkFueXRvd24iLCAicmVnaW9uIjogIkFueXN0YXRlIiwgImNvdW50cnkiOiAiVVMi"
        "fV0",
        "XzFrzwscM6Gn6CJDc6vVK8BkMnfG8vOSKfpPIZdAfdE",
        [
            "AJx-095VPrpTtN4QMOqROA",
            "address",
            {
                "street_address": "123 Main St",
                "locality": "Anytown",
                "region": "Anystate",
                "country": "US",
            },
        ],
    ),
    (
        "birthdate",
        "WyJQYzMzSk0yTGNoY1VfbEhnZ3ZfdWZRIiwgImJpcnRoZGF0ZSIsICIxOTQwLTAxLTAxIl0",
        "gbOsI4Edq2x2Kw-w5wPEzakob9hV1cRD0ATN3oQL9JM",
        ["Pc33JM2LchcU_lHggv_ufQ", "birthdate", "1940-01-01"],
    ),
    (
        "updated_at",
        "WyJHMDJOU3JRZmpGWFE3SW8wOXN5YWpBIiwgInVwZGF0ZWRfYXQiLCAxNTcwMDAwMDAwXQ",
        "CrQe7S5kqBAHt-nMYXgc6bdt2SH5aTY1sU_M-PgkjPI",
        ["G02NSrQfjFXQ7Io09syajA", "updated_at", 1570000000],
    ),
    (
        "nationalities[US]",
        "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0",
        "pFndjkZ_VCzmyTa6UjlZo3dh-ko8aIKQc9DlGzhaVYo",
        ["lklxF5jMYlGTPUovMNIvCA", "US"],
    ),
    (
        "nationalities[DE]",
        "WyJuUHVvUW5rUkZxM0JJZUFtN0FuWEZBIiwgIkRFIl0",
        "7Cf6JkPudry3lcbwHgeZ8khAv1U1OSlerP0VkBJrWZ0",
        ["nPuoQnkRFq3BIeAm7AnXFA", "DE"],
    ),
)
RFC_D = {claim: disclosure for claim, disclosure, _, _ in RFC_5_1_DISCLOSURES}

# RFC 9901 §5.1: the Issuer-signed JWT (typ example+sd-jwt, ES256, Appendix A.5 key).
RFC_5_1_ISSUER_JWT = (
    "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBb"
    "IkNyUWU3UzVrcUJBSHQtbk1ZWGdjNmJkdDJTSDVhVFkxc1VfTS1QZ2tqUEkiLCAiSnpZ"
    "akg0c3ZsaUgwUjNQeUVNZmVadTZKdDY5dTVxZWhabzdGN0VQWWxTRSIsICJQb3JGYnBL"
    "dVZ1Nnh5bUphZ3ZrRnNGWEFiUm9jMkpHbEFVQTJCQTRvN2NJIiwgIlRHZjRvTGJnd2Q1"
    "SlFhSHlLVlFaVTlVZEdFMHc1cnREc3JaemZVYW9tTG8iLCAiWFFfM2tQS3QxWHlYN0tB"
    "TmtxVlI2eVoyVmE1TnJQSXZQWWJ5TXZSS0JNTSIsICJYekZyendzY002R242Q0pEYzZ2"
    "Vks4QmtNbmZHOHZPU0tmcFBJWmRBZmRFIiwgImdiT3NJNEVkcTJ4Mkt3LXc1d1BFemFr"
    "b2I5aFYxY1JEMEFUTjNvUUw5Sk0iLCAianN1OXlWdWx3UVFsaEZsTV8zSmx6TWFTRnpn"
    "bGhRRzBEcGZheVF3TFVLNCJdLCAiaXNzIjogImh0dHBzOi8vaXNzdWVyLmV4YW1wbGUu"
    "Y29tIiwgImlhdCI6IDE2ODMwMDAwMDAsICJleHAiOiAxODgzMDAwMDAwLCAic3ViIjog"
    "InVzZXJfNDIiLCAibmF0aW9uYWxpdGllcyI6IFt7Ii4uLiI6ICJwRm5kamtaX1ZDem15"
    "VGE2VWpsWm8zZGgta284YUlLUWM5RGxHemhhVllvIn0sIHsiLi4uIjogIjdDZjZKa1B1"
    "ZHJ5M2xjYndIZ2VaOGtoQXYxVTFPU2xlclAwVmtCSnJXWjAifV0sICJfc2RfYWxnIjog"
    "InNoYS0yNTYiLCAiY25mIjogeyJqd2siOiB7Imt0eSI6ICJFQyIsICJjcnYiOiAiUC0y"
    "NTYiLCAieCI6ICJUQ0FFUjE5WnZ1M09IRjRqNFc0dmZTVm9ISVAxSUxpbERsczd2Q2VH"
    "ZW1jIiwgInkiOiAiWnhqaVdXYlpNUUdIVldLVlE0aGJTSWlyc1ZmdWVjQ0U2dDRqVDlG"
    "MkhaUSJ9fX0.zjhXTlVnC9cFuDlL7JuR2TK7DCo0XtlMpbuNVNZJhWOkCPsRHn9oHNQk"
    "I02D6YziRYsapgbA_tV4-0LmAfA53Q"
)
# RFC 9901 §5.1 "Adding the Disclosures produces the SD-JWT": all ten, in the order printed.
RFC_5_1_SD_JWT = RFC_5_1_ISSUER_JWT + "~" + "".join(d + "~" for _, d, _, _ in RFC_5_1_DISCLOSURES)
# RFC 9901 §5.2: the SD-JWT+KB (family_name, address, given_name, one nationality) …
RFC_5_2_KB_JWT = (
    "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImtiK2p3dCJ9.eyJub25jZSI6ICIxMjM0NTY3ODkwIiwgImF1ZCI6ICJodH"
    "RwczovL3ZlcmlmaWVyLmV4YW1wbGUub3JnIiwgImlhdCI6IDE3NDgzNjE5NDEsICJzZF"
    "9oYXNoIjogIjEtTGNmNkNpQm1QNzJKREZ1QkYwYnZhbFMtRnpJbFh5aUNrSlhwN3BKbW"
    "MifQ.4OCivqequv7GMn45GWWEBceEwvByv9wY61HvxbOKY0pOxyto9-HG2coh1D3frjl"
    "1AhF-vDnB1CD0SXL32P-toA"
)
RFC_5_2_PRESENTATION = (
    RFC_5_1_ISSUER_JWT
    + "~"
    + "".join(RFC_D[c] + "~" for c in ("family_name", "address", "given_name", "nationalities[US]"))
    + RFC_5_2_KB_JWT
)
# … its KB-JWT payload, and the Processed SD-JWT Payload the Verifier ends up with.
RFC_5_2_KB_PAYLOAD = {
    "nonce": "1234567890",
    "aud": "https://verifier.example.org",
    "iat": 1748361941,
    "sd_hash": "1-Lcf6CiBmP72JDFuBF0bvalS-FzIlXyiCkJXp7pJmc",
}
RFC_HOLDER_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
    "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ",
}
RFC_5_2_PROCESSED = {
    "iss": "https://issuer.example.com",
    "iat": 1683000000,
    "exp": 1883000000,
    "sub": "user_42",
    "nationalities": ["US"],
    "cnf": {"jwk": RFC_HOLDER_JWK},
    "family_name": "Doe",
    "address": {
        "street_address": "123 Main St",
        "locality": "Anytown",
        "region": "Anystate",
        "country": "US",
    },
    "given_name": "John",
}
# RFC 9901 Appendix A.5: the Issuer's key of all examples.
RFC_ISSUER_KEY = PublicKey.from_jwk(
    {
        "kty": "EC",
        "crv": "P-256",
        "x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
        "y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8",
    }
)
RFC_TYP = frozenset({"example+sd-jwt"})

# RFC 9901 §6.2 / §6.3: the address sub-claims and the recursive address Disclosure.
RFC_6_SUB_CLAIMS = (
    (
        "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgInN0cmVldF9hZGRyZXNzIiwgIlNjaHVsc3RyLiAxMiJd",
        "9gjVuXtdFROCgRrtNcGUXmF65rdezi_6Er_j76kmYyM",
    ),
    (
        "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImxvY2FsaXR5IiwgIlNjaHVscGZvcnRhIl0",
        "6vh9bq-zS4GKM_7GpggVbYzzu6oOGXrmNVGPHP75Ud0",
    ),
    (
        "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgInJlZ2lvbiIsICJTYWNoc2VuLUFuaGFsdCJd",
        "KURDPh4ZC19-3tiz-Df39V8eidy1oV3a3H1Da2N0g88",
    ),
    (
        "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgImNvdW50cnkiLCAiREUiXQ",
        "WN9r9dCBJ8HTCsS2jKASxTjEyW5m5x65_Z_2ro2jfXM",
    ),
)
RFC_6_3_ADDRESS = (
    "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgImFkZHJlc3MiLCB7Il9zZCI6IFsiNnZoOWJxLXpTNEdLTV83R3Bn"
    "Z1ZiWXp6dTZvT0dYcm1OVkdQSFA3NVVkMCIsICI5Z2pWdVh0ZEZST0NnUnJ0TmNHVVhtRjY1cmRlemlfNkVyX2o3"
    "NmttWXlNIiwgIktVUkRQaDRaQzE5LTN0aXotRGYzOVY4ZWlkeTFvVjNhM0gxRGEyTjBnODgiLCAiV045cjlkQ0JK"
    "OEhUQ3NTMmpLQVN4VGpFeVc1bTV4NjVfWl8ycm8yamZYTSJdfV0"
)
RFC_6_3_ADDRESS_DIGEST = "HvrKX6fPV0v9K_yCVFBiLFHsMaxcD_114Em6VT8x1lg"
RFC_6_1_ADDRESS = (
    "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImFkZHJlc3MiLCB7InN0cmVldF9hZGRyZXNzIjogIlNjaHVsc3Ry"
    "LiAxMiIsICJsb2NhbGl0eSI6ICJTY2h1bHBmb3J0YSIsICJyZWdpb24iOiAiU2FjaHNlbi1BbmhhbHQiLCAiY291"
    "bnRyeSI6ICJERSJ9XQ"
)
RFC_6_1_ADDRESS_DIGEST = "fOBUSQvo46yQO-wRwXBcGqvnbKIueISEL961_Sjd4do"
RFC_6_ADDRESS = {
    "street_address": "Schulstr. 12",
    "locality": "Schulpforta",
    "region": "Sachsen-Anhalt",
    "country": "DE",
}


def rfc_now(timestamp: int = 1748361941) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def test_rfc9901_4_2_3_digest_is_over_the_base64url_string() -> None:
    assert disclosure_digest(RFC_4_2_1) == "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
    # not over the decoded bytes, and not hex
    assert disclosure_digest(RFC_4_2_1) != base64url_encode(
        hashlib.sha256(base64url_decode(RFC_4_2_1)).digest()
    )


def test_rfc9901_4_2_1_encodings_of_one_claim_parse_alike_with_different_digests() -> None:
    [d] = parse(f"{RFC_5_1_ISSUER_JWT}~{RFC_4_2_1}~").disclosures
    assert (d.salt, d.name, d.value) == ("_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius")
    digests = {d.digest}
    for variant in RFC_4_2_1_VARIANTS:
        [v] = parse(f"{RFC_5_1_ISSUER_JWT}~{variant}~").disclosures
        assert (v.salt, v.name, v.value) == (d.salt, d.name, d.value)
        digests.add(v.digest)
    assert len(digests) == 4


def test_rfc9901_4_2_2_array_element_disclosure() -> None:
    [d] = parse(f"{RFC_5_1_ISSUER_JWT}~{RFC_4_2_2}~").disclosures
    assert (d.salt, d.name, d.value) == ("lklxF5jMYlGTPUovMNIvCA", None, "FR")
    assert d.digest == "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"  # §4.2.4.2


@pytest.mark.parametrize(
    ("disclosure", "digest", "contents"),
    [pytest.param(d, h, c, id=name) for name, d, h, c in RFC_5_1_DISCLOSURES],
)
def test_rfc9901_5_1_disclosures(disclosure: str, digest: str, contents: list[Any]) -> None:
    [d] = parse(f"{RFC_5_1_ISSUER_JWT}~{disclosure}~").disclosures
    assert d.digest == digest
    assert [d.salt, *([d.name] if d.name is not None else []), d.value] == contents


def test_rfc9901_5_1_issuer_jwt_payload_and_its_digests() -> None:
    payload = parse(RFC_5_1_SD_JWT).issuer_jwt.unverified_payload
    assert payload["_sd_alg"] == "sha-256"
    assert set(payload["_sd"]) == {h for n, _, h, _ in RFC_5_1_DISCLOSURES if "[" not in n}
    assert payload["_sd"] == sorted(payload["_sd"])
    assert payload["nationalities"] == [
        {"...": "pFndjkZ_VCzmyTa6UjlZo3dh-ko8aIKQc9DlGzhaVYo"},
        {"...": "7Cf6JkPudry3lcbwHgeZ8khAv1U1OSlerP0VkBJrWZ0"},
    ]


def test_rfc9901_5_1_sd_jwt_verifies_with_the_appendix_a5_key() -> None:
    result = verify(
        RFC_5_1_SD_JWT,
        issuer_key=lambda header, payload: RFC_ISSUER_KEY,
        now=rfc_now(),
        accepted_typ=RFC_TYP,
    )
    assert result.header == {"alg": "ES256", "typ": "example+sd-jwt"}
    assert result.processed_claims == {
        **RFC_5_2_PROCESSED,
        "email": "johndoe@example.com",
        "phone_number": "+1-202-555-0101",
        "phone_number_verified": True,
        "birthdate": "1940-01-01",
        "updated_at": 1570000000,
        "nationalities": ["US", "DE"],
    }
    assert not result.key_bound
    assert set(result.disclosed) == {
        "given_name",
        "family_name",
        "email",
        "phone_number",
        "phone_number_verified",
        "address",
        "birthdate",
        "updated_at",
        "nationalities.0",
        "nationalities.1",
    }


def test_rfc9901_5_2_sd_jwt_kb_verifies_and_gives_the_processed_payload() -> None:
    result = verify(
        RFC_5_2_PRESENTATION,
        issuer_key=lambda header, payload: RFC_ISSUER_KEY,
        now=rfc_now(1748361941 + 30),
        accepted_typ=RFC_TYP,
        key_binding=KeyBindingPolicy(nonce="1234567890", audience="https://verifier.example.org"),
    )
    assert result.processed_claims == RFC_5_2_PROCESSED
    assert result.key_bound
    assert result.kb_payload == RFC_5_2_KB_PAYLOAD
    assert result.disclosed == ("family_name", "address", "given_name", "nationalities.0")
    assert parse(RFC_5_2_PRESENTATION).kb_jwt is not None


def test_rfc9901_5_2_sd_hash_is_over_the_presented_sd_jwt() -> None:
    parsed = parse(RFC_5_2_PRESENTATION)
    assert parsed.kb_jwt is not None
    assert (
        base64url_encode(hashlib.sha256(parsed.without_key_binding.encode("ascii")).digest())
        == parsed.kb_jwt.unverified_payload["sd_hash"]
    )


def test_rfc9901_5_2_wrong_nonce_or_audience_is_refused() -> None:
    options: dict[str, Any] = {
        "issuer_key": lambda header, payload: RFC_ISSUER_KEY,
        "now": rfc_now(1748361941),
        "accepted_typ": RFC_TYP,
    }
    assert_refused(
        lambda: verify(
            RFC_5_2_PRESENTATION,
            key_binding=KeyBindingPolicy("123456789", "https://verifier.example.org"),
            **options,
        ),
        "challenge_mismatch",
    )
    assert_refused(
        lambda: verify(
            RFC_5_2_PRESENTATION,
            key_binding=KeyBindingPolicy("1234567890", "https://verifier.example.com"),
            **options,
        ),
        "domain_mismatch",
    )


def test_rfc9901_7_2_holder_selects_the_5_2_disclosures() -> None:
    presented = present(
        RFC_5_1_SD_JWT,
        disclose=["family_name", "address", "given_name", "nationalities.0"],
        holder=None,
    )
    assert presented.endswith("~")
    assert {d.text for d in parse(presented).disclosures} == {
        d.text for d in parse(RFC_5_2_PRESENTATION).disclosures
    }


def test_rfc9901_6_disclosure_digests() -> None:
    for disclosure, digest in RFC_6_SUB_CLAIMS:
        assert disclosure_digest(disclosure) == digest
    assert disclosure_digest(RFC_6_3_ADDRESS) == RFC_6_3_ADDRESS_DIGEST
    assert disclosure_digest(RFC_6_1_ADDRESS) == RFC_6_1_ADDRESS_DIGEST


def rfc_6_payload(sd: list[str], **extra: Any) -> dict[str, Any]:
    """RFC 9901 §6 payloads, re-signed with our key (the RFC prints them unsigned)."""
    return {
        "_sd": sd,
        "iss": "https://issuer.example.com",
        "iat": 1683000000,
        "exp": 1883000000,
        "sub": "6c5c0a49-b589-431d-bae7-219122a9ec2c",
        "_sd_alg": "sha-256",
        **extra,
    }


def rfc_6_verify(token: str) -> sdjwt.VerifiedSdJwt:
    return verify(token, now=rfc_now(), accepted_typ=frozenset({"dc+sd-jwt"}) | RFC_TYP)


def test_rfc9901_6_1_flat() -> None:
    payload = rfc_6_payload([RFC_6_1_ADDRESS_DIGEST])
    token = craft(payload, [RFC_6_1_ADDRESS], header={"alg": "EdDSA", "typ": "example+sd-jwt"})
    assert rfc_6_verify(token).processed_claims["address"] == RFC_6_ADDRESS


def test_rfc9901_6_2_structured() -> None:
    payload = rfc_6_payload([])
    del payload["_sd"]
    payload["address"] = {"_sd": sorted(h for _, h in RFC_6_SUB_CLAIMS)}
    token = craft(
        payload,
        [d for d, _ in RFC_6_SUB_CLAIMS],
        header={"alg": "EdDSA", "typ": "example+sd-jwt"},
    )
    result = rfc_6_verify(token)
    assert result.processed_claims["address"] == RFC_6_ADDRESS
    assert set(result.disclosed) == {f"address.{k}" for k in RFC_6_ADDRESS}


def test_rfc9901_6_3_recursive() -> None:
    header = {"alg": "EdDSA", "typ": "example+sd-jwt"}
    payload = rfc_6_payload([RFC_6_3_ADDRESS_DIGEST])
    subs = [d for d, _ in RFC_6_SUB_CLAIMS]
    full = craft(payload, [*subs, RFC_6_3_ADDRESS], header=header)
    assert rfc_6_verify(full).processed_claims["address"] == RFC_6_ADDRESS
    # the address alone discloses an empty object (§7.1 step 3.5)
    alone = craft(payload, [RFC_6_3_ADDRESS], header=header)
    assert rfc_6_verify(alone).processed_claims["address"] == {}
    # a sub-claim without the Disclosure that holds its digest connects to nothing (§4.2.6)
    orphan = craft(payload, [subs[1]], header=header)
    assert_refused(lambda: rfc_6_verify(orphan), "sd_jwt_disclosure_unreferenced")
    # the Holder adds the enclosing Disclosure by itself
    presented = present(full, disclose=["address.locality"], holder=None)
    assert rfc_6_verify(presented).processed_claims["address"] == {"locality": "Schulpforta"}


# =============================================================================================
# 2. round trips
# =============================================================================================


@pytest.mark.parametrize("issuer", [ISSUER_ED, ISSUER_P256], ids=["EdDSA", "ES256"])
@pytest.mark.parametrize("holder", [HOLDER_ED, HOLDER_P256], ids=["holder-EdDSA", "holder-ES256"])
@pytest.mark.parametrize("chosen", [(), ("name",), ("birthDate",), ("name", "birthDate")])
def test_issue_present_verify_only_chosen_claims_appear(
    issuer: PrivateKey, holder: PrivateKey, chosen: tuple[str, ...]
) -> None:
    claims = furusato_claims(holder)
    issued = issue_sd_jwt(
        claims,
        issuer,
        kid="did:web:furusato.example.jp:lg:015814#key-1",
        disclosable=["name", "birthDate"],
        random_bytes=deterministic_random(b"round-trip"),
        decoys=2,
    )
    presentation = present(
        issued, disclose=chosen, holder=holder, nonce=NONCE, audience=AUDIENCE, issued_at=NOW
    )
    result = verify(presentation, issuer_key=issuer_key_of(issuer), key_binding=kb_policy())
    expected = {k: v for k, v in claims.items() if k not in {"name", "birthDate"} - set(chosen)}
    assert result.processed_claims == expected
    assert set(result.disclosed) == set(chosen)
    assert result.key_bound
    assert result.header == {
        "alg": issuer.alg,
        "typ": "dc+sd-jwt",
        "kid": "did:web:furusato.example.jp:lg:015814#key-1",
    }
    # what was not chosen is nowhere in the presentation
    for name in {"name", "birthDate"} - set(chosen):
        assert str(claims[name]) not in json.dumps(
            [d.value for d in parse(presentation).disclosures], ensure_ascii=False
        )


def test_issued_form_rfc9901_4() -> None:
    issued = issue_sd_jwt(
        furusato_claims(),
        ISSUER_ED,
        kid="k1",
        disclosable=["name", "birthDate"],
        random_bytes=deterministic_random(b"form"),
        decoys=3,
    )
    assert issued.endswith("~")
    parsed = parse(issued)
    assert parsed.kb_jwt is None
    assert parsed.issuer_jwt.unverified_header == {"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": "k1"}
    payload = parsed.issuer_jwt.unverified_payload
    assert payload["_sd_alg"] == "sha-256"
    assert len(payload["_sd"]) == 5  # 2 claims + 3 decoys
    assert payload["_sd"] == sorted(payload["_sd"])
    assert "name" not in payload
    assert "birthDate" not in payload
    assert {d.name for d in parsed.disclosures} == {"name", "birthDate"}
    for d in parsed.disclosures:
        assert len(base64url_decode(d.salt)) == 16
        assert d.digest in payload["_sd"]
    # all disclosures: the original claims back
    assert verify(issued).processed_claims == furusato_claims()


def test_no_disclosable_claims_means_no_sd_and_no_sd_alg() -> None:
    issued = issue_sd_jwt(
        furusato_claims(), ISSUER_ED, kid="k1", random_bytes=deterministic_random(b"plain")
    )
    parsed = parse(issued)
    assert parsed.disclosures == ()
    assert "_sd" not in parsed.issuer_jwt.unverified_payload
    assert "_sd_alg" not in parsed.issuer_jwt.unverified_payload
    assert verify(issued).processed_claims == furusato_claims()


def test_nested_recursive_and_array_element_disclosures() -> None:
    claims = furusato_claims()
    claims["nationalities"] = ["JP", "DE", "FR"]
    issued = issue_sd_jwt(
        claims,
        ISSUER_ED,
        kid="k1",
        disclosable=[
            "municipality",
            "municipality.name",
            "municipality.prefecture",
            "nationalities.1",
            "nationalities.2",
        ],
        random_bytes=deterministic_random(b"nested"),
    )
    payload = parse(issued).issuer_jwt.unverified_payload
    assert payload["nationalities"][0] == "JP"
    assert set(payload["nationalities"][1]) == {"..."}
    assert "municipality" not in payload

    def shown(disclose: list[str]) -> dict[str, Any]:
        presented = present(issued, disclose=disclose, holder=None)
        return verify(presented).processed_claims

    assert "municipality" not in shown([])
    assert shown([])["nationalities"] == ["JP"]
    assert shown(["nationalities.2"])["nationalities"] == ["JP", "FR"]
    # the parent alone brings what is nested in it
    assert shown(["municipality"])["municipality"] == claims["municipality"]
    # the child alone brings its parent, not its siblings
    assert shown(["municipality.name"])["municipality"] == {"lgCode": "015814", "name": "厚真町"}
    assert verify(issued).processed_claims == claims


def test_p384_issuer() -> None:
    issuer = generate_private_key(KeyType.P384, deterministic_random(b"p384"))
    issued = issue_sd_jwt(
        furusato_claims(),
        issuer,
        kid="k",
        disclosable=["name"],
        random_bytes=deterministic_random(b"384"),
    )
    result = verify(issued, issuer_key=issuer_key_of(issuer))
    assert result.header["alg"] == "ES384"


def test_vc_sd_jwt_typ_is_accepted_by_default_and_can_be_refused() -> None:
    issued = issue_sd_jwt(
        furusato_claims(),
        ISSUER_ED,
        kid="k",
        typ="vc+sd-jwt",
        random_bytes=deterministic_random(b"vc"),
    )
    assert verify(issued).header["typ"] == "vc+sd-jwt"
    assert_refused(
        lambda: verify(issued, accepted_typ=frozenset({"dc+sd-jwt"})), "sd_jwt_typ_invalid"
    )


def test_key_binding_is_decided_by_policy_not_by_presence_rfc9901_7_3() -> None:
    issued = issue_sd_jwt(
        furusato_claims(), ISSUER_ED, kid="k", random_bytes=deterministic_random(b"policy")
    )
    with_binding = present(
        issued, disclose=[], holder=HOLDER_ED, nonce=NONCE, audience=AUDIENCE, issued_at=NOW
    )
    # not required: a KB-JWT is ignored, and the result says the SD-JWT is not key-bound
    assert not verify(with_binding).key_bound
    # required: its absence is refused
    assert_refused(lambda: verify(issued, key_binding=kb_policy()), "sd_jwt_key_binding_missing")
    assert verify(with_binding, key_binding=kb_policy()).key_bound


# =============================================================================================
# 3. one negative case per rule
# =============================================================================================

GOOD_SD = base_payload(_sd=sorted([disclosure_digest(D_NAME), disclosure_digest(D_BIRTH)]))
GOOD_SD["_sd_alg"] = "sha-256"


def hs256_token() -> str:
    header = b64_json({"alg": "HS256", "typ": "dc+sd-jwt"})
    payload = b64_json(GOOD_SD)
    mac = hmac.new(b"secret", f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{base64url_encode(mac)}~{D_NAME}~"


def alg_none_token() -> str:
    return f"{b64_json({'alg': 'none', 'typ': 'dc+sd-jwt'})}.{b64_json(GOOD_SD)}.~{D_NAME}~"


def tampered_token() -> str:
    token = craft(GOOD_SD, [D_NAME])
    header, _, signature = token.split("~")[0].split(".")
    changed = b64_json({**GOOD_SD, "vct": "https://example.com/other"})
    return f"{header}.{changed}.{signature}~{D_NAME}~"


def sd_payload(*digests: object, **extra: Any) -> dict[str, Any]:
    return base_payload(_sd=list(digests), _sd_alg="sha-256", **extra)


D_ARRAY = disc("c2FsdC1hcnJheS0xMjM0NQ", "JP")
D_PREFECTURE = disc("c2FsdC1wcmVmLTEyMzQ1Ng", "prefecture", "北海道")
D_MUNICIPALITY = disc(
    "c2FsdC1tdW5pLTEyMzQ1Ng", "municipality", {"_sd": [disclosure_digest(D_PREFECTURE)]}
)
EXP_DISCLOSURE = disc("c2FsdC1leHAtMTIzNDU2Nw", "exp", T_EXPIRES)


def many_disclosures(count: int) -> str:
    disclosures = [disc(f"salt{i}", f"claim{i}", i) for i in range(count)]
    return craft(sd_payload(*map(disclosure_digest, disclosures)), disclosures)


def payload_without(*names: str, **extra: Any) -> dict[str, Any]:
    payload = {k: v for k, v in sd_payload(disclosure_digest(D_NAME)).items() if k not in names}
    payload.update(extra)
    return payload


SD_NAME = disclosure_digest(D_NAME)
SD_BIRTH = disclosure_digest(D_BIRTH)
SD_ARRAY = disclosure_digest(D_ARRAY)
VALID = craft(sd_payload(SD_NAME, SD_BIRTH), [D_NAME, D_BIRTH])
VALID_KB = with_kb(VALID)

# (id, token factory, verify options, code)
NEGATIVE_CASES: list[tuple[str, Callable[[], str], dict[str, Any], str]] = [
    # RFC 9901 §7.1 2.1: alg
    ("alg-none", alg_none_token, {}, "sd_jwt_alg_not_allowed"),
    ("alg-HS256", hs256_token, {}, "sd_jwt_alg_not_allowed"),
    (
        "alg-RS256",
        lambda: craft(GOOD_SD, [D_NAME], header={"alg": "RS256", "typ": "dc+sd-jwt"}),
        {},
        "sd_jwt_alg_not_allowed",
    ),
    (
        "alg-missing",
        lambda: craft(GOOD_SD, [D_NAME], header={"typ": "dc+sd-jwt"}),
        {},
        "sd_jwt_alg_not_allowed",
    ),
    (
        "alg-ES256-with-Ed25519-key",
        lambda: craft(GOOD_SD, [D_NAME], header={"alg": "ES256", "typ": "dc+sd-jwt"}),
        {},
        "sd_jwt_alg_not_allowed",
    ),
    (
        "alg-EdDSA-with-P256-key",
        lambda: craft(
            GOOD_SD, [D_NAME], header={"alg": "EdDSA", "typ": "dc+sd-jwt"}, key=ISSUER_P256
        ),
        {"issuer_key": issuer_key_of(ISSUER_P256)},
        "sd_jwt_alg_not_allowed",
    ),
    # §7.1 2.2: signature
    ("signature-tampered-payload", tampered_token, {}, "signature_invalid"),
    (
        "signature-other-key",
        lambda: craft(GOOD_SD, [D_NAME], key=OTHER_ED),
        {},
        "signature_invalid",
    ),
    # typ (RFC 8725 §3.11; SD-JWT VC §3.2.1)
    (
        "typ-JWT",
        lambda: craft(GOOD_SD, [D_NAME], header={"alg": "EdDSA", "typ": "JWT"}),
        {},
        "sd_jwt_typ_invalid",
    ),
    (
        "typ-missing",
        lambda: craft(GOOD_SD, [D_NAME], header={"alg": "EdDSA"}),
        {},
        "sd_jwt_typ_invalid",
    ),
    (
        "typ-kb+jwt",
        lambda: craft(GOOD_SD, [D_NAME], header={"alg": "EdDSA", "typ": "kb+jwt"}),
        {},
        "sd_jwt_typ_invalid",
    ),
    (
        "typ-case",
        lambda: craft(GOOD_SD, [D_NAME], header={"alg": "EdDSA", "typ": "DC+SD-JWT"}),
        {},
        "sd_jwt_typ_invalid",
    ),
    # §7.1 2.4: _sd_alg
    (
        "sd_alg-sha-512",
        lambda: craft({**GOOD_SD, "_sd_alg": "sha-512"}, [D_NAME]),
        {},
        "sd_jwt_sd_alg_unsupported",
    ),
    (
        "sd_alg-SHA-256-case",
        lambda: craft({**GOOD_SD, "_sd_alg": "SHA-256"}, [D_NAME]),
        {},
        "sd_jwt_sd_alg_unsupported",
    ),
    ("sd_alg-number", lambda: craft({**GOOD_SD, "_sd_alg": 256}, [D_NAME]), {}, "malformed"),
    # §7.1 step 5: unreferenced Disclosures
    (
        "unreferenced-extra-disclosure",
        lambda: craft(sd_payload(SD_NAME), [D_NAME, D_BIRTH]),
        {},
        "sd_jwt_disclosure_unreferenced",
    ),
    (
        "unreferenced-nested-without-parent",
        lambda: craft(
            sd_payload(SD_NAME, disclosure_digest(D_MUNICIPALITY)), [D_NAME, D_PREFECTURE]
        ),
        {},
        "sd_jwt_disclosure_unreferenced",
    ),
    (
        "unreferenced-no-sd-at-all",
        lambda: craft(base_payload(), [D_NAME]),
        {},
        "sd_jwt_disclosure_unreferenced",
    ),
    # §7.1 step 4: duplicate digests
    (
        "duplicate-digest-in-sd",
        lambda: craft(sd_payload(SD_NAME, SD_NAME), [D_NAME]),
        {},
        "sd_jwt_digest_duplicated",
    ),
    (
        "duplicate-decoy-digest",
        lambda: craft(sd_payload(SD_NAME, SD_BIRTH, SD_BIRTH), [D_NAME]),
        {},
        "sd_jwt_digest_duplicated",
    ),
    (
        "duplicate-digest-sd-and-array",
        lambda: craft(sd_payload(SD_ARRAY, nationalities=[{"...": SD_ARRAY}]), [D_ARRAY]),
        {},
        "sd_jwt_digest_duplicated",
    ),
    (
        "duplicate-digest-in-nested-disclosure",
        lambda: craft(
            sd_payload(
                SD_NAME,
                disclosure_digest(d := disc("c2FsdC1hYmNkZWZnaGlqaw", "x", {"_sd": [SD_NAME]})),
            ),
            [D_NAME, d],
        ),
        {},
        "sd_jwt_digest_duplicated",
    ),
    (
        "duplicate-disclosure-string",
        lambda: craft(sd_payload(SD_NAME), [D_NAME, D_NAME]),
        {},
        "sd_jwt_digest_duplicated",
    ),
    # §7.1 3.2.2/3.2.3: claim names
    (
        "conflict-plaintext-claim",
        lambda: craft(sd_payload(SD_NAME, name="other"), [D_NAME]),
        {},
        "sd_jwt_claim_conflict",
    ),
    (
        "conflict-two-disclosures-one-name",
        lambda: craft(
            sd_payload(
                SD_NAME, disclosure_digest(d := disc("c2FsdC1vdGhlci1uYW1lMQ", "name", "x"))
            ),
            [D_NAME, d],
        ),
        {},
        "sd_jwt_claim_conflict",
    ),
    (
        "conflict-name-_sd",
        lambda: craft(
            sd_payload(disclosure_digest(d := disc("c2FsdC0xMjM0NTY3ODkwMQ", "_sd", ["x"]))), [d]
        ),
        {},
        "sd_jwt_claim_conflict",
    ),
    (
        "conflict-name-dots",
        lambda: craft(
            sd_payload(disclosure_digest(d := disc("c2FsdC0xMjM0NTY3ODkwMQ", "...", "x"))), [d]
        ),
        {},
        "sd_jwt_claim_conflict",
    ),
    # §7.1 3.2.1 / 3.3.1: Disclosure shape for its place
    (
        "array-disclosure-in-sd",
        lambda: craft(sd_payload(SD_ARRAY), [D_ARRAY]),
        {},
        "malformed",
    ),
    (
        "object-disclosure-in-array",
        lambda: craft(sd_payload(nationalities=[{"...": SD_NAME}]), [D_NAME]),
        {},
        "malformed",
    ),
    (
        "disclosure-four-elements",
        lambda: craft(sd_payload(disclosure_digest(d := disc("c2FsdA", "name", "x", "y"))), [d]),
        {},
        "malformed",
    ),
    (
        "disclosure-not-array",
        lambda: craft(sd_payload(disclosure_digest(d := b64_json({"name": "x"}))), [d]),
        {},
        "malformed",
    ),
    (
        "disclosure-salt-not-string",
        lambda: craft(sd_payload(disclosure_digest(d := disc(1, "name", "x"))), [d]),
        {},
        "malformed",
    ),
    (
        "disclosure-name-not-string",
        lambda: craft(sd_payload(disclosure_digest(d := disc("c2FsdA", 7, "x"))), [d]),
        {},
        "malformed",
    ),
    (
        "disclosure-not-json",
        lambda: craft(sd_payload(disclosure_digest(d := base64url_encode(b"[nope"))), [d]),
        {},
        "malformed",
    ),
    (
        "disclosure-duplicate-json-key",
        lambda: craft(
            sd_payload(disclosure_digest(d := base64url_encode(b'["s","n",{"a":1,"a":2}]'))),
            [d],
        ),
        {},
        "malformed",
    ),
    (
        "disclosure-padded-base64",
        lambda: craft(sd_payload(disclosure_digest(D_NAME + "=")), [D_NAME + "="]),
        {},
        "malformed",
    ),
    ("sd-not-array", lambda: craft(base_payload(_sd=SD_NAME), [D_NAME]), {}, "malformed"),
    ("sd-digest-not-string", lambda: craft(sd_payload(SD_NAME, 5), [D_NAME]), {}, "malformed"),
    (
        "dots-with-other-key",
        lambda: craft(sd_payload(nationalities=[{"...": SD_ARRAY, "x": 1}]), [D_ARRAY]),
        {},
        "malformed",
    ),
    (
        "dots-outside-array",
        lambda: craft(sd_payload(nationality={"...": SD_ARRAY}), [D_ARRAY]),
        {},
        "malformed",
    ),
    (
        "dots-digest-not-string",
        lambda: craft(sd_payload(SD_NAME, nationalities=[{"...": 1}]), [D_NAME]),
        {},
        "malformed",
    ),
    (
        "sd_alg-nested",
        lambda: craft(sd_payload(SD_NAME, municipality={"_sd_alg": "sha-256"}), [D_NAME]),
        {},
        "malformed",
    ),
    ("no-tilde", lambda: craft(GOOD_SD).rstrip("~"), {}, "malformed"),
    ("empty-disclosure", lambda: craft(GOOD_SD, [D_NAME]) + "~", {}, "malformed"),
    ("whitespace", lambda: " " + craft(GOOD_SD, [D_NAME]), {}, "malformed"),
    (
        "crit-header",
        lambda: craft(
            GOOD_SD, [D_NAME], header={"alg": "EdDSA", "typ": "dc+sd-jwt", "crit": ["b64"]}
        ),
        {},
        "malformed",
    ),
    (
        "jws-two-parts",
        lambda: ".".join(craft(GOOD_SD, [D_NAME]).split(".")[:2]) + f"~{D_NAME}~",
        {},
        "malformed",
    ),
    ("exp-string", lambda: craft(base_payload(exp="2028-01-14")), {}, "malformed"),
    ("nbf-bool", lambda: craft(base_payload(nbf=True)), {}, "malformed"),
    # SD-JWT VC: vct, never-disclosable claims
    ("vct-missing", lambda: craft(payload_without("vct"), [D_NAME]), {}, "malformed"),
    ("vct-not-string", lambda: craft(payload_without(vct=["x"]), [D_NAME]), {}, "malformed"),
    (
        "exp-selectively-disclosed",
        lambda: craft(
            payload_without("exp", _sd=[SD_NAME, disclosure_digest(EXP_DISCLOSURE)]),
            [D_NAME, EXP_DISCLOSURE],
        ),
        {},
        "sd_jwt_claim_not_disclosable",
    ),
    # §7.1 step 6: validity window
    (
        "expired",
        lambda: craft(base_payload(exp=int(NOW.timestamp()) - 61)),
        {},
        "expired",
    ),
    (
        "not-yet-valid",
        lambda: craft(base_payload(nbf=int(NOW.timestamp()) + 61)),
        {},
        "not_yet_valid",
    ),
    # §7.3: Key Binding
    ("kb-missing", lambda: VALID, {"key_binding": kb_policy()}, "sd_jwt_key_binding_missing"),
    (
        "kb-cnf-missing",
        lambda: with_kb(craft(payload_without("cnf"), [D_NAME])),
        {"key_binding": kb_policy()},
        "malformed",
    ),
    (
        "kb-cnf-jwk-private",
        lambda: with_kb(craft(payload_without(cnf={"jwk": HOLDER_ED.to_jwk()}), [D_NAME])),
        {"key_binding": kb_policy()},
        "malformed",
    ),
    (
        "kb-typ",
        lambda: with_kb(VALID, header={"alg": "EdDSA", "typ": "JWT"}),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-alg-none",
        lambda: (
            VALID + f"{b64_json({'alg': 'none', 'typ': 'kb+jwt'})}.{b64_json({'nonce': NONCE})}."
        ),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-alg-not-holder-key",
        lambda: with_kb(VALID, header={"alg": "ES256", "typ": "kb+jwt"}),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-signature-other-key",
        lambda: with_kb(VALID, OTHER_ED),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-nonce",
        lambda: with_kb(VALID, nonce="another-nonce"),
        {"key_binding": kb_policy()},
        "challenge_mismatch",
    ),
    (
        "kb-nonce-missing",
        lambda: with_kb(VALID, nonce=...),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-aud",
        lambda: with_kb(VALID, aud="https://evil.example"),
        {"key_binding": kb_policy()},
        "domain_mismatch",
    ),
    (
        "kb-aud-array",
        lambda: with_kb(VALID, aud=[AUDIENCE]),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-iat-future",
        lambda: with_kb(VALID, iat=int(NOW.timestamp()) + 61),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-iat-too-old",
        lambda: with_kb(VALID, iat=int(NOW.timestamp()) - 300 - 61),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-iat-missing",
        lambda: with_kb(VALID, iat=...),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-sd_hash-of-other-selection",
        lambda: VALID_KB.replace(f"~{D_BIRTH}~", "~"),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-sd_hash-without-trailing-tilde",
        lambda: with_kb(
            VALID, sd_hash=base64url_encode(hashlib.sha256(VALID[:-1].encode()).digest())
        ),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    (
        "kb-sd_hash-missing",
        lambda: with_kb(VALID, sd_hash=...),
        {"key_binding": kb_policy()},
        "sd_jwt_key_binding_invalid",
    ),
    # bounds
    ("too-many-disclosures", lambda: many_disclosures(65), {}, "limit_exceeded"),
    ("too-long", lambda: craft(base_payload(pad="x" * 70_000)), {}, "limit_exceeded"),
]


@pytest.mark.parametrize(
    ("make", "options", "code"),
    [pytest.param(make, options, code, id=name) for name, make, options, code in NEGATIVE_CASES],
)
def test_negative(make: Callable[[], str], options: dict[str, Any], code: str) -> None:
    assert code in CODES
    token = make()
    assert_refused(lambda: verify(token, **options), code)


def test_the_negative_table_covers_every_verification_code() -> None:
    covered = {code for _, _, _, code in NEGATIVE_CASES}
    assert covered >= CODES - {"sd_jwt_claim_not_found"}


def test_valid_tokens_of_the_negative_table_verify() -> None:
    """The baseline the negative cases deviate from is itself valid."""
    assert verify(VALID).processed_claims["name"] == SECRET_NAME
    assert verify(VALID_KB, key_binding=kb_policy()).key_bound
    assert verify(craft(GOOD_SD, [D_NAME])).disclosed == ("name",)
    assert verify(craft(sd_payload(nationalities=[{"...": SD_ARRAY}]), [D_ARRAY])).processed_claims[
        "nationalities"
    ] == ["JP"]
    nested = craft(
        sd_payload(SD_NAME, disclosure_digest(D_MUNICIPALITY)),
        [D_NAME, D_MUNICIPALITY, D_PREFECTURE],
    )
    assert verify(nested).processed_claims["municipality"] == {"prefecture": "北海道"}


def test_skew_boundaries() -> None:
    t = int(NOW.timestamp())
    assert verify(craft(base_payload(exp=t - 59))).processed_claims["exp"] == t - 59
    assert_refused(lambda: verify(craft(base_payload(exp=t - 60))), "expired")
    assert_refused(
        lambda: verify(
            craft(base_payload(exp=t + 10)), skew=timedelta(0), now=NOW + timedelta(seconds=10)
        ),
        "expired",
    )
    assert verify(craft(base_payload(nbf=t + 60))).processed_claims["nbf"] == t + 60
    assert_refused(
        lambda: verify(craft(base_payload(nbf=t + 1)), skew=timedelta(0)), "not_yet_valid"
    )
    huge = 10**400  # larger than any float: compared, never converted
    assert verify(craft(base_payload(exp=huge))).processed_claims["exp"] == huge


def test_kb_iat_window_uses_max_age() -> None:
    old = with_kb(VALID, iat=int(NOW.timestamp()) - 3600)
    assert_refused(lambda: verify(old, key_binding=kb_policy()), "sd_jwt_key_binding_invalid")
    policy = kb_policy(max_age=timedelta(hours=2))
    assert verify(old, key_binding=policy).key_bound


def test_issuer_key_callback_errors_keep_their_code() -> None:
    def unknown(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        raise FurusatoError(
            "issuer not trusted", "信頼されていない発行者です", code="issuer_unknown"
        )

    error = assert_refused(lambda: verify(VALID, issuer_key=unknown), "issuer_unknown")
    assert isinstance(error, FurusatoError)


def test_issuer_key_callback_sees_header_and_unverified_payload() -> None:
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def resolve(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        seen.append((dict(header), dict(payload)))
        return ISSUER_ED.public_key

    verify(VALID, issuer_key=resolve)
    [(header, payload)] = seen
    assert header["kid"] == "k1"
    assert payload["iss"] == "did:web:furusato.example.jp:lg:015814"
    assert "name" not in payload  # still hidden behind its digest


def test_bad_arguments() -> None:
    assert_refused(lambda: verify(VALID, now=datetime(2027, 2, 1)), "malformed")
    assert_refused(lambda: KeyBindingPolicy(nonce="", audience=AUDIENCE), "malformed")
    assert_refused(
        lambda: KeyBindingPolicy(nonce=NONCE, audience=AUDIENCE, max_age=timedelta(0)), "malformed"
    )
    assert_refused(lambda: parse(b"x~"), "malformed")  # type: ignore[arg-type]
    assert_refused(lambda: verify(VALID, accepted_typ="dc+sd-jwt"), "malformed")


def test_deep_nesting_is_bounded() -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = {"a": deep}
    assert_refused(lambda: verify(craft(base_payload(deep=deep))), "limit_exceeded")


def test_messages_never_contain_claim_values() -> None:
    # a number the JSON reader cannot hold: the reader would quote it, we do not
    bad = base64url_encode(b'["c2FsdA", "name", 1e999123]')
    error = assert_refused(
        lambda: verify(craft(sd_payload(disclosure_digest(bad)), [bad])), "malformed"
    )
    assert "999123" not in error.message_en + error.message_ja
    # a disclosed claim that collides with a plaintext one: the error names the claim only
    error = assert_refused(
        lambda: verify(craft(sd_payload(SD_NAME, name=SECRET_NAME), [D_NAME])),
        "sd_jwt_claim_conflict",
    )
    assert "name" in error.message_en


# =============================================================================================
# 4. the Holder and the Issuer
# =============================================================================================


def test_holder_refuses_an_sd_jwt_with_key_binding_rfc9901_7_2() -> None:
    assert_refused(lambda: present(VALID_KB, disclose=["name"], holder=None), "malformed")


def test_holder_refuses_unknown_claim_paths() -> None:
    assert_refused(lambda: present(VALID, disclose=["iss"], holder=None), "sd_jwt_claim_not_found")
    assert_refused(lambda: present(VALID, disclose=["nope"], holder=None), "sd_jwt_claim_not_found")
    assert_refused(lambda: present(VALID, disclose="name", holder=None), "malformed")


def test_holder_key_must_be_the_cnf_key() -> None:
    assert_refused(
        lambda: present(
            VALID, disclose=[], holder=OTHER_ED, nonce=NONCE, audience=AUDIENCE, issued_at=NOW
        ),
        "sd_jwt_key_binding_invalid",
    )
    no_cnf = craft(payload_without("cnf"), [D_NAME])
    assert_refused(
        lambda: present(
            no_cnf, disclose=[], holder=HOLDER_ED, nonce=NONCE, audience=AUDIENCE, issued_at=NOW
        ),
        "malformed",
    )


def test_holder_needs_nonce_audience_and_time_for_key_binding() -> None:
    assert_refused(
        lambda: present(VALID, disclose=[], holder=HOLDER_ED, audience=AUDIENCE, issued_at=NOW),
        "malformed",
    )
    assert_refused(
        lambda: present(
            VALID,
            disclose=[],
            holder=HOLDER_ED,
            nonce=NONCE,
            audience=AUDIENCE,
            issued_at=datetime(2027, 2, 1),
        ),
        "malformed",
    )
    assert_refused(lambda: present(VALID, disclose=[], holder=None, nonce=NONCE), "malformed")


def test_holder_checks_structure_rfc9901_7_2() -> None:
    bad = craft(sd_payload(SD_NAME), [D_NAME, D_BIRTH])
    assert_refused(
        lambda: present(bad, disclose=["name"], holder=None), "sd_jwt_disclosure_unreferenced"
    )


def test_kb_jwt_form_rfc9901_4_3() -> None:
    presentation = present(
        VALID,
        disclose=["name"],
        holder=HOLDER_ED,
        nonce=NONCE,
        audience=AUDIENCE,
        issued_at=NOW + timedelta(seconds=0.7),
    )
    parsed = parse(presentation)
    assert parsed.kb_jwt is not None
    assert parsed.kb_jwt.unverified_header == {"alg": "EdDSA", "typ": "kb+jwt"}
    assert parsed.kb_jwt.unverified_payload == {
        "iat": int(NOW.timestamp()),
        "aud": AUDIENCE,
        "nonce": NONCE,
        "sd_hash": base64url_encode(
            hashlib.sha256(parsed.without_key_binding.encode("ascii")).digest()
        ),
    }
    assert parsed.without_key_binding.endswith("~")


@pytest.mark.parametrize("name", sorted(sdjwt.NEVER_DISCLOSABLE))
def test_issuer_refuses_never_disclosable_claims(name: str) -> None:
    claims = {**furusato_claims(), name: furusato_claims().get(name, "x")}
    assert_refused(
        lambda: issue_sd_jwt(
            claims, ISSUER_ED, kid="k", disclosable=[name], random_bytes=deterministic_random(b"")
        ),
        "sd_jwt_claim_not_disclosable",
    )


@pytest.mark.parametrize("reserved", ["_sd", "...", "_sd_alg"])
def test_issuer_refuses_reserved_claim_names(reserved: str) -> None:
    claims = {**furusato_claims(), "municipality": {reserved: "x"}}
    assert_refused(
        lambda: issue_sd_jwt(claims, ISSUER_ED, kid="k", random_bytes=deterministic_random(b"")),
        "sd_jwt_claim_conflict",
    )


def test_issuer_refusals() -> None:
    def issue(claims: Any = None, **options: Any) -> str:
        options.setdefault("kid", "k")
        options.setdefault("random_bytes", deterministic_random(b"refuse"))
        return issue_sd_jwt(furusato_claims() if claims is None else claims, ISSUER_ED, **options)

    assert_refused(lambda: issue(disclosable=["nope"]), "sd_jwt_claim_not_found")
    assert_refused(lambda: issue(disclosable=["municipality.nope"]), "sd_jwt_claim_not_found")
    assert_refused(lambda: issue(disclosable="name"), "malformed")
    assert_refused(
        lambda: issue({k: v for k, v in furusato_claims().items() if k != "vct"}), "malformed"
    )
    assert_refused(lambda: issue({**furusato_claims(), "x": float("nan")}), "malformed")
    assert_refused(lambda: issue({**furusato_claims(), "x": {1: "a"}}), "malformed")
    assert_refused(lambda: issue({**furusato_claims(), "x": object()}), "malformed")
    assert_refused(lambda: issue({**furusato_claims(), "x": "\ud800"}), "malformed")
    assert_refused(lambda: issue(decoys=65), "malformed")
    assert_refused(lambda: issue(kid=""), "malformed")
    assert_refused(
        lambda: issue(random_bytes=lambda n: b"short", disclosable=["name"]), "malformed"
    )
    assert_refused(lambda: issue({**furusato_claims(), "pad": "x" * 70_000}), "limit_exceeded")
    # any Mapping will do as claims
    proxy = issue(MappingProxyType(furusato_claims()), disclosable=["name"])
    assert verify(proxy).processed_claims == furusato_claims()
    # a generic SD-JWT (not SD-JWT VC) needs no vct
    plain = issue({"sub": "x"}, typ="example+sd-jwt", disclosable=["sub"])
    assert verify(plain, accepted_typ=frozenset({"example+sd-jwt"})).processed_claims == {
        "sub": "x"
    }
