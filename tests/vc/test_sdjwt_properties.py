"""Property tests for vc/sdjwt.py: never a traceback, never a wrong answer.

- any text, any JSON shape (payload, Disclosure content, KB-JWT) is either verified or refused
  with an :class:`~vc.sdjwt.SdJwtError` whose code is one of :data:`vc.sdjwt.CODES`;
- any mutation of a valid SD-JWT+KB is refused or verified as exactly the presented claims, and
  of a valid SD-JWT (no Key Binding required) refused or verified as a part of the issued claims;
- issue → present → verify returns the permanently disclosed claims plus exactly those chosen.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from did.keys import KeyType, PrivateKey, PublicKey
from did.multibase import base64url_encode
from tests.properties import JSONISH_TEXT, json_values, outcome
from vc.sdjwt import (
    CODES,
    NEVER_DISCLOSABLE,
    KeyBindingPolicy,
    SdJwtError,
    VerifiedSdJwt,
    disclosure_digest,
    issue_sd_jwt,
    parse,
    present,
    verify_sd_jwt,
)

T = TypeVar("T")

ISSUER = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
HOLDER = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32, 64)))
NOW = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)
NONCE = "nonce-1"
AUDIENCE = "https://verifier.example.jp"
POLICY = KeyBindingPolicy(nonce=NONCE, audience=AUDIENCE)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_source(seed: int) -> Callable[[int], bytes]:
    counter = itertools.count()

    def random_bytes(n: int) -> bytes:
        data = seed.to_bytes(8, "big") + next(counter).to_bytes(8, "big")
        return hashlib.shake_256(data).digest(n)

    return random_bytes


def issuer_key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
    return ISSUER.public_key


def checked(call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """``outcome`` plus: a refusal is an SdJwtError with one of the module's codes."""
    try:
        return call(*args, **kwargs)
    except SdJwtError as exc:
        error = exc
    assert error.code in CODES, error.code
    assert error.message_en
    assert error.message_ja
    return None


def verify(text: str, **options: Any) -> VerifiedSdJwt | None:
    options.setdefault("issuer_key", issuer_key)
    options.setdefault("now", NOW)
    return checked(verify_sd_jwt, text, **options)


def b64_json(value: Any) -> str:
    return base64url_encode(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def sign(header: Mapping[str, Any], payload: Any, key: PrivateKey = ISSUER) -> str:
    signing_input = f"{b64_json(header)}.{b64_json(payload)}"
    return f"{signing_input}.{base64url_encode(key.sign(signing_input.encode('ascii')))}"


BASE_CLAIMS: dict[str, Any] = {
    "iss": "did:web:furusato.example.jp:lg:015814",
    "vct": "https://w3id.org/furusato/resident",
    "iat": 1800000000,
    "exp": 1900000000,
    "cnf": {"jwk": HOLDER.public_key.to_jwk()},
    "registrationTier": "premium",
    "municipality": {"lgCode": "015814", "name": "厚真町", "prefecture": "北海道"},
    "name": "山田 花子",
    "birthDate": "1990-04-01",
}
ISSUED = issue_sd_jwt(
    BASE_CLAIMS,
    ISSUER,
    kid="k1",
    disclosable=["name", "birthDate", "municipality.name"],
    random_bytes=random_source(1),
    decoys=2,
)
PRESENTED = present(
    ISSUED,
    disclose=["name", "municipality.name"],
    holder=HOLDER,
    nonce=NONCE,
    audience=AUDIENCE,
    issued_at=NOW,
)
PRESENTED_CLAIMS = {k: v for k, v in BASE_CLAIMS.items() if k != "birthDate"}


def is_part_of(part: Any, whole: Any) -> bool:
    """Every member of *part* is in *whole* with a value that is itself a part of it."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and is_part_of(v, whole[k]) for k, v in part.items()
        )
    return bool(part == whole)


# --- any input -------------------------------------------------------------------------------


@SETTINGS
@given(st.text(max_size=200) | JSONISH_TEXT | st.text(alphabet=B64URL + ".~", max_size=300))
def test_any_text_is_refused_or_parsed(text: str) -> None:
    outcome(parse, text)
    checked(parse, text)
    checked(present, text, disclose=[], holder=None)
    assert verify(text) is None
    assert verify(text, key_binding=POLICY) is None


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), json_values(12), max_size=6), json_values(12))
def test_any_payload_and_disclosure_shape(payload: dict[str, Any], content: Any) -> None:
    disclosure = b64_json(content)
    payload = {**payload, "_sd": [disclosure_digest(disclosure)]}
    header = {"alg": "EdDSA", "typ": "dc+sd-jwt"}
    token = f"{sign(header, payload)}~{disclosure}~"
    result = verify(token, accepted_typ=frozenset({"dc+sd-jwt", "x+sd-jwt"}))
    outcome(verify_sd_jwt, token, issuer_key=issuer_key, now=NOW)
    if result is not None:
        assert "_sd" not in json.dumps(result.processed_claims)
    checked(present, token, disclose=["x"], holder=None)


@SETTINGS
@given(json_values(10), json_values(10))
def test_any_json_as_header_and_payload(header: Any, payload: Any) -> None:
    token = f"{b64_json(header)}.{b64_json(payload)}.{base64url_encode(b'sig')}~"
    assert verify(token) is None


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), json_values(8), max_size=6))
def test_any_kb_jwt_payload(kb_payload: dict[str, Any]) -> None:
    sd_jwt = present(ISSUED, disclose=["name"], holder=None)
    token = sd_jwt + sign({"alg": "EdDSA", "typ": "kb+jwt"}, kb_payload, HOLDER)
    assert verify(token, key_binding=POLICY) is None  # no nonce/aud/sd_hash by chance


# --- mutations -------------------------------------------------------------------------------


@st.composite
def mutations(draw: st.DrawFn, text: str) -> str:
    kind = draw(st.sampled_from(["replace", "delete", "insert", "segments", "truncate"]))
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text) - 1))]
    if kind == "segments":
        parts = text.split("~")
        order = draw(st.permutations(range(len(parts))))
        keep = draw(st.lists(st.sampled_from(order), min_size=1, max_size=len(parts) + 1))
        return "~".join(parts[i] for i in keep)
    at = draw(st.integers(0, len(text) - 1))
    if kind == "delete":
        return text[:at] + text[at + 1 :]
    char = draw(st.sampled_from(B64URL + ".~"))
    if kind == "insert":
        return text[:at] + char + text[at:]
    return text[:at] + char + text[at + 1 :]


@SETTINGS
@given(mutations(PRESENTED))
def test_mutated_sd_jwt_kb_is_refused_or_exactly_the_presentation(mutated: str) -> None:
    result = verify(mutated, key_binding=POLICY)
    if result is not None:
        assert result.processed_claims == PRESENTED_CLAIMS
        assert result.key_bound


@SETTINGS
@given(mutations(ISSUED))
def test_mutated_sd_jwt_is_refused_or_part_of_the_issued_claims(mutated: str) -> None:
    result = verify(mutated)
    if result is not None:
        assert is_part_of(result.processed_claims, BASE_CLAIMS)
        permanent = {k for k in BASE_CLAIMS if k not in {"name", "birthDate"}}
        assert permanent <= set(result.processed_claims)


# --- round trip ------------------------------------------------------------------------------

CLAIM_NAMES = st.text(min_size=1, max_size=10).filter(
    lambda name: name not in NEVER_DISCLOSABLE | {"_sd", "...", "_sd_alg", "iat"}
)


def has_reserved_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k in {"_sd", "...", "_sd_alg"} or has_reserved_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_reserved_key(v) for v in value)
    return False


@SETTINGS
@given(
    claims=st.dictionaries(CLAIM_NAMES, json_values(6), min_size=1, max_size=8),
    data=st.data(),
    seed=st.integers(0, 2**32),
    decoys=st.integers(0, 4),
    key_bound=st.booleans(),
)
def test_round_trip(
    claims: dict[str, Any], data: st.DataObject, seed: int, decoys: int, key_bound: bool
) -> None:
    assume(not has_reserved_key(claims))
    names = sorted(claims)
    disclosable = data.draw(st.lists(st.sampled_from(names), unique=True))
    chosen = data.draw(st.lists(st.sampled_from(disclosable), unique=True)) if disclosable else []
    full = {**BASE_CLAIMS, **claims}
    issued = issue_sd_jwt(
        full,
        ISSUER,
        kid="k1",
        disclosable=disclosable,
        random_bytes=random_source(seed),
        decoys=decoys,
    )
    # the issuer-signed payload shows no selectively disclosable claim
    payload = parse(issued).issuer_jwt.unverified_payload
    assert not set(disclosable) & set(payload)
    if key_bound:
        presentation = present(
            issued, disclose=chosen, holder=HOLDER, nonce=NONCE, audience=AUDIENCE, issued_at=NOW
        )
        result = verify_sd_jwt(presentation, issuer_key=issuer_key, now=NOW, key_binding=POLICY)
    else:
        presentation = present(issued, disclose=chosen, holder=None)
        result = verify_sd_jwt(presentation, issuer_key=issuer_key, now=NOW)
    hidden = set(disclosable) - set(chosen)
    assert result.processed_claims == {k: v for k, v in full.items() if k not in hidden}
    assert sorted(result.disclosed) == sorted(chosen)
    assert result.key_bound is key_bound
    # all Disclosures: everything back
    assert verify_sd_jwt(issued, issuer_key=issuer_key, now=NOW).processed_claims == full
