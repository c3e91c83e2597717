"""The fast canonicalization path (:mod:`vc.fastld`) against the pyld reference path.

A differential test (docs/performance.md): for every document here — the credentials,
presentations, status lists and proof configurations the project signs, the W3C vectors, the
safe-mode refusals, hypothesis-generated furusato credentials and mutations of all of these —

* if the fast path answers, the reference path (``canonicalize(..., fast=False)``) accepts the
  document and gives byte-identical N-Quads;
* if the reference path refuses, the fast path declines (``None``), and the public
  ``canonicalize`` refuses with the same code;
* the public ``canonicalize`` always gives the reference's answer.

Documents the project produces must actually take the fast path (else the speed is lost
silently): those cases assert it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld as pyld_jsonld

from did.errors import FurusatoError, LimitExceededError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.resolver import Resolver
from did.web import VerificationKeyEntry, build_did_document
from schemas.loader import (
    CREDENTIALS_V1,
    CREDENTIALS_V2,
    DATA_INTEGRITY_V2,
    FURUSATO_V1,
    StaticDocumentLoader,
    bundled_context,
    bundled_context_urls,
    default_loader,
)
from schemas.municipalities import municipality_table
from tests.vc import qr_fixtures
from tests.vc.test_jsonld import BASE, SAFE_MODE_CASES
from vc import fastld
from vc.dataintegrity import ASSERTION_METHOD, AUTHENTICATION, add_proof, verify_proof
from vc.fastld import fast_canonicalize
from vc.furusato import ACTIVITY_CATEGORIES, EVIDENCE_KINDS, activity_credential
from vc.jsonld import canonicalize
from vc.presentation import create_presentation, sign_presentation
from vc.statuslist import BitstringStatusList, build_status_list_credential
from vc.suites import EDDSA_RDFC_2022

Doc = dict[str, Any]
DEFAULT = default_loader()
ALL_CONTEXTS = StaticDocumentLoader()  # every bundled context, examples and undefined-terms too
VECTORS = Path(__file__).resolve().parents[1] / "vectors"
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ISSUER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
HOLDER_KEY = PrivateKey.from_seed(KeyType.ED25519, bytes([7]) * 32)
HOLDER = did_key_from_public_key(HOLDER_KEY.public_key)
HOLDER_VM = did_key_verification_method_id(HOLDER_KEY.public_key)
WEB_ISSUER = "did:web:furusato.example.jp:lg:015814"
WEB_VM = WEB_ISSUER + "#key-1"
RESOLVER = Resolver(
    documents={
        WEB_ISSUER: build_did_document(
            WEB_ISSUER, [VerificationKeyEntry("key-1", ISSUER_KEY.public_key)]
        )
    }
)
REFERENCE_SUITE = dataclasses.replace(EDDSA_RDFC_2022, fast=False)


def differential(
    document: Any, loader: StaticDocumentLoader = DEFAULT, *, max_blank_nodes: int = 512
) -> str | None:
    """Check the invariants above; return the fast path's answer (None: it declined).

    ``fast_canonicalize`` is called directly, so a bug that raises fails the test (the public
    ``canonicalize`` would hide it behind the reference path).
    """
    fast = fast_canonicalize(document, loader, max_blank_nodes=max_blank_nodes)
    refused: FurusatoError | None = None
    try:
        reference = canonicalize(document, loader, max_blank_nodes=max_blank_nodes, fast=False)
    except FurusatoError as exc:
        refused = exc
    if refused is not None:
        assert fast is None, f"the fast path accepted what safe mode refuses: {refused}"
        with pytest.raises(FurusatoError) as raised:
            canonicalize(document, loader, max_blank_nodes=max_blank_nodes)
        assert raised.value.code == refused.code
        return None
    if fast is not None:
        assert fast == reference
    assert canonicalize(document, loader, max_blank_nodes=max_blank_nodes) == reference
    return fast


def unsecured(document: Doc) -> Doc:
    return {k: v for k, v in document.items() if k != "proof"}


def proof_config(document: Doc, index: int = 0) -> Doc:
    """What the rdfc suites canonicalize for a proof: its options with the document's context."""
    proofs = document["proof"] if isinstance(document["proof"], list) else [document["proof"]]
    options = {k: v for k, v in proofs[index].items() if k != "proofValue"}
    return {"@context": document["@context"], **options}


# --- the corpus: what the project signs and verifies -------------------------------------------


def _resident(**kwargs: Any) -> Doc:
    return qr_fixtures.signed_credential(**kwargs)


def _activity(*, site: bool = True) -> Doc:
    municipality = municipality_table().get("015814")
    credential = activity_credential(
        credential_id="urn:uuid:7d1e4c1a-6b1f-4d4e-9f60-2d6f3f7f1a11",
        issuer=WEB_ISSUER,
        issuer_name="厚真町",
        municipality=municipality,
        holder=HOLDER,
        category="volunteer",
        activity_date=date(2027, 2, 11),
        evidence="checkIn" if site else "document",
        valid_from=NOW,
        name="雪かきボランティア",
        check_in_time=NOW - timedelta(hours=2) if site else None,
        site_id="site-07" if site else None,
        site_name="上厚真公民館" if site else None,
    )
    return add_proof(credential, ISSUER_KEY, verification_method=WEB_VM, suite=EDDSA_RDFC_2022)


def _status_list(purpose: str = "revocation", *, ttl: int | None = 300_000) -> Doc:
    bits = BitstringStatusList(131_072)
    bits.set(94_567, True)
    credential = build_status_list_credential(
        list_url=f"https://furusato.example.jp/status/015814/{purpose}/1",
        issuer=WEB_ISSUER,
        purpose=purpose,
        status_list=bits,
        valid_from="2027-03-01T00:00:00Z",
        valid_until="2027-03-02T00:00:00Z",
        ttl_ms=ttl,
    )
    return add_proof(
        credential, ISSUER_KEY, verification_method=WEB_VM, suite=EDDSA_RDFC_2022, created=NOW
    )


def _presentation(*credentials: Doc, holder: str | None = HOLDER) -> Doc:
    return sign_presentation(
        create_presentation(list(credentials), holder=holder),
        HOLDER_KEY,
        verification_method=HOLDER_VM,
        challenge="q83vEjRWeJq8",
        domain="furusato-qr",
        created=NOW,
    )


def _proof_set() -> Doc:
    first = _resident()
    return add_proof(
        first, HOLDER_KEY, verification_method=HOLDER_VM, suite=EDDSA_RDFC_2022, created=NOW
    )


def _proof_chain() -> Doc:
    first = _resident()
    first["proof"]["id"] = "urn:uuid:11111111-2222-4333-8444-555555555555"
    return add_proof(
        first,
        HOLDER_KEY,
        verification_method=HOLDER_VM,
        suite=EDDSA_RDFC_2022,
        created=NOW,
        proof_id="urn:uuid:66666666-7777-4888-9999-000000000000",
        previous_proof="urn:uuid:11111111-2222-4333-8444-555555555555",
    )


def _vcdm11() -> Doc:
    return {
        "@context": [CREDENTIALS_V1, DATA_INTEGRITY_V2],
        "id": "urn:uuid:2e1b5f4c-8a1d-4c3b-9e7f-6a5b4c3d2e1f",
        "type": ["VerifiableCredential"],
        "issuer": {"id": WEB_ISSUER},
        "issuanceDate": "2027-01-15T00:00:00Z",
        "expirationDate": "2028-01-15T00:00:00Z",
        "credentialSubject": {"id": HOLDER},
    }


def _rich() -> Doc:
    """Literal shapes beyond the furusato profile: language and typed value objects, integers,
    booleans, ``@json`` (with floats and escapes), ``cnf`` with its scoped context."""
    document = unsecured(_resident())
    document["name"] = [{"@value": "ふるさと住民票", "@language": "JA"}, {"@value": "x"}]
    document["description"] = [
        'plain "quoted" \\ \n\t\u0000\u007f\u2028 🍙',
        {"@value": "2027-01-15", "@type": "http://www.w3.org/2001/XMLSchema#date"},
        {"@value": 7, "@type": "https://w3id.org/furusato#count"},
        {"@value": True},
        12345678901234567890,
        -3,
        False,
    ]
    document["credentialSubject"]["cnf"] = {
        "kid": "did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX#key",
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "ü\n", "n": [1.5, 1e-7, 2, None, True]},
    }
    return document


def _json_schema_credential() -> Doc:
    return {
        "@context": [CREDENTIALS_V2],
        "id": "https://furusato.example.jp/schemas/resident.json",
        "type": ["VerifiableCredential", "JsonSchemaCredential"],
        "issuer": WEB_ISSUER,
        "credentialSubject": {
            "id": "https://furusato.example.jp/schemas/resident",
            "type": "JsonSchema",
            "jsonSchema": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"tier": {"enum": ["basic", "premium"]}, "n": {"minimum": 0.5}},
            },
        },
    }


def _with(path: tuple[str | int, ...], value: Any) -> Callable[[], Doc]:
    def build() -> Doc:
        document = unsecured(_resident())
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return document

    return build


PRODUCT: dict[str, Callable[[], Doc]] = {
    # name -> document; every one must take the fast path
    "resident, unsigned": lambda: unsecured(_resident()),
    "resident, signed": _resident,
    "resident, proof configuration": lambda: proof_config(_resident()),
    "resident basic, no status": lambda: unsecured(
        qr_fixtures.signed_credential(tier="basic", lg_code="131016")
    ),
    "activity with a site": lambda: unsecured(_activity()),
    "activity, signed": _activity,
    "activity, document evidence": lambda: unsecured(_activity(site=False)),
    "status list credential": lambda: unsecured(_status_list()),
    "status list credential, signed": _status_list,
    "status list, proof configuration": lambda: proof_config(_status_list("suspension")),
    "presentation": lambda: unsecured(qr_fixtures.presentation()),
    "presentation, signed": qr_fixtures.presentation,
    "presentation, proof configuration": lambda: proof_config(qr_fixtures.presentation()),
    "presentation of two credentials": lambda: unsecured(
        _presentation(_resident(), _activity(), holder=None)
    ),
    "proof set": _proof_set,
    "proof set, second proof configuration": lambda: proof_config(_proof_set(), 1),
    "proof chain, unsecured with the previous proof": lambda: {
        **unsecured(_proof_chain()),
        "proof": _proof_chain()["proof"][0],
    },
    "proof chain, proof configuration": lambda: proof_config(_proof_chain(), 1),
    "VCDM 1.1 credential": _vcdm11,
    "VCDM 1.1 proof configuration": lambda: {
        "@context": _vcdm11()["@context"],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2027-01-15T00:00:00Z",
        "verificationMethod": WEB_VM,
        "proofPurpose": ASSERTION_METHOD,
    },
    "literal shapes": _rich,
    "status entry with statusMessage (property-scoped context)": _with(
        ("credentialStatus",),
        {
            "id": "https://furusato.example.jp/status/015814/message/1#5",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "message",
            "statusListIndex": "5",
            "statusSize": 2,
            "statusMessage": [
                {"status": "0x0", "message": "有効"},
                {"status": "0x1", "message": "一時停止"},
            ],
            "statusReference": "https://furusato.example.jp/status/messages",
            "statusListCredential": "https://furusato.example.jp/status/015814/message/1",
        },
    ),
    "JsonSchemaCredential (@json)": _json_schema_credential,
    "safe-mode base document": lambda: copy.deepcopy(BASE),
}


@pytest.mark.parametrize("name", list(PRODUCT))
def test_product_documents_take_the_fast_path(name: str) -> None:
    assert differential(PRODUCT[name]()) is not None


@pytest.mark.parametrize("name", ["spec-example-slc.json", "js-generated-slc-unsigned.json"])
def test_status_list_vectors_take_the_fast_path(name: str) -> None:
    document = json.loads((VECTORS / "bitstring-status-list" / name).read_text("utf-8"))
    assert differential(document, ALL_CONTEXTS) is not None


W3C_DI_VECTORS = [
    "eddsa-rdfc-2022/unsigned.json",
    "eddsa-rdfc-2022/signedDataInt.json",
    "eddsa-rdfc-2022/proofConfigDataInt.json",
    "ecdsa-rdfc-2019/unsigned.json",
    "ecdsa-rdfc-2019/p256/signedECDSAP256.json",
    "ecdsa-rdfc-2019/p256/proofConfigECDSAP256.json",
    "ecdsa-rdfc-2019/p384/signedECDSAP384.json",
    "ecdsa-rdfc-2019/p384/proofConfigECDSAP384.json",
]


@pytest.mark.parametrize("name", W3C_DI_VECTORS)
def test_w3c_di_vectors(name: str) -> None:
    """The W3C vectors use the examples context, whose ``@vocab`` makes every undefined term
    meaningful: the fast path leaves them to the reference path (which reproduces them)."""
    document = json.loads((VECTORS / name).read_text("utf-8"))
    assert differential(document, ALL_CONTEXTS) is None
    assert canonicalize(document, ALL_CONTEXTS)  # and they canonicalize fine


def test_reference_suite_signs_and_verifies_the_same() -> None:
    """Both paths sign the same bytes; each verifies the other's proof."""
    unsigned = unsecured(_resident())
    fast = add_proof(unsigned, ISSUER_KEY, verification_method=WEB_VM, suite=EDDSA_RDFC_2022)
    slow = add_proof(unsigned, ISSUER_KEY, verification_method=WEB_VM, suite=REFERENCE_SUITE)
    assert fast == slow
    suites = {REFERENCE_SUITE.name: REFERENCE_SUITE}
    verify_proof(fast, fast["proof"], resolver=RESOLVER, expected_purpose=ASSERTION_METHOD)
    verify_proof(
        fast, fast["proof"], resolver=RESOLVER, expected_purpose=ASSERTION_METHOD, suites=suites
    )
    vp = qr_fixtures.presentation()
    verify_proof(vp, vp["proof"], resolver=Resolver(), expected_purpose=AUTHENTICATION)


# --- outside the subset: the reference path decides ---------------------------------------------


FALLBACKS: dict[str, Callable[[], Doc]] = {
    # accepted by the reference path, but not modelled by the fast path
    "first-degree hash collision": _with(
        ("credentialStatus",),
        [{"type": "BitstringStatusListEntry", "statusPurpose": "revocation"}] * 2,
    ),
    "duplicate statement": _with(("description",), ["same", "same"]),
    "floating-point number": _with(("description",), 1.5),
    "null value": _with(("description",), None),
    "nested array": _with(("description",), [["a"], "b"]),
    "absolute IRI as key": _with(("https://schema.org/alternateName",), "x"),
    "absolute IRI as type": _with(("credentialSubject", "type"), "https://example.org/T"),
    "@id keyword key": _with(("credentialSubject", "municipality", "@id"), "urn:x:1"),
    "@type keyword key": _with(("credentialSubject", "municipality", "@type"), "Municipality"),
    "@json value object": _with(("description",), {"@value": {"a": 1}, "@type": "@json"}),
    "xsd:double literal": _with(
        ("description",),
        {"@value": "1.5", "@type": "http://www.w3.org/2001/XMLSchema#double"},
    ),
    "empty type list": _with(("credentialSubject", "municipality", "type"), []),
    "duplicate types": _with(("type",), ["VerifiableCredential", "VerifiableCredential"]),
    "@graph at the top": lambda: {"@context": [CREDENTIALS_V2], "@graph": [unsecured(_resident())]},
    "@included": _with(("@included",), [{"id": "urn:x:2", "name": "x"}]),
}


@pytest.mark.parametrize("name", list(FALLBACKS))
def test_outside_the_subset_falls_back(name: str) -> None:
    assert differential(FALLBACKS[name]()) is None


MODELLED_EDGES: dict[str, Callable[[], Doc]] = {
    "blank node identifier": _with(("credentialSubject", "municipality", "id"), "_:b0"),
    "the same blank node twice": _with(
        ("evidence",), [{"id": "_:b0", "name": "x"}, {"id": "_:b0", "description": "y"}]
    ),
    "empty object": _with(("evidence",), {}),
    "empty list": _with(("evidence",), []),
    "nested bundled context": _with(
        ("credentialSubject", "@context"), [CREDENTIALS_V2, FURUSATO_V1]
    ),
    "nested single context URL": _with(("credentialSubject", "@context"), CREDENTIALS_V2),
    "node reference only": _with(("credentialSubject", "municipality"), {"id": "urn:lg:015814"}),
    "IRI node in two places": _with(
        ("evidence",), [{"id": "urn:x:1", "name": "a"}, {"id": "urn:x:1", "description": "b"}]
    ),
}


@pytest.mark.parametrize("name", list(MODELLED_EDGES))
def test_edge_cases_the_fast_path_models(name: str) -> None:
    assert differential(MODELLED_EDGES[name]()) is not None


def test_vocab_context_falls_back() -> None:
    document = {
        "@context": [CREDENTIALS_V2, "https://www.w3.org/ns/credentials/undefined-terms/v2"],
        "type": ["VerifiableCredential", "AnythingGoes"],
        "issuer": WEB_ISSUER,
        "credentialSubject": {"whatever": 1},
    }
    assert differential(document, ALL_CONTEXTS) is None


def test_blank_node_bound_holds_on_both_paths() -> None:
    document = unsecured(_resident())
    assert differential(document, max_blank_nodes=3) is not None  # exactly three
    assert differential(document, max_blank_nodes=2) is None
    with pytest.raises(LimitExceededError):
        canonicalize(document, max_blank_nodes=2)


def test_a_context_the_loader_does_not_serve_is_refused() -> None:
    """On both paths — also once pyld has the context in its process-wide cache (loaded
    through another loader), where pyld itself would no longer ask the narrow loader."""
    narrow = StaticDocumentLoader(allowed=[CREDENTIALS_V2])
    document = unsecured(_resident())
    canonicalize(document, DEFAULT, fast=False)  # pyld caches the furusato context
    assert fast_canonicalize(document, narrow) is None
    with pytest.raises(FurusatoError) as refused:
        canonicalize(document, narrow, fast=False)
    assert refused.value.code == "context_not_allowed"
    with pytest.raises(FurusatoError) as raised:
        canonicalize(document, narrow)
    assert raised.value.code == "context_not_allowed"


def test_an_extra_context_under_a_bundled_name_is_impossible() -> None:
    """The fast path trusts bundled URLs to mean the bundled files: no loader can differ."""
    with pytest.raises(FurusatoError):
        StaticDocumentLoader({CREDENTIALS_V2: {"@context": {"@vocab": "https://evil/"}}})


@pytest.mark.parametrize(
    ("case", "mutate", "code"), SAFE_MODE_CASES, ids=[c[0] for c in SAFE_MODE_CASES]
)
def test_safe_mode_refusals_hold_through_the_public_api(
    case: str, mutate: Callable[[Doc], None], code: str
) -> None:
    for base in (copy.deepcopy(BASE), unsecured(_resident())):
        mutate(base)
        assert fast_canonicalize(base, DEFAULT) is None
        with pytest.raises(FurusatoError) as raised:
            canonicalize(base)
        assert raised.value.code == code
        assert differential(base) is None


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "reference path"])
def test_threads_from_cold_tables_and_caches(monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    """Threads filling the fast path's tables (and pyld's caches, under the pyld lock) at the
    same time; the reference path likewise (tests/vc/test_jsonld.py checked pyld's race through
    ``canonicalize``, which now answers from the fast path)."""
    documents = [unsecured(_resident()), qr_fixtures.presentation(), _status_list()]
    expected = [canonicalize(d, fast=False) for d in documents]
    errors: list[BaseException] = []
    results: list[list[str]] = []

    def work() -> None:
        try:
            results.append([canonicalize(d, fast=fast) for d in documents])
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(8):
            monkeypatch.setattr(fastld, "_INITIAL", None)  # new, empty tables
            pyld_jsonld._resolved_context_cache.clear()
            threads = [threading.Thread(target=work) for _ in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert results == [expected] * (8 * 6)


def test_threads_share_the_tables() -> None:
    documents = [PRODUCT[name]() for name in PRODUCT]
    expected = [canonicalize(d, fast=False) for d in documents]
    errors: list[BaseException] = []
    results: list[list[str]] = []

    def work() -> None:
        try:
            results.append([canonicalize(d) for d in documents for _ in range(3)][::3])
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [expected] * 6


# --- hypothesis: generated furusato credentials ------------------------------------------------

MUNICIPALITIES = municipality_table().municipalities()
TEXT = st.text(
    st.characters(codec="utf-8") | st.sampled_from('\\"\n\t\b\x00'),
    max_size=12,
)
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


@st.composite
def status_entries(draw: st.DrawFn, lg_code: str) -> list[Doc]:
    entries = []
    for purpose in draw(
        st.lists(st.sampled_from(["revocation", "suspension", "message"]), max_size=2, unique=True)
    ):
        entry: Doc = {}
        if draw(st.booleans()):
            entry["id"] = (
                f"https://furusato.example.jp/status/{lg_code}/{purpose}/1#{draw(st.integers(0, 2**17))}"
            )
        entry["type"] = "BitstringStatusListEntry"
        entry["statusPurpose"] = purpose
        entry["statusListIndex"] = str(draw(st.integers(0, 2**20)))
        entry["statusListCredential"] = (
            f"https://furusato.example.jp/status/{lg_code}/{purpose}/{draw(st.integers(1, 9))}"
        )
        if draw(st.booleans()):
            entry["statusSize"] = draw(st.integers(1, 8))
        entries.append(entry)
    return entries


@st.composite
def furusato_credentials(draw: st.DrawFn) -> Doc:
    municipality = draw(st.sampled_from(MUNICIPALITIES))
    code = municipality.lg_code
    issuer = draw(
        st.sampled_from([f"did:web:furusato.example.jp:lg:{code}", f"did:web:{code}.example.jp"])
    )
    valid_from = draw(INSTANTS)
    credential: Doc = {"@context": [CREDENTIALS_V2, FURUSATO_V1]}
    if draw(st.booleans()):
        credential["id"] = f"urn:uuid:{draw(st.uuids())}"
    credential["type"] = ["VerifiableCredential", "FurusatoResidentCredential"]
    issuer_name = draw(st.none() | st.just(municipality.name) | TEXT)
    credential["issuer"] = {"id": issuer, **({"name": issuer_name} if issuer_name else {})}
    credential["validFrom"] = valid_from.isoformat().replace("+00:00", "Z")
    if draw(st.booleans()):
        until = valid_from + timedelta(days=draw(st.integers(1, 800)), seconds=-1)
        credential["validUntil"] = until.isoformat().replace("+00:00", "Z")
    seed = draw(st.binary(min_size=32, max_size=32))
    subject: Doc = {
        "id": did_key_from_public_key(PrivateKey.from_seed(KeyType.ED25519, seed).public_key),
        "type": "FurusatoResident",
        "registrationTier": draw(st.sampled_from(["basic", "premium"])),
        "municipality": {
            "lgCode": code,
            "name": draw(st.just(municipality.name) | TEXT),
            "prefecture": municipality_table().prefecture_of(code).name,
            "prefectureCode": municipality_table().prefecture_of(code).lg_code,
        },
        "registeredSince": draw(st.dates(date(2000, 1, 1), date(2100, 1, 1))).isoformat(),
    }
    if draw(st.booleans()):
        subject["municipality"]["type"] = "Municipality"
    credential["credentialSubject"] = subject
    status = draw(status_entries(code))
    if status:
        credential["credentialStatus"] = (
            status if len(status) > 1 or draw(st.booleans()) else status[0]
        )
    if draw(st.booleans()):
        credential["name"] = draw(
            TEXT | st.builds(lambda v: {"@value": v, "@language": "ja"}, TEXT)
        )
    if draw(st.booleans()):
        credential["description"] = draw(
            st.lists(TEXT | st.integers(-(2**62), 2**62), max_size=3, unique=True)
        )
    return credential


@st.composite
def proof_options(draw: st.DrawFn) -> dict[str, Any]:
    options: dict[str, Any] = {"created": draw(INSTANTS)}
    if draw(st.booleans()):
        options["expires"] = options["created"] + timedelta(days=draw(st.integers(1, 400)))
    if draw(st.booleans()):
        options["challenge"] = draw(TEXT.filter(bool))
        options["domain"] = draw(st.sampled_from(["furusato-qr", "https://verifier.example.jp"]))
    if draw(st.booleans()):
        options["nonce"] = draw(TEXT)
    return options


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(furusato_credentials(), proof_options())
def test_generated_furusato_credentials(credential: Doc, options: dict[str, Any]) -> None:
    assert differential(credential) is not None
    signed = add_proof(
        credential,
        ISSUER_KEY,
        verification_method=WEB_VM,
        suite=EDDSA_RDFC_2022,
        proof_purpose=ASSERTION_METHOD,
        **options,
    )
    assert differential(signed) is not None
    assert differential(proof_config(signed)) is not None
    # The proof made on the fast path verifies on the reference path.
    verify_proof(
        signed,
        signed["proof"],
        resolver=RESOLVER,
        expected_purpose=ASSERTION_METHOD,
        suites={REFERENCE_SUITE.name: REFERENCE_SUITE},
    )


@st.composite
def other_documents(draw: st.DrawFn) -> Doc:
    kind = draw(st.sampled_from(["activity", "status list", "presentation"]))
    if kind == "activity":
        site = draw(st.booleans())
        return activity_credential(
            credential_id=f"urn:uuid:{draw(st.uuids())}",
            issuer=WEB_ISSUER,
            issuer_name=draw(st.none() | TEXT),
            municipality=draw(st.sampled_from(MUNICIPALITIES)),
            holder=HOLDER,
            category=draw(st.sampled_from(ACTIVITY_CATEGORIES)),
            activity_date=draw(st.dates(date(2000, 1, 1), date(2100, 1, 1))),
            evidence=draw(st.sampled_from(EVIDENCE_KINDS)),
            valid_from=draw(INSTANTS),
            name=draw(st.none() | TEXT),
            check_in_time=draw(st.none() | INSTANTS),
            site_id=draw(TEXT) if site else None,
            site_name=draw(st.none() | TEXT) if site else None,
        )
    if kind == "status list":
        bits = BitstringStatusList(131_072)
        for index in draw(st.sets(st.integers(0, 131_071), max_size=5)):
            bits.set(index, True)
        return build_status_list_credential(
            list_url=f"https://furusato.example.jp/status/015814/revocation/{draw(st.integers(1, 99))}",
            issuer=WEB_ISSUER if draw(st.booleans()) else {"id": WEB_ISSUER, "name": "厚真町"},
            purpose=draw(st.sampled_from(["revocation", "suspension"])),
            status_list=bits,
            valid_from=draw(INSTANTS).isoformat().replace("+00:00", "Z"),
            ttl_ms=draw(st.none() | st.integers(0, 2**40)),
        )
    credentials = [
        add_proof(credential, ISSUER_KEY, verification_method=WEB_VM, suite=EDDSA_RDFC_2022)
        for credential in draw(
            st.lists(furusato_credentials(), min_size=1, max_size=2, unique_by=json.dumps)
        )
    ]
    presentation = create_presentation(credentials, holder=draw(st.none() | st.just(HOLDER)))
    return add_proof(
        presentation,
        HOLDER_KEY,
        verification_method=HOLDER_VM,
        suite=EDDSA_RDFC_2022,
        proof_purpose=AUTHENTICATION,
        challenge=draw(TEXT.filter(bool)),
        domain="furusato-qr",
        created=draw(INSTANTS),
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(other_documents())
def test_generated_activity_status_list_and_presentation_documents(document: Doc) -> None:
    if "proof" in document:
        assert differential(document) is not None
        assert differential(unsecured(document)) is not None
        assert differential(proof_config(document)) is not None
    else:
        assert differential(document) is not None


# --- hypothesis: mutations (the "never accept what safe mode refuses" half) ---------------------


def _terms(url: str) -> set[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if not key.startswith("@"):
                    found.add(key)
                walk(item)

    walk(bundled_context(url)["@context"])
    return found


TERMS = sorted(set().union(*(_terms(url) for url in bundled_context_urls())))
KEYS = st.sampled_from(
    [
        *TERMS,
        *("id", "type", "@id", "@type", "@value", "@language", "@graph", "@included"),
        *("@reverse", "@nest", "@index", "@context", "@list", "@set", "@json", "@direction"),
        *("@extra", "_:b0", "https://schema.org/name", "schema:name", ""),
    ]
)
VALUES = st.recursive(
    st.sampled_from(
        [
            *("did:example:a", "https://example.jp/x", "relative", "_:b0", "_:b1", "2027-01-15"),
            *("assertionMethod", "authentication", "ja", "EN-us", "not a tag", "@json", "@id"),
            *("http://www.w3.org/2001/XMLSchema#integer", "xsd:date", "did:ex:\u3000"),
            'a\x00\n"\\',
            *sorted(bundled_context_urls()),
            "https://evil.example/context",
        ]
    )
    | st.sampled_from(TERMS)
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
    | st.builds(
        lambda v, lang: {"@value": v, "@language": lang}, TEXT, st.sampled_from(["ja", "x y"])
    )
    | st.builds(
        lambda v, t: {"@value": v, "@type": t}, TEXT | st.integers(), st.sampled_from(TERMS)
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=8,
)
BASES: list[Callable[[], Doc]] = [
    _resident,
    lambda: unsecured(_resident()),
    lambda: proof_config(_resident()),
    qr_fixtures.presentation,
    lambda: proof_config(qr_fixtures.presentation()),
    _status_list,
    _activity,
    _rich,
]
BASE_DOCUMENTS = [base() for base in BASES]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[Doc, bool]:
    document = copy.deepcopy(draw(st.sampled_from(BASE_DOCUMENTS)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)))
        if not path:
            document[draw(KEYS)] = draw(VALUES)
            continue
        parent: Any = document
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(KEYS)] = draw(VALUES)
        elif action == "add" and isinstance(parent[path[-1]], list):
            parent[path[-1]].append(draw(VALUES))
        else:
            parent[path[-1]] = draw(VALUES)
    return document, draw(st.booleans())


@pytest.mark.filterwarnings("ignore:terms beginning with:SyntaxWarning")  # pyld, odd contexts
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_documents(case: tuple[Doc, bool]) -> None:
    document, every_context = case
    differential(document, ALL_CONTEXTS if every_context else DEFAULT)
