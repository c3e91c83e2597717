"""SD-JWT VC interop with the OpenWallet Foundation's reference implementation, both ways.

The other side is ``@sd-jwt/sd-jwt-vc`` 0.19.0 with ``@sd-jwt/crypto-nodejs`` (ES256) and
``node:crypto`` (EdDSA), driven through ``js/sdjwt.mjs`` (see ``jsbridge.py``).

1. ours issued (EdDSA, ES256) and presented with a KB-JWT → theirs verifies, same claims
2. ours issued → theirs presents (with KB-JWT) → ours verifies
3. theirs issued → ours verifies, ours presents → both verify; theirs presents → ours verifies
4. both decode the same Disclosures, digests and presentable claims; nested (recursive)
   Disclosures agree
5. tampering both refuse
6. where RFC 9901 is stricter than the library: ours refuses, the library (0.19.0) accepts.
   These record the known differences; if one starts failing after an upgrade, the library
   became stricter — update the list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest

from did.keys import KeyType, PrivateKey, PublicKey, generate_private_key
from did.multibase import base64url_encode
from tests.interop.jsbridge import JsBridge
from vc.sdjwt import (
    KeyBindingPolicy,
    SdJwtError,
    VerifiedSdJwt,
    disclosure_digest,
    issue_sd_jwt,
    parse,
    present,
    verify_sd_jwt,
)

pytestmark = pytest.mark.interop


def _random(seed: bytes) -> Any:
    counter = iter(range(1 << 30))

    def random_bytes(n: int) -> bytes:
        return hashlib.shake_256(seed + next(counter).to_bytes(8, "big")).digest(n)

    return random_bytes


KEYS: Final = {
    "EdDSA": PrivateKey.from_seed(KeyType.ED25519, bytes(range(100, 132))),
    "ES256": generate_private_key(KeyType.P256, _random(b"interop-issuer-p256")),
}
HOLDERS: Final = {
    "EdDSA": PrivateKey.from_seed(KeyType.ED25519, bytes(range(132, 164))),
    "ES256": generate_private_key(KeyType.P256, _random(b"interop-holder-p256")),
}
OTHER = PrivateKey.from_seed(KeyType.ED25519, bytes(range(164, 196)))

NOW: Final = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)
NOW_S: Final = int(NOW.timestamp())
NONCE: Final = "8c6f1a0e-interop-nonce"
AUDIENCE: Final = "https://verifier.furusato.example.jp"
KID: Final = "did:web:furusato.example.jp:lg:015814#key-1"
SUBSETS: Final = [(), ("name",), ("birthDate",), ("name", "birthDate")]


def furusato_claims(holder: PrivateKey) -> dict[str, Any]:
    """The SD-JWT VC shape of our resident credential (DESIGN.md §3)."""
    return {
        "iss": "did:web:furusato.example.jp:lg:015814",
        "vct": "https://w3id.org/furusato/resident",
        "iat": int(datetime(2027, 1, 15, tzinfo=UTC).timestamp()),
        "nbf": int(datetime(2027, 1, 15, tzinfo=UTC).timestamp()),
        "exp": int(datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC).timestamp()),
        "cnf": {"jwk": holder.public_key.to_jwk()},
        "registrationTier": "premium",
        "municipality": {"lgCode": "015814", "name": "厚真町", "prefecture": "北海道"},
        "registeredSince": "2027-01-15",
        "name": "山田 花子",
        "birthDate": "1990-04-01",
    }


def expected(claims: Mapping[str, Any], chosen: tuple[str, ...]) -> dict[str, Any]:
    hidden = {"name", "birthDate"} - set(chosen)
    return {k: v for k, v in claims.items() if k not in hidden}


def ours_issue(issuer: PrivateKey, holder: PrivateKey, **options: Any) -> str:
    options.setdefault("disclosable", ["name", "birthDate"])
    return issue_sd_jwt(
        furusato_claims(holder),
        issuer,
        kid=KID,
        random_bytes=_random(b"ours-" + issuer.alg.encode()),
        **options,
    )


def ours_verify(text: str, issuer: PrivateKey, *, bound: bool = True) -> VerifiedSdJwt:
    def issuer_key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        assert header.get("kid") == KID
        return issuer.public_key

    policy = KeyBindingPolicy(nonce=NONCE, audience=AUDIENCE) if bound else None
    return verify_sd_jwt(text, issuer_key=issuer_key, now=NOW, key_binding=policy)


def theirs_verify(
    js: JsBridge, text: str, issuer: PrivateKey, *, nonce: str | None = NONCE
) -> dict[str, Any]:
    return js.sdjwt_verify(text, issuer_key=issuer.public_key.to_jwk(), now=NOW_S, nonce=nonce)


def ours_present(text: str, holder: PrivateKey, chosen: tuple[str, ...]) -> str:
    return present(
        text, disclose=chosen, holder=holder, nonce=NONCE, audience=AUDIENCE, issued_at=NOW
    )


def theirs_present(js: JsBridge, text: str, holder: PrivateKey, chosen: tuple[str, ...]) -> str:
    return js.sdjwt_present(
        text,
        disclose=chosen,
        holder_key=holder.to_jwk(),
        nonce=NONCE,
        audience=AUDIENCE,
        iat=NOW_S,
    )


def theirs_issue(js: JsBridge, issuer: PrivateKey, holder: PrivateKey, **options: Any) -> str:
    options.setdefault("disclosable", ["name", "birthDate"])
    return js.sdjwt_issue(furusato_claims(holder), issuer.to_jwk(), kid=KID, **options)


def issue_by(js: JsBridge, who: str, issuer: PrivateKey, holder: PrivateKey, **options: Any) -> str:
    if who == "ours":
        return ours_issue(issuer, holder, **options)
    return theirs_issue(js, issuer, holder, **options)


def test_reference_implementation_versions(js: JsBridge) -> None:
    versions = js.sdjwt_version()["packages"]
    assert versions["@sd-jwt/sd-jwt-vc"] == "0.19.0"
    assert versions["@sd-jwt/core"] == "0.19.0"
    assert versions["@sd-jwt/crypto-nodejs"] == "0.19.0"


# --- 1. ours → theirs -----------------------------------------------------------------------


@pytest.mark.parametrize("issuer_alg", sorted(KEYS))
@pytest.mark.parametrize("holder_alg", sorted(HOLDERS))
@pytest.mark.parametrize("chosen", SUBSETS)
def test_ours_issued_and_presented_verifies_in_theirs(
    js: JsBridge, issuer_alg: str, holder_alg: str, chosen: tuple[str, ...]
) -> None:
    issuer, holder = KEYS[issuer_alg], HOLDERS[holder_alg]
    presentation = ours_present(ours_issue(issuer, holder, decoys=2), holder, chosen)
    theirs = theirs_verify(js, presentation, issuer)
    assert theirs["verified"], theirs.get("errors")
    assert theirs["payload"] == expected(furusato_claims(holder), chosen)
    assert theirs["header"] == {"alg": issuer_alg, "typ": "dc+sd-jwt", "kid": KID}
    assert theirs["kb"]["header"] == {"alg": holder_alg, "typ": "kb+jwt"}
    assert theirs["kb"]["payload"]["aud"] == AUDIENCE
    assert theirs["kb"]["payload"]["iat"] == NOW_S
    ours = ours_verify(presentation, issuer)
    assert ours.processed_claims == theirs["payload"]


@pytest.mark.parametrize("issuer_alg", sorted(KEYS))
def test_ours_issued_without_disclosures_verifies_in_theirs(js: JsBridge, issuer_alg: str) -> None:
    issuer, holder = KEYS[issuer_alg], HOLDERS["EdDSA"]
    issued = ours_issue(issuer, holder)
    theirs = theirs_verify(js, issued, issuer, nonce=None)
    assert theirs["verified"], theirs.get("errors")
    assert theirs["payload"] == furusato_claims(holder)


# --- 2. ours issued, theirs presents ----------------------------------------------------------


@pytest.mark.parametrize("issuer_alg", sorted(KEYS))
@pytest.mark.parametrize("holder_alg", sorted(HOLDERS))
@pytest.mark.parametrize("chosen", SUBSETS)
def test_theirs_presents_ours_issued(
    js: JsBridge, issuer_alg: str, holder_alg: str, chosen: tuple[str, ...]
) -> None:
    issuer, holder = KEYS[issuer_alg], HOLDERS[holder_alg]
    presentation = theirs_present(js, ours_issue(issuer, holder), holder, chosen)
    result = ours_verify(presentation, issuer)
    assert result.key_bound
    assert result.processed_claims == expected(furusato_claims(holder), chosen)
    assert set(result.disclosed) == set(chosen)


# --- 3. theirs → ours -----------------------------------------------------------------------


@pytest.mark.parametrize("issuer_alg", sorted(KEYS))
@pytest.mark.parametrize("holder_alg", sorted(HOLDERS))
def test_theirs_issued_verifies_in_ours(js: JsBridge, issuer_alg: str, holder_alg: str) -> None:
    issuer, holder = KEYS[issuer_alg], HOLDERS[holder_alg]
    issued = theirs_issue(js, issuer, holder, decoys=3)
    assert issued.endswith("~")
    result = ours_verify(issued, issuer, bound=False)
    assert result.processed_claims == furusato_claims(holder)
    assert result.header == {"typ": "dc+sd-jwt", "kid": KID, "alg": issuer_alg}
    assert set(result.disclosed) == {"name", "birthDate"}
    for chosen in SUBSETS:
        # ours presents theirs: both verify
        mine = ours_present(issued, holder, chosen)
        assert ours_verify(mine, issuer).processed_claims == expected(
            furusato_claims(holder), chosen
        )
        theirs = theirs_verify(js, mine, issuer)
        assert theirs["verified"], theirs.get("errors")
        assert theirs["payload"] == expected(furusato_claims(holder), chosen)
        # theirs presents theirs: ours verifies
        their_presentation = theirs_present(js, issued, holder, chosen)
        assert ours_verify(their_presentation, issuer).processed_claims == expected(
            furusato_claims(holder), chosen
        )


# --- 4. decoding agrees ---------------------------------------------------------------------


@pytest.mark.parametrize("issued_by", ["ours", "theirs"])
def test_disclosures_and_presentable_claims_agree(js: JsBridge, issued_by: str) -> None:
    issuer, holder = KEYS["EdDSA"], HOLDERS["ES256"]
    issued = issue_by(js, issued_by, issuer, holder, decoys=1)
    theirs = js.sdjwt_decode(issued)
    ours = parse(issued)
    assert theirs["presentableKeys"] == ["birthDate", "name"]
    assert theirs["claims"] == furusato_claims(holder)
    assert sorted(
        (d["digest"], d["salt"], d.get("key"), json.dumps(d["value"]))
        for d in theirs["disclosures"]
    ) == sorted((d.digest, d.salt, d.name, json.dumps(d.value)) for d in ours.disclosures)


@pytest.mark.parametrize("issued_by", ["ours", "theirs"])
def test_recursive_disclosures_agree(js: JsBridge, issued_by: str) -> None:
    """``municipality`` hidden, and its ``name`` hidden again inside it (RFC 9901 §4.2.6)."""
    issuer, holder = KEYS["ES256"], HOLDERS["EdDSA"]
    paths = ["municipality", "municipality.name"]
    issued = issue_by(js, issued_by, issuer, holder, disclosable=paths)
    assert sorted(js.sdjwt_decode(issued)["presentableKeys"]) == sorted(paths)
    claims = furusato_claims(holder)
    partial = {**claims, "municipality": {"lgCode": "015814", "prefecture": "北海道"}}
    for presenter in ("ours", "theirs"):
        if presenter == "ours":
            shown = ours_present(issued, holder, ("municipality",))
            # ours: naming the parent brings what is nested in it
            want = claims
        else:
            shown = theirs_present(js, issued, holder, ("municipality",))
            want = partial  # theirs: the parent only
        assert ours_verify(shown, issuer).processed_claims == want
        theirs = theirs_verify(js, shown, issuer)
        assert theirs["verified"], theirs.get("errors")
        assert theirs["payload"] == want
        # naming the child brings its parent, both ways
        child = (
            ours_present(issued, holder, ("municipality.name",))
            if presenter == "ours"
            else theirs_present(js, issued, holder, ("municipality.name",))
        )
        assert ours_verify(child, issuer).processed_claims == claims
        assert theirs_verify(js, child, issuer)["payload"] == claims


# --- 5. tampering ---------------------------------------------------------------------------


def _b64_json(value: Any) -> str:
    return base64url_encode(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _sign(header: Mapping[str, Any], payload: Mapping[str, Any], key: PrivateKey) -> str:
    signing_input = f"{_b64_json(header)}.{_b64_json(payload)}"
    return f"{signing_input}.{base64url_encode(key.sign(signing_input.encode('ascii')))}"


def _with_kb(sd_jwt: str, holder: PrivateKey, **changes: Any) -> str:
    payload = {
        "iat": NOW_S,
        "aud": AUDIENCE,
        "nonce": NONCE,
        "sd_hash": base64url_encode(hashlib.sha256(sd_jwt.encode("ascii")).digest()),
        **changes,
    }
    return sd_jwt + _sign({"alg": holder.alg, "typ": "kb+jwt"}, payload, holder)


def _tampered(kind: str) -> tuple[str, str]:
    """(presentation, our code) for one kind of tampering both must refuse."""
    issuer, holder = KEYS["EdDSA"], HOLDERS["EdDSA"]
    issued = ours_issue(issuer, holder)
    presentation = ours_present(issued, holder, ("name", "birthDate"))
    jwt, *rest = presentation.split("~")
    header, _, signature = jwt.split(".")
    if kind == "issuer-payload":
        changed = {**parse(issued).issuer_jwt.unverified_payload, "registrationTier": "basic"}
        return "~".join([f"{header}.{_b64_json(changed)}.{signature}", *rest]), "signature_invalid"
    if kind == "issuer-signature-other-key":
        changed_jwt = _sign(
            parse(issued).issuer_jwt.unverified_header,
            parse(issued).issuer_jwt.unverified_payload,
            OTHER,
        )
        return "~".join([changed_jwt, *rest]), "signature_invalid"
    if kind == "disclosure-dropped-after-kb":
        return presentation.replace(f"~{rest[1]}~", "~"), "sd_jwt_key_binding_invalid"
    if kind == "kb-other-key":
        return _with_kb(presentation[: presentation.rindex("~") + 1], OTHER), (
            "sd_jwt_key_binding_invalid"
        )
    if kind == "kb-nonce":
        return _with_kb(presentation[: presentation.rindex("~") + 1], holder, nonce="x"), (
            "challenge_mismatch"
        )
    if kind == "kb-missing":
        return presentation[: presentation.rindex("~") + 1], "sd_jwt_key_binding_missing"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "issuer-payload",
        "issuer-signature-other-key",
        "disclosure-dropped-after-kb",
        "kb-other-key",
        "kb-nonce",
        "kb-missing",
    ],
)
def test_tampering_is_refused_by_both(js: JsBridge, kind: str) -> None:
    token, code = _tampered(kind)
    with pytest.raises(SdJwtError) as info:
        ours_verify(token, KEYS["EdDSA"])
    assert info.value.code == code
    theirs = theirs_verify(js, token, KEYS["EdDSA"])
    assert not theirs["verified"], theirs


# --- 6. where RFC 9901 asks more than the library checks -------------------------------------


def _divergent(kind: str) -> tuple[str, str, bool]:
    """(token, our code, Key Binding required) for a token RFC 9901 says to reject."""
    issuer, holder = KEYS["EdDSA"], HOLDERS["EdDSA"]
    claims = furusato_claims(holder)
    salt = "c2FsdC1kaXZlcmdlbmNlLTE"
    d_name = _b64_json([salt, "name", claims.pop("name")])
    d_birth = _b64_json([salt + "2", "birthDate", claims.pop("birthDate")])
    header = {"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": KID}

    def token(payload: Mapping[str, Any], disclosures: list[str], hdr: Any = header) -> str:
        return _sign(hdr, payload, issuer) + "~" + "".join(d + "~" for d in disclosures)

    sd = {**claims, "_sd_alg": "sha-256"}
    if kind == "unreferenced-disclosure":  # §7.1 step 5
        return (
            token({**sd, "_sd": [disclosure_digest(d_name)]}, [d_name, d_birth]),
            ("sd_jwt_disclosure_unreferenced"),
            False,
        )
    if kind == "duplicate-digest":  # §7.1 step 4
        digest = disclosure_digest(d_name)
        return token({**sd, "_sd": [digest, digest]}, [d_name]), "sd_jwt_digest_duplicated", False
    if kind == "disclosed-claim-overwrites-plaintext":  # §7.1 3.2.2.3
        payload = {**sd, "name": "plain", "_sd": [disclosure_digest(d_name)]}
        return token(payload, [d_name]), "sd_jwt_claim_conflict", False
    if kind == "typ-JWT":  # SD-JWT VC §3.2.1 (and RFC 8725 §3.11)
        return token(claims, [], {**header, "typ": "JWT"}), "sd_jwt_typ_invalid", False
    if kind == "no-trailing-tilde":  # RFC 9901 §4
        return token(claims, [])[:-1], "malformed", False
    if kind == "exp-selectively-disclosable":  # SD-JWT VC: exp MUST NOT be disclosable
        d_exp = _b64_json([salt, "exp", claims.pop("exp")])
        return (
            token({**claims, "_sd_alg": "sha-256", "_sd": [disclosure_digest(d_exp)]}, [d_exp]),
            ("sd_jwt_claim_not_disclosable"),
            False,
        )
    sd_jwt = token(claims, [])
    if kind == "kb-aud-not-checked":  # §7.3 5.6
        return _with_kb(sd_jwt, holder, aud="https://someone-else.example"), "domain_mismatch", True
    if kind == "kb-iat-not-checked":  # §7.3 5.5
        return _with_kb(sd_jwt, holder, iat=NOW_S - 86400 * 365), "sd_jwt_key_binding_invalid", True
    if kind == "kb-aud-array":  # §4.3: aud MUST be a single string
        return _with_kb(sd_jwt, holder, aud=[AUDIENCE]), "sd_jwt_key_binding_invalid", True
    raise AssertionError(kind)


DIVERGENCES: Final = [
    "unreferenced-disclosure",
    "duplicate-digest",
    "disclosed-claim-overwrites-plaintext",
    "typ-JWT",
    "no-trailing-tilde",
    "exp-selectively-disclosable",
    "kb-aud-not-checked",
    "kb-iat-not-checked",
    "kb-aud-array",
]


@pytest.mark.parametrize("kind", DIVERGENCES)
def test_rfc9901_rules_the_library_does_not_enforce(js: JsBridge, kind: str) -> None:
    token, code, bound = _divergent(kind)
    with pytest.raises(SdJwtError) as info:
        ours_verify(token, KEYS["EdDSA"], bound=bound)
    assert info.value.code == code
    theirs = theirs_verify(js, token, KEYS["EdDSA"], nonce=NONCE if bound else None)
    assert theirs["verified"], (
        f"@sd-jwt now refuses {kind!r} ({theirs.get('errors')}): it became stricter; "
        "remove the case from DIVERGENCES and add it to the tampering tests"
    )
    if kind == "disclosed-claim-overwrites-plaintext":
        assert theirs["payload"]["name"] == "山田 花子"  # the Disclosure silently wins


def test_both_refuse_an_expired_credential(js: JsBridge) -> None:
    issuer, holder = KEYS["ES256"], HOLDERS["ES256"]
    presentation = ours_present(ours_issue(issuer, holder), holder, ("name",))
    later = NOW + timedelta(days=400)
    with pytest.raises(SdJwtError) as info:
        verify_sd_jwt(
            presentation,
            issuer_key=lambda h, p: issuer.public_key,
            now=later,
            key_binding=KeyBindingPolicy(
                nonce=NONCE, audience=AUDIENCE, max_age=timedelta(days=500)
            ),
        )
    assert info.value.code == "expired"
    theirs = js.sdjwt_verify(
        presentation, issuer_key=issuer.public_key.to_jwk(), now=int(later.timestamp()), nonce=NONCE
    )
    assert not theirs["verified"]
