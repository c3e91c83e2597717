"""A minimal OID4VCI wallet for the issuer's tests (the real one is wallet_cli): follows an
offer URI through metadata, token, nonce and credential endpoints with a holder key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from did.key import did_key_verification_method_id
from did.keys import PrivateKey
from vc import oid4vci


@dataclass
class Received:
    credential: dict[str, Any]
    token: str
    offer: oid4vci.CredentialOffer


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
) -> httpx.Response:
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
        kid=did_key_verification_method_id(key.public_key),
    )
    return http.post(
        metadata["credential_endpoint"],
        json={
            "credential_configuration_id": offer.credential_configuration_ids[0],
            "proofs": {"jwt": [proof]},
        },
        headers={"Authorization": f"Bearer {token}"},
    )


def receive(
    http: httpx.Client, offer_uri: str, key: PrivateKey, tx_code: str | None = None
) -> Received:
    offer = fetch_offer(http, offer_uri)
    token = redeem(http, offer, tx_code)
    response = request_credential(http, offer, token, key)
    assert response.status_code == 200, response.text
    credential: dict[str, Any] = response.json()["credentials"][0]["credential"]
    return Received(credential, token, offer)
