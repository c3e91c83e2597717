"""A minimal OID4VCI wallet for the issuer's tests (the real one is wallet_cli): follows an
offer URI through metadata, token, nonce and credential endpoints with a holder key.

Like the real wallet it asks for the offer's first configuration unless told which one; the
credential comes back as OID4VCI §8.3 has it, a JSON object (``ldp_vc``) or a string
(``jwt_vc_json``, ``dc+sd-jwt``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from did.key import did_key_verification_method_id
from did.keys import PrivateKey
from vc import oid4vci


@dataclass
class Received:
    issued: dict[str, Any] | str  # credentials[0].credential, as received
    token: str
    offer: oid4vci.CredentialOffer
    configuration_id: str

    @property
    def credential(self) -> dict[str, Any]:
        """The ``ldp_vc`` credential (a JSON object)."""
        assert isinstance(self.issued, dict), f"{self.configuration_id} gave a string"
        return self.issued

    @property
    def compact(self) -> str:
        """The ``jwt_vc_json`` / ``dc+sd-jwt`` credential (a compact string)."""
        assert isinstance(self.issued, str), f"{self.configuration_id} gave an object"
        return self.issued


def fetch_offer(http: httpx.Client, offer_uri: str) -> oid4vci.CredentialOffer:
    offer, reference = oid4vci.parse_offer_uri(offer_uri, unsafe_allow_http_localhost=True)
    if offer is None:
        assert reference is not None
        response = http.get(reference)
        response.raise_for_status()
        offer = oid4vci.parse_credential_offer(response.json(), unsafe_allow_http_localhost=True)
    return offer


def redeem(http: httpx.Client, offer: oid4vci.CredentialOffer, tx_code: str | None = None) -> str:
    metadata = http.get(
        oid4vci.well_known_url(
            offer.credential_issuer, "oauth-authorization-server", unsafe_allow_http_localhost=True
        )
    ).json()
    form = {
        "grant_type": oid4vci.PRE_AUTHORIZED_GRANT_TYPE,
        "pre-authorized_code": offer.pre_authorized_code,
    }
    if tx_code is not None:
        form["tx_code"] = tx_code
    response = http.post(metadata["token_endpoint"], data=form)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def request_credential(
    http: httpx.Client,
    offer: oid4vci.CredentialOffer,
    token: str,
    key: PrivateKey,
    *,
    now: datetime | None = None,
    nonce: str | None = None,
    audience: str | None = None,
    configuration_id: str | None = None,
    proof_key_as: Literal["kid", "jwk"] = "kid",
) -> httpx.Response:
    """POST the credential request; ``proof_key_as`` names the key in the proof's header by
    ``kid`` (its did:key) or ``jwk``."""
    metadata = http.get(
        oid4vci.well_known_url(offer.credential_issuer, unsafe_allow_http_localhost=True)
    ).json()
    if nonce is None:
        nonce = http.post(metadata["nonce_endpoint"]).json()["c_nonce"]
    proof = oid4vci.create_key_proof(
        key,
        audience=audience or offer.credential_issuer,
        nonce=nonce,
        issued_at=now or datetime.now(UTC),
        kid=did_key_verification_method_id(key.public_key) if proof_key_as == "kid" else None,
    )
    return http.post(
        metadata["credential_endpoint"],
        json={
            "credential_configuration_id": configuration_id
            or offer.credential_configuration_ids[0],
            "proofs": {"jwt": [proof]},
        },
        headers={"Authorization": f"Bearer {token}"},
    )


def receive(
    http: httpx.Client,
    offer_uri: str,
    key: PrivateKey,
    tx_code: str | None = None,
    *,
    configuration_id: str | None = None,
    proof_key_as: Literal["kid", "jwk"] = "kid",
) -> Received:
    offer = fetch_offer(http, offer_uri)
    token = redeem(http, offer, tx_code)
    chosen = configuration_id or offer.credential_configuration_ids[0]
    response = request_credential(
        http, offer, token, key, configuration_id=chosen, proof_key_as=proof_key_as
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"credentials"}, body
    (entry,) = body["credentials"]
    issued = entry["credential"]
    assert isinstance(issued, dict | str), issued
    return Received(issued, token, offer, chosen)
