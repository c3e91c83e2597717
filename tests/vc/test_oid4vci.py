"""OpenID4VCI 1.0 core (vc/oid4vci.py): offers, well-known URLs, metadata, key proofs, requests.

Test names follow the spec sections (OID4VCI 1.0 Final, REFERENCES.md §6).  Key proofs are
cross-checked with jwcrypto, an independent JOSE implementation: what we sign, it verifies, and
what it signs, we verify.
"""

# One case per line: the negative tables read better than wrapped rows (as in
# test_w3c_negative_cases.py).
# ruff: noqa: E501

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from jwcrypto import jwt as jwcrypto_jwt

from did.errors import FurusatoError, MalformedValueError
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.multibase import base64url_encode
from schemas.loader import CREDENTIALS_V2, FURUSATO_V1
from schemas.municipalities import municipality_table
from vc.furusato import RESIDENT_VCT, resident_credential, resident_sd_jwt_claims
from vc.oid4vci import (
    FURUSATO_RESIDENT_CONFIGURATIONS,
    FURUSATO_RESIDENT_JWT,
    FURUSATO_RESIDENT_JWT_ID,
    FURUSATO_RESIDENT_LDP,
    FURUSATO_RESIDENT_LDP_ID,
    FURUSATO_RESIDENT_SD_JWT,
    FURUSATO_RESIDENT_SD_JWT_ID,
    OFFER_SCHEME,
    PRE_AUTHORIZED_GRANT_TYPE,
    PROOF_TYP,
    CredentialConfiguration,
    CredentialDisplay,
    CredentialOffer,
    CredentialRequest,
    InvalidCredentialOfferError,
    InvalidGrantError,
    InvalidNonceError,
    InvalidProofError,
    InvalidRequestError,
    OID4VCIError,
    TokenRequest,
    TxCode,
    authorization_server_metadata,
    check_tx_code,
    create_key_proof,
    credential_response,
    issuer_metadata,
    nonce_response,
    oauth_error_body,
    offer_uri_by_reference,
    offer_uri_by_value,
    parse_credential_offer,
    parse_credential_request,
    parse_offer_uri,
    parse_token_request,
    token_response,
    verify_key_proof,
    verify_key_proofs,
    well_known_url,
)

NOW = datetime(2027, 1, 15, 9, 30, tzinfo=UTC)
ISSUER = "https://furusato.example.jp/lg/015814"
NONCE = "wKI4LT17ac15ES9bw8ac4"
ED = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
ED_OTHER = PrivateKey.from_seed(KeyType.ED25519, bytes(range(1, 33)))
P256 = PrivateKey.from_seed(KeyType.P256, bytes(range(1, 33)))
P384 = PrivateKey.from_seed(KeyType.P384, bytes(range(1, 49)))
KEYS = {"Ed25519": ED, "P-256": P256}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def assert_bilingual(exc: FurusatoError) -> None:
    assert exc.message_en
    assert exc.message_ja
    assert JAPANESE.search(exc.message_ja), exc.message_ja
    assert not JAPANESE.search(exc.message_en) or "厚真" in exc.message_en


class Nonces:
    """A nonce store for tests: accepts the nonces it holds and records every question."""

    def __init__(self, *valid: str) -> None:
        self.valid = set(valid or (NONCE,))
        self.asked: list[str] = []

    def __call__(self, nonce: str) -> bool:
        self.asked.append(nonce)
        return nonce in self.valid


def b64json(value: Any) -> str:
    return base64url_encode(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def sign_jws(header: Any, payload: Any, key: PrivateKey = ED) -> str:
    """A compact JWS over arbitrary header/payload, validly signed by ``key``."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    return f"{signing_input}.{base64url_encode(key.sign(signing_input.encode('ascii')))}"


def good_header(key: PrivateKey = ED, **changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": key.alg, "typ": PROOF_TYP, "jwk": key.public_key.to_jwk()}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


def good_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"aud": ISSUER, "iat": int(NOW.timestamp()) - 10, "nonce": NONCE}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def verify(jwt: Any, nonces: Nonces | None = None, **options: Any) -> Any:
    return verify_key_proof(jwt, audience=ISSUER, now=NOW, nonce_ok=nonces or Nonces(), **options)


# --- §4.1 Credential Offer ----------------------------------------------------------------------

OFFER = CredentialOffer(
    credential_issuer=ISSUER,
    credential_configuration_ids=(FURUSATO_RESIDENT_LDP_ID,),
    pre_authorized_code="oaKazRN8I0IbtZ0C7JuMn5",
    tx_code=TxCode(input_mode="numeric", length=6, description="SMS で届いた 6 桁の確認コード"),
)


def test_4_1_1_offer_json_shape() -> None:
    assert OFFER.to_json() == {
        "credential_issuer": ISSUER,
        "credential_configuration_ids": ["FurusatoResidentCredential_ldp_vc"],
        "grants": {
            "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
                "pre-authorized_code": "oaKazRN8I0IbtZ0C7JuMn5",
                "tx_code": {
                    "input_mode": "numeric",
                    "length": 6,
                    "description": "SMS で届いた 6 桁の確認コード",
                },
            }
        },
    }


@pytest.mark.parametrize(
    "offer",
    [
        OFFER,
        CredentialOffer(ISSUER, ("a", "b"), "code-1"),  # no tx_code
        CredentialOffer(ISSUER, ("a",), "code-2", tx_code=TxCode()),  # empty: code required
        CredentialOffer(
            ISSUER, ("a",), "c", authorization_server="https://as.example.jp/realms/furusato"
        ),
    ],
    ids=["tx_code", "no_tx_code", "empty_tx_code", "authorization_server"],
)
def test_4_1_2_offer_by_value_round_trip(offer: CredentialOffer) -> None:
    uri = offer_uri_by_value(offer)
    assert uri.startswith("openid-credential-offer://?credential_offer=%7B")
    assert " " not in uri
    assert '"' not in uri
    assert parse_offer_uri(uri) == (offer, None)
    assert parse_credential_offer(json.loads(json.dumps(offer.to_json()))) == offer


def test_4_1_1_empty_tx_code_means_required() -> None:
    offer = parse_credential_offer(
        {
            "credential_issuer": ISSUER,
            "credential_configuration_ids": ["x"],
            "grants": {PRE_AUTHORIZED_GRANT_TYPE: {"pre-authorized_code": "c", "tx_code": {}}},
        }
    )
    assert offer.tx_code == TxCode()
    assert offer.tx_code is not None  # present-but-empty: a code is required
    assert offer.to_json()["grants"][PRE_AUTHORIZED_GRANT_TYPE]["tx_code"] == {}


def test_4_1_3_offer_by_reference_round_trip() -> None:
    offer_uri = "https://furusato.example.jp/lg/015814/offers/GkurKxf5T0Y-mnPFCHqWOMiZi4VS138c"
    uri = offer_uri_by_reference(offer_uri)
    assert uri == (
        "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Ffurusato.example.jp"
        "%2Flg%2F015814%2Foffers%2FGkurKxf5T0Y-mnPFCHqWOMiZi4VS138c"
    )
    assert parse_offer_uri(uri) == (None, offer_uri)
    with_query = "https://furusato.example.jp/offer?id=1&x=%2F"
    assert parse_offer_uri(offer_uri_by_reference(with_query)) == (None, with_query)


def test_4_1_2_spec_example_by_value() -> None:
    # The native-app example of §4.1.2, line breaks removed.
    uri = (
        "openid-credential-offer://?"
        "credential_offer=%7B%22credential_issuer%22:%22https://credential-issuer.exam"
        "ple.com%22,%22credential_configuration_ids%22:%5B%22org.iso.18013.5.1.mDL%22%"
        "5D,%22grants%22:%7B%22urn:ietf:params:oauth:grant-type:pre-authorized_code%22"
        ":%7B%22pre-authorized_code%22:%22oaKazRN8I0IbtZ0C7JuMn5%22,%22tx_code%22:%7B%"
        "22input_mode%22:%22text%22,%22description%22:%22Please%20enter%20the%20serial"
        "%20number%20of%20your%20physical%20drivers%20license%22%7D%7D%7D%7D"
    )
    offer, reference = parse_offer_uri(uri)
    assert reference is None
    assert offer == CredentialOffer(
        credential_issuer="https://credential-issuer.example.com",
        credential_configuration_ids=("org.iso.18013.5.1.mDL",),
        pre_authorized_code="oaKazRN8I0IbtZ0C7JuMn5",
        tx_code=TxCode(
            input_mode="text",
            description="Please enter the serial number of your physical drivers license",
        ),
    )


def test_4_1_3_spec_example_by_reference() -> None:
    uri = (
        "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fserver%2Eexample%2Ecom"
        "%2Fcredential-offer%2FGkurKxf5T0Y-mnPFCHqWOMiZi4VS138cQO_V7PZHAdM"
    )
    assert parse_offer_uri(uri) == (
        None,
        "https://server.example.com/credential-offer/GkurKxf5T0Y-mnPFCHqWOMiZi4VS138cQO_V7PZHAdM",
    )


def test_offer_links_https_and_case_and_whitespace() -> None:
    reference = "https://furusato.example.jp/offers/abc"
    wallet_link = f"https://wallet.example.org/offer?credential_offer_uri={quote(reference)}"
    assert parse_offer_uri(wallet_link) == (None, reference)
    upper = "OPENID-CREDENTIAL-OFFER://?credential_offer_uri=" + quote(reference, safe="")
    assert parse_offer_uri(upper + "\n") == (None, reference)
    assert parse_offer_uri(offer_uri_by_value(OFFER, base="https://wallet.example.org/o")) == (
        OFFER,
        None,
    )


def test_offer_unsafe_http_localhost_is_opt_in() -> None:
    local = CredentialOffer("http://127.0.0.1:8000/lg/015814", ("a",), "c")
    uri = offer_uri_by_value(local)
    with pytest.raises(InvalidCredentialOfferError):
        parse_offer_uri(uri)
    assert parse_offer_uri(uri, unsafe_allow_http_localhost=True) == (local, None)
    remote = CredentialOffer("http://furusato.example.jp/lg/015814", ("a",), "c")
    with pytest.raises(InvalidCredentialOfferError):
        parse_offer_uri(offer_uri_by_value(remote), unsafe_allow_http_localhost=True)


def _offer_link(obj: Any) -> str:
    return OFFER_SCHEME + "?credential_offer=" + quote(json.dumps(obj), safe="")


def _offer(**changes: Any) -> dict[str, Any]:
    offer = OFFER.to_json()
    offer.update(changes)
    return {k: v for k, v in offer.items() if v is not None}


def _grant(**changes: Any) -> dict[str, Any]:
    grant: dict[str, Any] = {"pre-authorized_code": "c"}
    grant.update(changes)
    return _offer(grants={PRE_AUTHORIZED_GRANT_TYPE: grant})


BAD_OFFER_LINKS: list[tuple[str, str, str]] = [
    ("wrong_scheme", "openid4vp://?credential_offer_uri=https%3A%2F%2Fa.example", "offer link"),
    ("http_link", "http://wallet.example/?credential_offer_uri=https%3A%2F%2Fa.example", "link"),
    ("neither", OFFER_SCHEME + "?foo=bar", "neither"),
    ("empty_query", OFFER_SCHEME, "neither"),
    (
        "both",
        OFFER_SCHEME + "?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fa.example",
        "both",
    ),
    (
        "repeated",
        OFFER_SCHEME + "?credential_offer_uri=https%3A%2F%2Fa.ex&credential_offer_uri=https%3A%2F%2Fb.ex",
        "more than once",
    ),
    ("bad_escape", OFFER_SCHEME + "?credential_offer_uri=%FF%FE", "cannot be parsed"),
    ("field_without_value", OFFER_SCHEME + "?credential_offer_uri", "cannot be parsed"),
    ("reference_http", OFFER_SCHEME + "?credential_offer_uri=http%3A%2F%2Fa.example%2Fo", "https"),
    ("reference_relative", OFFER_SCHEME + "?credential_offer_uri=%2Foffers%2F1", "https"),
    ("reference_fragment", OFFER_SCHEME + "?credential_offer_uri=https%3A%2F%2Fa.ex%2F%23x", "#"),
    ("reference_userinfo", OFFER_SCHEME + "?credential_offer_uri=https%3A%2F%2Fu%40a.ex", "@"),
    ("reference_space", OFFER_SCHEME + "?credential_offer_uri=https%3A%2F%2Fa.ex%2F%20", "ASCII"),
    ("not_json", OFFER_SCHEME + "?credential_offer=%7Bnope", "not valid JSON"),
    ("json_array", _offer_link([]), "JSON object"),
    ("duplicate_json_key", OFFER_SCHEME + "?credential_offer=%7B%22a%22:1,%22a%22:2%7D", "JSON"),
    ("too_long", OFFER_SCHEME + "?credential_offer_uri=" + "a" * 9000, "limit"),
    ("issuer_missing", _offer_link(_offer(credential_issuer=None)), "credential_issuer"),
    ("issuer_http", _offer_link(_offer(credential_issuer="http://a.example")), "https"),
    ("issuer_query", _offer_link(_offer(credential_issuer=ISSUER + "?x=1")), "query"),
    ("issuer_fragment", _offer_link(_offer(credential_issuer=ISSUER + "#x")), "fragment"),
    ("issuer_not_string", _offer_link(_offer(credential_issuer=["https://a"])), "string"),
    ("ids_missing", _offer_link(_offer(credential_configuration_ids=None)), "non-empty array"),
    ("ids_empty", _offer_link(_offer(credential_configuration_ids=[])), "non-empty array"),
    ("ids_string", _offer_link(_offer(credential_configuration_ids="a")), "non-empty array"),
    ("ids_duplicate", _offer_link(_offer(credential_configuration_ids=["a", "a"])), "repeat"),
    ("ids_number", _offer_link(_offer(credential_configuration_ids=[1])), "string"),
    ("ids_too_many", _offer_link(_offer(credential_configuration_ids=list("abcdefghijklmnopqrstuvwxyzABCDEFG"))), "more than"),
    ("grants_missing", _offer_link(_offer(grants=None)), "grants"),
    ("grants_array", _offer_link(_offer(grants=[])), "object"),
    (
        "authorization_code_only",
        _offer_link(_offer(grants={"authorization_code": {"issuer_state": "s"}})),
        "pre-authorized code",
    ),
    ("code_missing", _offer_link(_offer(grants={PRE_AUTHORIZED_GRANT_TYPE: {}})), "pre-authorized_code"),
    ("code_empty", _offer_link(_grant(**{"pre-authorized_code": ""})), "non-empty"),
    ("tx_code_true", _offer_link(_grant(tx_code=True)), "tx_code must be an object"),
    ("tx_code_mode", _offer_link(_grant(tx_code={"input_mode": "alpha"})), "input_mode"),
    ("tx_code_length_zero", _offer_link(_grant(tx_code={"length": 0})), "length"),
    ("tx_code_length_bool", _offer_link(_grant(tx_code={"length": True})), "length"),
    ("tx_code_description_long", _offer_link(_grant(tx_code={"description": "x" * 301})), "300"),
    ("authorization_server_http", _offer_link(_grant(authorization_server="http://as.ex")), "https"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("link", "needle"),
    [(link, needle) for _, link, needle in BAD_OFFER_LINKS],
    ids=[case for case, _, _ in BAD_OFFER_LINKS],
)
def test_4_1_offer_negative(link: str, needle: str) -> None:
    with pytest.raises(InvalidCredentialOfferError) as info:
        parse_offer_uri(link)
    assert needle in info.value.message_en
    assert_bilingual(info.value)


def test_4_1_1_unknown_offer_members_are_ignored() -> None:
    obj = _offer(extra={"x": 1})
    obj["grants"]["authorization_code"] = {"issuer_state": "s"}
    obj["grants"][PRE_AUTHORIZED_GRANT_TYPE]["future_member"] = True
    assert parse_credential_offer(obj) == OFFER


def test_offer_uri_by_reference_rejects_non_https() -> None:
    with pytest.raises(InvalidCredentialOfferError):
        offer_uri_by_reference("http://furusato.example.jp/o/1")
    assert offer_uri_by_reference(
        "http://localhost:8000/o/1", unsafe_allow_http_localhost=True
    ).endswith("http%3A%2F%2Flocalhost%3A8000%2Fo%2F1")


# --- §12.2.2 well-known URLs ---------------------------------------------------------------------

WELL_KNOWN = [
    (
        "https://furusato.example.jp/lg/015814",
        "https://furusato.example.jp/.well-known/openid-credential-issuer/lg/015814",
    ),
    (
        "https://furusato.example.jp/lg/015814/",
        "https://furusato.example.jp/.well-known/openid-credential-issuer/lg/015814",
    ),
    ("https://furusato.example.jp", "https://furusato.example.jp/.well-known/openid-credential-issuer"),
    ("https://furusato.example.jp/", "https://furusato.example.jp/.well-known/openid-credential-issuer"),
    (
        "https://furusato.example.jp:8443/lg/015814",
        "https://furusato.example.jp:8443/.well-known/openid-credential-issuer/lg/015814",
    ),
    ("https://issuer.example.com/tenant", "https://issuer.example.com/.well-known/openid-credential-issuer/tenant"),
    ("https://tenant.issuer.example.com", "https://tenant.issuer.example.com/.well-known/openid-credential-issuer"),
]  # fmt: skip


@pytest.mark.parametrize(("identifier", "expected"), WELL_KNOWN)
def test_12_2_2_well_known_inserted_between_host_and_path(identifier: str, expected: str) -> None:
    assert well_known_url(identifier) == expected
    assert well_known_url(identifier, "oauth-authorization-server") == expected.replace(
        "openid-credential-issuer", "oauth-authorization-server"
    )


def test_12_2_2_well_known_is_not_appended_to_the_path() -> None:
    # Pitfall 11 (REFERENCES.md §13): never <issuer>/.well-known/openid-credential-issuer.
    assert well_known_url(ISSUER) != ISSUER + "/.well-known/openid-credential-issuer"


@pytest.mark.parametrize(
    ("identifier", "suffix"),
    [
        ("http://furusato.example.jp/lg/015814", "openid-credential-issuer"),
        ("https://furusato.example.jp/lg?x=1", "openid-credential-issuer"),
        ("https://furusato.example.jp/lg#x", "openid-credential-issuer"),
        ("https://user@furusato.example.jp/lg", "openid-credential-issuer"),
        ("https://furusato.example.jp:99999/lg", "openid-credential-issuer"),
        ("https:///lg", "openid-credential-issuer"),
        ("furusato.example.jp/lg", "openid-credential-issuer"),
        ("https://furusato.example.jp/lg", "../etc"),
        ("https://furusato.example.jp/lg", "Openid-Credential-Issuer"),
    ],
)
def test_12_2_2_well_known_negative(identifier: str, suffix: str) -> None:
    with pytest.raises(MalformedValueError) as info:
        well_known_url(identifier, suffix)
    assert_bilingual(info.value)


def test_well_known_http_localhost_opt_in() -> None:
    assert (
        well_known_url("http://127.0.0.1:8000/lg/015814", unsafe_allow_http_localhost=True)
        == "http://127.0.0.1:8000/.well-known/openid-credential-issuer/lg/015814"
    )


# --- §12.2.4 issuer metadata, §12.3 AS metadata ------------------------------------------------


def _metadata() -> dict[str, Any]:
    return issuer_metadata(
        ISSUER,
        credential_endpoint=ISSUER + "/credential",
        nonce_endpoint=ISSUER + "/nonce",
        configurations=FURUSATO_RESIDENT_CONFIGURATIONS,
        display=[{"name": "厚真町", "locale": "ja"}, {"name": "Atsuma Town", "locale": "en"}],
    )


def test_12_2_4_issuer_metadata_required_members() -> None:
    metadata = _metadata()
    json.dumps(metadata)  # plain JSON
    assert metadata["credential_issuer"] == ISSUER  # byte-equal to the offers' value
    assert metadata["credential_endpoint"] == ISSUER + "/credential"
    assert metadata["nonce_endpoint"] == ISSUER + "/nonce"
    assert "authorization_servers" not in metadata  # the issuer is its own AS
    assert metadata["display"] == [
        {"name": "厚真町", "locale": "ja"},
        {"name": "Atsuma Town", "locale": "en"},
    ]
    configs = metadata["credential_configurations_supported"]
    assert list(configs) == [
        "FurusatoResidentCredential_ldp_vc",
        "FurusatoResidentCredential_jwt_vc_json",
        "FurusatoResidentCredential_dc+sd-jwt",
    ]
    # Draft names that broke interop (REFERENCES.md §6 draft table) are absent.
    for legacy in ("credentials_supported", "credential_identifiers_supported"):
        assert legacy not in metadata


def test_12_2_4_ldp_vc_configuration_shape() -> None:
    config = _metadata()["credential_configurations_supported"][FURUSATO_RESIDENT_LDP_ID]
    assert config["format"] == "ldp_vc"
    assert config["credential_definition"] == {
        "@context": [CREDENTIALS_V2, FURUSATO_V1],
        "type": ["VerifiableCredential", "FurusatoResidentCredential"],
    }
    assert config["cryptographic_binding_methods_supported"] == ["did:key", "jwk"]
    assert config["credential_signing_alg_values_supported"] == ["eddsa-rdfc-2022"]
    assert config["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["EdDSA", "ES256"]}
    }
    for moved in ("display", "claims", "cryptographic_suites_supported", "proof_types"):
        assert moved not in config  # display/claims live in credential_metadata since -16
    display = config["credential_metadata"]["display"]
    assert [d["locale"] for d in display] == ["ja", "en"]
    for entry in display:
        assert set(entry) == {"name", "locale", "description", "background_color", "text_color"}
        assert re.fullmatch(r"#[0-9A-F]{6}", entry["background_color"])
    assert display[0]["name"] == "ふるさと住民登録証"
    claims = config["credential_metadata"]["claims"]
    assert [c["path"] for c in claims] == [
        ["credentialSubject", "registrationTier"],
        ["credentialSubject", "municipality", "name"],
        ["credentialSubject", "municipality", "prefecture"],
        ["credentialSubject", "registeredSince"],
        ["validUntil"],
    ]
    for claim in claims:
        assert [d["locale"] for d in claim["display"]] == ["ja", "en"]
        assert claim["mandatory"] is True


def test_12_2_4_jwt_vc_json_configuration_shape() -> None:
    config = _metadata()["credential_configurations_supported"][FURUSATO_RESIDENT_JWT_ID]
    assert config["format"] == "jwt_vc_json"
    # Appendix A.1.1: credential_definition with type only (no @context for jwt_vc_json)
    assert config["credential_definition"] == {
        "type": ["VerifiableCredential", "FurusatoResidentCredential"]
    }
    assert config["cryptographic_binding_methods_supported"] == ["did:key", "jwk"]
    assert config["credential_signing_alg_values_supported"] == ["EdDSA", "ES256"]
    assert config["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["EdDSA", "ES256"]}
    }
    ldp = _metadata()["credential_configurations_supported"][FURUSATO_RESIDENT_LDP_ID]
    # the payload is the same VCDM document: the same display and claim paths
    assert config["credential_metadata"] == ldp["credential_metadata"]


def test_12_2_4_dc_sd_jwt_configuration_shape() -> None:
    config = _metadata()["credential_configurations_supported"][FURUSATO_RESIDENT_SD_JWT_ID]
    assert FURUSATO_RESIDENT_SD_JWT_ID == "FurusatoResidentCredential_dc+sd-jwt"
    assert config["format"] == "dc+sd-jwt"
    assert config["vct"] == "https://w3id.org/furusato/resident"  # Appendix A.3.1: vct
    assert "credential_definition" not in config
    assert config["cryptographic_binding_methods_supported"] == ["jwk"]
    assert config["credential_signing_alg_values_supported"] == ["EdDSA", "ES256"]
    assert config["proof_types_supported"] == {
        "jwt": {"proof_signing_alg_values_supported": ["EdDSA", "ES256"]}
    }
    ldp = _metadata()["credential_configurations_supported"][FURUSATO_RESIDENT_LDP_ID]
    assert config["credential_metadata"]["display"] == ldp["credential_metadata"]["display"]
    claims = config["credential_metadata"]["claims"]
    assert [c["path"] for c in claims] == [
        ["registrationTier"],
        ["municipality", "name"],
        ["municipality", "prefecture"],
        ["registeredSince"],
    ]
    for claim in claims:
        assert [d["locale"] for d in claim["display"]] == ["ja", "en"]
        assert claim["mandatory"] is True


def test_our_configurations_ldp_vc_first() -> None:
    """Offers list them in this order; wallets that take the first get ldp_vc."""
    assert list(FURUSATO_RESIDENT_CONFIGURATIONS.items()) == [
        (FURUSATO_RESIDENT_LDP_ID, FURUSATO_RESIDENT_LDP),
        (FURUSATO_RESIDENT_JWT_ID, FURUSATO_RESIDENT_JWT),
        (FURUSATO_RESIDENT_SD_JWT_ID, FURUSATO_RESIDENT_SD_JWT),
    ]
    with pytest.raises(TypeError):
        FURUSATO_RESIDENT_CONFIGURATIONS["x"] = FURUSATO_RESIDENT_LDP  # type: ignore[index]


def _select(document: Any, path: list[Any]) -> Any:
    """Claims path pointer processing (Appendix C.1) for paths without null/index."""
    for component in path:
        assert isinstance(document, dict)
        document = document[component]
    return document


def test_appendix_c_claim_paths_select_claims_of_our_credential() -> None:
    credential = resident_credential(
        credential_id=None,
        issuer="did:web:furusato.example.jp:lg:015814",
        issuer_name="厚真町",
        municipality=municipality_table().get("015814"),
        holder=did_key_from_public_key(ED.public_key),
        tier="premium",
        registered_since=date(2027, 1, 15),
        valid_from=datetime(2027, 1, 15, tzinfo=UTC),
        valid_until=datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC),
    )
    values = [_select(credential, list(c.path)) for c in FURUSATO_RESIDENT_LDP.claims]
    assert values == ["premium", "厚真町", "北海道", "2027-01-15", "2028-01-14T23:59:59Z"]
    assert FURUSATO_RESIDENT_JWT.claims == FURUSATO_RESIDENT_LDP.claims  # same document


def test_appendix_c_claim_paths_select_claims_of_our_sd_jwt_vc() -> None:
    claims = resident_sd_jwt_claims(
        credential_id="urn:uuid:00000000-0000-4000-8000-000000000000",
        issuer="did:web:furusato.example.jp:lg:015814",
        municipality=municipality_table().get("015814"),
        holder=did_key_from_public_key(ED.public_key),
        tier="premium",
        registered_since=date(2027, 1, 15),
        valid_from=datetime(2027, 1, 15, tzinfo=UTC),
        valid_until=datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC),
        issued_at=datetime(2027, 1, 15, tzinfo=UTC),
    )
    assert claims["vct"] == RESIDENT_VCT == FURUSATO_RESIDENT_SD_JWT.vct
    values = [_select(claims, list(c.path)) for c in FURUSATO_RESIDENT_SD_JWT.claims]
    assert values == ["premium", "厚真町", "北海道", "2027-01-15"]


def test_12_2_4_other_formats_and_options() -> None:
    sd_jwt = CredentialConfiguration(
        format="dc+sd-jwt",
        vct="https://w3id.org/furusato/resident",
        credential_signing_algs=("ES256",),
        scope="furusato_resident",
    )
    jwt_vc = CredentialConfiguration(format="jwt_vc_json", types=("VerifiableCredential",))
    metadata = issuer_metadata(
        ISSUER,
        credential_endpoint=ISSUER + "/credential",
        configurations={"sd": sd_jwt, "jwt": jwt_vc},
        authorization_servers=["https://as.example.jp"],
        deferred_credential_endpoint=ISSUER + "/deferred",
        notification_endpoint=ISSUER + "/notification",
        batch_size=5,
    )
    assert metadata["authorization_servers"] == ["https://as.example.jp"]
    assert metadata["batch_credential_issuance"] == {"batch_size": 5}
    assert metadata["credential_configurations_supported"]["sd"]["vct"] == sd_jwt.vct
    assert metadata["credential_configurations_supported"]["sd"]["scope"] == "furusato_resident"
    assert metadata["credential_configurations_supported"]["jwt"]["credential_definition"] == {
        "type": ["VerifiableCredential"]
    }
    unbound = CredentialConfiguration(
        format="ldp_vc", context=(CREDENTIALS_V2,), types=("A",), cryptographic_binding_methods=()
    ).to_json()
    assert "proof_types_supported" not in unbound  # §12.2.4: only with binding methods


@pytest.mark.parametrize(
    "kwargs",
    [
        {"configurations": {}},
        {"batch_size": 1},
        {"batch_size": True},
        {"credential_endpoint": "http://furusato.example.jp/credential"},
        {"nonce_endpoint": "furusato.example.jp/nonce"},
        {"display": [{"name": "a", "locale": "ja"}, {"name": "b", "locale": "ja"}]},
        {"display": [{"name": "a"}]},
        {"configurations": {"x": CredentialConfiguration(format="ldp_vc", types=("A",))}},
        {"configurations": {"x": CredentialConfiguration(format="mso_mdoc")}},
        {"configurations": {"x": CredentialConfiguration(format="dc+sd-jwt")}},
        {
            "configurations": {
                "x": CredentialConfiguration(
                    format="jwt_vc_json",
                    types=("A",),
                    display=(CredentialDisplay("a", "ja"), CredentialDisplay("b", "ja")),
                )
            }
        },
        {
            "configurations": {
                "x": CredentialConfiguration(
                    format="jwt_vc_json", types=("A",), proof_signing_algs=()
                )
            }
        },
    ],
)
def test_12_2_4_issuer_metadata_negative(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "credential_endpoint": ISSUER + "/credential",
        "configurations": {FURUSATO_RESIDENT_LDP_ID: FURUSATO_RESIDENT_LDP},
    }
    arguments.update(kwargs)
    with pytest.raises(MalformedValueError) as info:
        issuer_metadata(ISSUER, **arguments)
    assert_bilingual(info.value)


def test_12_3_authorization_server_metadata() -> None:
    metadata = authorization_server_metadata(ISSUER, ISSUER + "/token")
    assert metadata == {
        "issuer": ISSUER,
        "token_endpoint": ISSUER + "/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT_TYPE],
        "pre-authorized_grant_anonymous_access_supported": True,
    }
    with pytest.raises(MalformedValueError):
        authorization_server_metadata("http://furusato.example.jp", ISSUER + "/token")


# --- Appendix F.1 / F.4 key proofs --------------------------------------------------------------


@pytest.mark.parametrize("form", ["jwk", "kid"])
@pytest.mark.parametrize("key_name", list(KEYS))
def test_f_1_key_proof_round_trip(key_name: str, form: str) -> None:
    key = KEYS[key_name]
    kid = did_key_verification_method_id(key.public_key) if form == "kid" else None
    proof = create_key_proof(key, audience=ISSUER, nonce=NONCE, issued_at=NOW, kid=kid)
    nonces = Nonces()
    result = verify(proof, nonces)
    assert nonces.asked == [NONCE]
    assert result.public_key == key.public_key
    assert result.holder_did == did_key_from_public_key(key.public_key)
    assert result.holder_did.startswith("did:key:z6Mk" if key_name == "Ed25519" else "did:key:zDn")
    assert result.nonce == NONCE
    assert result.issued_at == NOW
    header = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
    assert header["typ"] == "openid4vci-proof+jwt"
    assert header["alg"] == key.alg
    assert ("kid" in header) == (form == "kid")
    assert ("jwk" in header) == (form == "jwk")
    assert "d" not in header.get("jwk", {})


def test_f_1_key_proof_claims() -> None:
    proof = create_key_proof(
        ED, audience=ISSUER, nonce=NONCE, issued_at=NOW + timedelta(microseconds=999_999)
    )
    payload = json.loads(base64.urlsafe_b64decode(proof.split(".")[1] + "=="))
    assert payload == {"aud": ISSUER, "iat": int(NOW.timestamp()), "nonce": NONCE}  # no iss
    with_client = create_key_proof(
        ED, audience=ISSUER, nonce=NONCE, issued_at=NOW, client_id="wallet-1"
    )
    payload = json.loads(base64.urlsafe_b64decode(with_client.split(".")[1] + "=="))
    assert payload["iss"] == "wallet-1"
    assert verify(with_client, client_id="wallet-1").nonce == NONCE
    with pytest.raises(InvalidProofError, match="client_id"):
        verify(with_client, client_id="wallet-2")


def test_f_1_create_key_proof_arguments() -> None:
    with pytest.raises(MalformedValueError, match="kid"):
        create_key_proof(
            ED,
            audience=ISSUER,
            nonce=NONCE,
            issued_at=NOW,
            kid=did_key_verification_method_id(P256.public_key),
        )
    with pytest.raises(MalformedValueError, match="jwk"):
        create_key_proof(ED, audience=ISSUER, nonce=NONCE, issued_at=NOW, jwk=False)
    with pytest.raises(MalformedValueError, match="timezone"):
        create_key_proof(ED, audience=ISSUER, nonce=NONCE, issued_at=datetime(2027, 1, 1))


@pytest.mark.parametrize("form", ["jwk", "kid"])
@pytest.mark.parametrize("key_name", list(KEYS))
def test_f_1_our_proof_verifies_with_jwcrypto(key_name: str, form: str) -> None:
    key = KEYS[key_name]
    kid = did_key_verification_method_id(key.public_key) if form == "kid" else None
    proof = create_key_proof(key, audience=ISSUER, nonce=NONCE, issued_at=NOW, kid=kid)
    token = jwcrypto_jws.JWS()
    token.deserialize(proof)
    token.verify(jwcrypto_jwk.JWK(**key.public_key.to_jwk()), alg=key.alg)
    assert token.jose_header["typ"] == PROOF_TYP
    assert json.loads(token.payload) == {
        "aud": ISSUER,
        "iat": int(NOW.timestamp()),
        "nonce": NONCE,
    }
    tampered = proof[:-4] + ("AAAA" if not proof.endswith("AAAA") else "BBBB")
    token = jwcrypto_jws.JWS()
    token.deserialize(tampered)
    with pytest.raises(jwcrypto_jws.InvalidJWSSignature):
        token.verify(jwcrypto_jwk.JWK(**key.public_key.to_jwk()), alg=key.alg)


@pytest.mark.parametrize("form", ["jwk", "kid"])
@pytest.mark.parametrize("key_name", list(KEYS))
def test_f_1_jwcrypto_proof_verifies_with_ours(key_name: str, form: str) -> None:
    key = KEYS[key_name]
    header: dict[str, Any] = {"alg": key.alg, "typ": PROOF_TYP}
    if form == "jwk":
        header["jwk"] = key.public_key.to_jwk()
    else:
        header["kid"] = did_key_verification_method_id(key.public_key)
    token = jwcrypto_jwt.JWT(
        header=header,
        claims={"aud": ISSUER, "iat": int(NOW.timestamp()) - 30, "nonce": NONCE},
    )
    token.make_signed_token(jwcrypto_jwk.JWK(**key.to_jwk()))
    result = verify(token.serialize())
    assert result.public_key == key.public_key
    assert result.issued_at == NOW - timedelta(seconds=30)


def test_f_4_es384_only_when_allowed() -> None:
    proof = create_key_proof(P384, audience=ISSUER, nonce=NONCE, issued_at=NOW)
    with pytest.raises(InvalidProofError, match="not accepted"):
        verify(proof)
    result = verify(proof, allowed_algs=("EdDSA", "ES256", "ES384"))
    assert result.holder_did.startswith("did:key:z82")


def test_f_4_allowed_algs_cannot_admit_mac_or_none() -> None:
    for algs in (("HS256",), ("none",), ("RS256",)):
        with pytest.raises(MalformedValueError):
            verify(
                create_key_proof(ED, audience=ISSUER, nonce=NONCE, issued_at=NOW), allowed_algs=algs
            )


def _hs256(header: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    mac = hmac.new(b"secret", signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64url_encode(mac)}"


def _tamper_payload() -> str:
    header_b64, _, signature = sign_jws(good_header(), good_payload()).split(".")
    return f"{header_b64}.{b64json(good_payload(nonce='other'))}.{signature}"


def _flip_signature() -> str:
    header_b64, payload_b64, signature = sign_jws(good_header(), good_payload()).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[0] ^= 1
    return f"{header_b64}.{payload_b64}.{base64url_encode(bytes(raw))}"


def _pad_header() -> str:
    header_b64, payload_b64, signature = sign_jws(good_header(), good_payload()).split(".")
    return f"{header_b64}==.{payload_b64}.{signature}"


def _raw_header(text: str) -> str:
    payload_b64 = b64json(good_payload())
    signing_input = f"{base64url_encode(text.encode())}.{payload_b64}"
    return f"{signing_input}.{base64url_encode(ED.sign(signing_input.encode()))}"


ED_KID = did_key_verification_method_id(ED.public_key)
ED_DID = did_key_from_public_key(ED.public_key)
OTHER_MB = ED_OTHER.public_key.multikey
ED_MB = ED.public_key.multikey
IAT = int(NOW.timestamp())

# (case, builder, oauth_error, words the English message must contain)
BAD_PROOFS: list[tuple[str, Callable[[], Any], str, str]] = [
    ("typ_jwt", lambda: sign_jws(good_header(typ="JWT"), good_payload()), "invalid_proof", "typ"),
    ("typ_missing", lambda: sign_jws(good_header(typ=None), good_payload()), "invalid_proof", "typ"),
    ("typ_media_type", lambda: sign_jws(good_header(typ="application/openid4vci-proof+jwt"), good_payload()), "invalid_proof", "typ"),
    ("alg_none", lambda: f"{b64json(good_header(alg='none'))}.{b64json(good_payload())}.", "invalid_proof", "'none'"),
    ("alg_hs256", lambda: _hs256(good_header(alg="HS256"), good_payload()), "invalid_proof", "MAC"),
    ("alg_missing", lambda: sign_jws(good_header(alg=None), good_payload()), "invalid_proof", "alg"),
    ("alg_rs256", lambda: sign_jws(good_header(alg="RS256"), good_payload()), "invalid_proof", "not accepted"),
    ("alg_key_mismatch", lambda: sign_jws(good_header(alg="ES256"), good_payload()), "invalid_proof", "does not match"),
    ("crit", lambda: sign_jws(good_header(crit=["b64"]), good_payload()), "invalid_proof", "crit"),
    ("jwk_with_d", lambda: sign_jws(good_header(jwk=ED.to_jwk()), good_payload()), "invalid_proof", "private key"),
    ("jwk_symmetric", lambda: sign_jws(good_header(jwk={"kty": "oct", "k": "c2VjcmV0"}), good_payload()), "invalid_proof", "private key"),
    ("jwk_not_object", lambda: sign_jws(good_header(jwk="x"), good_payload()), "invalid_proof", "object"),
    ("jwk_bad_x", lambda: sign_jws(good_header(jwk={"kty": "OKP", "crv": "Ed25519", "x": "AA"}), good_payload()), "invalid_proof", "usable public key"),
    ("kid_and_jwk", lambda: sign_jws(good_header(kid=ED_KID), good_payload()), "invalid_proof", "exactly one"),
    ("no_key", lambda: sign_jws(good_header(jwk=None), good_payload()), "invalid_proof", "names no key"),
    ("x5c", lambda: sign_jws(good_header(jwk=None, x5c=["MIIB"]), good_payload()), "invalid_proof", "x5c"),
    ("x5c_and_jwk", lambda: sign_jws(good_header(x5c=["MIIB"]), good_payload()), "invalid_proof", "exactly one"),
    ("kid_did_web", lambda: sign_jws(good_header(jwk=None, kid="did:web:example.jp#key-1"), good_payload()), "invalid_proof", "did:key"),
    ("kid_not_did", lambda: sign_jws(good_header(jwk=None, kid="key-1"), good_payload()), "invalid_proof", "did:key"),
    ("kid_without_fragment", lambda: sign_jws(good_header(jwk=None, kid=ED_DID), good_payload()), "invalid_proof", "fragment"),
    ("kid_fragment_mismatch", lambda: sign_jws(good_header(jwk=None, kid=f"{ED_DID}#{OTHER_MB}"), good_payload()), "invalid_proof", "fragment does not match"),
    ("kid_fragment_0", lambda: sign_jws(good_header(jwk=None, kid=f"{ED_DID}#0"), good_payload()), "invalid_proof", "fragment does not match"),
    ("kid_bad_multikey", lambda: sign_jws(good_header(jwk=None, kid="did:key:z6Mk#z6Mk"), good_payload()), "invalid_proof", "usable did:key"),
    ("kid_other_key", lambda: sign_jws(good_header(jwk=None, kid=f"did:key:{OTHER_MB}#{OTHER_MB}"), good_payload()), "invalid_proof", "signature"),
    ("jwk_other_key", lambda: sign_jws(good_header(jwk=ED_OTHER.public_key.to_jwk()), good_payload()), "invalid_proof", "signature"),
    ("bad_signature", _flip_signature, "invalid_proof", "signature does not verify"),
    ("tampered_payload", _tamper_payload, "invalid_proof", "signature does not verify"),
    ("signature_empty", lambda: sign_jws(good_header(), good_payload()).rsplit(".", 1)[0] + ".", "invalid_proof", "empty"),
    ("signature_padded", lambda: sign_jws(good_header(), good_payload()) + "==", "invalid_proof", "base64url"),
    ("aud_mismatch", lambda: sign_jws(good_header(), good_payload(aud="https://evil.example")), "invalid_proof", "aud"),
    ("aud_prefix", lambda: sign_jws(good_header(), good_payload(aud=ISSUER + "/")), "invalid_proof", "aud"),
    ("aud_array", lambda: sign_jws(good_header(), good_payload(aud=[ISSUER])), "invalid_proof", "single string"),
    ("aud_missing", lambda: sign_jws(good_header(), good_payload(aud=None)), "invalid_proof", "aud is missing"),
    ("iat_missing", lambda: sign_jws(good_header(), good_payload(iat=None)), "invalid_proof", "iat is missing"),
    ("iat_string", lambda: sign_jws(good_header(), good_payload(iat=str(IAT))), "invalid_proof", "integer"),
    ("iat_float", lambda: sign_jws(good_header(), good_payload(iat=IAT + 0.5)), "invalid_proof", "integer"),
    ("iat_bool", lambda: sign_jws(good_header(), good_payload(iat=True)), "invalid_proof", "integer"),
    ("iat_future", lambda: sign_jws(good_header(), good_payload(iat=IAT + 61)), "invalid_proof", "future"),
    ("iat_far_future", lambda: sign_jws(good_header(), good_payload(iat=10**400)), "invalid_proof", "future"),
    ("iat_too_old", lambda: sign_jws(good_header(), good_payload(iat=IAT - 301)), "invalid_proof", "too old"),
    ("iat_negative_huge", lambda: sign_jws(good_header(), good_payload(iat=-(10**400))), "invalid_proof", "too old"),
    ("exp_past", lambda: sign_jws(good_header(), good_payload(exp=IAT - 120)), "invalid_proof", "expired"),
    ("exp_string", lambda: sign_jws(good_header(), good_payload(exp="soon")), "invalid_proof", "number"),
    ("nbf_future", lambda: sign_jws(good_header(), good_payload(nbf=IAT + 3600)), "invalid_proof", "not valid yet"),
    ("iss_number", lambda: sign_jws(good_header(), good_payload(iss=7)), "invalid_proof", "iss"),
    ("nonce_missing", lambda: sign_jws(good_header(), good_payload(nonce=None)), "invalid_proof", "nonce is missing"),
    ("nonce_number", lambda: sign_jws(good_header(), good_payload(nonce=5)), "invalid_proof", "nonce must be"),
    ("nonce_empty", lambda: sign_jws(good_header(), good_payload(nonce="")), "invalid_proof", "nonce must be"),
    ("nonce_rejected", lambda: sign_jws(good_header(), good_payload(nonce="stale")), "invalid_nonce", "fetch a new c_nonce"),
    ("two_parts", lambda: "e30.e30", "invalid_proof", "3 dot-separated parts"),
    ("four_parts", lambda: sign_jws(good_header(), good_payload()) + ".e30", "invalid_proof", "3 dot-separated parts"),
    ("empty", lambda: "", "invalid_proof", "3 dot-separated parts"),
    ("header_padding", _pad_header, "invalid_proof", "base64url"),
    ("header_plus_slash", lambda: "ab+/." + sign_jws(good_header(), good_payload()).split(".", 1)[1], "invalid_proof", "base64url"),
    ("header_not_json", lambda: _raw_header("{nope"), "invalid_proof", "JSON"),
    ("header_array", lambda: _raw_header("[]"), "invalid_proof", "JSON object"),
    ("header_duplicate_key", lambda: _raw_header('{"typ":"openid4vci-proof+jwt","typ":"JWT"}'), "invalid_proof", "duplicate"),
    ("payload_array", lambda: sign_jws(good_header(), []), "invalid_proof", "payload must be a JSON object"),
    ("oversize", lambda: sign_jws(good_header(pad="x" * 9000), good_payload()), "invalid_proof", "exceeds the limit"),
    ("not_a_string", lambda: sign_jws(good_header(), good_payload()).encode(), "invalid_proof", "must be a string"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("builder", "oauth_error", "needle"),
    [(builder, error, needle) for _, builder, error, needle in BAD_PROOFS],
    ids=[case for case, _, _, _ in BAD_PROOFS],
)
def test_f_4_key_proof_negative(builder: Callable[[], Any], oauth_error: str, needle: str) -> None:
    nonces = Nonces()
    with pytest.raises(OID4VCIError) as info:
        verify(builder(), nonces)
    error = info.value
    assert error.oauth_error == oauth_error
    assert isinstance(
        error, InvalidNonceError if oauth_error == "invalid_nonce" else InvalidProofError
    )
    assert needle in error.message_en, error.message_en
    assert_bilingual(error)
    assert len(error.message_en) < 400  # attacker-supplied values are not echoed whole
    # A proof that fails any other check never reaches (and so never consumes) the nonce.
    assert nonces.asked == (["stale"] if oauth_error == "invalid_nonce" else [])


def test_f_4_the_good_baseline_passes() -> None:
    # The negative table's builders start from this proof: it must verify.
    assert verify(sign_jws(good_header(), good_payload())).nonce == NONCE
    assert verify(sign_jws(good_header(), good_payload(iat=IAT + 60))).nonce == NONCE  # skew
    assert verify(sign_jws(good_header(), good_payload(iat=IAT - 300))).nonce == NONCE
    assert verify(sign_jws(good_header(), good_payload(exp=IAT + 60, nbf=IAT))).nonce == NONCE
    extras = good_header(key_attestation="eyJ...", trust_chain=["x"])
    jwk = {**ED.public_key.to_jwk(), "use": "sig", "kid": "k1"}
    assert verify(sign_jws({**extras, "jwk": jwk}, good_payload(iss="ignored"))).nonce == NONCE


def test_f_4_max_age_and_max_length_are_parameters() -> None:
    old = sign_jws(good_header(), good_payload(iat=IAT - 3600))
    assert verify(old, max_age=timedelta(hours=2)).nonce == NONCE
    proof = sign_jws(good_header(), good_payload())
    with pytest.raises(InvalidProofError, match="exceeds the limit"):
        verify(proof, max_length=100)


def test_f_4_batch_verification() -> None:
    proofs = [
        create_key_proof(key, audience=ISSUER, nonce=NONCE, issued_at=NOW)
        for key in (ED, P256, ED_OTHER)
    ]
    nonces = Nonces()
    results = verify_key_proofs(proofs, audience=ISSUER, now=NOW, nonce_ok=nonces)
    assert [r.public_key for r in results] == [ED.public_key, P256.public_key, ED_OTHER.public_key]
    assert nonces.asked == [NONCE]  # one shared c_nonce is asked about once
    duplicate = [proofs[0], create_key_proof(ED, audience=ISSUER, nonce=NONCE, issued_at=NOW)]
    with pytest.raises(InvalidProofError, match="same key"):
        verify_key_proofs(duplicate, audience=ISSUER, now=NOW, nonce_ok=Nonces())
    with pytest.raises(InvalidProofError):
        verify_key_proofs([], audience=ISSUER, now=NOW, nonce_ok=Nonces())
    bad = [proofs[0], proofs[1][:-3] + "AAA"]
    nonces = Nonces()
    with pytest.raises(InvalidProofError):
        verify_key_proofs(bad, audience=ISSUER, now=NOW, nonce_ok=nonces)
    assert nonces.asked == []
    with pytest.raises(InvalidNonceError):
        verify_key_proofs(proofs, audience=ISSUER, now=NOW, nonce_ok=Nonces("other"))


def test_verify_key_proof_needs_an_aware_now() -> None:
    proof = create_key_proof(ED, audience=ISSUER, nonce=NONCE, issued_at=NOW)
    with pytest.raises(MalformedValueError):
        verify_key_proof(
            proof,
            audience=ISSUER,
            now=datetime(2027, 1, 15),
            nonce_ok=Nonces(),
        )


# --- §8.2 Credential Request ----------------------------------------------------------------------

PROOF = create_key_proof(ED, audience=ISSUER, nonce=NONCE, issued_at=NOW)


def test_8_2_credential_request() -> None:
    body = {"credential_configuration_id": FURUSATO_RESIDENT_LDP_ID, "proofs": {"jwt": [PROOF]}}
    assert parse_credential_request(body) == CredentialRequest(FURUSATO_RESIDENT_LDP_ID, [PROOF])
    batch = {**body, "proofs": {"jwt": [PROOF] * 10}}
    assert len(parse_credential_request(batch).proofs) == 10
    # Unknown (and draft format-specific) members are ignored.
    extra = {**body, "format": "ldp_vc", "credential_definition": {"type": ["x"]}, "z": 1}
    assert parse_credential_request(
        extra, configuration_ids={FURUSATO_RESIDENT_LDP_ID}
    ) == CredentialRequest(FURUSATO_RESIDENT_LDP_ID, [PROOF])


def _request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "credential_configuration_id": FURUSATO_RESIDENT_LDP_ID,
        "proofs": {"jwt": [PROOF]},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


BAD_REQUESTS: list[tuple[str, Any, str, str]] = [
    ("not_object", [], "invalid_credential_request", "JSON object"),
    ("legacy_proof", _request(proof={"proof_type": "jwt", "jwt": PROOF}, proofs=None), "invalid_credential_request", "proofs"),
    ("legacy_proof_and_proofs", _request(proof={"proof_type": "jwt", "jwt": PROOF}), "invalid_credential_request", "removed in OID4VCI 1.0"),
    ("both_ids", _request(credential_identifier="x"), "invalid_credential_request", "not both"),
    ("identifier", _request(credential_configuration_id=None, credential_identifier="x"), "unknown_credential_identifier", "credential_configuration_id"),
    ("id_missing", _request(credential_configuration_id=None), "invalid_credential_request", "missing"),
    ("draft_format", _request(credential_configuration_id=None, format="ldp_vc"), "invalid_credential_request", "draft"),
    ("id_number", _request(credential_configuration_id=1), "invalid_credential_request", "non-empty string"),
    ("id_empty", _request(credential_configuration_id=""), "invalid_credential_request", "non-empty string"),
    ("id_too_long", _request(credential_configuration_id="x" * 300), "invalid_credential_request", "longer"),
    ("id_unknown", _request(credential_configuration_id="UniversityDegree"), "unknown_credential_configuration", "unknown"),
    ("encryption", _request(credential_response_encryption={"jwk": {}, "enc": "A256GCM"}), "invalid_encryption_parameters", "encrypt"),
    ("proofs_missing", _request(proofs=None), "invalid_proof", "proofs is missing"),
    ("proofs_list", _request(proofs=[PROOF]), "invalid_proof", "exactly one proof type"),
    ("proofs_two_types", _request(proofs={"jwt": [PROOF], "di_vp": [{}]}), "invalid_proof", "exactly one proof type"),
    ("proofs_empty_object", _request(proofs={}), "invalid_proof", "exactly one proof type"),
    ("proofs_di_vp", _request(proofs={"di_vp": [{}]}), "invalid_proof", "not supported"),
    ("proofs_attestation", _request(proofs={"attestation": ["x"]}), "invalid_proof", "not supported"),
    ("jwt_string", _request(proofs={"jwt": PROOF}), "invalid_proof", "non-empty array"),
    ("jwt_empty", _request(proofs={"jwt": []}), "invalid_proof", "non-empty array"),
    ("jwt_number", _request(proofs={"jwt": [1]}), "invalid_proof", "non-empty string"),
    ("jwt_too_long", _request(proofs={"jwt": ["x" * 9000]}), "invalid_proof", "longer"),
    ("jwt_too_many", _request(proofs={"jwt": [PROOF] * 11}), "invalid_proof", "at most 10"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "oauth_error", "needle"),
    [(body, error, needle) for _, body, error, needle in BAD_REQUESTS],
    ids=[case for case, _, _, _ in BAD_REQUESTS],
)
def test_8_3_1_2_credential_request_negative(body: Any, oauth_error: str, needle: str) -> None:
    with pytest.raises(OID4VCIError) as info:
        parse_credential_request(body, configuration_ids=(FURUSATO_RESIDENT_LDP_ID,))
    assert info.value.oauth_error == oauth_error
    assert info.value.code == oauth_error
    assert needle in info.value.message_en, info.value.message_en
    assert_bilingual(info.value)


# --- §6 Token Request ---------------------------------------------------------------------------


def test_6_1_token_request() -> None:
    form = {
        "grant_type": PRE_AUTHORIZED_GRANT_TYPE,
        "pre-authorized_code": "SplxlOBeZQQYbYS6WxSbIA",
    }
    assert parse_token_request(form) == TokenRequest("SplxlOBeZQQYbYS6WxSbIA", None)
    form_tx = {**form, "tx_code": "493536", "authorization_details": "[]"}
    assert parse_token_request(form_tx) == TokenRequest("SplxlOBeZQQYbYS6WxSbIA", "493536")


BAD_TOKEN_REQUESTS: list[tuple[str, Any, str, str]] = [
    ("grant_missing", {"pre-authorized_code": "c"}, "invalid_request", "grant_type"),
    ("authorization_code", {"grant_type": "authorization_code", "code": "c"}, "unsupported_grant_type", "not supported"),
    ("client_credentials", {"grant_type": "client_credentials"}, "unsupported_grant_type", "not supported"),
    ("code_missing", {"grant_type": PRE_AUTHORIZED_GRANT_TYPE}, "invalid_request", "pre-authorized_code is missing"),
    ("code_underscore", {"grant_type": PRE_AUTHORIZED_GRANT_TYPE, "pre_authorized_code": "c"}, "invalid_request", "hyphen"),
    ("code_empty", {"grant_type": PRE_AUTHORIZED_GRANT_TYPE, "pre-authorized_code": ""}, "invalid_request", "non-empty"),
    ("tx_code_empty", {"grant_type": PRE_AUTHORIZED_GRANT_TYPE, "pre-authorized_code": "c", "tx_code": ""}, "invalid_request", "tx_code"),
    ("tx_code_long", {"grant_type": PRE_AUTHORIZED_GRANT_TYPE, "pre-authorized_code": "c", "tx_code": "1" * 65}, "invalid_request", "longer"),
    ("not_a_form", [("grant_type", PRE_AUTHORIZED_GRANT_TYPE)], "invalid_request", "form"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("form", "oauth_error", "needle"),
    [(form, error, needle) for _, form, error, needle in BAD_TOKEN_REQUESTS],
    ids=[case for case, _, _, _ in BAD_TOKEN_REQUESTS],
)
def test_6_3_token_request_negative(form: Any, oauth_error: str, needle: str) -> None:
    with pytest.raises(OID4VCIError) as info:
        parse_token_request(form)
    assert info.value.oauth_error == oauth_error
    assert needle in info.value.message_en, info.value.message_en
    assert_bilingual(info.value)


@pytest.mark.parametrize(
    ("expected", "given", "error"),
    [
        (None, None, None),
        ("493536", "493536", None),
        (None, "493536", InvalidRequestError),
        ("493536", None, InvalidRequestError),
        ("493536", "493537", InvalidGrantError),
        ("493536", "49353", InvalidGrantError),
    ],
)
def test_6_3_tx_code_check(
    expected: str | None, given: str | None, error: type[OID4VCIError] | None
) -> None:
    if error is None:
        check_tx_code(expected, given)
        return
    with pytest.raises(error) as info:
        check_tx_code(expected, given)
    assert_bilingual(info.value)


# --- responses ------------------------------------------------------------------------------------


def test_6_2_token_response_has_no_c_nonce() -> None:
    # Pitfall 12: c_nonce left the token response in draft -15.
    assert token_response("eyJhbGci.x.y", 300) == {
        "access_token": "eyJhbGci.x.y",
        "token_type": "Bearer",
        "expires_in": 300,
    }
    for bad in ((None, 300), ("t", 0), ("t", True), ("", 5)):
        with pytest.raises(MalformedValueError):
            token_response(*bad)


def test_7_2_nonce_response() -> None:
    assert nonce_response("wKI4LT17ac15ES9bw8ac4") == {"c_nonce": "wKI4LT17ac15ES9bw8ac4"}
    with pytest.raises(MalformedValueError):
        nonce_response("")


def test_8_3_credential_response_is_a_credentials_array() -> None:
    vc = {"@context": [CREDENTIALS_V2], "type": ["VerifiableCredential"]}
    assert credential_response([vc]) == {"credentials": [{"credential": vc}]}
    assert credential_response([vc, "eyJ.a.b"], notification_id="3fwe98js") == {
        "credentials": [{"credential": vc}, {"credential": "eyJ.a.b"}],
        "notification_id": "3fwe98js",
    }
    for bad in ([], vc, "eyJ.a.b", [1]):
        with pytest.raises(MalformedValueError):
            credential_response(bad)  # type: ignore[arg-type]


def test_8_3_1_2_error_body_is_ascii() -> None:
    with pytest.raises(InvalidProofError) as info:
        verify(sign_jws(good_header(), good_payload(aud='https://悪い.example/"\\')))
    body = oauth_error_body(info.value)
    assert body["error"] == "invalid_proof"
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]+", body["error_description"])
    assert oauth_error_body(InvalidNonceError("a", "あ"))["error"] == "invalid_nonce"


def test_error_classes() -> None:
    for error in (InvalidProofError, InvalidNonceError, InvalidCredentialOfferError):
        assert issubclass(error, FurusatoError)
    assert InvalidProofError.http_status == 400
    assert not issubclass(InvalidNonceError, InvalidProofError)  # the wallet reacts differently


# --- property tests: only our errors, whatever the input ---------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
header_values = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["EdDSA", "ES256", "none", "HS256", "ES384"]) | json_values,
        "typ": st.just(PROOF_TYP) | json_values,
        "jwk": st.just(ED.public_key.to_jwk()) | st.just(P256.public_key.to_jwk()) | json_values,
        "kid": st.just(ED_KID) | st.text(max_size=80).map(lambda t: "did:key:" + t) | json_values,
        "x5c": json_values,
        "crit": json_values,
    },
)
payload_values = st.fixed_dictionaries(
    {},
    optional={
        "aud": st.just(ISSUER) | json_values,
        "iat": st.integers(IAT - 400, IAT + 100) | json_values,
        "nonce": st.just(NONCE) | json_values,
        "exp": json_values,
        "nbf": json_values,
        "iss": json_values,
    },
)


def _only_our_errors(call: Callable[[], Any]) -> None:
    with contextlib.suppress(FurusatoError):
        call()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_parse_offer_uri_text(text: str) -> None:
    _only_our_errors(lambda: parse_offer_uri(text))
    _only_our_errors(lambda: parse_offer_uri(OFFER_SCHEME + "?" + text))
    _only_our_errors(lambda: parse_offer_uri(OFFER_SCHEME + "?credential_offer=" + text))
    _only_our_errors(lambda: parse_offer_uri(OFFER_SCHEME + "?credential_offer_uri=" + text))


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_property_parse_offer_json(value: Any, wrap: bool) -> None:
    obj = _grant(tx_code=value) if wrap else value
    _only_our_errors(lambda: parse_offer_uri(_offer_link(obj)))
    _only_our_errors(lambda: parse_credential_offer(obj))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=50) | json_values)
def test_property_verify_key_proof_text(jwt: Any) -> None:
    _only_our_errors(lambda: verify(jwt))


@settings(max_examples=400, deadline=None)
@given(header_values, payload_values | json_values, st.sampled_from([ED, P256]))
def test_property_verify_key_proof_signed_junk(
    header: dict[str, Any], payload: Any, key: PrivateKey
) -> None:
    _only_our_errors(lambda: verify(sign_jws(header, payload, key)))


@settings(max_examples=300, deadline=None)
@given(
    json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "credential_configuration_id": st.just(FURUSATO_RESIDENT_LDP_ID) | json_values,
            "credential_identifier": json_values,
            "proofs": st.fixed_dictionaries({"jwt": json_values}) | json_values,
            "proof": json_values,
            "credential_response_encryption": json_values,
        },
    )
)
def test_property_parse_credential_request(body: Any) -> None:
    _only_our_errors(lambda: parse_credential_request(body))
    _only_our_errors(lambda: parse_credential_request(body, configuration_ids=["x"]))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["grant_type", "pre-authorized_code", "tx_code"]) | st.text(max_size=5),
        st.text(max_size=30) | st.just(PRE_AUTHORIZED_GRANT_TYPE),
        max_size=4,
    )
)
def test_property_parse_token_request(form: dict[str, str]) -> None:
    _only_our_errors(lambda: parse_token_request(form))
