"""``furusato-wallet respond`` against the scanner's OpenID4VP endpoints, over real HTTP.

The scanner app (synced cache) creates a request as the nursery's page does; the wallet CLI
answers it: JSON-LD by default, SD-JWT VC with only the claims asked for, a replay refused,
a request the wallet cannot answer, a request that is not one.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.cli.helpers import assert_one_line_error
from tests.issuer.conftest import AppServer
from tests.verifier.conftest import Site
from tests.wallet.helpers import HTTP_TIMEOUT, LG, expect, registration_offer

Scanner = tuple[Site, AppServer]


def create(server: AppServer, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/oid4vp/requests", json=body, timeout=HTTP_TIMEOUT)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def result(server: AppServer, created: dict[str, Any]) -> dict[str, Any]:
    response = httpx.get(server.url + created["statusUrl"], timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_respond_with_the_registration(scanner: Scanner) -> None:
    site, server = scanner
    created = create(server)
    out = site.setup.wallet.ok("--lang", "en", "respond", created["uri"], "--yes")
    assert "the verifier accepted it" in out
    assert result(server, created)["status"] == "verified"
    # the same request answered again: the verifier takes one response per request
    again = site.setup.wallet("respond", created["uri"], "--yes")
    expect(again, 1)
    assert_one_line_error(again.stderr, contains=["oid4vp_response_used"])


def test_respond_with_an_sd_jwt_discloses_only_what_is_asked(scanner: Scanner) -> None:
    site, server = scanner
    wallet = site.setup.wallet
    wallet.ok("receive", registration_offer(site.live, LG)["offerUri"], "--format", "sd-jwt")
    created = create(server, {"formats": ["dc+sd-jwt"], "claims": [["registrationTier"]]})
    out = wallet.ok("respond", created["uri"], "--yes")
    assert "registrationTier" in out  # what is shared is said before sending
    answer = result(server, created)
    assert answer["status"] == "verified", answer
    (credential,) = answer["result"]["credentials"]
    # registeredSince is selectively disclosable and was not asked for: it stayed home
    assert credential["claims"]["registrationTier"] == "basic"
    assert "registeredSince" not in credential["claims"]


def test_a_request_the_wallet_cannot_answer(scanner: Scanner) -> None:
    site, server = scanner
    created = create(server, {"formats": ["jwt_vc_json"]})
    refused = site.setup.wallet("respond", created["uri"], "--yes")
    expect(refused, 1)
    assert_one_line_error(refused.stderr, contains=["no credential"])
    assert result(server, created)["status"] == "pending"


def test_not_a_request(scanner: Scanner) -> None:
    site, _ = scanner
    refused = site.setup.wallet("respond", "openid4vp://?client_id=x", "--yes")
    expect(refused, 2)
    assert_one_line_error(refused.stderr, contains=["oid4vp_"])
