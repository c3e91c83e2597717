"""Property tests (hypothesis) for vc/jose.py: whatever arrives, a JoseError or the truth.

Any text, any JSON header and payload (validly signed or not), any single-character change of a
valid VC-JWT or VP-JWT, any JSON as an enveloped credential: the verifier either accepts exactly
what was signed or refuses with a :class:`~vc.jose.JoseError` carrying a code and both messages
— never another exception (STYLE.md 7, 10).
"""

from __future__ import annotations

import json
import string
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from did.errors import DIDResolutionError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey, PublicKey
from did.multibase import base64url_encode
from schemas.loader import CREDENTIALS_V2
from schemas.municipalities import municipality_table
from tests.properties import JSONISH_TEXT, json_values, outcome
from vc.furusato import resident_credential
from vc.jose import (
    VerifiedJwt,
    VerifiedPresentationJwt,
    envelope,
    sign_vc_jwt,
    sign_vp_jwt,
    unenvelope,
    verify_vc_jwt,
    verify_vp_jwt,
)

NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)
ISSUER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
P256_KEY = PrivateKey.from_seed(KeyType.P256, bytes(range(1, 33)))
HOLDER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(64, 96)))
ISSUER = "did:web:furusato.example.jp:lg:015814"
KID = ISSUER + "#key-1"
P256_KID = ISSUER + "#key-2"
HOLDER = did_key_from_public_key(HOLDER_KEY.public_key)
HOLDER_KID = did_key_verification_method_id(HOLDER_KEY.public_key)
KEYS = {
    KID: ISSUER_KEY.public_key,
    P256_KID: P256_KEY.public_key,
    HOLDER_KID: HOLDER_KEY.public_key,
}
NONCE = "n-0S6_WzA2Mj"
AUDIENCE = "x509_san_dns:verifier.furusato.example.jp"


def key_for(kid: str) -> PublicKey:
    try:
        return KEYS[kid]
    except KeyError:
        raise DIDResolutionError("unknown verification method", "不明な検証メソッドです") from None


CREDENTIAL = resident_credential(
    credential_id="urn:uuid:0f5b1a2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
    issuer=ISSUER,
    issuer_name="厚真町",
    municipality=municipality_table().get("015814"),
    holder=HOLDER,
    tier="basic",
    registered_since=date(2027, 1, 15),
    valid_from=datetime(2027, 1, 15, tzinfo=UTC),
    valid_until=datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC),
)
VC_JWT = sign_vc_jwt(CREDENTIAL, ISSUER_KEY, kid=KID, issued_at=NOW)
P256_VC_JWT = sign_vc_jwt(CREDENTIAL, P256_KEY, kid=P256_KID)
PRESENTATION = {
    "@context": [CREDENTIALS_V2],
    "type": ["VerifiablePresentation"],
    "holder": HOLDER,
    "verifiableCredential": [envelope(VC_JWT)],
}
VP_JWT = sign_vp_jwt(
    PRESENTATION, HOLDER_KEY, kid=HOLDER_KID, nonce=NONCE, audience=AUDIENCE, issued_at=NOW
)


def verify_vc(token: object) -> VerifiedJwt | None:
    return outcome(verify_vc_jwt, token, key_for=key_for, now=NOW)  # type: ignore[arg-type]


def verify_vp(token: object) -> VerifiedPresentationJwt | None:
    return outcome(
        verify_vp_jwt,
        token,  # type: ignore[arg-type]
        key_for=key_for,
        nonce=NONCE,
        audience=AUDIENCE,
        now=NOW + timedelta(seconds=10),
        max_age=timedelta(seconds=120),
    )


ORIGINAL_VC = verify_vc(VC_JWT)
ORIGINAL_P256_VC = verify_vc(P256_VC_JWT)
ORIGINAL_VP = verify_vp(VP_JWT)
assert ORIGINAL_VC is not None
assert ORIGINAL_P256_VC is not None
assert ORIGINAL_VP is not None


# --- strategies --------------------------------------------------------------------------------

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_.~={}\"' \n+/%あ\x00"
TOKENISH = st.text(alphabet=TOKEN_ALPHABET, max_size=200)
JSON_VALUES = json_values(16)

HEADER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "alg": st.sampled_from(["EdDSA", "ES256", "ES384", "Ed25519", "none", "HS256", ""])
    | JSON_VALUES,
    "typ": st.sampled_from(["vc+jwt", "vp+jwt", "application/vc+jwt", "JWT", "VC+JWT"])
    | JSON_VALUES,
    "cty": st.sampled_from(["vc", "vp", "application/vc", "json"]) | JSON_VALUES,
    "kid": st.sampled_from([KID, P256_KID, HOLDER_KID, ISSUER, "key-1", ISSUER + "#", ""])
    | JSON_VALUES,
    "crit": JSON_VALUES,
    "b64": st.booleans() | JSON_VALUES,
    "jwk": JSON_VALUES,
    "x-other": JSON_VALUES,
}
CLAIM_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "iss": st.sampled_from([ISSUER, HOLDER, ""]) | JSON_VALUES,
    "exp": st.integers(-(2**40), 2**40) | st.floats() | JSON_VALUES,
    "nbf": st.integers(-(2**40), 2**40) | JSON_VALUES,
    "iat": st.integers(-(2**40), 2**40) | st.floats(allow_nan=True) | JSON_VALUES,
    "jti": st.just(CREDENTIAL["id"]) | JSON_VALUES,
    "sub": st.just(HOLDER) | JSON_VALUES,
    "vc": JSON_VALUES,
    "proof": JSON_VALUES,
    "nonce": st.just(NONCE) | JSON_VALUES,
    "aud": st.just(AUDIENCE) | st.lists(st.just(AUDIENCE) | st.text(max_size=8)) | JSON_VALUES,
    "holder": st.sampled_from([HOLDER, {"id": HOLDER}, ISSUER]) | JSON_VALUES,
    "issuer": st.sampled_from([ISSUER, {"id": ISSUER}, HOLDER]) | JSON_VALUES,
    "@context": st.sampled_from([[CREDENTIALS_V2], CREDENTIALS_V2]) | JSON_VALUES,
    "type": st.sampled_from([["VerifiableCredential"], ["VerifiablePresentation"]]) | JSON_VALUES,
    "verifiableCredential": st.lists(
        st.just(envelope(VC_JWT))
        | JSON_VALUES
        | st.builds(lambda v: {**envelope(VC_JWT), "id": v}, JSON_VALUES | TOKENISH),
        max_size=3,
    )
    | JSON_VALUES,
}
_DELETE = object()


def mutated(
    base: dict[str, Any], values: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with up to two members set to other values or removed."""
    change = st.sampled_from(sorted(values)).flatmap(
        lambda name: st.tuples(st.just(name), st.just(_DELETE) | values[name])
    )

    def apply(changes: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(base)
        for name, value in changes:
            if value is _DELETE:
                result.pop(name, None)
            else:
                result[name] = value
        return result

    return st.lists(change, max_size=2).map(apply)


VP_CLAIMS = {**PRESENTATION, "nonce": NONCE, "aud": AUDIENCE, "iat": int(NOW.timestamp())}
# (header, payload, signer) that verify as they are; the tests change them a little.
SCENARIOS = [
    ({"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc", "kid": KID}, CREDENTIAL, ISSUER_KEY),
    ({"alg": "ES256", "typ": "vc+jwt", "kid": P256_KID}, CREDENTIAL, P256_KEY),
    ({"alg": "EdDSA", "typ": "vp+jwt", "cty": "vp", "kid": HOLDER_KID}, VP_CLAIMS, HOLDER_KEY),
]
SIGNERS = st.sampled_from([ISSUER_KEY, P256_KEY, HOLDER_KEY, None])


@st.composite
def near_valid(draw: st.DrawFn) -> tuple[Any, Any, PrivateKey | None]:
    header, payload, signer = draw(st.sampled_from(SCENARIOS))
    return (
        draw(mutated(header, HEADER_VALUES)),
        draw(mutated(payload, CLAIM_VALUES)),
        draw(st.just(signer) | SIGNERS),
    )


def token_of(header: Any, payload: Any, signer: PrivateKey | None, junk: bytes) -> str:
    def b64(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False)
        return base64url_encode(text.encode("utf-8", "surrogatepass"))

    signing_input = b64(header) + "." + b64(payload)
    signature = signer.sign(signing_input.encode("ascii")) if signer is not None else junk
    return signing_input + "." + base64url_encode(signature)


# --- properties --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | TOKENISH | JSONISH_TEXT)
@example("")
@example("..")
@example("a.b.c")
@example("e30.e30.")
@example(VC_JWT + "~")
@example("{" + VC_JWT + "}")
def test_any_text(token: str) -> None:
    verify_vc(token)
    verify_vp(token)


def check_accepted(token: str, header: Any, payload: Any, signer: PrivateKey | None) -> None:
    vc = verify_vc(token)
    if vc is not None:  # accepted: then it is exactly what was signed, by the issuer's key
        assert vc.credential == payload
        assert vc.header == header
        assert signer in (ISSUER_KEY, P256_KEY)
    vp = verify_vp(token)
    if vp is not None:
        assert vp.presentation == payload
        assert vp.header == header
        assert signer == HOLDER_KEY


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES, JSON_VALUES, SIGNERS, st.binary(max_size=100))
def test_any_json_header_and_payload(
    header: Any, payload: Any, signer: PrivateKey | None, junk: bytes
) -> None:
    check_accepted(token_of(header, payload, signer, junk), header, payload, signer)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid(), st.binary(max_size=100))
def test_any_change_of_header_and_payload(
    case: tuple[Any, Any, PrivateKey | None], junk: bytes
) -> None:
    header, payload, signer = case
    check_accepted(token_of(header, payload, signer, junk), header, payload, signer)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["vc", "p256-vc", "vp"]),
    st.data(),
    st.sampled_from(TOKEN_ALPHABET) | st.characters(),
)
def test_any_single_character_change(which: str, data: st.DataObject, character: str) -> None:
    token, original = {
        "vc": (VC_JWT, ORIGINAL_VC),
        "p256-vc": (P256_VC_JWT, ORIGINAL_P256_VC),
        "vp": (VP_JWT, ORIGINAL_VP),
    }[which]
    index = data.draw(st.integers(0, len(token) - 1))
    action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    if action == "replace":
        changed = token[:index] + character + token[index + 1 :]
    elif action == "insert":
        changed = token[:index] + character + token[index:]
    else:
        changed = token[:index] + token[index + 1 :]
    result = verify_vp(changed) if which == "vp" else verify_vc(changed)
    if changed == token:
        assert result == original
    else:
        # Refused — or, were base64url or the signature malleable, the very same content.
        assert result is None or result == original


@settings(max_examples=300, deadline=None)
@given(
    JSON_VALUES
    | st.fixed_dictionaries(
        {},
        optional={
            "@context": st.just(CREDENTIALS_V2) | JSON_VALUES,
            "type": st.just("EnvelopedVerifiableCredential") | JSON_VALUES,
            "id": st.builds(
                lambda p, j: p + j,
                st.sampled_from(["data:application/vc+jwt,", "data:", ""]),
                TOKENISH,
            ),
        },
    )
)
def test_any_enveloped_credential(item: Any) -> None:
    jws = outcome(unenvelope, item)
    if jws is not None:
        assert unenvelope(envelope(jws)) == jws


@settings(max_examples=100, deadline=None)
@given(TOKENISH)
def test_envelope_takes_only_a_compact_jws(text: str) -> None:
    wrapped = outcome(envelope, text)
    if wrapped is not None:
        assert unenvelope(wrapped) == text


def test_the_originals_verify() -> None:
    assert ORIGINAL_VC is not None
    assert ORIGINAL_VC.credential == {**CREDENTIAL, "iat": int(NOW.timestamp())}
    assert ORIGINAL_VP is not None
    assert ORIGINAL_VP.unverified_credentials == (VC_JWT,)
