"""One verifier, three formats (docs/formats.md): the same situation gives the same codes.

The same FurusatoResidentCredential of 厚真町 is secured three ways — Data Integrity
(``ldp_vc``), VC-JOSE (``jwt_vc_json``: ``vc+jwt`` in a ``vp+jwt``) and SD-JWT VC
(``dc+sd-jwt`` with a KB-JWT) — and shown the way a counter sees it (holder-bound, with the
challenge, the QR domain and a 120 s window, the registry and the status lists).  Each row of
:data:`CASES` changes one thing; every format must report exactly the row's codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import segno

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.multibase import base64url_decode, base64url_encode
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.loader import CREDENTIALS_V2
from schemas.municipalities import municipality_table
from vc import envelope, formats, jose, sdjwt
from vc.dates import format_datetime
from vc.furusato import municipality_claim, resident_credential
from vc.issue import issue_credential
from vc.presentation import create_presentation, sign_presentation
from vc.registry import Registry, RegistryEntry, entry_from_did_document
from vc.result import CODES, VerificationResult
from vc.statuslist import BitstringStatusList, StatusListDocument, build_status_list_credential
from vc.verify import VerifyOptions, result_format, verify

Doc = dict[str, Any]

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LG = "015814"  # 北海道 厚真町
OTHER_LG = "011002"  # 北海道 札幌市
ISSUER = f"did:web:furusato.example.jp:lg:{LG}"
KID = ISSUER + "#key-1"
ISSUER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes([21]) * 32)
HOLDER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes([22]) * 32)
THIEF_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes([23]) * 32)
HOLDER = did_key_from_public_key(HOLDER_KEY.public_key)
CHALLENGE = "q83vEjRWeJq8"
DOMAIN = envelope.QR_DOMAIN
INDEX = {"revocation": 4321, "suspension": 8765}
VALID_FROM = datetime(2027, 1, 15, tzinfo=UTC)
FORMATS = (formats.LDP_VC, formats.JWT_VC_JSON, formats.DC_SD_JWT)


def list_url(purpose: str) -> str:
    return f"https://furusato.example.jp/status/{LG}/{purpose}/1"


def counter(seed: int = 0) -> Callable[[int], bytes]:
    """Deterministic salts (the tests' own RNG, STYLE.md 8)."""
    state = [seed]

    def random_bytes(n: int) -> bytes:
        state[0] += 1
        return bytes((state[0] + i) % 256 for i in range(n))

    return random_bytes


def sign_jws(header: Doc, payload: Doc, key: PrivateKey) -> str:
    """A compact JWS of any header and payload (for tokens our signers refuse to make)."""
    head = base64url_encode(json.dumps(header, separators=(",", ":")).encode())
    body = base64url_encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    signature = key.sign(f"{head}.{body}".encode("ascii"))
    return f"{head}.{body}.{base64url_encode(signature)}"


def jws_parts(token: str) -> tuple[Doc, Doc, str]:
    head, body, signature = token.split(".")
    return (
        json.loads(base64url_decode(head, max_length=len(head))),
        json.loads(base64url_decode(body, max_length=len(body))),
        signature,
    )


def tamper_jws(token: str, change: Callable[[Doc], None]) -> str:
    """The same signature over a changed payload."""
    head, body, signature = token.split(".")
    payload = json.loads(base64url_decode(body, max_length=len(body)))
    change(payload)
    changed = base64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    return f"{head}.{changed}.{signature}"


def kb_jwt(sd_jwt: str, key: PrivateKey, *, nonce: str, aud: str, iat: datetime) -> str:
    """A KB-JWT signed by any key (``sdjwt.present`` signs only with the cnf key)."""
    payload = {
        "iat": int(iat.timestamp()),
        "aud": aud,
        "nonce": nonce,
        "sd_hash": sdjwt._sha256_b64(sd_jwt),
    }
    return sd_jwt + sign_jws({"alg": "EdDSA", "typ": "kb+jwt"}, payload, key)


# --- the situation --------------------------------------------------------------------------------


@dataclass
class Situation:
    """What a row changes; the defaults are a valid, fresh, holder-bound presentation."""

    valid_from: datetime = VALID_FROM
    lifetime: timedelta = timedelta(days=365) - timedelta(seconds=1)
    lg_code: str = LG  # the municipality the credential claims
    tamper: bool = False  # the holder changes the tier after issuance
    holder_signer: PrivateKey = HOLDER_KEY
    presented_at: datetime = NOW
    challenge: str = CHALLENGE  # what the wallet signs
    domain: str = DOMAIN
    bare: bool = False  # the credential alone: no presentation, no KB-JWT
    revoked: set[str] = field(default_factory=set)  # purposes whose bit is set
    registry: Callable[[RegistryEntry], list[RegistryEntry]] = lambda e: [e]
    verifier_challenge: str = CHALLENGE


def issuer_entry(lg_code: str = LG) -> RegistryEntry:
    did = f"did:web:furusato.example.jp:lg:{lg_code}"
    document = build_did_document(did, [VerificationKeyEntry("key-1", ISSUER_KEY.public_key)])
    return entry_from_did_document(
        document, lg_code=lg_code, status_base_url=f"https://furusato.example.jp/status/{lg_code}"
    )


def registry_of(entries: list[RegistryEntry]) -> Registry:
    return Registry(
        sequence=3,
        issued_at=NOW - timedelta(days=1),
        next_update=NOW + timedelta(days=6),
        entries=entries,
        authority="総務省 (test)",
    )


class StatusLists:
    """The municipality's two published lists, as the verifier's cache holds them."""

    def __init__(self, revoked: set[str]) -> None:
        self.published: dict[str, StatusListDocument] = {}
        for purpose, index in INDEX.items():
            bits = BitstringStatusList()
            if purpose in revoked:
                bits.set(index, True)
            unsigned = build_status_list_credential(
                list_url=list_url(purpose),
                issuer=ISSUER,
                purpose=purpose,
                status_list=bits,
                valid_from=format_datetime(NOW - timedelta(hours=1)),
                valid_until=format_datetime(NOW + timedelta(days=1)),
                ttl_ms=3_600_000,
            )
            signed = issue_credential(
                unsigned, ISSUER_KEY, verification_method=KID, created=NOW - timedelta(hours=1)
            )
            self.published[list_url(purpose)] = StatusListDocument(signed, NOW)

    def get(self, url: str) -> StatusListDocument | None:
        return self.published.get(url)


def status_entries() -> list[Doc]:
    return [
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": str(index),
            "statusListCredential": list_url(purpose),
        }
        for purpose, index in INDEX.items()
    ]


def unsigned_credential(s: Situation, tier: str = "basic") -> Doc:
    return resident_credential(
        credential_id="urn:uuid:6a1e0c39-2f4b-4d7e-9a51-3c2b1d0e9f87",
        issuer=ISSUER,
        issuer_name="厚真町",
        municipality=municipality_table().get(s.lg_code),
        holder=HOLDER,
        tier=tier,
        registered_since=date(2027, 1, 15),
        valid_from=s.valid_from,
        valid_until=s.valid_from + s.lifetime,
        status=status_entries(),
    )


def sd_jwt_claims(s: Situation, tier: str = "basic") -> Doc:
    """The SD-JWT VC payload of docs/formats.md."""
    return {
        "iss": ISSUER,
        "vct": formats.FURUSATO_VCT,
        "jti": "urn:uuid:6a1e0c39-2f4b-4d7e-9a51-3c2b1d0e9f87",
        "iat": int(s.valid_from.timestamp()),
        "nbf": int(s.valid_from.timestamp()),
        "exp": int((s.valid_from + s.lifetime).timestamp()),
        "cnf": {"jwk": HOLDER_KEY.public_key.to_jwk()},
        "registrationTier": tier,
        "municipality": municipality_claim(municipality_table().get(s.lg_code)),
        "registeredSince": "2027-01-15",
        "status": {"bitstring_status_list": status_entries()},
    }


DISCLOSABLE = ("registrationTier", "registeredSince")


def issue_sd(s: Situation, tier: str = "basic", **kw: Any) -> str:
    return sdjwt.issue_sd_jwt(
        sd_jwt_claims(s, tier),
        ISSUER_KEY,
        kid=KID,
        disclosable=DISCLOSABLE,
        random_bytes=counter(),
        **kw,
    )


# --- each format shows the situation --------------------------------------------------------------


def show_ldp_vc(s: Situation) -> Doc:
    credential = issue_credential(
        unsigned_credential(s), ISSUER_KEY, verification_method=KID, created=s.valid_from
    )
    if s.tamper:
        credential["credentialSubject"]["registrationTier"] = "premium"
    if s.bare:
        return credential
    holder = did_key_from_public_key(s.holder_signer.public_key)
    return sign_presentation(
        create_presentation([credential], holder=holder),
        s.holder_signer,
        verification_method=did_key_verification_method_id(s.holder_signer.public_key),
        challenge=s.challenge,
        domain=s.domain,
        created=s.presented_at,
    )


def show_jwt_vc_json(s: Situation) -> str:
    vc_jwt = jose.sign_vc_jwt(unsigned_credential(s), ISSUER_KEY, kid=KID, issued_at=s.valid_from)
    if s.tamper:
        vc_jwt = tamper_jws(
            vc_jwt, lambda p: p["credentialSubject"].update(registrationTier="premium")
        )
    if s.bare:
        return vc_jwt
    holder = did_key_from_public_key(s.holder_signer.public_key)
    return jose.sign_vp_jwt(
        {
            "@context": [CREDENTIALS_V2],
            "type": ["VerifiablePresentation"],
            "holder": holder,
            "verifiableCredential": [jose.envelope(vc_jwt)],
        },
        s.holder_signer,
        kid=did_key_verification_method_id(s.holder_signer.public_key),
        nonce=s.challenge,
        audience=s.domain,
        issued_at=s.presented_at,
    )


def show_dc_sd_jwt(s: Situation) -> str:
    issued = issue_sd(s)
    if s.tamper:
        jwt, _, rest = issued.partition("~")
        issued = tamper_jws(jwt, lambda p: p.update(exp=p["exp"] + 10 * 365 * 86400)) + "~" + rest
    presented = sdjwt.present(issued, disclose=DISCLOSABLE, holder=None)
    if s.bare:
        return presented
    return kb_jwt(presented, s.holder_signer, nonce=s.challenge, aud=s.domain, iat=s.presented_at)


SHOW: dict[str, Callable[[Situation], Any]] = {
    formats.LDP_VC: show_ldp_vc,
    formats.JWT_VC_JSON: show_jwt_vc_json,
    formats.DC_SD_JWT: show_dc_sd_jwt,
}


def options_for(s: Situation, **changes: Any) -> tuple[Resolver, VerifyOptions]:
    entries = s.registry(issuer_entry())
    registry = registry_of(entries)
    # The issuer's DID document stays resolvable even when the registry drops it: the
    # registry, not the resolver, decides trust.
    documents = {ISSUER: issuer_entry().did_document(), **registry.did_documents()}
    options = VerifyOptions(
        now=NOW,
        registry=registry,
        status_lists=StatusLists(s.revoked),
        challenge=s.verifier_challenge,
        domain=DOMAIN,
        presentation_max_age=timedelta(seconds=120),
        require_holder_binding=True,
        status_max_age=timedelta(hours=24),
    )
    return Resolver(documents=documents), replace(options, **changes)


def check(fmt: str, s: Situation, **changes: Any) -> VerificationResult:
    resolver, options = options_for(s, **changes)
    return verify(SHOW[fmt](s), resolver=resolver, options=options)


# --- the table ----------------------------------------------------------------------------------


def _revoke_key(entry: RegistryEntry) -> list[RegistryEntry]:
    return [entry.with_key_revoked(entry.keys[0].id, format_datetime(NOW - timedelta(hours=1)))]


@dataclass(frozen=True)
class Case:
    name: str
    situation: Situation
    codes: list[str]
    # The format's own code where its mechanism has one for the same meaning.
    own: dict[str, list[str]] = field(default_factory=dict)

    def expected(self, fmt: str) -> list[str]:
        return self.own.get(fmt, self.codes)


CASES = [
    Case("valid", Situation(), []),
    Case(
        "expired",
        Situation(valid_from=NOW - timedelta(days=400)),
        ["expired"],
    ),
    Case("not yet valid", Situation(valid_from=NOW + timedelta(days=10)), ["not_yet_valid"]),
    Case("revoked", Situation(revoked={"revocation"}), ["revoked"]),
    Case("suspended", Situation(revoked={"suspension"}), ["suspended"]),
    Case(
        "issuer not in the registry",
        Situation(registry=lambda e: [issuer_entry(OTHER_LG)]),
        ["issuer_unknown"],
    ),
    Case("issuer key revoked", Situation(registry=_revoke_key), ["key_revoked"]),
    Case(
        "lgCode of another municipality",
        Situation(lg_code=OTHER_LG),
        ["municipality_mismatch"],
    ),
    Case("tampered", Situation(tamper=True), ["signature_invalid"]),
    Case(
        "wrong challenge",
        Situation(verifier_challenge="another-challenge"),
        ["challenge_mismatch"],
    ),
    Case("wrong domain", Situation(domain="another-verifier.example.jp"), ["domain_mismatch"]),
    Case(
        "stale presentation (a screenshot)",
        Situation(presented_at=NOW - timedelta(minutes=10)),
        ["presentation_stale"],
    ),
    Case(
        "presented with someone else's key",
        Situation(holder_signer=THIEF_KEY),
        ["holder_binding_failed"],
    ),
    Case(
        "no presentation where one is required",
        Situation(bare=True),
        ["holder_binding_failed"],
        own={formats.DC_SD_JWT: ["sd_jwt_key_binding_missing"]},
    ),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_situation_same_codes(case: Case, fmt: str) -> None:
    result = check(fmt, case.situation)
    assert result.codes == case.expected(fmt), [
        (c.check, c.code, c.message_en) for c in result.errors
    ]
    assert result.verified is (case.codes == [])
    assert result_format(result) == fmt
    assert result.to_json()["format"] == fmt
    for code in result.codes:
        assert code in CODES


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_check_names_agree_too(case: Case) -> None:
    """Not only the codes: the failing checks have the same names in every format."""
    failing = {}
    for fmt in FORMATS:
        result = check(fmt, case.situation)
        failing[fmt] = sorted({c.check for c in result.errors})
    if case.own:
        return  # the format's own code is reported by the same check, asserted below
    assert failing[formats.LDP_VC] == failing[formats.JWT_VC_JSON] == failing[formats.DC_SD_JWT]


def test_key_binding_missing_is_a_holder_binding_check() -> None:
    result = check(formats.DC_SD_JWT, Situation(bare=True))
    assert [(c.check, c.code) for c in result.errors] == [
        ("holder_binding", "sd_jwt_key_binding_missing")
    ]


# --- the same through the envelopes: JSON (data: URL) and the FRJ QR --------------------------------


def enveloped(fmt: str, shown: Any) -> Doc:
    if fmt == formats.JWT_VC_JSON:
        return formats.enveloped(formats.VP_JWT_MEDIA_TYPE, shown)
    return formats.enveloped(formats.SD_JWT_MEDIA_TYPE, shown)


@pytest.mark.parametrize("fmt", [formats.JWT_VC_JSON, formats.DC_SD_JWT])
@pytest.mark.parametrize(
    "case", [CASES[0], CASES[3], CASES[9]], ids=lambda c: c.name if isinstance(c, Case) else ""
)
def test_enveloped_presentation_json_and_qr(fmt: str, case: Case) -> None:
    shown = SHOW[fmt](case.situation)
    document = enveloped(fmt, shown)
    assert document["type"] == formats.ENVELOPED_VP_TYPE
    resolver, options = options_for(case.situation)
    assert verify(document, resolver=resolver, options=options).codes == case.codes
    qr = formats.encode_enveloped(
        formats.VP_JWT_MEDIA_TYPE if fmt == formats.JWT_VC_JSON else formats.SD_JWT_MEDIA_TYPE,
        shown,
    )
    assert qr.startswith(envelope.GENERIC_PREFIX)
    decoded = envelope.decode(qr)
    assert decoded == document
    result = verify(decoded, resolver=resolver, options=options)
    assert result.codes == case.codes
    assert result_format(result) == fmt


def test_enveloped_credential_without_key_binding() -> None:
    s = Situation(bare=True)
    resolver, options = options_for(s, require_holder_binding=False, challenge=None)
    vc_jwt = show_jwt_vc_json(s)
    document = formats.enveloped(formats.VC_JWT_MEDIA_TYPE, vc_jwt)
    assert document["type"] == "EnvelopedVerifiableCredential"
    result = verify(document, resolver=resolver, options=options)
    assert result.verified, result.codes
    assert result.kind == "credential"
    sd = show_dc_sd_jwt(s)
    document = formats.enveloped(formats.SD_JWT_MEDIA_TYPE, sd)
    assert document["type"] == "EnvelopedVerifiableCredential"
    assert verify(document, resolver=resolver, options=options).verified


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            lambda d: d.update(id="data:application/vp+jwt;base64," + d["id"].split(",", 1)[1]),
            "unsupported_format",
        ),
        (
            lambda d: d.update(id=d["id"].replace("application/vp+jwt", "application/VP+JWT")),
            "unsupported_format",
        ),
        (
            lambda d: d.update(id=d["id"].replace("application/vp+jwt", "application/vc+jwt")),
            "unsupported_format",
        ),
        (
            lambda d: d.update(id=d["id"].replace("application/vp+jwt", "application/dc+sd-jwt")),
            "unsupported_format",
        ),
        (lambda d: d.update(type="EnvelopedVerifiableCredential"), "unsupported_format"),
        (lambda d: d.update(id=d["id"].replace(".", "%2E", 1)), "malformed"),
        (lambda d: d.update(id="https://example.jp/vp"), "malformed"),
        (lambda d: d.update({"@context": "https://www.w3.org/2018/credentials/v1"}), "malformed"),
    ],
)
def test_enveloped_data_urls_are_strict(change: Callable[[Doc], None], code: str) -> None:
    s = Situation()
    document = formats.enveloped(formats.VP_JWT_MEDIA_TYPE, show_jwt_vc_json(s))
    change(document)
    resolver, options = options_for(s)
    result = verify(document, resolver=resolver, options=options)
    assert result.codes == [code]
    assert not result.verified


# --- what the result carries ----------------------------------------------------------------------


def test_result_documents_are_readable_credentials() -> None:
    s = Situation()
    di = check(formats.LDP_VC, s)
    vp_jwt = check(formats.JWT_VC_JSON, s)
    sd = check(formats.DC_SD_JWT, s)
    assert di.kind == vp_jwt.kind == "presentation"
    assert sd.kind == "credential"
    assert vp_jwt.credentials[0].document is not None
    credential = vp_jwt.credentials[0].document
    assert credential["credentialSubject"]["registrationTier"] == "basic"
    assert credential["iat"] == int(VALID_FROM.timestamp())
    view = sd.document
    assert view is not None
    assert view["credentialSubject"]["municipality"]["lgCode"] == LG
    assert [c.check for c in sd.checks] == [
        "proof",
        "holder_proof",
        "holder_binding",
        "freshness",
        "profile",
        "registry",
        "validity",
        "status",
        "status",
    ]


def test_sd_jwt_view_mapping() -> None:
    claims = sd_jwt_claims(Situation())
    claims["given_name"] = "花子"
    view = formats.sd_jwt_view(claims)
    assert view == {
        "type": ["VerifiableCredential", "FurusatoResidentCredential"],
        "id": "urn:uuid:6a1e0c39-2f4b-4d7e-9a51-3c2b1d0e9f87",
        "issuer": ISSUER,
        "validFrom": "2027-01-15T00:00:00Z",
        "validUntil": "2028-01-14T23:59:59Z",
        "credentialSubject": {
            "id": HOLDER,
            "type": "FurusatoResident",
            "registrationTier": "basic",
            "municipality": {
                "lgCode": LG,
                "name": "厚真町",
                "prefecture": "北海道",
                "prefectureCode": "010006",
            },
            "registeredSince": "2027-01-15",
            "given_name": "花子",
        },
        "credentialStatus": status_entries(),
    }
    # withheld claims are absent; another vct is not our credential type
    other = {k: v for k, v in claims.items() if k not in ("registrationTier", "given_name")}
    other["vct"] = "https://example.jp/other"
    view = formats.sd_jwt_view(other)
    assert view["type"] == ["VerifiableCredential"]
    assert "registrationTier" not in view["credentialSubject"]
    assert "type" not in view["credentialSubject"]


def test_withheld_tier_verifies_but_has_no_tier() -> None:
    s = Situation()
    presented = sdjwt.present(
        issue_sd(s),
        disclose=["registeredSince"],
        holder=HOLDER_KEY,
        nonce=CHALLENGE,
        audience=DOMAIN,
        issued_at=NOW,
    )
    resolver, options = options_for(s)
    result = verify(presented, resolver=resolver, options=options)
    assert result.verified, result.codes
    assert result.document is not None
    assert "registrationTier" not in result.document["credentialSubject"]


def test_sd_jwt_key_binding_by_policy_never_by_presence() -> None:
    s = Situation()
    resolver, options = options_for(s, require_holder_binding=False, challenge=None)
    # a KB-JWT nobody asked for is ignored (and not checked)
    kb = kb_jwt(
        sdjwt.present(issue_sd(s), disclose=DISCLOSABLE, holder=None),
        THIEF_KEY,
        nonce="x",
        aud="y",
        iat=NOW - timedelta(days=3),
    )
    result = verify(kb, resolver=resolver, options=options)
    assert result.verified, result.codes
    assert "holder_proof" not in [c.check for c in result.checks]
    # a challenge alone makes Key Binding required
    with_challenge = replace(options, challenge=CHALLENGE)
    bare = sdjwt.present(issue_sd(s), disclose=DISCLOSABLE, holder=None)
    assert verify(bare, resolver=resolver, options=with_challenge).codes == [
        "sd_jwt_key_binding_missing"
    ]


def test_without_a_challenge_the_wallets_nonce_is_taken_and_said() -> None:
    for fmt in (formats.LDP_VC, formats.JWT_VC_JSON, formats.DC_SD_JWT):
        s = Situation(challenge="made-up-by-the-wallet")
        result = check(fmt, s, challenge=None)
        assert result.verified, (fmt, result.codes)
        assert [w.code for w in result.warnings] == ["challenge_not_checked"]


def test_vp_jwt_credential_of_someone_else_in_own_vp() -> None:
    """The thief's own vp+jwt (holder = the thief) carrying the victim's vc+jwt."""
    result = check(formats.JWT_VC_JSON, Situation(holder_signer=THIEF_KEY))
    assert [(c.check, c.code, c.target) for c in result.errors] == [
        ("holder_binding", "holder_binding_failed", "verifiableCredential[0]")
    ]


# --- the formats' own codes, through verify() -------------------------------------------------


def _sd_parts(s: Situation | None = None) -> tuple[str, list[str]]:
    issued = issue_sd(s or Situation())
    jwt, *disclosures = issued.split("~")
    return jwt, [d for d in disclosures if d]


def _loose_options() -> tuple[Resolver, VerifyOptions]:
    """No Key Binding asked for: the issuer-side checks of an SD-JWT alone."""
    return options_for(Situation(), require_holder_binding=False, challenge=None)


def _signed_sd(payload: Doc, disclosures: list[str], **header: Any) -> str:
    head = {"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": KID, **header}
    return sign_jws(head, payload, ISSUER_KEY) + "~" + "".join(d + "~" for d in disclosures)


def _disclosure(salt: str, name: str, value: Any) -> str:
    return base64url_encode(json.dumps([salt, name, value], ensure_ascii=False).encode())


def _sd_cases() -> Iterator[tuple[str, str, str]]:
    jwt, disclosures = _sd_parts()
    header, payload, _ = jws_parts(jwt)
    yield "ok", "", _signed_sd(payload, disclosures)
    yield "vc+sd-jwt accepted", "", _signed_sd(payload, disclosures, typ="vc+sd-jwt")
    yield "typ", "sd_jwt_typ_invalid", _signed_sd(payload, disclosures, typ="example+sd-jwt")
    hs = dict(header, alg="HS256")
    head = base64url_encode(json.dumps(hs).encode())
    yield "alg", "sd_jwt_alg_not_allowed", f"{head}.{jwt.split('.')[1]}.{jwt.split('.')[2]}~"
    stray = _disclosure("c2FsdHNhbHRzYWx0", "name", "厚真 太郎")
    yield (
        "unreferenced",
        "sd_jwt_disclosure_unreferenced",
        jwt + "~" + "~".join([*disclosures, stray]) + "~",
    )
    yield (
        "duplicated",
        "sd_jwt_digest_duplicated",
        jwt + "~" + "~".join([*disclosures, disclosures[0]]) + "~",
    )
    hidden = _disclosure("c2FsdHNhbHRzYWx0", "status", payload["status"])
    no_status = {k: v for k, v in payload.items() if k != "status"}
    no_status["_sd"] = sorted([*payload["_sd"], sdjwt.disclosure_digest(hidden)])
    yield (
        "status hidden",
        "sd_jwt_claim_not_disclosable",
        _signed_sd(no_status, [*disclosures, hidden]),
    )
    yield (
        "sd_alg",
        "sd_jwt_sd_alg_unsupported",
        _signed_sd({**payload, "_sd_alg": "sha-512"}, disclosures),
    )
    yield (
        "conflict",
        "sd_jwt_claim_conflict",
        _signed_sd({**payload, "registeredSince": "2027-01-15"}, disclosures),
    )
    yield (
        "iss is not the key's",
        "issuer_mismatch",
        _signed_sd({**payload, "iss": "did:web:furusato.example.jp:lg:011002"}, disclosures),
    )
    yield (
        "unknown kid",
        "verification_method_unresolved",
        _signed_sd(payload, disclosures, kid=ISSUER + "#key-9"),
    )
    yield (
        "only a Token Status List",
        "status_unknown",
        _signed_sd(
            {
                **payload,
                "vct": "https://example.jp/another-credential",
                "status": {"status_list": {"idx": 7, "uri": "https://example.jp/statuslists/1"}},
            },
            disclosures,
        ),
    )
    yield (
        "not our profile",
        "malformed",
        _signed_sd(
            {**payload, "municipality": {**payload["municipality"], "name": "札幌市"}}, disclosures
        ),
    )


SD_CASES = list(_sd_cases())


@pytest.mark.parametrize(("name", "code", "token"), SD_CASES, ids=[c[0] for c in SD_CASES])
def test_sd_jwt_own_codes(name: str, code: str, token: str) -> None:
    resolver, options = _loose_options()
    if name == "unknown kid":
        # the key is listed nowhere: without a registry the resolver says so
        options = replace(options, registry=None)
    result = verify(token, resolver=resolver, options=options)
    assert result.codes == ([code] if code else []), [
        (c.check, c.code, c.message_en) for c in result.errors
    ]
    assert result_format(result) == formats.DC_SD_JWT


def test_kb_jwt_own_codes() -> None:
    s = Situation()
    presented = sdjwt.present(issue_sd(s), disclose=DISCLOSABLE, holder=None)
    resolver, options = options_for(s)
    wrong_hash = kb_jwt(presented, HOLDER_KEY, nonce=CHALLENGE, aud=DOMAIN, iat=NOW)
    wrong_hash = (
        sdjwt.present(issue_sd(s), disclose=["registeredSince"], holder=None)
        + wrong_hash.rsplit("~", 1)[1]
    )
    result = verify(wrong_hash, resolver=resolver, options=options)
    assert result.codes == ["sd_jwt_key_binding_invalid"]
    assert result.errors[0].check == "holder_proof"


def test_jose_alg_not_allowed() -> None:
    s = Situation(bare=True)
    vc_jwt = show_jwt_vc_json(s)
    head, body, signature = vc_jwt.split(".")
    header = json.loads(base64url_decode(head, max_length=len(head)))
    forged = base64url_encode(json.dumps({**header, "alg": "ES256"}).encode())
    resolver, options = options_for(s, require_holder_binding=False, challenge=None)
    result = verify(f"{forged}.{body}.{signature}", resolver=resolver, options=options)
    assert result.codes == ["jose_alg_not_allowed"]


def test_vc_jwt_signing_time_is_iat_else_valid_from() -> None:
    """The registry key window is checked at ``iat`` (or validFrom without it)."""
    s = Situation(bare=True)

    def windowed(entry: RegistryEntry) -> list[RegistryEntry]:
        document = build_did_document(
            ISSUER,
            [
                VerificationKeyEntry(
                    "key-1",
                    ISSUER_KEY.public_key,
                    valid_from=format_datetime(VALID_FROM - timedelta(days=1)),
                )
            ],
        )
        return [
            entry_from_did_document(document, lg_code=LG, status_base_url=entry.status_base_url)
        ]

    resolver, options = options_for(
        replace(s, registry=windowed), require_holder_binding=False, challenge=None
    )
    in_window = jose.sign_vc_jwt(unsigned_credential(s), ISSUER_KEY, kid=KID, issued_at=VALID_FROM)
    assert verify(in_window, resolver=resolver, options=options).verified
    before_the_key = jose.sign_vc_jwt(
        unsigned_credential(s), ISSUER_KEY, kid=KID, issued_at=VALID_FROM - timedelta(days=5)
    )
    result = verify(before_the_key, resolver=resolver, options=options)
    assert result.codes == ["key_not_valid_at_time"]
    assert result.errors[0].path == "payload.iat"
    no_iat = jose.sign_vc_jwt(unsigned_credential(s), ISSUER_KEY, kid=KID)
    result = verify(no_iat, resolver=resolver, options=options)
    assert result.verified
    assert [c.path for c in result.checks if c.check == "registry"] == [None]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a token",
        "a.b.c",
        "my.vc.jwt",
        "eyJhbGciOiJub25lIn0.e30.",
        "x" * (formats.MAX_COMPACT_CHARS + 1),
        "~~~",
    ],
)
def test_bad_text_never_raises(text: str) -> None:
    resolver, options = options_for(Situation())
    result = verify(text, resolver=resolver, options=options)
    assert not result.verified
    assert result.codes[0] in ("unsupported_format", "limit_exceeded", "malformed")


def test_compact_kind() -> None:
    s = Situation()
    assert formats.compact_kind(show_jwt_vc_json(s)) == "vp+jwt"
    assert formats.compact_kind(show_jwt_vc_json(replace(s, bare=True))) == "vc+jwt"
    assert formats.compact_kind(show_dc_sd_jwt(s)) == "sd-jwt"
    assert formats.compact_kind(show_dc_sd_jwt(replace(s, bare=True))) == "sd-jwt"
    assert formats.compact_kind("qr.png") is None
    assert formats.compact_kind("FR1:ABC") is None


def test_compact_bytes_are_verified_as_text() -> None:
    s = Situation()
    resolver, options = options_for(s)
    shown = show_dc_sd_jwt(s)
    assert verify((shown + "\n").encode(), resolver=resolver, options=options).verified


# --- the QR sizes -------------------------------------------------------------------------------


def qr_version(text: str) -> int:
    version = segno.make(text, error="m", micro=False).version
    assert isinstance(version, int)
    return version


def test_qr_sizes_fit() -> None:
    """SD-JWT+KB and VP-JWT in the generic FRJ form still make a QR code (error level M);
    FR1 stays the small one.  (Sizes are reported in docs/envelope.md, not asserted here.)"""
    s = Situation()
    fr1 = envelope.encode_presentation(show_ldp_vc(s))
    assert fr1.startswith(envelope.PROFILE_PREFIX)
    for fmt, media_type in (
        (formats.JWT_VC_JSON, formats.VP_JWT_MEDIA_TYPE),
        (formats.DC_SD_JWT, formats.SD_JWT_MEDIA_TYPE),
    ):
        text = formats.encode_enveloped(media_type, SHOW[fmt](s))
        assert qr_version(fr1) < qr_version(text) <= 40
