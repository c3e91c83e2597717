"""Data Integrity interop with Digital Bazaar's JavaScript stack, in both directions.

Every test asserts on *both* implementations: what we sign verifies in JS (``js/di.mjs``:
@digitalbazaar/vc 7 with the eddsa-rdfc-2022 / ecdsa-rdfc-2019 cryptosuites) and what JS
signs verifies here; a tampered credential is refused by both; both canonicalize to the same
N-Quads byte for byte; both refuse in safe mode what JSON-LD would silently drop.

1. our furusato credentials (eddsa, ecdsa; did:key and did:web issuers) → JS
2. JS-signed furusato, generic VCDM 2.0 and VCDM 1.1 credentials, and status lists → ours
3. presentations with challenge and domain, each way
4. tampering with signed fields → both reject
5. differential canonicalization (fixed documents and a property test)
6. safe mode agreement (undefined terms, relative IRIs)

The JS harness does not check status lists (it reports ``statusChecked: false``); status is
checked on our side only, against lists signed by the issuer's key (in Python or in JS).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from did.errors import FurusatoError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.loader import (
    CREDENTIALS_V1,
    CREDENTIALS_V2,
    EXAMPLES_V2,
    StaticDocumentLoader,
    bundled_context_urls,
)
from schemas.municipalities import municipality_table
from tests.interop.jsbridge import JsBridge, JsHarnessError
from vc.dates import format_datetime
from vc.furusato import ACTIVITY_CATEGORIES, TIERS, activity_credential, resident_credential
from vc.issue import issue_credential
from vc.jsonld import canonicalize
from vc.presentation import create_presentation, sign_presentation
from vc.result import VerificationResult
from vc.statuslist import (
    MIN_ENTRIES,
    BitstringStatusList,
    StatusListDocument,
    build_status_list_credential,
)
from vc.suites import ECDSA_RDFC_2019, EDDSA_RDFC_2022, Cryptosuite
from vc.verify import DEFAULT_ACCEPTED_CONTEXTS, VerifyOptions, verify

pytestmark = pytest.mark.interop

Json = dict[str, Any]

NOW: Final = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
NOW_JS: Final = format_datetime(NOW)
VALID_FROM: Final = datetime(2027, 1, 15, tzinfo=UTC)
VALID_UNTIL: Final = datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC)
REGISTERED_SINCE: Final = date(2027, 1, 15)
LG_CODE: Final = "015814"  # 厚真町, 北海道
OTHER_LG_CODE: Final = "015857"  # 安平町, 北海道
PLATFORM: Final = "furusato.example.jp"
CREDENTIAL_ID: Final = "urn:uuid:1b6f0d8e-5b1e-4e55-9a43-7f0c2b0e3a11"
STATUS_INDEX: Final = {"revocation": 7, "suspension": 4242}
CHALLENGE: Final = "c-5b0e0c6e-verifier-nonce"
DOMAIN: Final = "garbage-point.example.jp"

EDDSA: Final = EDDSA_RDFC_2022.name
ECDSA: Final = ECDSA_RDFC_2019.name
SUITES: Final[dict[str, tuple[Cryptosuite, KeyType]]] = {
    EDDSA: (EDDSA_RDFC_2022, KeyType.ED25519),
    ECDSA: (ECDSA_RDFC_2019, KeyType.P256),
}
DID_KEY: Final = "did:key"
DID_WEB: Final = "did:web"
KINDS: Final = (DID_KEY, DID_WEB)

P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# Everything bundled, the examples context included (the W3C vectors and generic credentials)
ALL_CONTEXTS: Final = StaticDocumentLoader(allowed=bundled_context_urls())
WITH_EXAMPLES: Final = DEFAULT_ACCEPTED_CONTEXTS | {EXAMPLES_V2}


# --------------------------------------------------------------------------- keys, issuers


def private_key(key_type: KeyType, label: str) -> PrivateKey:
    """A deterministic key (tests are reproducible; Ed25519 signatures even identical)."""
    seed = hashlib.sha256(label.encode()).digest()
    if key_type is KeyType.ED25519:
        return PrivateKey.from_seed(KeyType.ED25519, seed)
    d = int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1
    return PrivateKey.from_seed(key_type, d.to_bytes(32, "big"))


def jwk(key: PrivateKey) -> dict[str, str]:
    return key.to_jwk(include_private=True)


@dataclass(frozen=True)
class Issuer:
    suite: Cryptosuite
    key: PrivateKey
    did: str
    method: str
    other_method: str  # another assertion key (did:web) or another DID's key (did:key)
    documents: dict[str, Json]  # DID documents both sides are given (did:web only)

    @property
    def jwk(self) -> dict[str, str]:
        return jwk(self.key)

    @property
    def resolver(self) -> Resolver:
        return Resolver(documents=self.documents)


@cache
def issuer(suite_name: str, kind: str) -> Issuer:
    suite, key_type = SUITES[suite_name]
    key = private_key(key_type, f"issuer {suite_name} {kind}")
    other = private_key(key_type, f"issuer {suite_name} {kind} other")
    if kind == DID_KEY:
        did = did_key_from_public_key(key.public_key)
        return Issuer(
            suite,
            key,
            did,
            did_key_verification_method_id(key.public_key),
            did_key_verification_method_id(other.public_key),
            {},
        )
    did = f"did:web:{PLATFORM}:lg:{LG_CODE}"
    document = build_did_document(
        did,
        [
            VerificationKeyEntry("key-1", key.public_key),
            VerificationKeyEntry("key-2", other.public_key),
        ],
    )
    return Issuer(suite, key, did, f"{did}#key-1", f"{did}#key-2", {did: document})


@cache
def holder_key(suite_name: str, label: str = "holder") -> PrivateKey:
    return private_key(SUITES[suite_name][1], f"{label} {suite_name}")


def holder_did(key: PrivateKey) -> str:
    return did_key_from_public_key(key.public_key)


HOLDER: Final = holder_did(holder_key(EDDSA))


# --------------------------------------------------------------------------- status lists


def list_url(purpose: str) -> str:
    return f"https://{PLATFORM}/status/{LG_CODE}/{purpose}/1"


def status_entries(indexes: Mapping[str, int] = STATUS_INDEX) -> list[dict[str, str]]:
    return [
        {
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": str(index),
            "statusListCredential": list_url(purpose),
        }
        for purpose, index in indexes.items()
    ]


class StatusLists:
    """A ``StatusListSource`` over signed status list credentials held in memory."""

    def __init__(self, documents: Iterable[Json]) -> None:
        self.documents = {d["id"]: StatusListDocument(d, retrieved_at=NOW) for d in documents}

    def get(self, url: str) -> StatusListDocument | None:
        return self.documents.get(url)


def unsigned_status_list(iss: Issuer, purpose: str, set_bits: Iterable[int] = ()) -> Json:
    bits = BitstringStatusList(MIN_ENTRIES)
    for index in set_bits:
        bits.set(index, True)
    return build_status_list_credential(
        list_url=list_url(purpose),
        issuer=iss.did,
        purpose=purpose,
        status_list=bits,
        valid_from=format_datetime(NOW - timedelta(days=1)),
        valid_until=format_datetime(NOW + timedelta(days=2)),
        ttl_ms=24 * 3600 * 1000,
    )


def python_status_list(iss: Issuer, purpose: str, set_bits: Iterable[int] = ()) -> Json:
    return issue_credential(
        unsigned_status_list(iss, purpose, set_bits),
        iss.key,
        verification_method=iss.method,
        created=NOW - timedelta(days=1),
        suite=iss.suite,
    )


def js_status_list(js: JsBridge, iss: Issuer, purpose: str, set_bits: Iterable[int] = ()) -> Json:
    return js.sign_vc(
        unsigned_status_list(iss, purpose, set_bits),
        iss.jwk,
        suite=iss.suite.name,
        verification_method=iss.method,
        created=format_datetime(NOW - timedelta(days=1)),
        documents=iss.documents,
    )


@cache
def clean_lists(suite_name: str, kind: str) -> StatusLists:
    """Both lists of an issuer, nothing revoked or suspended, signed here."""
    iss = issuer(suite_name, kind)
    return StatusLists(python_status_list(iss, p) for p in STATUS_INDEX)


# --------------------------------------------------------------------------- credentials


def resident(
    iss: Issuer,
    tier: str = "basic",
    *,
    holder: str = HOLDER,
    issuer_name: str | None = "厚真町",
    status: bool = True,
) -> Json:
    return resident_credential(
        credential_id=CREDENTIAL_ID,
        issuer=iss.did,
        issuer_name=issuer_name,
        municipality=municipality_table().get(LG_CODE),
        holder=holder,
        tier=tier,
        registered_since=REGISTERED_SINCE,
        valid_from=VALID_FROM,
        valid_until=VALID_UNTIL,
        status=status_entries() if status else (),
    )


def our_signed(iss: Issuer, tier: str = "basic", **kw: Any) -> Json:
    return issue_credential(
        resident(iss, tier, **kw),
        iss.key,
        verification_method=iss.method,
        created=NOW,
        suite=iss.suite,
    )


def js_signed(js: JsBridge, iss: Issuer, credential: Mapping[str, Any]) -> Json:
    return js.sign_vc(
        credential,
        iss.jwk,
        suite=iss.suite.name,
        verification_method=iss.method,
        created=NOW_JS,
        documents=iss.documents,
    )


def generic_v2(iss: Issuer) -> Json:
    """A VCDM 2.0 credential like the W3C alumni vector, issued by ``iss`` (no status)."""
    return {
        "@context": [CREDENTIALS_V2, EXAMPLES_V2],
        "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "name": "Alumni Credential",
        "description": "卒業証明書 (generic VCDM 2.0)",
        "issuer": iss.did,
        "validFrom": "2027-01-01T00:00:00Z",
        "credentialSubject": {"id": HOLDER, "alumniOf": "The School of Examples"},
    }


def generic_v1(iss: Issuer) -> Json:
    """A VCDM 1.1 credential (issuanceDate/expirationDate)."""
    return {
        "@context": [CREDENTIALS_V1, EXAMPLES_V2],
        "id": "urn:uuid:6a1e3c1e-0b9b-4c1e-9f5e-2d0f5c7b8a90",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "issuer": iss.did,
        "issuanceDate": "2027-01-01T00:00:00Z",
        "expirationDate": "2030-01-01T00:00:00Z",
        "credentialSubject": {"id": HOLDER, "alumniOf": "The School of Examples"},
    }


# --------------------------------------------------------------------------- verifying


def ours(
    document: Mapping[str, Any],
    iss: Issuer,
    *,
    status_lists: StatusLists | None = None,
    now: datetime = NOW,
    challenge: str | None = None,
    domain: str | None = None,
    require_holder_binding: bool = False,
    accepted: frozenset[str] = DEFAULT_ACCEPTED_CONTEXTS,
) -> VerificationResult:
    return verify(
        document,
        resolver=iss.resolver,
        options=VerifyOptions(
            now=now,
            status_lists=status_lists,
            challenge=challenge,
            domain=domain,
            require_holder_binding=require_holder_binding,
            accepted_contexts=accepted,
        ),
    )


def assert_ours_verified(result: VerificationResult) -> None:
    assert result.verified, [(c.check, c.code, c.message_en) for c in result.errors]
    assert result.codes == []


def js_verify(js: JsBridge, document: Mapping[str, Any], iss: Issuer, **kw: Any) -> Json:
    return js.verify_vc(document, now=kw.pop("now", NOW_JS), documents=iss.documents, **kw)


def assert_js_verified(answer: Mapping[str, Any]) -> None:
    assert answer["verified"] is True, answer
    assert answer["errors"] == [], answer


# ============================================================== 1. ours → JS


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_our_resident_credential_verifies_in_js(
    js: JsBridge, suite: str, kind: str, tier: str
) -> None:
    iss = issuer(suite, kind)
    signed = our_signed(iss, tier)
    assert signed["proof"]["cryptosuite"] == suite
    assert signed["proof"]["verificationMethod"] == iss.method
    assert len(signed["credentialStatus"]) == 2
    assert_ours_verified(ours(signed, iss, status_lists=clean_lists(suite, kind)))
    answer = js_verify(js, signed, iss)
    assert answer == {"verified": True, "errors": [], "statusChecked": False, "hasStatus": True}


def test_both_need_the_did_web_document(js: JsBridge) -> None:
    # the did:web cases above really resolved key-1 through the DID document handed over
    iss = issuer(EDDSA, DID_WEB)
    signed = our_signed(iss)
    missing = replace(iss, documents={})
    assert ours(signed, missing).codes == ["verification_method_unresolved"]
    answer = js_verify(js, signed, missing)
    assert answer["verified"] is False
    assert any(iss.did in e for e in answer["errors"]), answer
    # ... and both check that key-1 is an assertion key of that document
    not_asserting = replace(
        iss,
        documents={iss.did: {**iss.documents[iss.did], "assertionMethod": [iss.other_method]}},
    )
    assert ours(signed, not_asserting).codes == ["verification_method_unresolved"]
    refused = js_verify(js, signed, not_asserting)
    assert refused["verified"] is False
    assert any("not authorized by controller" in e for e in refused["errors"]), refused


@pytest.mark.parametrize(
    ("now", "code"),
    [
        (VALID_FROM - timedelta(days=1), "not_yet_valid"),
        (VALID_UNTIL + timedelta(days=1), "expired"),
    ],
)
def test_validity_window_agrees(js: JsBridge, now: datetime, code: str) -> None:
    iss = issuer(EDDSA, DID_WEB)
    signed = our_signed(iss)
    result = ours(signed, iss, now=now)
    # (its status lists are not handed over here: status_unknown besides, which is not the point)
    assert [c for c in result.codes if c != "status_unknown"] == [code]
    answer = js_verify(js, signed, iss, now=format_datetime(now))
    assert answer["verified"] is False, answer
    # inside the window both accept (the control)
    assert_ours_verified(ours(signed, iss, status_lists=clean_lists(EDDSA, DID_WEB)))
    assert_js_verified(js_verify(js, signed, iss))


@pytest.mark.parametrize("category", ACTIVITY_CATEGORIES[:2])
@pytest.mark.parametrize("evidence", ["checkIn", "document"])
def test_activity_credential_verifies_both_ways(js: JsBridge, category: str, evidence: str) -> None:
    """The premium evidence (a FurusatoActivityCredential receipt) is as interoperable as the
    registration: ours verifies in Digital Bazaar's stack, theirs in ours, byte-identical."""
    iss = issuer(EDDSA, DID_WEB)
    checked_in = evidence == "checkIn"
    unsigned = activity_credential(
        credential_id=CREDENTIAL_ID,
        issuer=iss.did,
        issuer_name="厚真町",
        municipality=municipality_table().get(LG_CODE),
        holder=HOLDER,
        category=category,
        activity_date=VALID_FROM.date(),
        evidence=evidence,
        valid_from=VALID_FROM,
        name="公民館の清掃" if not checked_in else None,
        check_in_time=VALID_FROM if checked_in else None,
        site_id="0123456789abcdef" if checked_in else None,
        site_name="公民館" if checked_in else None,
    )
    signed = issue_credential(unsigned, iss.key, verification_method=iss.method, created=NOW)
    assert_ours_verified(ours(signed, iss))
    assert_js_verified(js_verify(js, signed, iss))
    assert js_signed(js, iss, unsigned) == signed


# ============================================================== 2. JS → ours


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_js_signed_resident_credential_verifies_in_ours(
    js: JsBridge, suite: str, kind: str, tier: str
) -> None:
    iss = issuer(suite, kind)
    unsigned = resident(iss, tier)
    signed = js_signed(js, iss, unsigned)
    assert signed["proof"]["cryptosuite"] == suite
    assert signed["proof"]["verificationMethod"] == iss.method
    assert_js_verified(js_verify(js, signed, iss))
    assert_ours_verified(ours(signed, iss, status_lists=clean_lists(suite, kind)))
    # the same claims signed here: Ed25519 is deterministic, so byte-identical proofs
    if suite == EDDSA:
        assert signed == our_signed(iss, tier)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_js_signed_status_lists_serve_ours(js: JsBridge, suite: str, kind: str) -> None:
    iss = issuer(suite, kind)
    lists = [js_status_list(js, iss, purpose) for purpose in STATUS_INDEX]
    for status_list in lists:  # a generic VCDM 2.0 credential, no status of its own
        assert_js_verified(js_verify(js, status_list, iss))
        assert_ours_verified(ours(status_list, iss))
    assert_ours_verified(ours(our_signed(iss), iss, status_lists=StatusLists(lists)))


@pytest.mark.parametrize("signer", ["python", "js"])
@pytest.mark.parametrize(
    ("purpose", "code"), [("revocation", "revoked"), ("suspension", "suspended")]
)
def test_ours_applies_status_to_js_signed_credential(
    js: JsBridge, purpose: str, code: str, signer: str
) -> None:
    iss = issuer(EDDSA, DID_WEB)
    signed = js_signed(js, iss, resident(iss, "premium"))
    documents = []
    for p in STATUS_INDEX:
        bits = [STATUS_INDEX[p]] if p == purpose else []
        documents.append(
            python_status_list(iss, p, bits)
            if signer == "python"
            else js_status_list(js, iss, p, bits)
        )
    assert ours(signed, iss, status_lists=StatusLists(documents)).codes == [code]
    # the JS harness checks no status lists: its answer is about the signature only
    assert js_verify(js, signed, iss) == {
        "verified": True,
        "errors": [],
        "statusChecked": False,
        "hasStatus": True,
    }


@pytest.mark.parametrize("make", [generic_v2, generic_v1], ids=["vcdm2", "vcdm1.1"])
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_generic_credentials_verify_both_ways(
    js: JsBridge, suite: str, make: Callable[[Issuer], Json]
) -> None:
    iss = issuer(suite, DID_KEY)
    unsigned = make(iss)
    from_js = js_signed(js, iss, unsigned)
    from_us = issue_credential(
        unsigned,
        iss.key,
        verification_method=iss.method,
        created=NOW,
        suite=iss.suite,
        loader=ALL_CONTEXTS,
    )
    for signed in (from_js, from_us):
        assert signed["proof"]["cryptosuite"] == suite
        assert_js_verified(js_verify(js, signed, iss))
        assert_ours_verified(ours(signed, iss, accepted=WITH_EXAMPLES))
    if suite == EDDSA:
        assert from_js == from_us
    if make is generic_v1:
        # both add the Data Integrity context to a VCDM 1.1 credential's @context
        assert from_js["@context"] == from_us["@context"]
        assert from_js["@context"][-1] == "https://w3id.org/security/data-integrity/v2"


# ============================================================== 3. presentations


def presentation_credential(js: JsBridge, holder: str) -> tuple[Issuer, Json]:
    iss = issuer(EDDSA, DID_WEB)
    return iss, js_signed(js, iss, resident(iss, "premium", holder=holder))


WRONG_CHALLENGE: Final = ["challenge_mismatch"]
WRONG_DOMAIN: Final = ["domain_mismatch"]


@pytest.mark.parametrize("holder_suite", sorted(SUITES))
def test_our_presentation_verifies_in_js(js: JsBridge, holder_suite: str) -> None:
    key = holder_key(holder_suite)
    holder = holder_did(key)
    iss = issuer(ECDSA, DID_WEB)
    credential = our_signed(iss, "premium", holder=holder)
    vp = sign_presentation(
        create_presentation([credential], holder=holder),
        key,
        verification_method=did_key_verification_method_id(key.public_key),
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=NOW,
        suite=SUITES[holder_suite][0],
    )
    assert vp["proof"]["challenge"] == CHALLENGE
    assert vp["proof"]["domain"] == DOMAIN
    lists = clean_lists(ECDSA, DID_WEB)

    def check_js(challenge: str, domain: str) -> Json:
        return js.verify_vp(
            vp, challenge=challenge, domain=domain, now=NOW_JS, documents=iss.documents
        )

    def check_ours(challenge: str, domain: str, binding: bool = True) -> VerificationResult:
        return ours(
            vp,
            iss,
            status_lists=lists,
            challenge=challenge,
            domain=domain,
            require_holder_binding=binding,
        )

    ok = check_js(CHALLENGE, DOMAIN)
    assert ok["verified"] is True, ok
    assert ok["presentationVerified"] is True
    assert [r["verified"] for r in ok["credentialResults"]] == [True]
    assert_ours_verified(check_ours(CHALLENGE, DOMAIN))

    wrong_challenge = check_js("c-another-nonce", DOMAIN)
    assert wrong_challenge["verified"] is False
    assert wrong_challenge["presentationVerified"] is False
    assert [r["verified"] for r in wrong_challenge["credentialResults"]] == [True]
    assert check_ours("c-another-nonce", DOMAIN, binding=False).codes == ["challenge_mismatch"]
    # holder binding needs a verified holder proof, so it cannot hold either
    assert check_ours("c-another-nonce", DOMAIN).codes == WRONG_CHALLENGE

    wrong_domain = check_js(CHALLENGE, "another-verifier.example.jp")
    assert wrong_domain["verified"] is False
    assert wrong_domain["presentationVerified"] is False
    assert check_ours(CHALLENGE, "another-verifier.example.jp", binding=False).codes == [
        "domain_mismatch"
    ]
    assert check_ours(CHALLENGE, "another-verifier.example.jp").codes == WRONG_DOMAIN


@pytest.mark.parametrize("holder_suite", sorted(SUITES))
def test_js_presentation_verifies_in_ours(js: JsBridge, holder_suite: str) -> None:
    key = holder_key(holder_suite)
    holder = holder_did(key)
    iss, credential = presentation_credential(js, holder)
    vp = js.sign_vp(
        {
            "@context": [CREDENTIALS_V2],
            "type": ["VerifiablePresentation"],
            "holder": holder,
            "verifiableCredential": [credential],
        },
        jwk(key),
        challenge=CHALLENGE,
        domain=DOMAIN,
        suite=holder_suite,
        created=NOW_JS,
        documents=iss.documents,
    )
    assert vp["proof"]["proofPurpose"] == "authentication"
    assert vp["proof"]["verificationMethod"] == did_key_verification_method_id(key.public_key)
    lists = clean_lists(EDDSA, DID_WEB)

    def check_ours(challenge: str, domain: str, binding: bool = True) -> VerificationResult:
        return ours(
            vp,
            iss,
            status_lists=lists,
            challenge=challenge,
            domain=domain,
            require_holder_binding=binding,
        )

    def check_js(challenge: str, domain: str) -> Json:
        return js.verify_vp(
            vp, challenge=challenge, domain=domain, now=NOW_JS, documents=iss.documents
        )

    assert_ours_verified(check_ours(CHALLENGE, DOMAIN))
    ok = check_js(CHALLENGE, DOMAIN)
    assert ok["verified"] is True, ok

    assert check_ours("c-another-nonce", DOMAIN, binding=False).codes == ["challenge_mismatch"]
    # holder binding needs a verified holder proof, so it cannot hold either
    assert check_ours("c-another-nonce", DOMAIN).codes == WRONG_CHALLENGE
    assert check_js("c-another-nonce", DOMAIN)["presentationVerified"] is False

    assert check_ours(CHALLENGE, "another-verifier.example.jp", binding=False).codes == [
        "domain_mismatch"
    ]
    assert check_ours(CHALLENGE, "another-verifier.example.jp").codes == WRONG_DOMAIN
    assert check_js(CHALLENGE, "another-verifier.example.jp")["presentationVerified"] is False


def test_js_presentation_by_someone_else_fails_holder_binding(js: JsBridge) -> None:
    # a JS-signed VP carrying a credential whose subject is another key: both signatures are
    # fine (JS says verified), but our verifier asks for holder binding
    owner = holder_did(holder_key(EDDSA))
    thief = holder_key(EDDSA, "thief")
    iss, credential = presentation_credential(js, owner)
    vp = js.sign_vp(
        {
            "@context": [CREDENTIALS_V2],
            "type": ["VerifiablePresentation"],
            "holder": holder_did(thief),
            "verifiableCredential": [credential],
        },
        jwk(thief),
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=NOW_JS,
        documents=iss.documents,
    )
    answer = js.verify_vp(
        vp, challenge=CHALLENGE, domain=DOMAIN, now=NOW_JS, documents=iss.documents
    )
    assert answer["verified"] is True, answer
    result = ours(
        vp,
        iss,
        status_lists=clean_lists(EDDSA, DID_WEB),
        challenge=CHALLENGE,
        domain=DOMAIN,
        require_holder_binding=True,
    )
    assert result.codes == ["holder_binding_failed"]


# ============================================================== 4. tampering


def _subject(c: Json) -> Json:
    subject: Json = c["credentialSubject"]
    return subject


def _tier(c: Json, iss: Issuer) -> None:
    _subject(c)["registrationTier"] = "premium"


def _lg_code(c: Json, iss: Issuer) -> None:
    # a consistent forgery: another real municipality (the profile check cannot see it)
    other = municipality_table().get(OTHER_LG_CODE)
    _subject(c)["municipality"] = {
        **_subject(c)["municipality"],
        "lgCode": other.lg_code,
        "name": other.name,
    }


def _lg_code_only(c: Json, iss: Issuer) -> None:
    # a careless forgery: lgCode no longer agrees with the name (the profile check sees it)
    _subject(c)["municipality"]["lgCode"] = OTHER_LG_CODE


def _valid_until(c: Json, iss: Issuer) -> None:
    c["validUntil"] = "2029-01-14T23:59:59Z"


def _issuer_name(c: Json, iss: Issuer) -> None:
    c["issuer"]["name"] = "安平町"


def _subject_id(c: Json, iss: Issuer) -> None:
    _subject(c)["id"] = holder_did(holder_key(EDDSA, "thief"))


def _status_index(c: Json, iss: Issuer) -> None:
    c["credentialStatus"][0]["statusListIndex"] = str(STATUS_INDEX["revocation"] + 1)


def _proof_created(c: Json, iss: Issuer) -> None:
    c["proof"]["created"] = format_datetime(NOW + timedelta(seconds=1))


def _proof_method(c: Json, iss: Issuer) -> None:
    # did:web: the issuer's other assertion key; did:key: another key altogether
    c["proof"]["verificationMethod"] = iss.other_method


TAMPERS: Final[dict[str, tuple[Callable[[Json, Issuer], None], str]]] = {
    # field: (tamper, the code our verifier gives; JS always says "Invalid signature")
    "registrationTier": (_tier, "signature_invalid"),
    "municipality.lgCode": (_lg_code, "signature_invalid"),
    "municipality.lgCode(only)": (_lg_code_only, "malformed"),
    "validUntil": (_valid_until, "signature_invalid"),
    "issuer.name": (_issuer_name, "signature_invalid"),
    "credentialSubject.id": (_subject_id, "signature_invalid"),
    "credentialStatus.statusListIndex": (_status_index, "signature_invalid"),
    "proof.created": (_proof_created, "signature_invalid"),
    "proof.verificationMethod": (_proof_method, "signature_invalid"),
}


_SIGNED_FOR_TAMPERING: dict[tuple[str, str, str], Json] = {}


def _signed_for_tampering(js: JsBridge, signer: str, suite: str, kind: str) -> Json:
    """One signed basic credential per (signer, suite, issuer kind), made once."""
    key = (signer, suite, kind)
    if key not in _SIGNED_FOR_TAMPERING:
        iss = issuer(suite, kind)
        signed = our_signed(iss) if signer == "python" else js_signed(js, iss, resident(iss))
        _SIGNED_FOR_TAMPERING[key] = signed
    return copy.deepcopy(_SIGNED_FOR_TAMPERING[key])


@pytest.mark.parametrize("signer", ["python", "js"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("field", sorted(TAMPERS))
def test_tampering_is_rejected_by_both(
    js: JsBridge, field: str, suite: str, kind: str, signer: str
) -> None:
    iss = issuer(suite, kind)
    lists = clean_lists(suite, kind)
    signed = _signed_for_tampering(js, signer, suite, kind)
    # the control: untouched, both accept
    assert_ours_verified(ours(signed, iss, status_lists=lists))
    assert_js_verified(js_verify(js, signed, iss))

    tamper, code = TAMPERS[field]
    forged = copy.deepcopy(signed)
    tamper(forged, iss)
    assert forged != signed
    result = ours(forged, iss, status_lists=lists)
    assert result.codes == [code], [(c.check, c.code, c.message_en) for c in result.errors]
    answer = js_verify(js, forged, iss)
    assert answer["verified"] is False, answer
    assert any("Invalid signature" in e for e in answer["errors"]), answer
    if code == "malformed":  # caught before the signature: lgCode and name disagree
        assert [c.check for c in result.errors] == ["profile"]


# ============================================================== 5. canonicalization


def _our_vp(iss: Issuer) -> Json:
    key = holder_key(EDDSA)
    return sign_presentation(
        create_presentation([our_signed(iss)], holder=HOLDER),
        key,
        verification_method=did_key_verification_method_id(key.public_key),
        challenge=CHALLENGE,
        domain=DOMAIN,
        created=NOW,
    )


def _canonical_documents() -> dict[str, Callable[[], Json]]:
    web = issuer(EDDSA, DID_WEB)
    return {
        "resident-unsigned": lambda: resident(web, "premium"),
        "resident-signed": lambda: our_signed(web),
        "resident-signed-ecdsa": lambda: our_signed(issuer(ECDSA, DID_KEY)),
        "status-list-credential": lambda: python_status_list(web, "revocation", [3, 42]),
        "presentation-with-credential": lambda: _our_vp(web),
        "generic-vcdm1.1": lambda: generic_v1(web),
        "did-document": lambda: web.documents[web.did],
    }


CANONICAL_DOCUMENTS: Final = _canonical_documents()


@pytest.mark.parametrize("name", sorted(CANONICAL_DOCUMENTS))
def test_canonical_nquads_agree(js: JsBridge, name: str) -> None:
    document = CANONICAL_DOCUMENTS[name]()
    mine = canonicalize(document, ALL_CONTEXTS)
    assert mine.endswith("\n")
    assert mine == js.canonize(document)


@pytest.mark.parametrize("name", ["unsigned.json", "signedDataInt.json"])
def test_canonical_nquads_agree_on_w3c_alumni_vector(
    js: JsBridge, load_vector: Callable[[str], Any], name: str
) -> None:
    document = load_vector(f"eddsa-rdfc-2022/{name}")
    mine = canonicalize(document, ALL_CONTEXTS)
    assert mine == js.canonize(document)
    if name == "unsigned.json":
        assert mine == load_vector("eddsa-rdfc-2022/canonDocDataInt.txt")


# RDFC-1.0 writes literals in canonical N-Quads form (W3C Recommendation 2024, "canonical
# n-quads form"; w3c/rdf-canon#96, #167): \b \t \n \f \r \" \\ as ECHAR, the other
# U+0000-U+001F and U+007F as UCHAR (\u0000, upper-case hex). rdf-canonize 5 does; pyld 3.3.0
# did not (it writes them raw), so vc.jsonld brings its own serializer. These cases prove
# both implementations now agree.
TRICKY_STRINGS: Final = {
    "quote-backslash": 'a "quoted" \\ name',
    "newline-tab-cr": "line1\nline2\tcol\rend",
    "line-separators": "ls\u2028ps\u2029nel\x85",
    "nfc-vs-nfd": "が vs か\u3099",
    "astral": "𠮷野家 🍙",
    "bom-zwj": "\ufeffzw\u200dj",
    "backspace": "bs\b.",
    "formfeed": "ff\f.",
    "vertical-tab": "vt\x0b.",
    "nul": "nul\x00.",
    "unit-separator": "us\x1f.",
    "delete": "del\x7f.",
}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n) for n in TRICKY_STRINGS],
)
def test_canonical_nquads_agree_on_string_escapes(js: JsBridge, name: str) -> None:
    document = resident(issuer(EDDSA, DID_WEB), issuer_name=TRICKY_STRINGS[name])
    assert canonicalize(document, ALL_CONTEXTS) == js.canonize(document)


@pytest.mark.parametrize("direction", ["ours-to-js", "js-to-ours"])
def test_control_characters_in_claims_verify_both_ways(js: JsBridge, direction: str) -> None:
    # what a canonical-form disagreement would mean for signatures
    iss = issuer(EDDSA, DID_KEY)
    unsigned = _plain_v2(iss)
    _subject(unsigned)["name"] = "ふるさと\b太郎"
    if direction == "ours-to-js":
        signed = issue_credential(unsigned, iss.key, verification_method=iss.method, created=NOW)
        assert_js_verified(js_verify(js, signed, iss))
    else:
        assert_ours_verified(ours(js_signed(js, iss, unsigned), iss))


MUNICIPALITIES: Final = municipality_table().municipalities()
JAPANESE_TEXT: Final = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x3041, max_codepoint=0x30FF),  # kana
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
        st.sampled_from("町村市区県都道府ヶ々ー・（）　 -"),
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    ),
    min_size=1,
    max_size=64,
)


@st.composite
def furusato_credentials(draw: st.DrawFn) -> tuple[Json, Issuer]:
    """A furusato credential (half of them signed here) and its issuer."""
    suite = draw(st.sampled_from(sorted(SUITES)))
    iss = issuer(suite, draw(st.sampled_from(KINDS)))
    holder_seed = draw(st.binary(min_size=32, max_size=32))
    holder_type = draw(st.sampled_from([KeyType.ED25519, KeyType.P256]))
    holder = private_key(holder_type, holder_seed.hex())
    valid_from = draw(
        st.datetimes(
            min_value=datetime(2026, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
        )
    ).replace(microsecond=0)
    lifetime = draw(st.integers(min_value=1, max_value=5 * 366 * 86400))
    since = valid_from.date() - timedelta(days=draw(st.integers(min_value=0, max_value=3650)))
    indexes = draw(st.lists(st.integers(0, MIN_ENTRIES - 1), min_size=2, max_size=2))
    with_status = draw(st.booleans())
    credential = resident_credential(
        credential_id=draw(st.one_of(st.none(), st.uuids(version=4).map(lambda u: u.urn))),
        issuer=iss.did,
        issuer_name=draw(st.one_of(st.none(), JAPANESE_TEXT)),
        municipality=draw(st.sampled_from(MUNICIPALITIES)),
        holder=holder_did(holder),
        tier=draw(st.sampled_from(TIERS)),
        registered_since=since,
        valid_from=valid_from,
        valid_until=valid_from + timedelta(seconds=lifetime),
        status=status_entries(dict(zip(STATUS_INDEX, indexes, strict=True))) if with_status else (),
    )
    if with_status and draw(st.booleans()):  # a resident credential is issued with both
        credential = issue_credential(
            credential, iss.key, verification_method=iss.method, created=valid_from, suite=iss.suite
        )
    return credential, iss


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=furusato_credentials())
def test_canonical_nquads_agree_on_generated_credentials(
    js: JsBridge, generated: tuple[Json, Issuer]
) -> None:
    credential, iss = generated
    assert canonicalize(credential) == js.canonize(credential)
    if "proof" in credential:  # and what we signed verifies there
        assert_js_verified(js_verify(js, credential, iss, now=credential["validFrom"]))


# ============================================================== 6. safe mode


def _plain_v2(iss: Issuer) -> Json:
    """A VCDM 2.0 credential with the base context only: no @vocab to catch strays."""
    return {
        "@context": [CREDENTIALS_V2],
        "id": "urn:uuid:2f0d8b4e-7c1a-4b8e-9d3f-5a6b7c8d9e0f",
        "type": ["VerifiableCredential"],
        "issuer": iss.did,
        "validFrom": "2027-01-01T00:00:00Z",
        "credentialSubject": {"id": HOLDER, "name": "ふるさと 太郎"},
    }


def _undefined_subject_property(c: Json) -> None:
    _subject(c)["nickname"] = "たろう"


def _undefined_top_property(c: Json) -> None:
    c["registrationTier"] = "premium"  # a furusato term, but its context is not in @context


def _undefined_issuer_property(c: Json) -> None:
    c["issuer"] = {"id": c["issuer"], "name": "厚真町", "image": "https://example.jp/logo.png"}


def _keyword_like_key(c: Json) -> None:
    c["@extra"] = "x"


def _undefined_type(c: Json) -> None:
    c["type"] = ["VerifiableCredential", "UnknownCredential"]


def _relative_nested_id(c: Json) -> None:
    _subject(c)["name"] = {"id": "names/1"}


def _relative_id(c: Json) -> None:
    c["id"] = "credentials/1"


def _relative_subject_id(c: Json) -> None:
    _subject(c)["id"] = "residents/42"


SAFE_MODE: Final = "Safe mode validation error."


@dataclass(frozen=True)
class Unsafe:
    change: Callable[[Json], None]
    code: str  # what our issuer and verifier say (our canonicalize alone: undefined_term)
    event: str  # the jsonld.js safe-mode event its canonize reports
    js_issue: str  # what JS sign-vc / verify-vc report


def _safe_mode(event: str) -> str:
    return f"{SAFE_MODE} [{event}]"


UNSAFE: Final = {
    "undefined property (subject)": Unsafe(
        _undefined_subject_property, "undefined_term", "invalid property", ""
    ),
    "undefined property (top level)": Unsafe(
        _undefined_top_property, "undefined_term", "invalid property", ""
    ),
    "undefined property (issuer)": Unsafe(
        _undefined_issuer_property, "undefined_term", "invalid property", ""
    ),
    "keyword-like key": Unsafe(_keyword_like_key, "undefined_term", "invalid property", ""),
    "undefined type": Unsafe(_undefined_type, "undefined_term", "relative @type reference", ""),
    "relative id (nested node)": Unsafe(
        _relative_nested_id, "undefined_term", "relative @id reference", ""
    ),
    # VCDM 2.0 §4.4 requires these ids to be URLs: our data model check refuses them before
    # JSON-LD is reached; @digitalbazaar/vc checks credentialSubject.id the same way
    "relative id (credential)": Unsafe(_relative_id, "malformed", "relative @id reference", ""),
    "relative id (subject)": Unsafe(
        _relative_subject_id,
        "malformed",
        "relative @id reference",
        '"credentialSubject.id" must be a URI: "residents/42"',
    ),
}


def _js_expectation(case: Unsafe) -> str:
    return case.js_issue or _safe_mode(case.event)


@pytest.mark.parametrize("name", sorted(UNSAFE))
def test_safe_mode_refusals_agree(js: JsBridge, name: str) -> None:
    iss = issuer(EDDSA, DID_KEY)
    case = UNSAFE[name]
    # the control: without the change both sign, identically
    good = _plain_v2(iss)
    from_us = issue_credential(good, iss.key, verification_method=iss.method, created=NOW)
    assert js_signed(js, iss, good) == from_us
    assert_js_verified(js_verify(js, from_us, iss))

    bad = _plain_v2(iss)
    case.change(bad)
    with pytest.raises(FurusatoError) as refused:
        issue_credential(bad, iss.key, verification_method=iss.method, created=NOW)
    assert refused.value.code == case.code, refused.value
    with pytest.raises(FurusatoError) as refused_canon:
        canonicalize(bad)
    assert refused_canon.value.code == "undefined_term"

    with pytest.raises(JsHarnessError) as js_refused:
        js_signed(js, iss, bad)
    assert _js_expectation(case) in str(js_refused.value)
    with pytest.raises(JsHarnessError) as js_refused_canon:
        js.canonize(bad)
    assert _safe_mode(case.event) in str(js_refused_canon.value)


@pytest.mark.parametrize("name", sorted(UNSAFE))
def test_safe_mode_at_verification_agrees(js: JsBridge, name: str) -> None:
    # the unsafe change made *after* signing: both verifiers refuse
    iss = issuer(EDDSA, DID_KEY)
    case = UNSAFE[name]
    signed = issue_credential(_plain_v2(iss), iss.key, verification_method=iss.method, created=NOW)
    case.change(signed)
    result = ours(signed, iss)
    assert result.codes == [case.code], [(c.check, c.code, c.message_en) for c in result.errors]
    answer = js_verify(js, signed, iss)
    assert answer["verified"] is False
    assert any(_js_expectation(case) in e for e in answer["errors"]), answer
