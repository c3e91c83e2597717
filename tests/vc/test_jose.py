"""VC-JOSE (vc/jose.py): ``application/vc+jwt`` and ``application/vp+jwt`` (VC-JOSE-COSE §3.1).

Round trips with our furusato resident credential for Ed25519 and P-256, did:web and did:key
kids; one negative test per rule (a table, one row per case, each with the code it must give);
the presentation cases (nonce, aud, freshness, holder, enveloped credentials); cross-checks
with joserfc, a JOSE implementation independent of jwcrypto and of our signer, in both
directions; and the one VC-JOSE-COSE specification example whose key is published.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from joserfc import jws as joserfc_jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey, OKPKey

from did.errors import DIDResolutionError, FurusatoError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey, PublicKey
from did.multibase import base64url_decode, base64url_encode
from schemas.loader import CREDENTIALS_V1, CREDENTIALS_V2
from schemas.municipalities import municipality_table
from vc import jose
from vc.furusato import resident_credential
from vc.jose import (
    JoseError,
    envelope,
    sign_vc_jwt,
    sign_vp_jwt,
    unenvelope,
    verify_vc_jwt,
    verify_vp_jwt,
)

Doc = dict[str, Any]
NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
HOST_DID = "did:web:furusato.example.jp:lg:015814"
WEB_KID = HOST_DID + "#key-1"
ED_ISSUER = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
P256_ISSUER = PrivateKey.from_seed(KeyType.P256, bytes(range(1, 33)))
OTHER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(5, 37)))  # 札幌市's key
OTHER_DID = "did:web:furusato.example.jp:lg:011002"
OTHER_KID = OTHER_DID + "#key-1"
ED_HOLDER = PrivateKey.from_seed(KeyType.ED25519, bytes(range(64, 96)))
P256_HOLDER = PrivateKey.from_seed(KeyType.P256, bytes(range(2, 34)))
NONCE = "n-0S6_WzA2Mj"
AUDIENCE = "x509_san_dns:verifier.furusato.example.jp"
MAX_AGE = timedelta(seconds=120)


def did_key(key: PrivateKey) -> str:
    return did_key_from_public_key(key.public_key)


def did_key_kid(key: PrivateKey) -> str:
    return did_key_verification_method_id(key.public_key)


# The keys a verifier can resolve (the registry + did:key in the shells).
KEYS: dict[str, PublicKey] = {
    WEB_KID: ED_ISSUER.public_key,
    HOST_DID + "#key-2": P256_ISSUER.public_key,
    OTHER_KID: OTHER_KEY.public_key,
    **{did_key_kid(k): k.public_key for k in (ED_ISSUER, P256_ISSUER, ED_HOLDER, P256_HOLDER)},
}


def key_for(kid: str) -> PublicKey:
    try:
        return KEYS[kid]
    except KeyError:
        raise DIDResolutionError("unknown verification method", "不明な検証メソッドです") from None


def credential(*, issuer: str = HOST_DID, holder: PrivateKey = ED_HOLDER, **changes: Any) -> Doc:
    """Our FurusatoResidentCredential (DESIGN.md §3), unsigned."""
    unsigned = resident_credential(
        credential_id="urn:uuid:0f5b1a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        issuer=issuer,
        issuer_name="厚真町",
        municipality=municipality_table().get("015814"),
        holder=did_key(holder),
        tier="premium",
        registered_since=date(2027, 1, 15),
        valid_from=datetime(2027, 1, 15, tzinfo=UTC),
        valid_until=datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC),
        status=[
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "94567",
                "statusListCredential": "https://furusato.example.jp/status/015814/revocation/1",
            }
        ],
    )
    unsigned.update(changes)
    return unsigned


def b64json(value: Any) -> str:
    return base64url_encode(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def forge(header: Any, payload: Any, signer: PrivateKey | None = ED_ISSUER) -> str:
    """A compact JWS built by hand (not by vc/jose.py), validly signed by ``signer``."""
    signing_input = b64json(header) + "." + b64json(payload)
    signature = signer.sign(signing_input.encode("ascii")) if signer else b""
    return signing_input + "." + base64url_encode(signature)


def header(alg: str = "EdDSA", kid: str = WEB_KID, **more: Any) -> Doc:
    return {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": kid, **more}


def code_of(call: Callable[[], object]) -> str:
    with pytest.raises(JoseError) as info:
        call()
    error = info.value
    assert isinstance(error, FurusatoError)
    assert error.message_en
    assert error.message_ja
    return error.code


def verify(token: str, **kw: Any) -> jose.VerifiedJwt:
    return verify_vc_jwt(token, key_for=kw.pop("key_for", key_for), now=kw.pop("now", NOW), **kw)


def parts(token: str) -> tuple[Doc, Doc, str]:
    h, p, s = token.split(".")
    return json.loads(base64url_decode(h)), json.loads(base64url_decode(p, max_length=10**6)), s


# --- §3.1.1 round trips -----------------------------------------------------------------------

SIGNERS = [
    pytest.param(ED_ISSUER, HOST_DID, WEB_KID, "EdDSA", id="Ed25519-did:web"),
    pytest.param(P256_ISSUER, HOST_DID, HOST_DID + "#key-2", "ES256", id="P-256-did:web"),
    pytest.param(
        ED_ISSUER, did_key(ED_ISSUER), did_key_kid(ED_ISSUER), "EdDSA", id="Ed25519-did:key"
    ),
    pytest.param(
        P256_ISSUER, did_key(P256_ISSUER), did_key_kid(P256_ISSUER), "ES256", id="P-256-did:key"
    ),
]


@pytest.mark.parametrize(("signer", "issuer", "kid", "alg"), SIGNERS)
def test_3_1_1_round_trip(signer: PrivateKey, issuer: str, kid: str, alg: str) -> None:
    unsigned = credential(issuer=issuer)
    token = sign_vc_jwt(unsigned, signer, kid=kid)
    head, payload, _ = parts(token)
    assert head == {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": kid}
    assert payload == unsigned  # the payload IS the credential: no vc claim, nothing added
    assert list(payload) == list(unsigned)  # key order kept
    verified = verify(token)
    assert verified.credential == unsigned
    assert verified.header == head
    assert verified.kid == kid
    assert verified.issued_at is None


def test_3_1_3_iat_only_when_asked() -> None:
    token = sign_vc_jwt(credential(), ED_ISSUER, kid=WEB_KID, issued_at=NOW)
    _, payload, _ = parts(token)
    assert payload["iat"] == int(NOW.timestamp())
    assert not {"exp", "nbf", "iss", "jti", "sub", "vc"} & set(payload)
    verified = verify(token)
    assert verified.issued_at == NOW


def test_3_1_1_issuer_as_string_and_matching_iss() -> None:
    unsigned = credential(issuer=HOST_DID)
    unsigned["issuer"] = HOST_DID
    token = forge(header(), {**unsigned, "iss": HOST_DID, "jti": unsigned["id"]})
    assert verify(token).credential["iss"] == HOST_DID


def test_ed25519_fully_specified_alg_when_allowed() -> None:
    token = forge(header(alg="Ed25519"), credential())
    assert code_of(lambda: verify(token)) == "jose_alg_not_allowed"
    assert verify(token, accepted_algs={"Ed25519"}).header["alg"] == "Ed25519"


def test_utf8_payload_is_not_escaped() -> None:
    token = sign_vc_jwt(credential(), ED_ISSUER, kid=WEB_KID)
    raw = base64url_decode(token.split(".")[1], max_length=10**6)
    assert "厚真町".encode() in raw


# --- negative cases: one row per rule -----------------------------------------------------------

GOOD = credential()


def _hs256_with_public_key() -> str:
    """Key confusion: an HMAC 'signed' with the issuer's public key as the secret."""
    signing_input = b64json(header(alg="HS256")) + "." + b64json(GOOD)
    mac = hmac.new(ED_ISSUER.public_key.raw, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64url_encode(mac)


def _json_serialization() -> str:
    compact = sign_vc_jwt(GOOD, ED_ISSUER, kid=WEB_KID)
    h, p, s = compact.split(".")
    return json.dumps({"protected": h, "payload": p, "signature": s})


def _tamper_payload() -> str:
    token = sign_vc_jwt(GOOD, ED_ISSUER, kid=WEB_KID)
    h, _, s = token.split(".")
    return (
        h
        + "."
        + b64json(
            {
                **GOOD,
                "credentialSubject": {**GOOD["credentialSubject"], "registrationTier": "basic"},
            }
        )
        + "."
        + s
    )


def _tamper_header() -> str:
    token = sign_vc_jwt(GOOD, ED_ISSUER, kid=WEB_KID)
    _, p, s = token.split(".")
    return b64json({**header(), "x-note": 1}) + "." + p + "." + s


def _resigned(change: Callable[[bytes], bytes]) -> str:
    h, p, s = sign_vc_jwt(GOOD, ED_ISSUER, kid=WEB_KID).split(".")
    return h + "." + p + "." + base64url_encode(change(base64url_decode(s)))


def _padded() -> str:
    h, p, s = sign_vc_jwt(GOOD, ED_ISSUER, kid=WEB_KID).split(".")
    return h + "." + p + "." + s + "=="


NEGATIVE: list[tuple[str, Callable[[], str], str]] = [
    ("typ missing", lambda: forge({"alg": "EdDSA", "kid": WEB_KID}, GOOD), "unsupported_format"),
    ("typ JWT", lambda: forge(header(typ="JWT"), GOOD), "unsupported_format"),
    ("typ vp+jwt", lambda: forge(header(typ="vp+jwt"), GOOD), "unsupported_format"),
    ("typ vc+sd-jwt", lambda: forge(header(typ="vc+sd-jwt"), GOOD), "unsupported_format"),
    ("typ not a string", lambda: forge(header(typ=["vc+jwt"]), GOOD), "unsupported_format"),
    ("cty vp", lambda: forge(header(cty="vp"), GOOD), "unsupported_format"),
    ("cty json", lambda: forge(header(cty="application/json"), GOOD), "unsupported_format"),
    (
        "alg none, empty signature",
        lambda: forge(header(alg="none"), GOOD, None),
        "jose_alg_not_allowed",
    ),
    ("alg none, a signature", lambda: forge(header(alg="none"), GOOD), "jose_alg_not_allowed"),
    ("alg missing", lambda: forge({"typ": "vc+jwt", "kid": WEB_KID}, GOOD), "jose_alg_not_allowed"),
    ("alg HS256, public key as secret", _hs256_with_public_key, "jose_alg_not_allowed"),
    ("alg RS256", lambda: forge(header(alg="RS256"), GOOD), "jose_alg_not_allowed"),
    (
        "alg ES256 over an Ed25519 key",
        lambda: forge(header(alg="ES256"), GOOD, P256_ISSUER),
        "jose_alg_not_allowed",
    ),
    (
        "alg EdDSA over a P-256 key",
        lambda: forge(header(kid=HOST_DID + "#key-2"), GOOD),
        "jose_alg_not_allowed",
    ),
    ("kid missing", lambda: forge({"alg": "EdDSA", "typ": "vc+jwt"}, GOOD), "malformed"),
    ("kid not a DID URL", lambda: forge(header(kid="key-1"), GOOD), "malformed"),
    ("kid a bare DID", lambda: forge(header(kid=HOST_DID), GOOD), "malformed"),
    (
        "kid unknown",
        lambda: forge(header(kid=HOST_DID + "#key-9"), GOOD),
        "verification_method_unresolved",
    ),
    (
        "kid of another DID than the issuer",
        lambda: forge(header(kid=OTHER_KID), GOOD, OTHER_KEY),
        "issuer_mismatch",
    ),
    (
        "issuer not a DID",
        lambda: forge(header(), {**GOOD, "issuer": "https://furusato.example.jp"}),
        "issuer_mismatch",
    ),
    (
        "issuer missing",
        lambda: forge(header(), {k: v for k, v in GOOD.items() if k != "issuer"}),
        "malformed",
    ),
    (
        "vc claim",
        lambda: forge(header(), {**GOOD, "vc": {"type": ["VerifiableCredential"]}}),
        "unsupported_format",
    ),
    ("vp claim", lambda: forge(header(), {**GOOD, "vp": {}}), "unsupported_format"),
    ("iss mismatch", lambda: forge(header(), {**GOOD, "iss": OTHER_DID}), "issuer_mismatch"),
    (
        "jti conflicts with id",
        lambda: forge(header(), {**GOOD, "jti": "urn:uuid:other"}),
        "malformed",
    ),
    (
        "sub conflicts with subject",
        lambda: forge(header(), {**GOOD, "sub": OTHER_DID}),
        "malformed",
    ),
    (
        "exp passed",
        lambda: forge(header(), {**GOOD, "exp": int(NOW.timestamp()) - 3600}),
        "expired",
    ),
    (
        "exp not a number",
        lambda: forge(header(), {**GOOD, "exp": "2027-01-01T00:00:00Z"}),
        "malformed",
    ),
    ("exp a boolean", lambda: forge(header(), {**GOOD, "exp": True}), "malformed"),
    (
        "nbf future",
        lambda: forge(header(), {**GOOD, "nbf": int(NOW.timestamp()) + 3600}),
        "not_yet_valid",
    ),
    (
        "iat future",
        lambda: forge(header(), {**GOOD, "iat": int(NOW.timestamp()) + 3600}),
        "not_yet_valid",
    ),
    (
        "VCDM 1.1 payload",
        lambda: forge(header(), {**GOOD, "@context": [CREDENTIALS_V1]}),
        "unsupported_format",
    ),
    (
        "not a credential",
        lambda: forge(header(), {**GOOD, "type": ["VerifiablePresentation"]}),
        "malformed",
    ),
    (
        "embedded proof in the payload",
        lambda: forge(header(), {**GOOD, "proof": {"type": "DataIntegrityProof"}}),
        "unsupported_format",
    ),
    ("payload not an object", lambda: forge(header(), [GOOD]), "malformed"),
    ("header not an object", lambda: forge(["EdDSA"], GOOD), "malformed"),
    ("JSON-serialized JWS", _json_serialization, "unsupported_format"),
    (
        "b64 false with crit",
        lambda: forge(header(b64=False, crit=["b64"]), GOOD),
        "unsupported_format",
    ),
    ("b64 false alone", lambda: forge(header(b64=False), GOOD), "unsupported_format"),
    ("crit", lambda: forge(header(crit=["exp"], exp=1), GOOD), "unsupported_format"),
    (
        "jwk in the header",
        lambda: forge(header(jwk=ED_ISSUER.public_key.to_jwk()), GOOD),
        "unsupported_format",
    ),
    (
        "jku in the header",
        lambda: forge(header(jku="https://attacker.example/jwks"), GOOD),
        "unsupported_format",
    ),
    (
        "x5u in the header",
        lambda: forge(header(x5u="https://attacker.example/cert"), GOOD),
        "unsupported_format",
    ),
    ("tampered payload", _tamper_payload, "signature_invalid"),
    ("tampered header", _tamper_header, "signature_invalid"),
    ("signature of another key", lambda: forge(header(), GOOD, OTHER_KEY), "signature_invalid"),
    ("signature truncated", lambda: _resigned(lambda sig: sig[:-3]), "signature_invalid"),
    ("signature empty", lambda: _resigned(lambda sig: b""), "signature_invalid"),
    ("padded base64url", _padded, "malformed"),
    ("SD-JWT", lambda: forge(header(), GOOD) + "~", "unsupported_format"),
    ("JWE (five parts)", lambda: "a.b.c.d.e", "unsupported_format"),
    ("two parts", lambda: "eyJhIjoxfQ.eyJhIjoxfQ", "malformed"),
    ("empty payload (detached)", lambda: b64json(header()) + ".." + "AAAA", "malformed"),
    ("non-ASCII", lambda: forge(header(), GOOD) + "あ", "malformed"),
    (
        "duplicate header member",
        lambda: base64url_encode(b'{"alg":"EdDSA","alg":"none"}') + ".e30.AA",
        "malformed",
    ),
    ("too large", lambda: "a" * (jose.MAX_TOKEN_BYTES + 1), "limit_exceeded"),
]


@pytest.mark.parametrize(("make", "code"), [pytest.param(m, c, id=name) for name, m, c in NEGATIVE])
def test_refused(make: Callable[[], str], code: str) -> None:
    token = make()
    assert code_of(lambda: verify(token)) == code


def test_the_good_forgery_verifies() -> None:
    """The table's base case passes, so each row fails for its own reason."""
    assert verify(forge(header(), GOOD)).credential == GOOD


def test_hs256_refused_even_if_a_caller_asks_for_it() -> None:
    token = _hs256_with_public_key()
    assert code_of(lambda: verify(token, accepted_algs={"HS256"})) == "jose_alg_not_allowed"
    assert code_of(lambda: verify(token, accepted_algs="EdDSA")) == "jose_alg_not_allowed"


def test_alg_outside_the_accepted_set() -> None:
    token = sign_vc_jwt(credential(), P256_ISSUER, kid=HOST_DID + "#key-2")
    assert code_of(lambda: verify(token, accepted_algs={"EdDSA"})) == "jose_alg_not_allowed"


def test_time_edges_and_skew() -> None:
    exp = int(NOW.timestamp())
    token = forge(header(), {**GOOD, "exp": exp + 30})
    assert verify(token).credential["exp"] == exp + 30
    assert (
        code_of(lambda: verify(token, max_clock_skew=timedelta(0), now=NOW + timedelta(seconds=30)))
        == "expired"
    )
    nbf = forge(header(), {**GOOD, "nbf": exp + 30})
    assert verify(nbf).credential["nbf"] == exp + 30  # within the default 60 s skew
    assert code_of(lambda: verify(nbf, max_clock_skew=timedelta(0))) == "not_yet_valid"


def test_header_application_prefix_and_case() -> None:
    token = forge(header(typ="application/VC+JWT", cty="application/vc"), GOOD)
    assert verify(token).header["typ"] == "application/VC+JWT"
    no_cty = forge({"alg": "EdDSA", "typ": "vc+jwt", "kid": WEB_KID}, GOOD)
    assert verify(no_cty).credential == GOOD


def test_unknown_header_members_and_claims_are_ignored() -> None:
    """§3.1.3: "If they are not understood, they MUST be ignored"."""
    token = forge({**header(x5t="abc"), "x-furusato": True}, {**GOOD, "cnf": {"kid": "x"}})
    assert verify(token).credential["cnf"] == {"kid": "x"}


def test_key_for_errors_become_verification_method_unresolved() -> None:
    token = sign_vc_jwt(GOOD, ED_ISSUER, kid=WEB_KID)

    def not_a_key(kid: str) -> PublicKey:
        return "z6Mk…"  # type: ignore[return-value]

    assert code_of(lambda: verify(token, key_for=not_a_key)) == "verification_method_unresolved"


def test_messages_never_repeat_claim_values() -> None:
    secret = "秘密の値-0123456789"
    for token in (
        forge(header(), {**GOOD, "iss": secret}),
        forge(header(), {**GOOD, "jti": secret}),
        forge(header(), {**GOOD, "exp": 1}),
        forge(header(kid=f"did:web:{secret}#k"), GOOD),
        forge(header(alg=secret), GOOD),
        forge(header(typ=secret), GOOD),
    ):
        with pytest.raises(JoseError) as info:
            verify(token)
        assert secret not in info.value.message_en
        assert secret not in info.value.message_ja


# --- signing refuses --------------------------------------------------------------------------

SIGN_REFUSED: list[tuple[str, Callable[[], object], str]] = [
    (
        "embedded proof",
        lambda: sign_vc_jwt(
            {**GOOD, "proof": {"type": "DataIntegrityProof"}}, ED_ISSUER, kid=WEB_KID
        ),
        "unsupported_format",
    ),
    (
        "VCDM 1.1",
        lambda: sign_vc_jwt({**GOOD, "@context": [CREDENTIALS_V1]}, ED_ISSUER, kid=WEB_KID),
        "unsupported_format",
    ),
    (
        "context not a list",
        lambda: sign_vc_jwt({**GOOD, "@context": CREDENTIALS_V2}, ED_ISSUER, kid=WEB_KID),
        "unsupported_format",
    ),
    ("vc member", lambda: sign_vc_jwt({**GOOD, "vc": {}}, ED_ISSUER, kid=WEB_KID), "malformed"),
    (
        "iat member and issued_at",
        lambda: sign_vc_jwt({**GOOD, "iat": 1}, ED_ISSUER, kid=WEB_KID, issued_at=NOW),
        "malformed",
    ),
    (
        "data model",
        lambda: sign_vc_jwt(
            {k: v for k, v in GOOD.items() if k != "credentialSubject"}, ED_ISSUER, kid=WEB_KID
        ),
        "malformed",
    ),
    ("kid of another DID", lambda: sign_vc_jwt(GOOD, OTHER_KEY, kid=OTHER_KID), "issuer_mismatch"),
    ("kid not a DID URL", lambda: sign_vc_jwt(GOOD, ED_ISSUER, kid="key-1"), "malformed"),
    (
        "naive issued_at",
        lambda: sign_vc_jwt(GOOD, ED_ISSUER, kid=WEB_KID, issued_at=datetime(2027, 1, 1)),
        "malformed",
    ),
    (
        "not JSON",
        lambda: sign_vc_jwt(
            {**GOOD, "credentialSubject": {**GOOD["credentialSubject"], "note": b"x"}},
            ED_ISSUER,
            kid=WEB_KID,
        ),
        "malformed",
    ),
    ("not a mapping", lambda: sign_vc_jwt([GOOD], ED_ISSUER, kid=WEB_KID), "malformed"),  # type: ignore[arg-type]
    (
        "not a private key",
        lambda: sign_vc_jwt(GOOD, ED_ISSUER.public_key, kid=WEB_KID),  # type: ignore[arg-type]
        "malformed",
    ),
]


@pytest.mark.parametrize(
    ("call", "code"), [pytest.param(c, code, id=name) for name, c, code in SIGN_REFUSED]
)
def test_signing_refused(call: Callable[[], object], code: str) -> None:
    assert code_of(call) == code


# --- presentations: §3.1.2 + OpenID4VP binding ---------------------------------------------------


def vc_jwt(holder: PrivateKey = ED_HOLDER) -> str:
    return sign_vc_jwt(credential(holder=holder), ED_ISSUER, kid=WEB_KID, issued_at=NOW)


def presentation(holder: PrivateKey = ED_HOLDER, *credentials: str, **changes: Any) -> Doc:
    doc: Doc = {
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiablePresentation"],
        "holder": did_key(holder),
        "verifiableCredential": [envelope(c) for c in (credentials or (vc_jwt(holder),))],
    }
    doc.update(changes)
    return doc


def vp_jwt(
    holder: PrivateKey = ED_HOLDER, doc: Doc | None = None, *, issued_at: datetime = NOW, **kw: Any
) -> str:
    return sign_vp_jwt(
        doc if doc is not None else presentation(holder),
        holder,
        kid=kw.pop("kid", did_key_kid(holder)),
        nonce=kw.pop("nonce", NONCE),
        audience=kw.pop("audience", AUDIENCE),
        issued_at=issued_at,
    )


def verify_vp(token: str, **kw: Any) -> jose.VerifiedPresentationJwt:
    return verify_vp_jwt(
        token,
        key_for=kw.pop("key_for", key_for),
        nonce=kw.pop("nonce", NONCE),
        audience=kw.pop("audience", AUDIENCE),
        now=kw.pop("now", NOW + timedelta(seconds=20)),
        max_age=kw.pop("max_age", MAX_AGE),
        **kw,
    )


def vp_header(holder: PrivateKey = ED_HOLDER) -> Doc:
    return {"alg": holder.alg, "typ": "vp+jwt", "cty": "vp", "kid": did_key_kid(holder)}


def vp_claims(doc: Doc, **claims: Any) -> Doc:
    base = {"nonce": NONCE, "aud": AUDIENCE, "iat": int(NOW.timestamp())}
    return {**doc, **base, **claims}


@pytest.mark.parametrize("holder", [ED_HOLDER, P256_HOLDER], ids=["Ed25519", "P-256"])
def test_3_1_2_presentation_round_trip_and_holder_binding(holder: PrivateKey) -> None:
    credential_jwt = vc_jwt(holder)
    token = vp_jwt(holder, presentation(holder, credential_jwt))
    head, payload, _ = parts(token)
    assert head == vp_header(holder)
    assert payload["nonce"] == NONCE
    assert payload["aud"] == AUDIENCE
    assert payload["iat"] == int(NOW.timestamp())
    assert payload["verifiableCredential"][0] == {
        "@context": CREDENTIALS_V2,
        "id": "data:application/vc+jwt," + credential_jwt,
        "type": "EnvelopedVerifiableCredential",
    }
    verified = verify_vp(token)
    assert verified.holder == did_key(holder)
    assert verified.issued_at == NOW
    assert verified.unverified_credentials == (credential_jwt,)
    # What the caller does next: verify each credential and bind its subject to the holder.
    for item in verified.unverified_credentials:
        inner = verify(item)
        assert inner.credential["credentialSubject"]["id"] == verified.holder


def test_presentation_aud_as_array() -> None:
    doc = vp_claims(presentation(), aud=["https://other.example", AUDIENCE])
    assert verify_vp(forge(vp_header(), doc, ED_HOLDER)).holder == did_key(ED_HOLDER)


def _tampered_inside() -> str:
    """The enveloped credential altered after the holder signed the VP."""
    token = vp_jwt()
    h, p, s = token.split(".")
    payload = json.loads(base64url_decode(p, max_length=10**6))
    url = payload["verifiableCredential"][0]["id"]
    payload["verifiableCredential"][0]["id"] = url[:-6] + (
        "AAAAAA" if not url.endswith("AAAAAA") else "BBBBBB"
    )
    return h + "." + b64json(payload) + "." + s


def _other_media_type(url_prefix: str) -> str:
    doc = presentation()
    doc["verifiableCredential"] = [{**doc["verifiableCredential"][0], "id": url_prefix + vc_jwt()}]
    return forge(vp_header(), vp_claims(doc), ED_HOLDER)


PRESENTATION_REFUSED: list[tuple[str, Callable[[], str], dict[str, Any], str]] = [
    ("wrong nonce", vp_jwt, {"nonce": "n-other"}, "challenge_mismatch"),
    (
        "nonce missing",
        lambda: forge(
            vp_header(),
            {k: v for k, v in vp_claims(presentation()).items() if k != "nonce"},
            ED_HOLDER,
        ),
        {},
        "challenge_mismatch",
    ),
    (
        "nonce not a string",
        lambda: forge(vp_header(), vp_claims(presentation(), nonce=[NONCE]), ED_HOLDER),
        {},
        "challenge_mismatch",
    ),
    ("wrong aud", vp_jwt, {"audience": "x509_san_dns:other.example"}, "domain_mismatch"),
    (
        "aud missing",
        lambda: forge(
            vp_header(),
            {k: v for k, v in vp_claims(presentation()).items() if k != "aud"},
            ED_HOLDER,
        ),
        {},
        "domain_mismatch",
    ),
    ("stale iat", vp_jwt, {"now": NOW + MAX_AGE + timedelta(seconds=61)}, "presentation_stale"),
    ("iat in the future", vp_jwt, {"now": NOW - timedelta(seconds=61)}, "presentation_stale"),
    (
        "iat missing",
        lambda: forge(
            vp_header(),
            {k: v for k, v in vp_claims(presentation()).items() if k != "iat"},
            ED_HOLDER,
        ),
        {},
        "presentation_stale",
    ),
    (
        "exp passed",
        lambda: forge(
            vp_header(), vp_claims(presentation(), exp=int(NOW.timestamp()) - 3600), ED_HOLDER
        ),
        {},
        "expired",
    ),
    (
        "holder not the kid's DID",
        lambda: forge(
            vp_header(), vp_claims(presentation(), holder=did_key(P256_HOLDER)), ED_HOLDER
        ),
        {},
        "holder_binding_failed",
    ),
    (
        "holder missing",
        lambda: forge(
            vp_header(),
            vp_claims({k: v for k, v in presentation().items() if k != "holder"}),
            ED_HOLDER,
        ),
        {},
        "holder_binding_failed",
    ),
    (
        "iss not the holder",
        lambda: forge(vp_header(), vp_claims(presentation(), iss=HOST_DID), ED_HOLDER),
        {},
        "holder_binding_failed",
    ),
    ("enveloped credential tampered", _tampered_inside, {}, "signature_invalid"),
    (
        "media type vc+sd-jwt",
        lambda: _other_media_type("data:application/vc+sd-jwt,"),
        {},
        "unsupported_format",
    ),
    (
        "media type vc+ld+json+jwt",
        lambda: _other_media_type("data:application/vc+ld+json+jwt,"),
        {},
        "unsupported_format",
    ),
    (
        "base64 flag",
        lambda: _other_media_type("data:application/vc+jwt;base64,"),
        {},
        "unsupported_format",
    ),
    (
        "media type parameter",
        lambda: _other_media_type("data:application/vc+jwt;charset=utf-8,"),
        {},
        "unsupported_format",
    ),
    (
        "media type in capitals",
        lambda: _other_media_type("data:APPLICATION/VC+JWT,"),
        {},
        "unsupported_format",
    ),
    (
        "not a data: URL",
        lambda: _other_media_type("https://furusato.example.jp/vc/"),
        {},
        "malformed",
    ),
    (
        "credential not enveloped",
        lambda: forge(
            vp_header(), vp_claims(presentation(), verifiableCredential=[credential()]), ED_HOLDER
        ),
        {},
        "unsupported_format",
    ),
    (
        "credential as a string",
        lambda: forge(
            vp_header(), vp_claims(presentation(), verifiableCredential=[vc_jwt()]), ED_HOLDER
        ),
        {},
        "unsupported_format",
    ),
    (
        "too many credentials",
        lambda: forge(
            vp_header(),
            vp_claims(presentation(), verifiableCredential=[envelope(vc_jwt())] * 17),
            ED_HOLDER,
        ),
        {},
        "limit_exceeded",
    ),
    (
        "typ vc+jwt",
        lambda: forge({**vp_header(), "typ": "vc+jwt"}, vp_claims(presentation()), ED_HOLDER),
        {},
        "unsupported_format",
    ),
    (
        "cty vc",
        lambda: forge({**vp_header(), "cty": "vc"}, vp_claims(presentation()), ED_HOLDER),
        {},
        "unsupported_format",
    ),
    (
        "vp claim",
        lambda: forge(vp_header(), vp_claims(presentation(), vp={}), ED_HOLDER),
        {},
        "unsupported_format",
    ),
    (
        "a credential, not a presentation",
        lambda: forge(
            vp_header(), vp_claims(presentation(), type=["VerifiableCredential"]), ED_HOLDER
        ),
        {},
        "malformed",
    ),
    (
        "alg ES256 over the holder's Ed25519 key",
        lambda: forge({**vp_header(), "alg": "ES256"}, vp_claims(presentation()), P256_HOLDER),
        {},
        "jose_alg_not_allowed",
    ),
    (
        "signature of another Ed25519 key",
        lambda: forge(vp_header(), vp_claims(presentation()), ED_ISSUER),
        {},
        "signature_invalid",
    ),
]


@pytest.mark.parametrize(
    ("make", "options", "code"),
    [pytest.param(m, o, c, id=name) for name, m, o, c in PRESENTATION_REFUSED],
)
def test_presentation_refused(make: Callable[[], str], options: dict[str, Any], code: str) -> None:
    token = make()
    assert code_of(lambda: verify_vp(token, **options)) == code


def test_presentation_freshness_edges() -> None:
    token = vp_jwt()
    assert verify_vp(token, now=NOW + MAX_AGE + timedelta(seconds=60)).issued_at == NOW
    assert verify_vp(token, now=NOW - timedelta(seconds=60)).issued_at == NOW
    late = NOW + MAX_AGE + timedelta(seconds=1)
    assert (
        code_of(lambda: verify_vp(token, now=late, max_clock_skew=timedelta(0)))
        == "presentation_stale"
    )


def test_a_tampered_credential_signed_by_the_holder_fails_at_the_credential() -> None:
    """The holder's signature covers the enveloped credential, not the issuer's: the caller's
    verify_vc_jwt of each returned credential catches what the holder altered."""
    h, p, s = vc_jwt().split(".")
    payload = json.loads(base64url_decode(p, max_length=10**6))
    payload["credentialSubject"]["registrationTier"] = "premium-plus"
    forged = h + "." + b64json(payload) + "." + s
    verified = verify_vp(vp_jwt(ED_HOLDER, presentation(ED_HOLDER, forged)))
    assert verified.unverified_credentials == (forged,)
    assert code_of(lambda: verify(verified.unverified_credentials[0])) == "signature_invalid"


def test_a_presentation_is_not_a_credential_and_back() -> None:
    assert code_of(lambda: verify(vp_jwt())) == "unsupported_format"
    assert code_of(lambda: verify_vp(vc_jwt())) == "unsupported_format"


PRESENTATION_SIGN_REFUSED: list[tuple[str, Callable[[], object], str]] = [
    (
        "holder not the kid's DID",
        lambda: vp_jwt(ED_HOLDER, presentation(P256_HOLDER)),
        "holder_binding_failed",
    ),
    (
        "holder missing",
        lambda: vp_jwt(ED_HOLDER, {k: v for k, v in presentation().items() if k != "holder"}),
        "holder_binding_failed",
    ),
    (
        "plain credential",
        lambda: vp_jwt(ED_HOLDER, presentation(verifiableCredential=[credential()])),
        "unsupported_format",
    ),
    (
        "other media type",
        lambda: vp_jwt(
            ED_HOLDER,
            presentation(
                verifiableCredential=[
                    {**envelope(vc_jwt()), "id": "data:application/vc+sd-jwt," + vc_jwt()}
                ]
            ),
        ),
        "unsupported_format",
    ),
    (
        "embedded proof",
        lambda: vp_jwt(ED_HOLDER, presentation(proof={"type": "DataIntegrityProof"})),
        "unsupported_format",
    ),
    ("nonce member", lambda: vp_jwt(ED_HOLDER, presentation(nonce="x")), "malformed"),
    ("empty nonce", lambda: vp_jwt(nonce=""), "malformed"),
    ("nonce with a newline", lambda: vp_jwt(nonce="a\nb"), "malformed"),
    ("empty audience", lambda: vp_jwt(audience=""), "malformed"),
    (
        "VCDM 1.1",
        lambda: vp_jwt(ED_HOLDER, {**presentation(), "@context": [CREDENTIALS_V1]}),
        "unsupported_format",
    ),
]


@pytest.mark.parametrize(
    ("call", "code"),
    [pytest.param(c, code, id=name) for name, c, code in PRESENTATION_SIGN_REFUSED],
)
def test_presentation_signing_refused(call: Callable[[], object], code: str) -> None:
    assert code_of(call) == code


def test_verifier_arguments_are_checked() -> None:
    token = vp_jwt()
    assert code_of(lambda: verify_vp(token, nonce="")) == "malformed"
    assert code_of(lambda: verify_vp(token, max_age=timedelta(seconds=-1))) == "malformed"
    assert code_of(lambda: verify_vp(token, now=datetime(2027, 2, 1))) == "malformed"
    assert code_of(lambda: verify(vc_jwt(), now="2027-02-01")) == "malformed"


# --- EnvelopedVerifiableCredential (VCDM 2.0 §4.13.1) ---------------------------------------------


def test_envelope_round_trip() -> None:
    token = vc_jwt()
    wrapped = envelope(token)
    assert wrapped == {
        "@context": CREDENTIALS_V2,
        "id": "data:application/vc+jwt," + token,
        "type": "EnvelopedVerifiableCredential",
    }
    assert unenvelope(wrapped) == token
    listed = {**wrapped, "@context": [CREDENTIALS_V2], "type": ["EnvelopedVerifiableCredential"]}
    assert unenvelope(listed) == token


@pytest.mark.parametrize(
    ("item", "code"),
    [
        pytest.param("data:application/vc+jwt,a.b.c", "unsupported_format", id="a string"),
        pytest.param(
            {
                "id": "data:application/vc+jwt,a.b.c",
                "type": "VerifiableCredential",
                "@context": CREDENTIALS_V2,
            },
            "unsupported_format",
            id="wrong type",
        ),
        pytest.param(
            {"id": "data:application/vc+jwt,a.b.c", "type": "EnvelopedVerifiableCredential"},
            "malformed",
            id="no context",
        ),
        pytest.param(
            {
                "id": "data:application/vc+jwt,a.b",
                "type": "EnvelopedVerifiableCredential",
                "@context": CREDENTIALS_V2,
            },
            "malformed",
            id="not a JWS",
        ),
        pytest.param(
            {
                "id": "data:application/vc+jwt,a.b.c%2E",
                "type": "EnvelopedVerifiableCredential",
                "@context": CREDENTIALS_V2,
            },
            "malformed",
            id="percent-encoded",
        ),
        pytest.param(
            {
                "id": "data:application/vc+jwt;base64,YS5iLmM",
                "type": "EnvelopedVerifiableCredential",
                "@context": CREDENTIALS_V2,
            },
            "unsupported_format",
            id="base64",
        ),
        pytest.param(
            {
                "id": "data:application/vc+cose;base64,0oRY",
                "type": "EnvelopedVerifiableCredential",
                "@context": CREDENTIALS_V2,
            },
            "unsupported_format",
            id="cose",
        ),
        pytest.param(
            {"id": 7, "type": "EnvelopedVerifiableCredential", "@context": CREDENTIALS_V2},
            "malformed",
            id="id not a string",
        ),
    ],
)
def test_unenvelope_refuses(item: object, code: str) -> None:
    assert code_of(lambda: unenvelope(item)) == code


def test_envelope_refuses_what_is_not_a_jws() -> None:
    assert code_of(lambda: envelope("not a jws")) == "malformed"
    assert code_of(lambda: envelope("a.b.c~")) == "malformed"


# --- interoperability: joserfc (independent of jwcrypto and of our signer) ------------------------


def joserfc_public(key: PublicKey) -> OKPKey | ECKey:
    jwk: dict[str, str | list[str]] = dict(key.to_jwk())
    return OKPKey.import_key(jwk) if jwk["kty"] == "OKP" else ECKey.import_key(jwk)


def joserfc_private(key: PrivateKey) -> OKPKey | ECKey:
    jwk: dict[str, str | list[str]] = dict(key.to_jwk())
    return OKPKey.import_key(jwk) if jwk["kty"] == "OKP" else ECKey.import_key(jwk)


# RFC 9864 deprecates the polymorphic "EdDSA" for the fully-specified "Ed25519"; VC-JOSE-COSE
# deployments (and our issuer) still send "EdDSA", and joserfc warns about it.
EDDSA_DEPRECATED = pytest.mark.filterwarnings("ignore:EdDSA is deprecated via RFC 9864")


@EDDSA_DEPRECATED
@pytest.mark.parametrize(("signer", "issuer", "kid", "alg"), SIGNERS)
def test_joserfc_verifies_our_vc_jwt(signer: PrivateKey, issuer: str, kid: str, alg: str) -> None:
    unsigned = credential(issuer=issuer)
    token = sign_vc_jwt(unsigned, signer, kid=kid, issued_at=NOW)
    result = joserfc_jws.deserialize_compact(
        token, joserfc_public(signer.public_key), algorithms=[alg]
    )
    assert result.headers() == {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": kid}
    assert json.loads(result.payload) == {**unsigned, "iat": int(NOW.timestamp())}
    # ... and refuses it once changed (a sanity check of the check).
    h, _, s = token.split(".")
    with pytest.raises(BadSignatureError):
        joserfc_jws.deserialize_compact(
            h + "." + b64json({**unsigned, "id": "urn:uuid:x"}) + "." + s,
            joserfc_public(signer.public_key),
            algorithms=[alg],
        )


@EDDSA_DEPRECATED
@pytest.mark.parametrize(("signer", "issuer", "kid", "alg"), SIGNERS)
def test_we_verify_a_vc_jwt_joserfc_signs(
    signer: PrivateKey, issuer: str, kid: str, alg: str
) -> None:
    unsigned = credential(issuer=issuer)
    protected = {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": kid}
    payload = json.dumps(unsigned, ensure_ascii=False).encode("utf-8")
    token = joserfc_jws.serialize_compact(
        protected, payload, joserfc_private(signer), algorithms=[alg]
    )
    verified = verify(token)
    assert verified.credential == unsigned
    assert verified.header == protected


@EDDSA_DEPRECATED
@pytest.mark.parametrize("holder", [ED_HOLDER, P256_HOLDER], ids=["EdDSA", "ES256"])
def test_presentations_both_ways_with_joserfc(holder: PrivateKey) -> None:
    ours = vp_jwt(holder, presentation(holder, vc_jwt(holder)))
    theirs_view = joserfc_jws.deserialize_compact(
        ours, joserfc_public(holder.public_key), algorithms=[holder.alg]
    )
    assert json.loads(theirs_view.payload)["nonce"] == NONCE
    claims = vp_claims(presentation(holder, vc_jwt(holder)))
    theirs = joserfc_jws.serialize_compact(
        vp_header(holder),
        json.dumps(claims).encode(),
        joserfc_private(holder),
        algorithms=[holder.alg],
    )
    assert verify_vp(theirs).presentation == claims


# --- the W3C specification's own example ---------------------------------------------------------
#
# VC-JOSE-COSE (W3C Recommendation 2025-05-15), §3.1.2 Example 2 "A simple example of a
# verifiable presentation secured with JOSE with the EnvelopedVerifiableCredential type": the
# enveloped credential below, byte for byte.  Its key is the P-384 example key of the
# specification's ReSpec plugin (w3c/vc-jose-cose, plugin/src/exampleKey.js, public part; its
# RFC 7638 thumbprint is the example's kid).  The other JOSE examples of the Recommendation
# (Examples 1, 2's outer VP, 3, 18–…) are signed at render time with a throw-away ES256 key
# that is not published, so they cannot be verified.
W3C_EXAMPLE_KEY: dict[str, str | list[str]] = {
    "kty": "EC",
    "crv": "P-384",
    "alg": "ES384",
    "x": "8XkmqX3pxcYduNID8cK4mYA531PV7szaGh-yk-XIM9OQKZSO94y3xe67nyFvt0QP",
    "y": "kWjcg1gBVM752eQzXlMfHwEOzuUB4zCgi2z6X1p03ljAcp6b_FEINR-eONp00gX0",
}
W3C_EXAMPLE_2_VC = (
    "eyJraWQiOiJFeEhrQk1XOWZtYmt2VjI2Nm1ScHVQMnNVWV9OX0VXSU4xbGFwVXpPOHJvIiwiYWxnIjoiRVMzODQifQ"
    ".eyJAY29udGV4dCI6WyJodHRwczovL3d3dy53My5vcmcvbnMvY3JlZGVudGlhbHMvdjIiLCJodHRwczovL3d3dy53My5v"
    "cmcvbnMvY3JlZGVudGlhbHMvZXhhbXBsZXMvdjIiXSwiaWQiOiJodHRwOi8vdW5pdmVyc2l0eS5leGFtcGxlL2NyZWRl"
    "bnRpYWxzLzE4NzIiLCJ0eXBlIjpbIlZlcmlmaWFibGVDcmVkZW50aWFsIiwiRXhhbXBsZUFsdW1uaUNyZWRlbnRpYWwi"
    "XSwiaXNzdWVyIjoiaHR0cHM6Ly91bml2ZXJzaXR5LmV4YW1wbGUvaXNzdWVycy81NjUwNDkiLCJ2YWxpZEZyb20iOiIy"
    "MDEwLTAxLTAxVDE5OjIzOjI0WiIsImNyZWRlbnRpYWxTY2hlbWEiOnsiaWQiOiJodHRwczovL2V4YW1wbGUub3JnL2V4"
    "YW1wbGVzL2RlZ3JlZS5qc29uIiwidHlwZSI6Ikpzb25TY2hlbWEifSwiY3JlZGVudGlhbFN1YmplY3QiOnsiaWQiOiJk"
    "aWQ6ZXhhbXBsZToxMjMiLCJkZWdyZWUiOnsidHlwZSI6IkJhY2hlbG9yRGVncmVlIiwibmFtZSI6IkJhY2hlbG9yIG9m"
    "IFNjaWVuY2UgYW5kIEFydHMifX19"
    ".d2k4O3FytQJf83kLh-HsXuPvh6yeOlhJELVo5TF71gu7elslQyOf2ZItAXrtbXF4Kz9WivNdztOayz4VUQ0Mwa8yCDZk"
    "P9B2pH-9S_tcAFxeoeJ6Z4XnFuL_DOfkR1fP"
)
W3C_EXAMPLE_2_ENVELOPED = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["EnvelopedVerifiableCredential"],
    "id": "data:application/vc+jwt," + W3C_EXAMPLE_2_VC,
}


def test_w3c_example_2_enveloped_credential() -> None:
    key = PublicKey.from_jwk(W3C_EXAMPLE_KEY)
    head, payload, signature = parts(W3C_EXAMPLE_2_VC)
    assert head == {"kid": key.jwk_thumbprint(), "alg": "ES384"}  # provenance of the key
    assert payload["issuer"] == "https://university.example/issuers/565049"
    assert unenvelope(W3C_EXAMPLE_2_ENVELOPED) == W3C_EXAMPLE_2_VC
    # The signature verifies in our jwcrypto adapter (the module's step 5) and in joserfc.
    jose._check_signature(W3C_EXAMPLE_2_VC, base64url_decode(signature), "ES384", key)
    joserfc_jws.deserialize_compact(
        W3C_EXAMPLE_2_VC, ECKey.import_key(W3C_EXAMPLE_KEY), algorithms=["ES384"]
    )
    tampered = W3C_EXAMPLE_2_VC[:-2] + ("AA" if not W3C_EXAMPLE_2_VC.endswith("AA") else "BA")
    with pytest.raises(JoseError) as info:
        jose._check_signature(tampered, base64url_decode(tampered.split(".")[2]), "ES384", key)
    assert info.value.code == "signature_invalid"
    # As a whole it is refused: it has no typ (a SHOULD our profile makes a MUST), its kid is
    # a bare thumbprint and its issuer an https URL, not a DID.
    assert (
        code_of(lambda: verify(W3C_EXAMPLE_2_VC, key_for=lambda _: key, accepted_algs={"ES384"}))
        == "unsupported_format"
    )


def test_tokens_use_base64url_without_padding() -> None:
    """Our tokens use the base64url alphabet only (RFC 7515 §2), no padding."""
    token = vp_jwt()
    assert not {"=", "+", "/"} & set(token)
    assert base64.urlsafe_b64decode(token.split(".")[0] + "==")
