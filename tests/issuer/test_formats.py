"""The resident credential in its three formats over OID4VCI 1.0, on a live server (SQLite and
PostgreSQL): ``ldp_vc``, ``jwt_vc_json`` (VC-JOSE ``vc+jwt``) and ``dc+sd-jwt`` (SD-JWT VC).

Each credential is checked the way a stranger would check it, not through the issuer's own
code: the key comes from the DID document the server publishes (fetched over HTTP), the
signature with :func:`vc.jose.verify_vc_jwt` / :func:`vc.sdjwt.verify_sd_jwt`, the status bits
from the status lists it publishes.  Revoking through the admin API flips the bit of that
credential's entry, whatever its format.  docs/formats.md is the contract for the claims.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text

from did.document import find_verification_method, public_key_from_verification_method
from did.errors import FurusatoError
from did.key import did_key_from_public_key
from did.keys import KeyType, PrivateKey, PublicKey
from did.resolver import Resolver
from issuer.db import Database, IssuedCredential, Offer, PremiumMembership, migrate
from issuer.oid4vci import CONFIGURATION_IDS
from schemas.municipalities import municipality_table
from tests.issuer import wallet_sim
from tests.issuer.conftest import LiveServer
from tests.premium.conftest import PremiumWorld, Registrant, prove_with_oidc
from tests.premium.conftest import pki as pki  # the premium fixtures, for the premium case
from tests.premium.conftest import premium as premium
from tests.premium.test_service_flow import apply, approve, three_checkins
from vc import oid4vci
from vc.furusato import RESIDENT_VCT, resident_sd_jwt_claims
from vc.jose import verify_vc_jwt
from vc.result import VerificationResult
from vc.sdjwt import KeyBindingPolicy, present, verify_sd_jwt
from vc.statuslist import BitstringStatusList, StatusListDocument
from vc.verify import VerifyOptions, verify_credential

LG = "015814"
LDP = oid4vci.FURUSATO_RESIDENT_LDP_ID
JWT = oid4vci.FURUSATO_RESIDENT_JWT_ID
SD_JWT = oid4vci.FURUSATO_RESIDENT_SD_JWT_ID
MUNICIPALITY = {"lgCode": LG, "name": "厚真町", "prefecture": "北海道", "prefectureCode": "010006"}
SD_JWT_CLAIMS = {
    "iss",
    "vct",
    "jti",
    "iat",
    "nbf",
    "exp",
    "cnf",
    "registrationTier",
    "municipality",
    "registeredSince",
    "status",
}


# --------------------------------------------------------------------------- what a stranger sees


@dataclass
class Outside:
    """The live server seen from outside: GETs of what it publishes, the admin API by token."""

    live: LiveServer
    http: httpx.Client

    @property
    def did(self) -> str:
        return self.live.world.tenant.did

    def _fetch_did_web(self, url: str) -> bytes:
        # did:web names https://localhost:<port>/…; the live server speaks http on that port
        https_origin = f"https://localhost:{self.live.port}/"
        assert url.startswith(https_origin), url
        response = self.http.get(f"{self.live.url}/{url[len(https_origin) :]}")
        response.raise_for_status()
        return response.content

    def key_for(self, kid: str) -> PublicKey:
        """The issuer key ``kid`` names, from the DID document fetched now (no cache)."""
        did = kid.partition("#")[0]
        document = Resolver(self._fetch_did_web).resolve(did)
        method = find_verification_method(document, kid, "assertionMethod")
        return public_key_from_verification_method(method)

    def sd_jwt_issuer_key(self, header: Any, payload: Any) -> PublicKey:
        """``vc.sdjwt.IssuerKeyResolver``: the header's kid, which must be the ``iss``'s key."""
        kid = header.get("kid")
        assert isinstance(kid, str)
        assert kid.partition("#")[0] == payload.get("iss") == self.did
        return self.key_for(kid)

    def status_bit(self, entry: dict[str, Any]) -> bool:
        """The bit of a BitstringStatusListEntry in the list published now."""
        response = self.http.get(entry["statusListCredential"])
        assert response.status_code == 200, response.text
        listed = response.json()
        assert listed["id"] == entry["statusListCredential"]
        assert listed["issuer"] == self.did
        subject = listed["credentialSubject"]
        assert subject["statusPurpose"] == entry["statusPurpose"]
        bits = BitstringStatusList.decode(subject["encodedList"])
        return bits.get(int(entry["statusListIndex"]))

    def get(self, url: str) -> StatusListDocument | None:
        """``vc.verify.StatusListSource``: a real GET of the statusListCredential URL."""
        response = self.http.get(url)
        if response.status_code != 200:
            return None
        return StatusListDocument(response.json(), retrieved_at=datetime.now(UTC))

    def verify(self, credential: dict[str, Any]) -> VerificationResult:
        """Our verifier (for ldp_vc), with the DID document and the lists fetched now."""
        options = VerifyOptions(now=datetime.now(UTC), status_lists=self)
        resolver = Resolver(self._fetch_did_web)
        return verify_credential(credential, resolver=resolver, options=options)

    def admin(self, method: str, path: str, token: str | None = None) -> dict[str, Any]:
        token = token or self.live.world.staff_token
        response = self.http.request(
            method, f"/admin/api{path}", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def offer_uri(self) -> str:
        response = self.http.post(f"/lg/{LG}/registrations", json={"tier": "basic"})
        assert response.status_code == 201, response.text
        uri: str = response.json()["offerUri"]
        return uri


@pytest.fixture
def outside(live: LiveServer) -> Iterator[Outside]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield Outside(live, http)


def holder_key(key_type: KeyType = KeyType.ED25519) -> PrivateKey:
    return PrivateKey.from_seed(key_type, secrets.token_bytes(32))


def select_claim(document: Any, path: list[Any]) -> Any:
    """OID4VCI Appendix C claims path pointer (object keys only)."""
    for component in path:
        assert isinstance(document, dict), (path, document)
        assert component in document, (path, document)
        document = document[component]
    return document


def metadata(outside: Outside) -> dict[str, Any]:
    url = oid4vci.well_known_url(
        outside.live.world.tenant.identifier, unsafe_allow_http_localhost=True
    )
    response = outside.http.get(url)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def claim_paths(outside: Outside, configuration_id: str) -> list[list[Any]]:
    config = metadata(outside)["credential_configurations_supported"][configuration_id]
    return [c["path"] for c in config["credential_metadata"]["claims"]]


def assert_revocation_flips(outside: Outside, credential_id: str, entries: list[Any]) -> None:
    """Suspend, reinstate, revoke through the admin API; the published bits follow."""
    by_purpose = {e["statusPurpose"]: e for e in entries}
    assert set(by_purpose) == {"revocation", "suspension"}
    assert not outside.status_bit(by_purpose["revocation"])
    assert not outside.status_bit(by_purpose["suspension"])
    assert outside.admin("POST", f"/credentials/{credential_id}/suspend")["state"] == "suspended"
    assert outside.status_bit(by_purpose["suspension"])
    assert outside.admin("POST", f"/credentials/{credential_id}/reinstate")["state"] == "active"
    assert not outside.status_bit(by_purpose["suspension"])
    assert outside.admin("POST", f"/credentials/{credential_id}/revoke")["state"] == "revoked"
    assert outside.status_bit(by_purpose["revocation"])
    assert not outside.status_bit(by_purpose["suspension"])


def assert_entries_are_the_records(
    outside: Outside, credential_id: str, entries: list[Any]
) -> None:
    """The status entries in the credential are the ones the issuer allocated for it."""
    stored = outside.admin("GET", f"/credentials/{credential_id}")["status"]
    assert sorted((s["purpose"], s["index"]) for s in stored) == sorted(
        (e["statusPurpose"], int(e["statusListIndex"])) for e in entries
    )
    for entry in entries:
        assert entry == {
            "type": "BitstringStatusListEntry",
            "statusPurpose": entry["statusPurpose"],
            "statusListIndex": entry["statusListIndex"],
            "statusListCredential": f"{outside.live.url}/status/{LG}/{entry['statusPurpose']}/1",
        }


# --------------------------------------------------------------------------- the three formats


def test_ldp_vc_is_what_a_wallet_taking_the_first_configuration_gets(outside: Outside) -> None:
    key = holder_key()
    received = wallet_sim.receive(outside.http, outside.offer_uri(), key)  # no id: the first
    assert received.configuration_id == LDP
    credential = received.credential
    assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert credential["credentialSubject"]["id"] == did_key_from_public_key(key.public_key)
    assert credential["proof"]["verificationMethod"] == f"{outside.did}#key-1"
    assert outside.verify(credential).verified
    for path in claim_paths(outside, LDP):
        select_claim(credential, path)
    detail = outside.admin("GET", f"/credentials/{credential['id']}")
    assert detail["format"] == "ldp_vc"
    assert detail["credential"] == credential
    assert_entries_are_the_records(outside, credential["id"], credential["credentialStatus"])
    assert_revocation_flips(outside, credential["id"], credential["credentialStatus"])
    assert outside.verify(credential).codes == ["revoked"]


@pytest.mark.parametrize("key_type", [KeyType.ED25519, KeyType.P256], ids=["EdDSA", "ES256"])
def test_jwt_vc_json_is_a_vc_jose_credential(outside: Outside, key_type: KeyType) -> None:
    key = holder_key(key_type)
    received = wallet_sim.receive(outside.http, outside.offer_uri(), key, configuration_id=JWT)
    token = received.compact
    assert token.count(".") == 2

    verified = verify_vc_jwt(token, key_for=outside.key_for, now=datetime.now(UTC))
    assert verified.header == {
        "alg": "EdDSA",
        "typ": "vc+jwt",
        "cty": "vc",
        "kid": f"{outside.did}#key-1",
    }
    credential = verified.credential
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://w3id.org/furusato/v1",
    ]
    assert credential["type"] == ["VerifiableCredential", "FurusatoResidentCredential"]
    assert credential["issuer"] == {"id": outside.did, "name": "厚真町"}
    subject = credential["credentialSubject"]
    assert subject == {
        "id": did_key_from_public_key(key.public_key),
        "type": "FurusatoResident",
        "registrationTier": "basic",
        "municipality": MUNICIPALITY,
        "registeredSince": subject["registeredSince"],
    }
    # VC-JOSE-COSE: no embedded proof, no vc claim, iat is the signing time, no iss/sub/jti/nbf
    assert "proof" not in credential
    for claim in ("vc", "iss", "sub", "jti", "nbf", "exp"):
        assert claim not in credential
    assert abs(credential["iat"] - datetime.now(UTC).timestamp()) < 120
    for path in claim_paths(outside, JWT):
        select_claim(credential, path)

    detail = outside.admin("GET", f"/credentials/{credential['id']}")
    assert detail["format"] == "jwt_vc_json"
    assert detail["credential"] == token
    assert detail["holder"] == subject["id"]
    listed = outside.admin("GET", "/credentials")["credentials"]
    assert [c["format"] for c in listed if c["id"] == credential["id"]] == ["jwt_vc_json"]
    assert_entries_are_the_records(outside, credential["id"], credential["credentialStatus"])
    assert_revocation_flips(outside, credential["id"], credential["credentialStatus"])


@pytest.mark.parametrize("key_type", [KeyType.ED25519, KeyType.P256], ids=["EdDSA", "ES256"])
@pytest.mark.parametrize("proof_key_as", ["jwk", "kid"])
def test_dc_sd_jwt_is_an_sd_jwt_vc_bound_to_the_proof_key(
    outside: Outside, key_type: KeyType, proof_key_as: Literal["kid", "jwk"]
) -> None:
    key = holder_key(key_type)
    received = wallet_sim.receive(
        outside.http,
        outside.offer_uri(),
        key,
        configuration_id=SD_JWT,
        proof_key_as=proof_key_as,
    )
    sd_jwt = received.compact
    assert sd_jwt.endswith("~")
    assert sd_jwt.count("~") == 2  # one disclosure: registeredSince (docs/formats.md)

    now = datetime.now(UTC)
    verified = verify_sd_jwt(sd_jwt, issuer_key=outside.sd_jwt_issuer_key, now=now)
    assert verified.header == {"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": f"{outside.did}#key-1"}
    claims = verified.processed_claims
    assert set(claims) == SD_JWT_CLAIMS  # docs/formats.md, and no personal data
    assert claims["iss"] == outside.did
    assert claims["vct"] == RESIDENT_VCT == "https://w3id.org/furusato/resident"
    assert claims["cnf"] == {"jwk": key.public_key.to_jwk()}  # the key of the key proof
    assert claims["registrationTier"] == "basic"
    assert claims["municipality"] == MUNICIPALITY
    assert claims["iat"] == claims["nbf"]
    assert abs(claims["iat"] - now.timestamp()) < 120
    validity = outside.live.world.svc.settings.credential_validity
    assert claims["exp"] - claims["nbf"] == validity.total_seconds()
    assert set(claims["status"]) == {"bitstring_status_list"}
    entries = claims["status"]["bitstring_status_list"]
    for path in claim_paths(outside, SD_JWT):
        select_claim(claims, path)

    assert verified.disclosed == ("registeredSince",)

    # the holder can prove the cnf key: a presentation with a KB-JWT verifies, and without
    # the disclosure the registration date stays with the holder
    presented = present(
        sd_jwt, disclose=(), holder=key, nonce="n-1", audience="furusato-qr", issued_at=now
    )
    bound = verify_sd_jwt(
        presented,
        issuer_key=outside.sd_jwt_issuer_key,
        now=now,
        key_binding=KeyBindingPolicy(nonce="n-1", audience="furusato-qr"),
    )
    assert bound.key_bound
    assert "registeredSince" not in bound.processed_claims

    detail = outside.admin("GET", f"/credentials/{claims['jti']}")
    assert detail["format"] == "dc+sd-jwt"
    assert detail["credential"] == sd_jwt
    assert detail["holder"] == did_key_from_public_key(key.public_key)
    assert detail["tier"] == "basic"
    assert detail["validUntil"] == datetime.fromtimestamp(claims["exp"], UTC).isoformat().replace(
        "+00:00", "Z"
    )
    events = outside.admin("GET", "/audit", outside.live.world.auditor_token)["events"]
    (issued,) = [e for e in events if e["subject"] == claims["jti"]]
    assert issued["action"] == "credential.issue"
    assert issued["details"]["format"] == "dc+sd-jwt"
    assert_entries_are_the_records(outside, claims["jti"], entries)
    assert_revocation_flips(outside, claims["jti"], entries)


def test_one_offer_one_credential_in_the_format_asked_for(outside: Outside) -> None:
    """An unknown configuration is refused and uses up nothing; the same offer then yields one
    credential, and only one."""
    offer = wallet_sim.fetch_offer(outside.http, outside.offer_uri())
    token = wallet_sim.redeem(outside.http, offer)
    key = holder_key()
    for unknown in ("FurusatoResidentCredential_mso_mdoc", "UniversityDegreeCredential", "ldp_vc"):
        refused = wallet_sim.request_credential(
            outside.http, offer, token, key, configuration_id=unknown
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "unknown_credential_configuration"
    with outside.live.world.svc.db.read() as session:
        assert session.execute(select(IssuedCredential)).scalars().all() == []
        assert session.execute(select(Offer.credential_id)).scalar_one() is None

    issued = wallet_sim.request_credential(outside.http, offer, token, key, configuration_id=JWT)
    assert issued.status_code == 200, issued.text
    assert isinstance(issued.json()["credentials"][0]["credential"], str)
    again = wallet_sim.request_credential(outside.http, offer, token, key, configuration_id=SD_JWT)
    assert again.status_code == 401, again.text
    assert again.json()["error"] == "invalid_token"


# --------------------------------------------------------------------------- the SD-JWT VC claims


def _claims(**changes: Any) -> dict[str, Any]:
    holder = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
    arguments: dict[str, Any] = {
        "credential_id": "urn:uuid:5f1a0c3e-8d2b-4e7f-9a61-0b2c3d4e5f60",
        "issuer": "did:web:furusato.example.jp:lg:015814",
        "municipality": municipality_table().get(LG),
        "holder": did_key_from_public_key(holder.public_key),
        "tier": "premium",
        "registered_since": date(2027, 1, 15),
        "valid_from": datetime(2027, 1, 15, 0, 0, 0, 500_000, tzinfo=UTC),
        "valid_until": datetime(2028, 1, 14, 23, 59, 59, tzinfo=UTC),
        "issued_at": datetime(2027, 1, 15, 9, 0, 0, 900_000, tzinfo=timezone(timedelta(hours=9))),
        "status": [
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": "4711",
                "statusListCredential": f"https://furusato.example.jp/status/015814/{purpose}/1",
            }
            for purpose in ("revocation", "suspension")
        ],
    }
    arguments.update(changes)
    return resident_sd_jwt_claims(**arguments)


def test_the_sd_jwt_vc_claims_are_those_of_docs_formats_md() -> None:
    claims = _claims()
    holder = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
    assert list(claims) == [
        "iss",
        "vct",
        "jti",
        "iat",
        "nbf",
        "exp",
        "cnf",
        "registrationTier",
        "municipality",
        "registeredSince",
        "status",
    ]
    assert claims == {
        "iss": "did:web:furusato.example.jp:lg:015814",
        "vct": "https://w3id.org/furusato/resident",
        "jti": "urn:uuid:5f1a0c3e-8d2b-4e7f-9a61-0b2c3d4e5f60",
        "iat": 1799971200,  # 2027-01-15T00:00:00Z (09:00 JST), whole seconds
        "nbf": 1799971200,
        "exp": 1831507199,  # 2028-01-14T23:59:59Z
        "cnf": {"jwk": holder.public_key.to_jwk()},
        "registrationTier": "premium",
        "municipality": MUNICIPALITY,
        "registeredSince": "2027-01-15",
        "status": {"bitstring_status_list": _claims()["status"]["bitstring_status_list"]},
    }
    assert [e["statusPurpose"] for e in claims["status"]["bitstring_status_list"]] == [
        "revocation",
        "suspension",
    ]
    assert "status" not in _claims(status=())


def test_the_sd_jwt_vc_cnf_is_the_did_key_of_the_holder() -> None:
    p256 = PrivateKey.from_seed(KeyType.P256, bytes(range(1, 33)))
    claims = _claims(holder=did_key_from_public_key(p256.public_key))
    assert claims["cnf"] == {"jwk": p256.public_key.to_jwk()}
    assert claims["cnf"]["jwk"]["kty"] == "EC"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"tier": "gold"}, "malformed"),
        ({"valid_until": datetime(2028, 1, 14)}, "malformed"),
        ({"issued_at": datetime(2027, 1, 15)}, "malformed"),
        ({"holder": "did:web:furusato.example.jp"}, None),
        ({"holder": "did:key:zNotAKey"}, None),
    ],
    ids=["tier", "naive-valid-until", "naive-issued-at", "holder-not-did-key", "holder-bad-key"],
)
def test_the_sd_jwt_vc_claims_refuse_bad_input(changes: dict[str, Any], code: str | None) -> None:
    with pytest.raises(FurusatoError) as info:
        _claims(**changes)
    if code is not None:
        assert info.value.code == code
    assert info.value.message_ja
    assert info.value.message_en


# --------------------------------------------------------------------------- offers and metadata


def test_every_offer_names_the_three_configurations_ldp_vc_first(outside: Outside) -> None:
    assert list(CONFIGURATION_IDS) == [LDP, JWT, SD_JWT]
    counter = outside.http.post(
        "/admin/api/offers",
        headers={"Authorization": f"Bearer {outside.live.world.staff_token}"},
        json={"tier": "basic", "txCode": True},
    )
    assert counter.status_code == 201, counter.text
    for offer_uri in (outside.offer_uri(), counter.json()["offerUri"]):
        offer = wallet_sim.fetch_offer(outside.http, offer_uri)  # parsed by vc.oid4vci
        assert offer.credential_configuration_ids == (LDP, JWT, SD_JWT)
    assert counter.json()["credentialOffer"]["credential_configuration_ids"] == [LDP, JWT, SD_JWT]


def test_metadata_lists_the_three_configurations(outside: Outside) -> None:
    body = metadata(outside)
    issuer = outside.live.world.tenant.identifier
    assert body["credential_issuer"] == issuer
    configs = body["credential_configurations_supported"]
    assert list(configs) == [LDP, JWT, SD_JWT]
    # what vc.oid4vci builds from its one list of configurations, and nothing else
    assert configs == {
        config_id: config.to_json(config_id)
        for config_id, config in oid4vci.FURUSATO_RESIDENT_CONFIGURATIONS.items()
    }
    # §12.2.4 and Appendix A, checked on the wire (vc.oid4vci has no metadata parser)
    w3c_definition = {"type": ["VerifiableCredential", "FurusatoResidentCredential"]}
    assert configs[LDP]["format"] == "ldp_vc"
    assert configs[LDP]["credential_definition"] == {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://w3id.org/furusato/v1"],
        **w3c_definition,
    }
    assert configs[LDP]["credential_signing_alg_values_supported"] == ["eddsa-rdfc-2022"]
    assert configs[JWT]["format"] == "jwt_vc_json"
    assert configs[JWT]["credential_definition"] == w3c_definition  # type only, no @context
    assert configs[JWT]["credential_signing_alg_values_supported"] == ["EdDSA", "ES256"]
    assert configs[JWT]["cryptographic_binding_methods_supported"] == ["did:key", "jwk"]
    assert configs[SD_JWT]["format"] == "dc+sd-jwt"
    assert configs[SD_JWT]["vct"] == "https://w3id.org/furusato/resident"
    assert "credential_definition" not in configs[SD_JWT]
    assert configs[SD_JWT]["credential_signing_alg_values_supported"] == ["EdDSA", "ES256"]
    assert configs[SD_JWT]["cryptographic_binding_methods_supported"] == ["jwk"]
    assert claim_paths(outside, SD_JWT) == [
        ["registrationTier"],
        ["municipality", "name"],
        ["municipality", "prefecture"],
        ["registeredSince"],
    ]
    for config in configs.values():
        # binding methods ⇒ the jwt proof type with its algorithms (§12.2.4)
        assert config["proof_types_supported"] == {
            "jwt": {"proof_signing_alg_values_supported": ["EdDSA", "ES256"]}
        }
        display = config["credential_metadata"]["display"]
        assert [d["locale"] for d in display] == ["ja", "en"]
        assert display[0]["name"] == "ふるさと住民登録証"
        for claim in config["credential_metadata"]["claims"]:
            assert claim["path"]
            assert all(isinstance(p, str) for p in claim["path"])
            assert claim["mandatory"] is True
            assert [d["locale"] for d in claim["display"]] == ["ja", "en"]


# --------------------------------------------------------------------------- premium


def test_a_premium_offer_keeps_its_checks_in_every_format(premium: PremiumWorld) -> None:
    """The premium credential goes to the key that applied, as SD-JWT VC too; issuing it
    activates the membership and revokes the basic credential it replaces."""
    resident = Registrant.register(premium.url, LG)  # the real wallet: the first, ldp_vc
    assert "proof" in resident.credential
    three_checkins(premium, resident)
    application = apply(resident)
    prove_with_oidc(application["identityUrl"], "ichiro")
    assert approve(premium, LG, application).status_code == 200
    offer_uri = resident.status(application).json()["offerUri"]
    with httpx.Client(base_url=premium.url, timeout=30) as http:
        offer = wallet_sim.fetch_offer(http, offer_uri)
        assert offer.credential_configuration_ids == (LDP, JWT, SD_JWT)
        for config_id in (JWT, SD_JWT):  # another key: refused, whatever the format
            token = wallet_sim.redeem(http, offer)
            refused = wallet_sim.request_credential(
                http, offer, token, holder_key(), configuration_id=config_id
            )
            assert refused.status_code == 403, refused.text
            assert refused.json()["code"] == "holder_mismatch"
        token = wallet_sim.redeem(http, offer)
        response = wallet_sim.request_credential(
            http, offer, token, resident.holder, configuration_id=SD_JWT, proof_key_as="jwk"
        )
    assert response.status_code == 200, response.text
    sd_jwt = response.json()["credentials"][0]["credential"]
    with httpx.Client(timeout=30) as http:
        outside = Outside(premium.live, http)
        claims = verify_sd_jwt(
            sd_jwt, issuer_key=outside.sd_jwt_issuer_key, now=datetime.now(UTC)
        ).processed_claims
    assert claims["registrationTier"] == "premium"
    assert claims["cnf"] == {"jwk": resident.holder.public_key.to_jwk()}
    with premium.world.svc.db.read() as session:
        membership = session.execute(
            select(PremiumMembership).where(PremiumMembership.lg_code == LG)
        ).scalar_one()
        assert (membership.credential_id, membership.state) == (claims["jti"], "active")
        row = session.get(IssuedCredential, (LG, claims["jti"]))
        assert row is not None
        assert (row.format, row.tier) == ("dc+sd-jwt", "premium")
        replaced = session.get(IssuedCredential, (LG, resident.credential["id"]))
        assert replaced is not None
        assert replaced.state == "revoked"


# --------------------------------------------------------------------------- storage


def _alembic(database: Database, action: str, revision: str) -> None:
    """``alembic upgrade|downgrade <revision>`` on ``database``, as issuer.db.migrate runs it."""
    from importlib import resources

    config = Config()
    config.set_main_option("script_location", str(resources.files("issuer").joinpath("migrations")))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)
        connection.commit()


def test_migration_0003_adds_the_format_of_existing_credentials(database_url: str) -> None:
    """Rows written before 0003 are ldp_vc; 0003 cannot be undone over a compact credential."""
    database = Database(database_url)
    try:
        migrate(database)
        _alembic(database, "downgrade", "0002")
        now = datetime(2027, 3, 1, tzinfo=UTC)
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO tenants (lg_code, name, prefecture, prefecture_code, did,"
                    " did_method, public_url, created_at, settings) VALUES ('015814', '厚真町',"
                    " '北海道', '010006', 'did:web:example.jp:lg:015814', 'web',"
                    " 'https://example.jp', :now, '{}')"
                ),
                {"now": now.replace(tzinfo=None)},
            )
            connection.execute(
                text(
                    "INSERT INTO credentials (lg_code, credential_id, state, source, key_id,"
                    " issued_at, document) VALUES ('015814', 'urn:uuid:old', 'active', 'oid4vci',"
                    " 'key-1', :now, '{\"id\": \"urn:uuid:old\"}')"
                ),
                {"now": now.replace(tzinfo=None)},
            )
        migrate(database)
        with database.read() as session:
            old = session.get(IssuedCredential, ("015814", "urn:uuid:old"))
            assert old is not None
            assert old.format == "ldp_vc"
            assert old.as_issued() == {"id": "urn:uuid:old"}
        with database.transaction() as session:
            session.add(
                IssuedCredential(
                    lg_code="015814",
                    credential_id="urn:uuid:new",
                    state="active",
                    source="oid4vci",
                    key_id="key-1",
                    issued_at=now + timedelta(seconds=1),
                    format="dc+sd-jwt",
                    document="eyJ.eyJ.sig~",
                )
            )
        with pytest.raises(RuntimeError, match="cannot hold them"):
            _alembic(database, "downgrade", "0002")
        with database.read() as session:  # nothing changed
            new = session.get(IssuedCredential, ("015814", "urn:uuid:new"))
            assert new is not None
            assert new.as_issued() == "eyJ.eyJ.sig~"
        with database.transaction() as session:
            session.execute(text("DELETE FROM credentials WHERE credential_id = 'urn:uuid:new'"))
        _alembic(database, "downgrade", "0002")
        _alembic(database, "upgrade", "head")
    finally:
        database.dispose()
