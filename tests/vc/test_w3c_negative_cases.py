"""Every class of input the W3C suites reject, rejected by us with a specific code.

One row per negative case of w3c/vc-data-model-2.0-test-suite (VCDM), the shared
w3c-ccg/data-integrity-test-suite-assertion (DI), w3c/vc-di-eddsa-test-suite and
w3c/vc-di-ecdsa-test-suite.  The row id is the case name we gave it; ``source`` names the
suite file that sends it.  Issuer-side rows go to ``issue_credential`` (must raise);
verifier-side rows go to ``verify`` (must not verify, with the expected code first).

Deliberate differences from what the suites tolerate, and why:
* inline ``@context`` objects are refused (``context_not_allowed``) — we only process
  bundled, pinned contexts, so rows that map a type through an inline context fail there;
* rows needing the network (relatedResource digests fetched at issuance) are not here: we
  never fetch at issuance.
Positive edge cases the suites require us to ACCEPT are at the end of the file.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from did.errors import FurusatoError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.multibase import base58btc_decode, base58btc_encode
from did.resolver import Resolver
from schemas.loader import CREDENTIALS_V1, CREDENTIALS_V2, EXAMPLES_V2
from vc.dataintegrity import add_proof
from vc.issue import issue_credential
from vc.presentation import create_presentation, sign_presentation
from vc.suites import ECDSA_RDFC_2019, EDDSA_RDFC_2022
from vc.verify import DEFAULT_ACCEPTED_CONTEXTS, VerifyOptions, verify

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
OTHER = PrivateKey.from_seed(KeyType.ED25519, bytes(range(1, 33)))
P256 = PrivateKey.from_seed(KeyType.P256, bytes(range(2, 34)))
ISSUER = did_key_from_public_key(KEY.public_key)
VM = did_key_verification_method_id(KEY.public_key)
Doc = dict[str, Any]


def base() -> Doc:
    return {
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "credentialSubject": {"id": "did:example:subject", "name": "Alice"},
    }


def signed(doc: Doc | None = None, key: PrivateKey = KEY, **kw: Any) -> Doc:
    return add_proof(
        doc or base(),
        key,
        verification_method=kw.pop("vm", VM),
        suite=kw.pop("suite", EDDSA_RDFC_2022),
        created=NOW,
        **kw,
    )


def sign_raw(doc: Doc, options: Doc, key: PrivateKey = KEY) -> Doc:
    """Sign with arbitrary (possibly invalid) proof options, as the suites' generators do:
    the signature is valid over whatever the bad value is, so only semantic checks catch it."""
    config = {"@context": doc["@context"], **options}
    try:
        data = EDDSA_RDFC_2022.verify_data(doc, config, key.key_type, VerifyOptions(NOW).loader())
    except FurusatoError:
        data = hashlib.sha256(json.dumps([doc, config], sort_keys=True).encode()).digest() * 2
    return {**doc, "proof": {**options, "proofValue": "z" + base58btc_encode(key.sign(data))}}


def proof_options(**changes: Any) -> Doc:
    options: Doc = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": VM,
        "proofPurpose": "assertionMethod",
    }
    for key, value in changes.items():
        if value is None:
            options.pop(key, None)
        else:
            options[key] = value
    return options


def with_(**changes: Any) -> Callable[[Doc], Doc]:
    def mutate(doc: Doc) -> Doc:
        for key, value in changes.items():
            if value is _DELETE:
                doc.pop(key, None)
            else:
                doc[key] = value
        return doc

    return mutate


_DELETE = object()
VCDM = "w3c/vc-data-model-2.0-test-suite"
DI = "w3c-ccg/data-integrity-test-suite-assertion suites/verify.js"


@dataclass(frozen=True)
class IssueCase:
    id: str
    source: str
    mutate: Callable[[Doc], Doc]
    code: str


ISSUE_CASES = [
    IssueCase(
        "vc_context_missing",
        f"{VCDM} tests/4.03-contexts.js",
        with_(**{"@context": _DELETE}),
        "malformed",
    ),
    IssueCase(
        "vc_context_missing_base",
        f"{VCDM} tests/4.03-contexts.js",
        with_(**{"@context": [EXAMPLES_V2]}),
        "malformed",
    ),
    IssueCase(
        "vc_context_item_not_url",
        f"{VCDM} tests/4.03-contexts.js",
        with_(**{"@context": [CREDENTIALS_V2, "https ://not-a-url/contexts/example/v1"]}),
        "malformed",
    ),
    IssueCase(
        "vc_context_item_number",
        f"{VCDM} tests/4.03-contexts.js",
        with_(**{"@context": [CREDENTIALS_V2, 123192875]}),
        "malformed",
    ),
    IssueCase(
        "vc_context_unresolvable",
        f"{VCDM} credential-context-order-fail.json",
        with_(**{"@context": [CREDENTIALS_V2, "https://example.org/ns/test-credential"]}),
        "context_not_allowed",
    ),
    IssueCase("vc_id_null", f"{VCDM} tests/4.04-identifiers.js", with_(id=None), "malformed"),
    IssueCase(
        "vc_id_multiple",
        f"{VCDM} tests/4.04-identifiers.js",
        with_(id=["https://example.org/credentials/1", "https://example.net/credentials/1"]),
        "malformed",
    ),
    IssueCase(
        "vc_subject_id_multiple",
        f"{VCDM} tests/4.04-identifiers.js",
        with_(credentialSubject={"id": ["did:example:one", "did:example:two"]}),
        "malformed",
    ),
    IssueCase(
        "vc_id_not_url",
        f"{VCDM} tests/4.04-identifiers.js",
        with_(id="https ://not-a-url/vcs/343cf54b"),
        "malformed",
    ),
    IssueCase("vc_type_missing", f"{VCDM} tests/4.05-types.js", with_(type=_DELETE), "malformed"),
    IssueCase(
        "vc_type_mapped_to_non_url",
        f"{VCDM} tests/4.05-types.js",
        with_(
            **{
                "@context": [
                    CREDENTIALS_V2,
                    {"ExampleTestCredential": "https ://not-a-url#ExampleTestCredential"},
                ]
            },
            type=["VerifiableCredential", "ExampleTestCredential"],
        ),
        "context_not_allowed",
    ),
    IssueCase(
        "vc_type_unmapped",
        f"{VCDM} tests/4.05-types.js",
        with_(type=["VerifiableCredential", "ExampleTestCredential"]),
        "undefined_term",
    ),
    IssueCase(
        "vc_type_lacks_verifiablecredential",
        f"{VCDM} tests/4.05-types.js",
        with_(type=["RelationshipCredential"]),
        "malformed",
    ),
    IssueCase(
        "vc_status_type_missing",
        f"{VCDM} tests/4.10-status.js",
        with_(credentialStatus={"id": "did:example:status"}),
        "malformed",
    ),
    IssueCase(
        "vc_status_type_not_string",
        f"{VCDM} tests/4.10-status.js",
        with_(credentialStatus={"id": "did:example:status", "type": 2}),
        "malformed",
    ),
    IssueCase(
        "vc_status_id_multiple",
        f"{VCDM} tests/4.10-status.js",
        with_(
            credentialStatus={
                "id": ["did:example:status:1", "did:example:status:2"],
                "type": "BitstringStatusListEntry",
            }
        ),
        "malformed",
    ),
    IssueCase(
        "vc_status_id_not_url",
        f"{VCDM} tests/4.10-status.js",
        with_(
            credentialStatus={
                "type": "BitstringStatusListEntry",
                "id": "https ://not-a-url/statusList/4",
            }
        ),
        "malformed",
    ),
    IssueCase(
        "vc_terms_of_use_empty", f"{VCDM} tests/4.05-types.js", with_(termsOfUse={}), "malformed"
    ),
    IssueCase(
        "vc_terms_of_use_type_missing",
        f"{VCDM} tests/5-advanced-concepts.js",
        with_(termsOfUse={"id": "did:example:terms/1"}),
        "malformed",
    ),
    IssueCase(
        "vc_evidence_type_missing", f"{VCDM} tests/4.05-types.js", with_(evidence={}), "malformed"
    ),
    IssueCase(
        "vc_refresh_service_type_missing",
        f"{VCDM} tests/5-advanced-concepts.js",
        with_(refreshService={"id": "did:example:refresh/1"}),
        "malformed",
    ),
    IssueCase(
        "vc_schema_type_missing",
        f"{VCDM} tests/4.11-data-schemas.js",
        with_(credentialSchema={"id": "did:example:schemas/1"}),
        "malformed",
    ),
    IssueCase(
        "vc_schema_id_missing",
        f"{VCDM} tests/4.11-data-schemas.js",
        with_(credentialSchema={"type": "https://example.org/#ExampleTestSuiteSchema"}),
        "malformed",
    ),
    IssueCase(
        "vc_schema_id_not_url",
        f"{VCDM} tests/4.11-data-schemas.js",
        with_(
            credentialSchema={
                "type": "https://example.org/#ExampleTestSuiteSchema",
                "id": "https ://not-a-url.org/cd28a5c0",
            }
        ),
        "malformed",
    ),
    IssueCase(
        "vc_name_value_object_extra_prop",
        f"{VCDM} tests/4.06-names-and-descriptions.js",
        with_(
            name={
                "@value": "Example Credential",
                "@language": "en",
                "url": "did:example:credential",
            }
        ),
        "malformed",
    ),
    IssueCase(
        "vc_description_value_object_extra_prop",
        f"{VCDM} tests/4.06-names-and-descriptions.js",
        with_(
            description={
                "@value": "An Example Credential",
                "@language": "en",
                "url": "did:example:credential",
            }
        ),
        "malformed",
    ),
    IssueCase(
        "vc_issuer_name_value_object_extra_prop",
        f"{VCDM} tests/4.06-names-and-descriptions.js",
        with_(
            issuer={
                "id": ISSUER,
                "name": {"@value": "ExampleIssuer", "@language": "en", "url": "did:example:issuer"},
            }
        ),
        "malformed",
    ),
    IssueCase(
        "vc_issuer_description_value_object_extra_prop",
        f"{VCDM} tests/4.06-names-and-descriptions.js",
        with_(
            issuer={
                "id": ISSUER,
                "description": {
                    "@value": "An Example Issuer",
                    "@language": "en",
                    "url": "did:example:issuer",
                },
            }
        ),
        "malformed",
    ),
    IssueCase(
        "vc_issuer_not_url",
        f"{VCDM} tests/4.07-issuer.js",
        with_(issuer="fake-issuer"),
        "malformed",
    ),
    IssueCase(
        "vc_issuer_not_url_scheme_relative",
        f"{VCDM} tests/10-vcdm2.js",
        with_(issuer="//not-a-url/issuer/foo"),
        "malformed",
    ),
    IssueCase("vc_issuer_null", f"{VCDM} tests/4.07-issuer.js", with_(issuer=None), "malformed"),
    IssueCase(
        "vc_issuer_object_id_null",
        f"{VCDM} tests/4.07-issuer.js",
        with_(issuer={"id": None}),
        "malformed",
    ),
    IssueCase(
        "vc_issuer_object_id_not_url",
        f"{VCDM} tests/4.07-issuer.js",
        with_(issuer={"id": "fake-issuer"}),
        "malformed",
    ),
    IssueCase(
        "vc_issuer_object_id_not_url2",
        f"{VCDM} tests/10-vcdm2.js",
        with_(issuer={"id": "https ://not-a-url/issuer/foo"}),
        "malformed",
    ),
    IssueCase("vc_issuer_object_empty", f"{VCDM} tests/10-vcdm2.js", with_(issuer={}), "malformed"),
    IssueCase("vc_issuer_missing", f"{VCDM} tests/10-vcdm2.js", with_(issuer=_DELETE), "malformed"),
    IssueCase(
        "vc_subject_missing",
        f"{VCDM} tests/4.08-credential-subject.js",
        with_(credentialSubject=_DELETE),
        "malformed",
    ),
    IssueCase(
        "vc_subject_empty_object",
        f"{VCDM} tests/4.08-credential-subject.js",
        with_(credentialSubject={}),
        "malformed",
    ),
    IssueCase(
        "vc_subject_array_contains_empty",
        f"{VCDM} tests/4.08-credential-subject.js",
        with_(credentialSubject=[{"id": "did:example:subject"}, {}]),
        "malformed",
    ),
    IssueCase(
        "vc_subject_empty_array", "ours (VCDM §4.8)", with_(credentialSubject=[]), "malformed"
    ),
    IssueCase(
        "vc_valid_from_not_datetimestamp",
        f"{VCDM} tests/4.09-validity-period.js",
        with_(validFrom="Sat 25 Feb 2023 07:16:31 PM CST"),
        "malformed",
    ),
    IssueCase(
        "vc_valid_until_not_datetimestamp",
        f"{VCDM} tests/4.09-validity-period.js",
        with_(validFrom="2023-02-26T01:21:51Z", validUntil="Sun, 26 Feb 2023 01:22:14 +0000"),
        "malformed",
    ),
    IssueCase(
        "vc_valid_from_no_offset",
        "ours (VCDM §4.9 dateTimeStamp)",
        with_(validFrom="2023-02-26T01:21:51"),
        "malformed",
    ),
    IssueCase(
        "vc_valid_from_impossible_day",
        "ours (VCDM §5.8)",
        with_(validFrom="2023-02-31T00:00:00Z"),
        "malformed",
    ),
    IssueCase(
        "vc_valid_from_after_valid_until",
        f"{VCDM} tests/4.09-validity-period.js",
        with_(validFrom="2027-06-01T00:00:00Z", validUntil="2025-06-01T00:00:00Z"),
        "malformed",
    ),
    IssueCase(
        "vc_redefines_protected_term",
        f"{VCDM} tests/5-advanced-concepts.js",
        with_(
            **{
                "@context": [
                    CREDENTIALS_V2,
                    {"VerifiableCredential": "https://example.org/#BadVerifiableCredential"},
                ]
            }
        ),
        "context_not_allowed",
    ),
    IssueCase(
        "vc_related_resource_strings",
        f"{VCDM} tests/5-advanced-concepts.js",
        with_(relatedResource=["https://www.w3.org/ns/credentials/v2"]),
        "malformed",
    ),
    IssueCase(
        "vc_related_resource_id_missing",
        f"{VCDM} tests/5-advanced-concepts.js",
        with_(
            relatedResource=[
                {
                    "url": "https://www.w3.org/ns/credentials/v2",
                    "digestMultibase": "uEres1usWcWCmW7uolIW2uA0CjQ8iRV14eGaZStJL73Vz",
                }
            ]
        ),
        "malformed",
    ),
    IssueCase(
        "vc_related_resource_id_duplicate",
        f"{VCDM} tests/5-advanced-concepts.js",
        with_(
            relatedResource=[
                {
                    "id": "https://w3c.github.io/vc-data-model/related-resource.json",
                    "digestMultibase": "uZTQ0MjM1NiAg",
                },
                {
                    "id": "https://w3c.github.io/vc-data-model/related-resource.json",
                    "digestSRI": "sha256-ca3d163bab05",
                },
            ]
        ),
        "malformed",
    ),
    IssueCase(
        "vc_related_resource_no_digest",
        f"{VCDM} tests/5-advanced-concepts.js",
        with_(relatedResource=[{"id": "https://www.w3.org/ns/credentials/v2"}]),
        "malformed",
    ),
    IssueCase(
        "vc_undefined_property",
        f"{DI} (undefinedTerm)",
        lambda d: {**d, "credentialSubject": {**d["credentialSubject"], "undefinedTerm": "x"}},
        "undefined_term",
    ),
    IssueCase(
        "vc_keyword_like_key",
        "ours (jsonld.js safe mode: reserved term)",
        with_(**{"@extra": "x"}),
        "undefined_term",
    ),
    IssueCase(
        "vc_relative_subject_id",
        "ours (jsonld.js safe mode: relative @id)",
        with_(credentialSubject={"id": "subject-1", "name": "x"}),
        "malformed",
    ),
    IssueCase(
        "vc_undefined_terms_context",
        "ours (REFERENCES §1: @vocab disables safe mode)",
        with_(
            **{"@context": [CREDENTIALS_V2, "https://www.w3.org/ns/credentials/undefined-terms/v2"]}
        ),
        "context_not_allowed",
    ),
    IssueCase(
        "vc_v1_v2_mixed",
        "ours (REFERENCES §1)",
        with_(**{"@context": [CREDENTIALS_V2, CREDENTIALS_V1]}),
        "malformed",
    ),
    IssueCase(
        "vc_issuer_not_key_controller",
        "ours (issuer must own the signing key)",
        with_(issuer="did:example:someone-else"),
        "issuer_mismatch",
    ),
]


@pytest.mark.parametrize("case", ISSUE_CASES, ids=lambda c: c.id)
def test_issuer_rejects(case: IssueCase) -> None:
    document = case.mutate(base())
    with pytest.raises(FurusatoError) as raised:
        issue_credential(document, KEY, verification_method=VM, created=NOW)
    assert raised.value.code == case.code, raised.value.message_en
    assert raised.value.message_ja
    assert raised.value.message_en


# --- verifier side ----------------------------------------------------------------------------


def _vp(**changes: Any) -> Doc:
    vp = create_presentation([signed()], holder=ISSUER)
    vp.update(changes)
    return vp


def _signed_vp(vp: Doc, key: PrivateKey = KEY, challenge: str = "c-1") -> Doc:
    return add_proof(
        vp,
        key,
        verification_method=did_key_verification_method_id(key.public_key),
        suite=EDDSA_RDFC_2022,
        proof_purpose="authentication",
        challenge=challenge,
        created=NOW,
    )


def _tamper(doc: Doc, path: tuple[Any, ...], value: Any) -> Doc:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _chain() -> Doc:
    first = signed(proof_id="urn:uuid:test:first:proof")
    return add_proof(
        first,
        OTHER,
        verification_method=did_key_verification_method_id(OTHER.public_key),
        suite=EDDSA_RDFC_2022,
        created=NOW,
        previous_proof="urn:uuid:test:first:proof",
    )


@dataclass(frozen=True)
class VerifyCase:
    id: str
    source: str
    build: Callable[[], Any]
    code: str
    challenge: str | None = None
    domain: str | None = None


VERIFY_CASES = [
    VerifyCase(
        "verify_nonconforming_doc",
        f"{VCDM} tests/1.03-conformance.js",
        lambda: {"type": ["NonconformingDocument"]},
        "unsupported_format",
    ),
    VerifyCase("verify_not_json", "ours (bounded input)", lambda: b"not json {", "malformed"),
    VerifyCase(
        "verify_too_deep",
        "ours (bounded input)",
        lambda: b"[" * 5000 + b"]" * 5000,
        "limit_exceeded",
    ),
    VerifyCase(
        "verify_vc_without_proof", f"{VCDM} tests/412-securing-mechanisms.js", base, "proof_missing"
    ),
    VerifyCase(
        "verify_vc_valid_from_after_valid_until",
        f"{VCDM} tests/assertions.js",
        lambda: signed(
            with_(validFrom="2027-06-01T00:00:00Z", validUntil="2025-06-01T00:00:00Z")(base())
        ),
        "malformed",
    ),
    VerifyCase(
        "verify_vc_expired",
        "ours (VCDM §4.9)",
        lambda: signed(with_(validUntil="2026-05-01T00:00:00Z")(base())),
        "expired",
    ),
    VerifyCase(
        "verify_vc_not_yet_valid",
        "ours (VCDM §4.9)",
        lambda: signed(with_(validFrom="2026-07-01T00:00:00Z")(base())),
        "not_yet_valid",
    ),
    VerifyCase(
        "vp_context_missing",
        f"{VCDM} tests/4.03-contexts.js",
        lambda: {k: v for k, v in _signed_vp(_vp()).items() if k != "@context"},
        "malformed",
    ),
    VerifyCase(
        "vp_context_empty",
        f"{VCDM} tests/4.03-contexts.js",
        lambda: {"@context": [], "type": ["VerifiablePresentation"]},
        "malformed",
    ),
    VerifyCase(
        "vp_context_wrong_order_signed",
        f"{VCDM} tests/4.03-contexts.js",
        lambda: sign_raw(
            {
                "@context": [{"X": "https://example.org/examples#X"}, CREDENTIALS_V2],
                "type": ["VerifiablePresentation"],
            },
            proof_options(proofPurpose="authentication"),
        ),
        "malformed",
    ),
    VerifyCase(
        "vp_context_unordered_after_signing",
        f"{VCDM} tests/4.03-contexts.js",
        lambda: {**_signed_vp(_vp()), "@context": [EXAMPLES_V2, CREDENTIALS_V2]},
        "malformed",
    ),
    VerifyCase(
        "vp_context_item_not_a_context",
        f"{VCDM} tests/4.03-contexts.js",
        lambda: {**_signed_vp(_vp()), "@context": [CREDENTIALS_V2, "https://example.com"]},
        "context_not_allowed",
    ),
    VerifyCase(
        "vp_context_item_not_url",
        f"{VCDM} tests/4.03-contexts.js",
        lambda: {
            **_signed_vp(_vp()),
            "@context": [CREDENTIALS_V2, "https ://not-a-url/contexts/example/v1"],
        },
        "malformed",
    ),
    VerifyCase(
        "vp_context_item_number",
        f"{VCDM} tests/4.03-contexts.js",
        lambda: {**_signed_vp(_vp()), "@context": [CREDENTIALS_V2, 123192875]},
        "malformed",
    ),
    VerifyCase(
        "vp_type_missing",
        f"{VCDM} tests/4.05-types.js",
        lambda: {"@context": [CREDENTIALS_V2], "verifiableCredential": []},
        "unsupported_format",
    ),
    VerifyCase(
        "vp_holder_object_id_not_url",
        f"{VCDM} tests/4.13-verifiable-presentations.js",
        lambda: sign_raw(
            _vp(holder={"id": "z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"}),
            proof_options(proofPurpose="authentication", challenge="c-1"),
        ),
        "malformed",
    ),
    VerifyCase(
        "vp_self_asserted_vc_without_holder",
        f"{VCDM} tests/4.13-verifiable-presentations.js",
        lambda: _signed_vp({k: v for k, v in _vp().items() if k != "holder"}),
        "holder_binding_failed",
    ),
    VerifyCase(
        "vp_self_asserted_holder_mismatch",
        f"{VCDM} tests/4.13-verifiable-presentations.js",
        lambda: _signed_vp(_vp(holder="did:example:alice")),
        "holder_binding_failed",
    ),
    VerifyCase(
        "vp_proof_value_tampered",
        f"{VCDM} tests/7-algorithms.js",
        lambda: _tamper(
            _signed_vp(_vp()), ("proof", "proofValue"), "z5nmMBw2u9TGKd9NxxHJtyZKgjN2Eh"
        ),
        "signature_invalid",
    ),
    VerifyCase(
        "vp_vc_type_empty",
        f"{VCDM} tests/10-vcdm2.js",
        lambda: sign_raw(
            _vp(verifiableCredential=[{**base(), "type": []}]),
            proof_options(proofPurpose="authentication", challenge="c-1"),
        ),
        "malformed",
    ),
    VerifyCase(
        "vp_vc_as_string",
        f"{VCDM} tests/4-13-verifiable-presentations.js",
        lambda: sign_raw(
            _vp(verifiableCredential=["eyJhbGciOiJFUzI1NiJ9.e30.AQ"]),
            proof_options(proofPurpose="authentication", challenge="c-1"),
        ),
        "malformed",
    ),
    VerifyCase(
        "vp_enveloped_vc_not_data_url",
        f"{VCDM} tests/4.13.2-envelopes.js",
        lambda: _vp(
            verifiableCredential=[
                {
                    "@context": CREDENTIALS_V2,
                    "type": "EnvelopedVerifiableCredential",
                    "id": "eyJhbGciOiJFUzI1NiJ9",
                }
            ]
        ),
        "malformed",
    ),
    VerifyCase(
        "vp_challenge_mismatch",
        f"{DI} (invalidChallenge)",
        lambda: _signed_vp(_vp(), challenge="invalid-challenge"),
        "challenge_mismatch",
        challenge="1235abcd6789",
    ),
    VerifyCase(
        "vp_domain_mismatch",
        f"{DI} (invalidDomain)",
        lambda: add_proof(
            _vp(),
            KEY,
            verification_method=VM,
            suite=EDDSA_RDFC_2022,
            proof_purpose="authentication",
            challenge="c",
            domain="invalid-vc-domain.example.com",
            created=NOW,
        ),
        "domain_mismatch",
        challenge="c",
        domain="domain.example",
    ),
    VerifyCase(
        "vp_signed_for_assertion",
        "ours (DI §4.4 proofPurpose)",
        lambda: add_proof(
            _vp(), KEY, verification_method=VM, suite=EDDSA_RDFC_2022, challenge="c", created=NOW
        ),
        "proof_purpose_mismatch",
        challenge="c",
    ),
    VerifyCase("di_proof_missing", f"{DI} proof missing", base, "proof_missing"),
    VerifyCase(
        "di_proof_null", f"{DI} proof invalid", lambda: {**base(), "proof": None}, "proof_malformed"
    ),
    VerifyCase(
        "di_proof_type_missing",
        f"{DI} proof.type missing",
        lambda: {
            **signed(),
            "proof": proof_options(type=None) | {"proofValue": signed()["proof"]["proofValue"]},
        },
        "proof_malformed",
    ),
    VerifyCase(
        "di_proof_type_unknown",
        f"{DI} invalidProofType",
        lambda: sign_raw(base(), proof_options(type="UnknownProofType")),
        "unsupported_format",
    ),
    VerifyCase(
        "di_verification_method_missing",
        f"{DI} noVerificationMethod",
        lambda: sign_raw(base(), proof_options(verificationMethod=None)),
        "proof_malformed",
    ),
    VerifyCase(
        "di_verification_method_invalid",
        f"{DI} invalidVm",
        lambda: sign_raw(base(), proof_options(verificationMethod="did:key:invalidVm")),
        "invalid_did",
    ),
    VerifyCase(
        "di_verification_method_invalid_eddsa",
        "w3c/vc-di-eddsa-test-suite generators.js _invalidVm",
        lambda: sign_raw(base(), proof_options(verificationMethod="did:key:@invalidVm@")),
        "invalid_did",
    ),
    VerifyCase(
        "di_verification_method_other_key",
        "ours (DI §5.9 key binding)",
        lambda: sign_raw(
            base(),
            proof_options(verificationMethod=did_key_verification_method_id(OTHER.public_key)),
        ),
        "signature_invalid",
    ),
    VerifyCase(
        "di_verification_method_wrong_fragment",
        "ours (did:key: fragment must be the key)",
        lambda: sign_raw(base(), proof_options(verificationMethod=ISSUER + "#key-1")),
        "verification_method_unresolved",
    ),
    VerifyCase(
        "di_proof_purpose_missing",
        f"{DI} noProofPurpose",
        lambda: sign_raw(base(), proof_options(proofPurpose=None)),
        "proof_malformed",
    ),
    VerifyCase(
        "di_proof_purpose_invalid",
        f"{DI} invalidProofPurpose",
        lambda: sign_raw(base(), proof_options(proofPurpose="invalidPurpose")),
        "proof_purpose_mismatch",
    ),
    VerifyCase(
        "di_proof_value_missing",
        f"{DI} shouldBeProofValue",
        lambda: {**signed(), "proof": proof_options()},
        "proof_malformed",
    ),
    VerifyCase(
        "di_proof_value_null",
        f"{DI} shouldBeProofValue",
        lambda: _tamper(signed(), ("proof", "proofValue"), None),
        "proof_malformed",
    ),
    VerifyCase(
        "di_proof_value_no_multibase_header",
        f"{DI} shouldBeProofValue",
        lambda: _tamper(signed(), ("proof", "proofValue"), signed()["proof"]["proofValue"][1:]),
        "proof_malformed",
    ),
    VerifyCase(
        "di_proof_value_not_base58",
        "w3c/vc-di-eddsa-test-suite tests/20-verify.js",
        lambda: _tamper(signed(), ("proof", "proofValue"), "znot-multibase-bs58-encoded!!"),
        "malformed",
    ),
    VerifyCase(
        "di_cryptosuite_unknown",
        f"{DI} invalidCryptosuite",
        lambda: sign_raw(base(), proof_options(cryptosuite="UnknownCryptosuite")),
        "unsupported_format",
    ),
    VerifyCase(
        "di_cryptosuite_empty",
        "w3c/vc-di-ecdsa-test-suite suites/algorithms.js",
        lambda: sign_raw(base(), proof_options(type="", cryptosuite="")),
        "proof_malformed",
    ),
    VerifyCase(
        "di_tamper_add_undefined_term",
        f"{DI} (IfDroppedWillVerify)",
        lambda: _tamper(signed(), ("credentialSubject", "undefinedTerm"), "IfDroppedWillVerify"),
        "undefined_term",
    ),
    VerifyCase(
        "di_tamper_add_type",
        f"{DI} (UndefinedType)",
        lambda: _tamper(signed(), ("type",), ["VerifiableCredential", "UndefinedType"]),
        "undefined_term",
    ),
    VerifyCase(
        "di_tamper_claim",
        "ours (every signed field)",
        lambda: _tamper(signed(), ("credentialSubject", "name"), "Mallory"),
        "signature_invalid",
    ),
    VerifyCase(
        "di_tamper_issuer",
        "ours (every signed field)",
        lambda: _tamper(signed(), ("issuer",), "did:example:other"),
        "signature_invalid",
    ),
    VerifyCase(
        "di_tamper_created",
        "ours (proof options are signed)",
        lambda: _tamper(signed(), ("proof", "created"), "2026-01-02T00:00:00Z"),
        "signature_invalid",
    ),
    VerifyCase(
        "di_created_invalid",
        f"{DI} invalidCreated",
        lambda: sign_raw(base(), proof_options(created="invalidDate")),
        "malformed",
    ),
    VerifyCase(
        "di_expires_invalid",
        f"{DI} invalidExpires",
        lambda: sign_raw(base(), proof_options(expires="invalidDate")),
        "malformed",
    ),
    VerifyCase(
        "di_expires_past_no_offset",
        f"{DI} noOffsetExpires (legacy)",
        lambda: sign_raw(base(), proof_options(expires="2026-05-01T00:00:00")),
        "proof_expired",
    ),
    VerifyCase(
        "di_previous_proof_not_string",
        f"{DI} previousProofNotStringFail",
        lambda: sign_raw(base(), proof_options(previousProof=456321)),
        "proof_malformed",
    ),
    VerifyCase(
        "di_previous_proof_dangling_string",
        f"{DI} missingPreviousProofString",
        lambda: _tamper(_chain(), ("proof", 1, "previousProof"), "urn:uuid:test:missing:proof"),
        "proof_malformed",
    ),
    VerifyCase(
        "di_previous_proof_dangling_array",
        f"{DI} missingPreviousProofArray",
        lambda: _tamper(_chain(), ("proof", 1, "previousProof"), ["urn:uuid:test:missing:proof"]),
        "proof_malformed",
    ),
    VerifyCase(
        "di_previous_proof_target_invalid",
        f"{DI} previousProofFail",
        lambda: _tamper(_chain(), ("proof", 0, "proofValue"), "z" + base58btc_encode(bytes(64))),
        "signature_invalid",
    ),
    VerifyCase(
        "ecdsa_proof_chain_tampered",
        "w3c/vc-di-ecdsa-test-suite tests/75-proof-chains.js",
        lambda: _tamper(_chain(), ("proof", 0, "id"), "urn:uuid:changed"),
        "signature_invalid",
    ),
    VerifyCase(
        "eddsa_rdfc_proof_value_wrong_length",
        "w3c/vc-di-eddsa-test-suite tests/20-rdfc-verify.js",
        lambda: _tamper(
            signed(),
            ("proof", "proofValue"),
            "z"
            + base58btc_encode(base58btc_decode(signed()["proof"]["proofValue"][1:]) + bytes(32)),
        ),
        "signature_invalid",
    ),
    VerifyCase(
        "eddsa_rdfc_signed_over_jcs",
        "w3c/vc-di-eddsa-test-suite tests/20-rdfc-verify.js",
        lambda: {
            **base(),
            "proof": {
                **proof_options(),
                "proofValue": "z"
                + base58btc_encode(
                    KEY.sign(json.dumps(base(), sort_keys=True, separators=(",", ":")).encode())
                ),
            },
        },
        "signature_invalid",
    ),
    VerifyCase(
        "eddsa_rdfc_cryptosuite_wrong",
        "w3c/vc-di-eddsa-test-suite tests/20-rdfc-verify.js",
        lambda: sign_raw(base(), proof_options(cryptosuite="unknown-cryptosuite-2017")),
        "unsupported_format",
    ),
    VerifyCase(
        "ecdsa_rdfc_cryptosuite_invalid",
        "w3c/vc-di-ecdsa-test-suite tests/20-rdfc-verify.js",
        lambda: _tamper(
            signed(
                key=P256, vm=did_key_verification_method_id(P256.public_key), suite=ECDSA_RDFC_2019
            )
            | {"issuer": did_key_from_public_key(P256.public_key)},
            ("proof", "cryptosuite"),
            "invalid-cryptosuite",
        ),
        "unsupported_format",
    ),
    VerifyCase(
        "ecdsa_with_ed25519_key",
        "ours (suite key types, REFERENCES §2)",
        lambda: sign_raw(base(), proof_options(cryptosuite="ecdsa-rdfc-2019")),
        "unsupported_format",
    ),
    VerifyCase(
        "vc_issuer_not_key_controller",
        "ours (DI §2.6, as @digitalbazaar/vc)",
        lambda: sign_raw(with_(issuer="did:example:other")(base()), proof_options()),
        "issuer_mismatch",
    ),
    VerifyCase(
        "vc_inline_context",
        "ours (DI §2.4.1 context allow-list)",
        lambda: (
            signed(
                with_(**{"@context": [CREDENTIALS_V2, {"@vocab": "https://example.org/#"}]})(base())
            )
            if False
            else sign_raw(
                with_(**{"@context": [CREDENTIALS_V2, {"@vocab": "https://example.org/#"}]})(
                    base()
                ),
                proof_options(),
            )
        ),
        "context_not_allowed",
    ),
    VerifyCase(
        "vc_nested_context",
        "ours (DI §2.4.1)",
        lambda: sign_raw(
            with_(credentialSubject={"@context": {"x": "https://example.org/x"}, "x": 1})(base()),
            proof_options(),
        ),
        "context_not_allowed",
    ),
    VerifyCase(
        "vc_too_many_proofs",
        "ours (bounded input)",
        lambda: {**base(), "proof": [proof_options()] * 9},
        "limit_exceeded",
    ),
    VerifyCase(
        "vp_too_many_credentials",
        "ours (bounded input)",
        lambda: _vp(verifiableCredential=[signed()] * 17),
        "malformed",
    ),
]


@pytest.mark.parametrize("case", VERIFY_CASES, ids=lambda c: c.id)
def test_verifier_rejects(case: VerifyCase) -> None:
    document = case.build()
    options = VerifyOptions(now=NOW, challenge=case.challenge, domain=case.domain)
    result = verify(document, resolver=Resolver(), options=options)
    assert not result.verified
    assert result.codes, result.to_json()
    assert result.codes[0] == case.code, json.dumps(result.to_json(), ensure_ascii=False)[:1500]
    for check in result.errors:
        assert check.message_ja
        assert check.message_en


# --- what the suites require us to ACCEPT ----------------------------------------------------


@pytest.mark.parametrize(
    ("case_id", "changes"),
    [
        ("P1_subject_only_id", {"credentialSubject": {"id": "did:example:subject"}}),
        ("P2_valid_from_ms", {"validFrom": "2023-02-26T01:02:58.447Z"}),
        ("P3_valid_from_offset", {"validFrom": "2023-02-25T19:10:39-06:00"}),
        (
            "P5_valid_until_ms",
            {"validFrom": "2026-02-26T01:20:00Z", "validUntil": "2026-12-26T01:20:18.477Z"},
        ),
        (
            "P6_offset_later_after_normalising",
            {"validFrom": "2023-02-26T01:21:23Z", "validUntil": "2027-02-25T19:21:29-06:00"},
        ),
        ("P11_status_without_id", {}),
        (
            "P13_type_url",
            {"type": ["https://example.org/#ExampleCredential", "VerifiableCredential"]},
        ),
        ("P15_typed_terms_of_use", {"termsOfUse": {"type": "https://example.org/#OdrlPolicy2017"}}),
        (
            "P9_issuer_name_languages",
            {
                "issuer": {
                    "id": ISSUER,
                    "name": [
                        {"@value": "Dog", "@language": "en"},
                        {"@value": "Chien", "@language": "fr"},
                    ],
                }
            },
        ),
        ("P21_end_of_day_24h", {"validUntil": "2026-12-31T24:00:00Z"}),
    ],
)
def test_suites_positive_edge_cases_verify(case_id: str, changes: Doc) -> None:
    document = {**base(), **changes}
    credential = issue_credential(document, KEY, verification_method=VM, created=NOW)
    result = verify(credential, resolver=Resolver(), options=VerifyOptions(now=NOW))
    assert result.verified, (case_id, result.to_json())


def test_P4_past_valid_until_is_issued_but_then_expired() -> None:
    document = {**base(), "validFrom": "2023-02-26T01:19:19Z", "validUntil": "2023-02-26T01:19:20Z"}
    credential = issue_credential(document, KEY, verification_method=VM, created=NOW)
    result = verify(credential, resolver=Resolver(), options=VerifyOptions(now=NOW))
    assert result.codes == ["expired"]


def test_P23_P24_proof_without_created_sets_and_chains() -> None:
    no_created = add_proof(base(), KEY, verification_method=VM, suite=EDDSA_RDFC_2022, created=None)
    assert verify(no_created, resolver=Resolver(), options=VerifyOptions(now=NOW)).verified
    chain = _chain()
    chain["issuer"] = ISSUER
    options = VerifyOptions(now=NOW, check_issuer_controller=False)
    assert verify(chain, resolver=Resolver(), options=options).verified
    # a proof set: two independent proofs by the issuer
    proof_set = add_proof(
        signed(),
        KEY,
        verification_method=VM,
        suite=EDDSA_RDFC_2022,
        created=NOW + timedelta(seconds=1),
    )
    assert len(proof_set["proof"]) == 2
    assert verify(proof_set, resolver=Resolver(), options=VerifyOptions(now=NOW)).verified


def test_P25_vcdm_1_1_credential_gets_the_data_integrity_context() -> None:
    document = {
        "@context": [CREDENTIALS_V1],
        "id": "urn:uuid:6a8b3f2c-0000-4000-8000-000000000001",
        "type": ["VerifiableCredential"],
        "issuer": ISSUER,
        "issuanceDate": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject"},
    }
    credential = issue_credential(document, KEY, verification_method=VM, created=NOW)
    assert credential["@context"][-1] == "https://w3id.org/security/data-integrity/v2"
    assert verify(credential, resolver=Resolver(), options=VerifyOptions(now=NOW)).verified
    without_date = {k: v for k, v in document.items() if k != "issuanceDate"}
    with pytest.raises(FurusatoError) as raised:
        issue_credential(without_date, KEY, verification_method=VM, created=NOW)
    assert raised.value.path == "issuanceDate"


def test_P20_presentation_without_challenge_verifies_with_a_warning() -> None:
    vp = _signed_vp(_vp())
    result = verify(vp, resolver=Resolver(), options=VerifyOptions(now=NOW))
    assert result.verified, result.to_json()
    assert [w.code for w in result.warnings] == ["challenge_not_checked"]


def test_P21_empty_presentation_verifies() -> None:
    vp = _signed_vp(
        {"@context": [CREDENTIALS_V2], "type": ["VerifiablePresentation"], "holder": ISSUER}
    )
    assert verify(vp, resolver=Resolver(), options=VerifyOptions(now=NOW, challenge="c-1")).verified


def test_undefined_terms_accepted_only_when_asked() -> None:
    """The examples context is not accepted by default; a verifier may opt in to it."""
    document = {**base(), "@context": [CREDENTIALS_V2, EXAMPLES_V2]}
    loader_options = VerifyOptions(
        now=NOW, accepted_contexts=DEFAULT_ACCEPTED_CONTEXTS | {EXAMPLES_V2}
    )
    credential = sign_raw(document, proof_options())
    assert verify(credential, resolver=Resolver(), options=VerifyOptions(now=NOW)).codes == [
        "context_not_allowed"
    ]
    signed_properly = add_proof(
        document,
        KEY,
        verification_method=VM,
        suite=EDDSA_RDFC_2022,
        created=NOW,
        loader=loader_options.loader(),
    )
    assert verify(signed_properly, resolver=Resolver(), options=loader_options).verified


def test_presentation_bound_to_challenge_and_domain() -> None:
    vp = sign_presentation(
        _vp(), KEY, verification_method=VM, challenge="abc", domain="shop.example", created=NOW
    )
    ok = VerifyOptions(now=NOW, challenge="abc", domain="shop.example")
    assert verify(vp, resolver=Resolver(), options=ok).verified
    for challenge, domain, code in [
        ("abd", "shop.example", "challenge_mismatch"),
        ("abc", "other.example", "domain_mismatch"),
    ]:
        result = verify(
            vp,
            resolver=Resolver(),
            options=VerifyOptions(now=NOW, challenge=challenge, domain=domain),
        )
        assert result.codes == [code]
