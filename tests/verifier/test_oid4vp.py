"""OpenID4VP 1.0 end to end over real HTTP on loopback (docs/oid4vp.md).

The scanner app (``furusato-verifier serve``) runs on uvicorn with a synced cache; the wallet
side is written here with :mod:`vc.oid4vp`'s helpers: the page creates a request, the wallet
parses its ``openid4vp://`` URI, answers with only the requested disclosures in a
``direct_post``, and the page reads the result.  Replays, presentations bound to another
nonce or client_id, and unknown states are refused.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.issuer.conftest import AppServer
from tests.verifier.conftest import Site, municipality_key, sd_jwt_claims_of
from tests.wallet.helpers import HTTP_TIMEOUT, LG
from vc import jose, oid4vp, sdjwt
from vc.dates import parse_datetime
from vc.formats import DC_SD_JWT, JWT_VC_JSON, LDP_VC

Doc = dict[str, Any]


def sd_jwt_of(site: Site, disclosable: list[str]) -> str:
    """The basic credential of 015814 as an SD-JWT VC (no KB-JWT), signed by 厚真町's key."""
    stored = site.setup.basic
    claims = sd_jwt_claims_of(stored.credential, site.setup.holder_key(stored))
    key = municipality_key(site)
    return sdjwt.issue_sd_jwt(
        claims,
        key.signer,
        kid=key.verification_method,
        disclosable=disclosable,
        random_bytes=secrets.token_bytes,
    )


def vc_jwt_of(site: Site) -> str:
    credential = {k: v for k, v in site.setup.basic.credential.items() if k != "proof"}
    key = municipality_key(site)
    signed_at = parse_datetime(credential["validFrom"], "validFrom")
    return jose.sign_vc_jwt(
        credential, key.signer, kid=key.verification_method, issued_at=signed_at
    )


def create(server: AppServer, body: Doc | None = None) -> tuple[Doc, oid4vp.AuthorizationRequest]:
    response = httpx.post(f"{server.url}/oid4vp/requests", json=body, timeout=HTTP_TIMEOUT)
    assert response.status_code == 201, response.text
    created: Doc = response.json()
    assert created["qr"].startswith("data:image/png;base64,")
    request = oid4vp.parse_request_uri(created["uri"], unsafe_allow_http_loopback=True)
    assert request.response_uri == f"{server.url}/oid4vp/response"
    assert request.client_id == "redirect_uri:" + request.response_uri
    return created, request


def post(request: oid4vp.AuthorizationRequest, form: dict[str, str]) -> httpx.Response:
    return httpx.post(request.response_uri, data=form, timeout=HTTP_TIMEOUT)


def status(server: AppServer, created: Doc) -> Doc:
    response = httpx.get(server.url + created["statusUrl"], timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    answer: Doc = response.json()
    return answer


def answer(
    site: Site,
    request: oid4vp.AuthorizationRequest,
    fmt: str,
    credential: str | Doc,
    *,
    bound_to: oid4vp.AuthorizationRequest | None = None,
) -> dict[str, str]:
    """What the wallet posts: the matching credential presented with only what was asked."""
    candidates = [oid4vp.candidate("stored", fmt, credential)]
    matches = oid4vp.match_dcql(request.dcql_query, candidates)
    (query_id, found), *_ = [(q, m) for q, m in matches.items() if m]
    holder = site.setup.holder_key(site.setup.basic)
    presentation = oid4vp.present_for_request(
        bound_to or request,
        fmt,
        credential,
        holder,
        disclose=found[0].disclose,
        now=datetime.now(UTC),
    )
    return oid4vp.build_vp_token(request, {query_id: [presentation]})


def test_sd_jwt_with_only_the_requested_claims(scanner: tuple[Site, AppServer]) -> None:
    site, server = scanner
    sd_jwt = sd_jwt_of(site, ["registrationTier", "registeredSince", "municipality"])

    # only the tier: the name-less (municipality-less) credential still verifies
    created, request = create(server, {"formats": [DC_SD_JWT], "claims": [["registrationTier"]]})
    assert status(server, created)["status"] == "pending"
    form = answer(site, request, DC_SD_JWT, sd_jwt)
    response = post(request, form)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {}
    result = status(server, created)
    assert result["status"] == "verified", result
    (credential,) = result["result"]["credentials"]
    assert credential["format"] == DC_SD_JWT
    assert credential["claims"] == {"registrationTier": "basic"}

    # replay: the same response again
    again = post(request, form)
    assert again.status_code == 400
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "oid4vp_response_used"

    # the default request: tier and lgCode → the municipality disclosure, not registeredSince
    created, request = create(server, {"formats": [DC_SD_JWT]})
    response = post(request, answer(site, request, DC_SD_JWT, sd_jwt))
    assert response.status_code == 200, response.text
    result = status(server, created)
    (credential,) = result["result"]["credentials"]
    assert set(credential["claims"]) == {"registrationTier", "municipality"}
    assert credential["claims"]["municipality"]["lgCode"] == LG
    assert credential["summary"]["lgCode"] == LG


def test_ldp_vc_and_jwt_vc_json(scanner: tuple[Site, AppServer]) -> None:
    site, server = scanner
    created, request = create(server)  # all three formats, any one of them
    assert len(request.query_ids()) == 3
    response = post(request, answer(site, request, LDP_VC, dict(site.setup.basic.credential)))
    assert response.status_code == 200, response.text
    result = status(server, created)
    assert result["status"] == "verified", result
    assert result["result"]["credentials"][0]["format"] == LDP_VC
    assert result["result"]["credentials"][0]["claims"]["registrationTier"] == "basic"

    created, request = create(server, {"formats": [JWT_VC_JSON]})
    response = post(request, answer(site, request, JWT_VC_JSON, vc_jwt_of(site)))
    assert response.status_code == 200, response.text
    result = status(server, created)
    assert result["status"] == "verified", result
    assert result["result"]["credentials"][0]["format"] == JWT_VC_JSON


def test_bound_to_another_nonce_or_client_id(scanner: tuple[Site, AppServer]) -> None:
    site, server = scanner
    sd_jwt = sd_jwt_of(site, ["registrationTier"])
    cases: dict[str, Callable[[oid4vp.AuthorizationRequest], oid4vp.AuthorizationRequest]] = {
        "challenge_mismatch": lambda r: dataclasses.replace(r, nonce="A" * 43),
        "domain_mismatch": lambda r: dataclasses.replace(
            r, response_uri="https://elsewhere.example/oid4vp/response"
        ),
    }
    for code, other in cases.items():
        for fmt, credential in (
            (DC_SD_JWT, sd_jwt),
            (LDP_VC, dict(site.setup.basic.credential)),
            (JWT_VC_JSON, vc_jwt_of(site)),
        ):
            created, request = create(server, {"formats": [fmt]})
            form = answer(site, request, fmt, credential, bound_to=other(request))
            response = post(request, form)
            assert response.status_code == 400, (code, fmt, response.text)
            problem = response.json()
            assert problem["code"] == "oid4vp_presentation_refused"
            assert code in problem["codes"], (code, fmt, problem["codes"])
            result = status(server, created)
            assert result["status"] == "not_verified"
            assert code in result["result"]["codes"]
            # the transaction is used up: a correct answer now is a replay
            retry = post(request, answer(site, request, fmt, credential))
            assert retry.json()["code"] == "oid4vp_response_used"


def test_unknown_state_and_malformed_responses(scanner: tuple[Site, AppServer]) -> None:
    site, server = scanner
    sd_jwt = sd_jwt_of(site, ["registrationTier"])
    created, request = create(server, {"formats": [DC_SD_JWT]})
    form = answer(site, request, DC_SD_JWT, sd_jwt)
    response = post(request, {**form, "state": "not-a-state-we-made"})
    assert response.status_code == 400
    assert response.json()["code"] == "oid4vp_state_unknown"
    response = post(request, {"vp_token": form["vp_token"]})
    assert response.json()["code"] == "oid4vp_state_unknown"
    response = post(request, {**form, "vp_token": "[]"})
    assert response.json()["code"] == "oid4vp_vp_token_invalid"
    response = post(request, {"error": "access_denied", "state": form["state"]})
    assert response.json()["code"] == "oid4vp_wallet_error"
    response = httpx.post(request.response_uri, json=form, timeout=HTTP_TIMEOUT)
    assert response.status_code == 415
    # none of these used the transaction up
    assert status(server, created)["status"] == "pending"
    assert post(request, form).status_code == 200
    missing = httpx.get(f"{server.url}/oid4vp/requests/nope", timeout=HTTP_TIMEOUT)
    assert missing.status_code == 400
    assert missing.json()["code"] == "oid4vp_transaction_unknown"


def test_the_page(scanner: tuple[Site, AppServer]) -> None:
    _, server = scanner
    page = httpx.get(f"{server.url}/oid4vp", timeout=HTTP_TIMEOUT)
    assert page.status_code == 200
    assert "提示を依頼する" in page.text
    assert "/static/oid4vp.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = httpx.get(f"{server.url}/static/oid4vp.js", timeout=HTTP_TIMEOUT)
    assert script.status_code == 200
    # the nursery's choice: name and birth date too (the body the page's script sends)
    assert '<input type="checkbox" id="oid4vp-person">' in page.text
    assert "氏名と生年月日も求める" in page.text
    assert '["name"], ["birthDate"]' in script.text
    body = {
        "formats": ["dc+sd-jwt"],
        "claims": [["registrationTier"], ["municipality", "lgCode"], ["name"], ["birthDate"]],
    }
    _, request = create(server, body)
    (query,) = request.dcql_query["credentials"]
    assert query["format"] == "dc+sd-jwt"
    assert [c["path"] for c in query["claims"]] == body["claims"]
