"""The OpenID Connect relying party (issuer.identity.oidc) against a real local provider.

The provider (tests/premium/oidc_provider.py: authlib's grant classes behind uvicorn on
127.0.0.1) runs for the module; each test gets it reset.  The browser's part — following the
authorization URL, logging in, catching the redirect back — is done with httpx, so every step
of the authorization code flow crosses real HTTP.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from issuer.identity import IdentityError, ProvenIdentity
from issuer.identity.oidc import (
    AUDIENCE_MISMATCH,
    CLAIMS_MISSING,
    ID_TOKEN_EXPIRED,
    ID_TOKEN_INVALID,
    ISSUER_MISMATCH,
    NONCE_MISMATCH,
    PROVIDER_UNREACHABLE,
    STATE_MISMATCH,
    TOKEN_REQUEST_FAILED,
    AuthRequest,
    HttpResponse,
    HttpTransport,
    HttpxTransport,
    OidcError,
    OidcProviderConfig,
    OidcRelyingParty,
    s256_challenge,
)
from tests.issuer.conftest import free_port
from tests.premium.oidc_provider import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
    REDIRECT_URI,
    USERS,
    LocalOidcProvider,
    Misbehaviour,
    TestUser,
)

ADULTS = ("hanako", "ichiro", "misaki")
MINOR = "shota"


def _personal_values(user: TestUser) -> set[str]:
    values = {user.name, *user.name.split(), user.birthdate, user.expected_address, user.sub}
    if isinstance(user.address, dict):
        values |= {value for key, value in user.address.items() if key != "country"}
    return values


#: Everything personal the provider knows: none of it may appear in an error, repr or log.
PERSONAL = sorted(set().union(*(_personal_values(user) for user in USERS.values())))


def assert_nothing_personal(*texts: str) -> None:
    for text in texts:
        for value in PERSONAL:
            assert value not in text, f"personal data {value!r} leaked"


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def running_provider() -> Iterator[LocalOidcProvider]:
    with LocalOidcProvider() as provider:
        yield provider


@pytest.fixture
def provider(running_provider: LocalOidcProvider) -> LocalOidcProvider:
    running_provider.reset()
    return running_provider


def config_for(
    provider: LocalOidcProvider, *, public: bool = False, **changes: Any
) -> OidcProviderConfig:
    base = OidcProviderConfig(
        issuer=provider.issuer,
        client_id=PUBLIC_CLIENT_ID if public else CONFIDENTIAL_CLIENT_ID,
        client_secret=None if public else CONFIDENTIAL_CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
    )
    return dataclasses.replace(base, **changes)


class RecordingTransport(HttpxTransport):
    """The default transport, remembering every URL it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def get(self, url: str, *, max_bytes: int) -> HttpResponse:
        self.urls.append(url)
        return super().get(url, max_bytes=max_bytes)

    def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str], max_bytes: int
    ) -> HttpResponse:
        self.urls.append(url)
        return super().post_form(url, form, headers=headers, max_bytes=max_bytes)


MakeRP = Callable[..., OidcRelyingParty]


@pytest.fixture
def make_rp(provider: LocalOidcProvider) -> Iterator[MakeRP]:
    """``make_rp(public=..., transport=..., **config_changes)``; closed after the test."""
    made: list[OidcRelyingParty] = []

    def make(
        *, public: bool = False, transport: HttpTransport | None = None, **changes: Any
    ) -> OidcRelyingParty:
        made.append(OidcRelyingParty(config_for(provider, public=public, **changes), transport))
        return made[-1]

    yield make
    for relying_party in made:
        relying_party.close()


@pytest.fixture
def rp(make_rp: MakeRP) -> OidcRelyingParty:
    return make_rp()


def browse(authorization_url: str, login: str) -> tuple[str, str]:
    """The browser: open the authorization URL as ``login`` and catch the redirect back."""
    separator = "&" if "?" in authorization_url else "?"
    url = authorization_url + separator + urlencode({"login_hint": login})
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return callback_params(response.headers["location"])


def callback_params(location: str) -> tuple[str, str]:
    assert location.startswith(REDIRECT_URI + "?")
    params = parse_qs(urlsplit(location).query)
    assert "error" not in params, params
    return params["code"][0], params["state"][0]


def now() -> datetime:
    return datetime.now(UTC)


def log_in(rp: OidcRelyingParty, login: str, at: datetime | None = None) -> ProvenIdentity:
    at = at or now()
    request = rp.start(at)
    code, state = browse(request.authorization_url, login)
    return rp.finish(request, code, state, at)


def refusal(rp: OidcRelyingParty, login: str = "hanako", at: datetime | None = None) -> OidcError:
    with pytest.raises(OidcError) as caught:
        log_in(rp, login, at)
    error = caught.value
    assert isinstance(error, IdentityError)
    assert error.message_en
    assert error.message_ja
    assert error.message_en != error.message_ja
    assert_nothing_personal(error.message_en, error.message_ja, str(error), repr(error))
    return error


# --- the happy path ---------------------------------------------------------------------------


def expected_identity(user: TestUser) -> ProvenIdentity:
    return ProvenIdentity(
        method="oidc",
        name=user.name,
        birth_date=date.fromisoformat(user.birthdate),
        address=user.expected_address,
        gender=user.gender,
    )


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
@pytest.mark.parametrize("login", [*ADULTS, MINOR])
def test_login_proves_identity(make_rp: MakeRP, login: str, public: bool) -> None:
    identity = log_in(make_rp(public=public), login)
    assert identity == expected_identity(USERS[login])
    assert repr(identity) == "ProvenIdentity(method='oidc')"
    assert_nothing_personal(repr(identity), str(identity))


def test_minor_is_proven_with_the_birth_date_given(rp: OidcRelyingParty) -> None:
    """Age rules are the issuer's business; the RP reports the proven birth date as is."""
    assert log_in(rp, MINOR).birth_date == date(2015, 6, 1)


def test_login_through_the_login_form(provider: LocalOidcProvider, rp: OidcRelyingParty) -> None:
    """Without login_hint the provider shows its login page; submitting it logs in."""
    at = now()
    request = rp.start(at)
    page = httpx.get(request.authorization_url, follow_redirects=False)
    assert page.status_code == 200
    assert "<form" in page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    fields = {name: value.replace("&amp;", "&") for name, value in fields.items()}
    assert set(USERS) <= set(re.findall(r'<option value="([^"]+)">', page.text))
    answer = httpx.post(f"{provider.issuer}/authorize", data={**fields, "login_hint": "misaki"})
    assert answer.status_code == 302
    code, state = callback_params(answer.headers["location"])
    assert rp.finish(request, code, state, at) == expected_identity(USERS["misaki"])


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_ec_and_eddsa_signed_tokens(
    provider: LocalOidcProvider, rp: OidcRelyingParty, alg: Any
) -> None:
    provider.alg = alg
    assert log_in(rp, "ichiro") == expected_identity(USERS["ichiro"])


def test_several_audiences_with_our_azp(provider: LocalOidcProvider, rp: OidcRelyingParty) -> None:
    provider.misbehaviour.audience = [CONFIDENTIAL_CLIENT_ID, "another-client"]
    provider.misbehaviour.azp = CONFIDENTIAL_CLIENT_ID
    assert log_in(rp, "hanako").name == USERS["hanako"].name


# --- the authorization request and PKCE --------------------------------------------------------


def test_authorization_url_carries_pkce_state_and_nonce(rp: OidcRelyingParty) -> None:
    at = now()
    request = rp.start(at)
    params = {k: v[0] for k, v in parse_qs(urlsplit(request.authorization_url).query).items()}
    assert params["response_type"] == "code"
    assert params["client_id"] == CONFIDENTIAL_CLIENT_ID
    assert params["redirect_uri"] == REDIRECT_URI
    assert params["scope"] == "openid profile address"
    assert params["state"] == request.state
    assert params["nonce"] == request.nonce
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == s256_challenge(request.code_verifier)
    assert "code_verifier" not in params
    assert 43 <= len(request.code_verifier) <= 128
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", request.code_verifier)
    other = rp.start(at)
    assert {other.state, other.nonce, other.code_verifier}.isdisjoint(
        {request.state, request.nonce, request.code_verifier}
    )


def test_rfc7636_appendix_b_challenge() -> None:
    """RFC 7636 Appendix B: the S256 example."""
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_token_request_sends_the_verifier(
    provider: LocalOidcProvider, make_rp: MakeRP, public: bool
) -> None:
    relying_party = make_rp(public=public)
    at = now()
    request = relying_party.start(at)
    code, state = browse(request.authorization_url, "ichiro")
    relying_party.finish(request, code, state, at)
    [(form, basic)] = provider.token_forms
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == code
    assert form["redirect_uri"] == REDIRECT_URI
    assert form["code_verifier"] == request.code_verifier
    assert "client_secret" not in form
    assert basic is not public
    assert ("client_id" in form) is public


def test_provider_refuses_a_wrong_verifier(
    provider: LocalOidcProvider, rp: OidcRelyingParty
) -> None:
    """PKCE is enforced by the provider: the code alone is worth nothing."""
    at = now()
    request = rp.start(at)
    code, _ = browse(request.authorization_url, "hanako")
    answer = httpx.post(
        f"{provider.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "x" * 64,
        },
        auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_a_stolen_code_with_another_verifier_is_refused(rp: OidcRelyingParty) -> None:
    at = now()
    request = rp.start(at)
    code, state = browse(request.authorization_url, "hanako")
    forged = dataclasses.replace(request, code_verifier=rp.start(at).code_verifier)
    with pytest.raises(OidcError) as caught:
        rp.finish(forged, code, state, at)
    assert caught.value.code == TOKEN_REQUEST_FAILED
    assert "invalid_grant" in caught.value.message_en


def authorize_params(**changes: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CONFIDENTIAL_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile address",
        "state": "s" * 43,
        "nonce": "n" * 43,
        "code_challenge": s256_challenge("v" * 64),
        "code_challenge_method": "S256",
        "login_hint": "hanako",
    }
    params.update(changes)
    return {key: value for key, value in params.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain", "code_challenge": "v" * 64}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
    ids=["no-pkce", "no-method", "plain", "no-nonce", "implicit"],
)
def test_provider_refuses_bad_authorization_requests_by_redirect(
    provider: LocalOidcProvider, changes: dict[str, str | None], error: str
) -> None:
    answer = httpx.get(f"{provider.issuer}/authorize", params=authorize_params(**changes))
    assert answer.status_code == 302
    params = parse_qs(urlsplit(answer.headers["location"]).query)
    assert params["error"] == [error]
    assert "code" not in params


@pytest.mark.parametrize(
    "changes",
    [
        {"client_id": "stranger"},
        {"client_id": None},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT_URI + "/x"},
        {"redirect_uri": None},
    ],
    ids=["unknown-client", "no-client", "foreign-redirect", "longer-redirect", "no-redirect"],
)
def test_provider_never_redirects_to_an_unchecked_uri(
    provider: LocalOidcProvider, changes: dict[str, str | None]
) -> None:
    answer = httpx.get(f"{provider.issuer}/authorize", params=authorize_params(**changes))
    assert answer.status_code in (400, 401)
    assert "location" not in answer.headers


def test_provider_refuses_a_wrong_client_secret(make_rp: MakeRP) -> None:
    error = refusal(make_rp(client_secret="not-the-secret"))
    assert error.code == TOKEN_REQUEST_FAILED
    assert "invalid_client" in error.message_en


# --- codes and state ---------------------------------------------------------------------------


def test_replayed_code_is_refused(provider: LocalOidcProvider, rp: OidcRelyingParty) -> None:
    at = now()
    request = rp.start(at)
    code, state = browse(request.authorization_url, "ichiro")
    rp.finish(request, code, state, at)
    with pytest.raises(OidcError) as caught:
        rp.finish(request, code, state, at)
    assert caught.value.code == TOKEN_REQUEST_FAILED
    assert "invalid_grant" in caught.value.message_en
    assert provider.token_requests == 2


def test_state_mismatch(provider: LocalOidcProvider, rp: OidcRelyingParty) -> None:
    at = now()
    request, other = rp.start(at), rp.start(at)
    code, state = browse(request.authorization_url, "hanako")
    for wrong_state in (other.state, state + "x", state[:-1], "", "ä" * 10, "x" * 10_000):
        with pytest.raises(OidcError) as caught:
            rp.finish(request, code, wrong_state, at)
        assert caught.value.code == STATE_MISMATCH
        assert_nothing_personal(caught.value.message_en, caught.value.message_ja)
    assert provider.token_requests == 0  # refused before the code was spent
    assert rp.finish(request, code, state, at).name == USERS["hanako"].name


def test_code_injected_into_another_login_attempt(
    provider: LocalOidcProvider, rp: OidcRelyingParty
) -> None:
    """A code from one attempt, replayed within another (with that one's state): PKCE and
    the provider make the exchange fail."""
    at = now()
    victim, attacker = rp.start(at), rp.start(at)
    code, _ = browse(attacker.authorization_url, "ichiro")
    with pytest.raises(OidcError) as caught:
        rp.finish(victim, code, victim.state, at)
    assert caught.value.code == TOKEN_REQUEST_FAILED
    assert provider.token_requests == 1


def test_stale_or_foreign_login_attempt(provider: LocalOidcProvider, rp: OidcRelyingParty) -> None:
    at = now()
    request = rp.start(at)
    code, state = browse(request.authorization_url, "hanako")
    for record, when in [
        (request, at + timedelta(seconds=601)),
        (request, at - timedelta(seconds=120)),
        (dataclasses.replace(request, client_id=PUBLIC_CLIENT_ID), at),
        (dataclasses.replace(request, issuer=provider.issuer + "/"), at),
    ]:
        with pytest.raises(OidcError) as caught:
            rp.finish(record, code, state, when)
        assert caught.value.code == STATE_MISMATCH
    assert provider.token_requests == 0


def test_auth_request_survives_json_and_hides_its_secrets(rp: OidcRelyingParty) -> None:
    at = now()
    request = rp.start(at)
    stored = request.to_json()
    assert AuthRequest.from_json(stored) == request
    for secret in (request.state, request.nonce, request.code_verifier):
        assert secret not in repr(request)
    code, state = browse(request.authorization_url, "misaki")
    assert rp.finish(AuthRequest.from_json(stored), code, state, at).gender is None


@pytest.mark.parametrize(
    "garbled",
    [None, [], {}, {"v": "2"}, "text", {"v": "1", "state": "x"}],
    ids=["none", "list", "empty", "version", "string", "partial"],
)
def test_garbled_auth_request_record(garbled: Any) -> None:
    with pytest.raises(OidcError) as caught:
        AuthRequest.from_json(garbled)
    assert caught.value.code == STATE_MISMATCH


def test_naive_created_at_is_garbled(rp: OidcRelyingParty) -> None:
    record = rp.start(now()).to_json()
    record["created_at"] = "2027-03-01T09:00:00"
    with pytest.raises(OidcError) as caught:
        AuthRequest.from_json(record)
    assert caught.value.code == STATE_MISMATCH


def test_callback_iss_parameter(provider: LocalOidcProvider, rp: OidcRelyingParty) -> None:
    """RFC 9207: an iss in the callback must be the issuer (mix-up defence)."""
    at = now()
    request = rp.start(at)
    code, state = browse(request.authorization_url, "hanako")
    with pytest.raises(OidcError) as caught:
        rp.finish(request, code, state, at, iss="https://other-idp.example")
    assert caught.value.code == ISSUER_MISMATCH
    assert rp.finish(request, code, state, at, iss=provider.issuer).name == USERS["hanako"].name


def test_callback_without_iss_when_the_provider_promises_it(
    provider: LocalOidcProvider, make_rp: MakeRP
) -> None:
    provider.misbehaviour.discovery_overrides = {
        "authorization_response_iss_parameter_supported": True
    }
    error = refusal(make_rp())
    assert error.code == ISSUER_MISMATCH


# --- a misbehaving provider: one refusal code each ---------------------------------------------

FINISH_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-key", {"forgery": "unknown_key"}, ID_TOKEN_INVALID),
    ("wrong-key-same-kid", {"forgery": "wrong_key_same_kid"}, ID_TOKEN_INVALID),
    ("alg-none", {"forgery": "alg_none"}, ID_TOKEN_INVALID),
    ("hs256-with-public-key", {"forgery": "hs256_public_key"}, ID_TOKEN_INVALID),
    ("alg-kty-mismatch", {"forgery": "alg_kty_mismatch"}, ID_TOKEN_INVALID),
    ("tampered-payload", {"forgery": "tampered"}, ID_TOKEN_INVALID),
    ("not-a-jws", {"forgery": "garbage"}, ID_TOKEN_INVALID),
    ("no-sub", {"omit_claims": {"sub"}}, ID_TOKEN_INVALID),
    ("no-exp", {"omit_claims": {"exp"}}, ID_TOKEN_INVALID),
    ("string-iat", {"claim_overrides": {"iat": "yesterday"}}, ID_TOKEN_INVALID),
    ("wrong-iss", {"issuer": "https://idp.example.jp"}, ISSUER_MISMATCH),
    ("iss-with-slash", {"issuer": "{issuer}/"}, ISSUER_MISMATCH),
    ("no-iss", {"omit_claims": {"iss"}}, ISSUER_MISMATCH),
    ("wrong-aud", {"audience": "another-client"}, AUDIENCE_MISMATCH),
    ("aud-not-string", {"claim_overrides": {"aud": 7}}, AUDIENCE_MISMATCH),
    ("several-aud-no-azp", {"audience": [CONFIDENTIAL_CLIENT_ID, "x"]}, AUDIENCE_MISMATCH),
    (
        "several-aud-other-azp",
        {"audience": [CONFIDENTIAL_CLIENT_ID, "x"], "azp": "x"},
        AUDIENCE_MISMATCH,
    ),
    ("other-azp", {"azp": "another-client"}, AUDIENCE_MISMATCH),
    ("wrong-nonce", {"nonce": "n" * 43}, NONCE_MISMATCH),
    ("no-nonce", {"omit_nonce": True}, NONCE_MISMATCH),
    ("expired", {"expires_in": -3600}, ID_TOKEN_EXPIRED),
    ("issued-in-future", {"iat_offset": 3600, "expires_in": 7200}, ID_TOKEN_EXPIRED),
    ("not-before-future", {"nbf_offset": 3600}, ID_TOKEN_EXPIRED),
    ("issued-long-ago", {"iat_offset": -7200, "expires_in": 3600}, ID_TOKEN_EXPIRED),
    ("no-name", {"omit_claims": {"name"}}, CLAIMS_MISSING),
    ("empty-name", {"claim_overrides": {"name": "  "}}, CLAIMS_MISSING),
    ("no-birthdate", {"omit_claims": {"birthdate"}}, CLAIMS_MISSING),
    ("birthdate-feb-30", {"claim_overrides": {"birthdate": "2001-02-30"}}, CLAIMS_MISSING),
    ("birthdate-year-only", {"claim_overrides": {"birthdate": "1985"}}, CLAIMS_MISSING),
    ("birthdate-no-year", {"claim_overrides": {"birthdate": "0000-04-12"}}, CLAIMS_MISSING),
    ("birthdate-future", {"claim_overrides": {"birthdate": "2999-01-01"}}, CLAIMS_MISSING),
    ("birthdate-number", {"claim_overrides": {"birthdate": 19850412}}, CLAIMS_MISSING),
    ("no-address", {"omit_claims": {"address"}}, CLAIMS_MISSING),
    ("empty-address", {"claim_overrides": {"address": {"country": "JP"}}}, CLAIMS_MISSING),
    ("address-list", {"claim_overrides": {"address": ["東京都"]}}, CLAIMS_MISSING),
    ("gender-number", {"claim_overrides": {"gender": 1}}, CLAIMS_MISSING),
    ("no-id-token", {"omit_id_token": True}, TOKEN_REQUEST_FAILED),
    ("token-endpoint-down", {"token_endpoint_down": True}, TOKEN_REQUEST_FAILED),
    ("jwks-down", {"jwks_status": 500}, PROVIDER_UNREACHABLE),
]


@pytest.mark.parametrize(
    ("changes", "code"),
    [(changes, code) for _, changes, code in FINISH_REFUSALS],
    ids=[name for name, _, _ in FINISH_REFUSALS],
)
def test_misbehaving_provider_is_refused(
    provider: LocalOidcProvider, rp: OidcRelyingParty, changes: dict[str, Any], code: str
) -> None:
    changes = {
        key: value.format(issuer=provider.issuer) if isinstance(value, str) else value
        for key, value in changes.items()
    }
    provider.misbehaviour = dataclasses.replace(Misbehaviour(), **changes)
    assert refusal(rp).code == code


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_an_alg_outside_the_allow_list_is_refused(
    provider: LocalOidcProvider, make_rp: MakeRP, alg: str
) -> None:
    provider.alg = "ES256" if alg == "RS256" else "RS256"
    assert refusal(make_rp(allowed_algs=(alg,))).code == ID_TOKEN_INVALID


def test_expiry_is_checked_against_our_clock(rp: OidcRelyingParty) -> None:
    """exp is 300 s after issue; with 60 s skew, 400 s later the token is refused."""
    at = now()
    request = rp.start(at)
    code, state = browse(request.authorization_url, "hanako")
    with pytest.raises(OidcError) as caught:
        rp.finish(request, code, state, at + timedelta(seconds=400))
    assert caught.value.code == ID_TOKEN_EXPIRED


# --- discovery and keys ------------------------------------------------------------------------

START_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("other-issuer", {"discovery_issuer": "https://idp.example.jp"}, ISSUER_MISMATCH),
    ("issuer-with-slash", {"discovery_issuer": "{issuer}/"}, ISSUER_MISMATCH),
    (
        "http-token-endpoint",
        {"token_endpoint": "http://idp.example.jp/token"},
        PROVIDER_UNREACHABLE,
    ),
    ("http-jwks", {"jwks_uri": "http://10.0.0.1/jwks"}, PROVIDER_UNREACHABLE),
    (
        "http-authorize",
        {"authorization_endpoint": "http://idp.example.jp/authorize"},
        PROVIDER_UNREACHABLE,
    ),
    ("no-token-endpoint", {"token_endpoint": None}, PROVIDER_UNREACHABLE),
    ("no-s256", {"code_challenge_methods_supported": ["plain"]}, PROVIDER_UNREACHABLE),
    ("no-code-flow", {"response_types_supported": ["id_token"]}, PROVIDER_UNREACHABLE),
    ("only-hs256", {"id_token_signing_alg_values_supported": ["HS256"]}, PROVIDER_UNREACHABLE),
    ("too-large", {"padding": "x" * 70_000}, PROVIDER_UNREACHABLE),
]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [(overrides, code) for _, overrides, code in START_REFUSALS],
    ids=[name for name, _, _ in START_REFUSALS],
)
def test_unusable_discovery_is_refused(
    provider: LocalOidcProvider, make_rp: MakeRP, overrides: dict[str, Any], code: str
) -> None:
    overrides = {
        key: value.format(issuer=provider.issuer) if isinstance(value, str) else value
        for key, value in overrides.items()
    }
    issuer = overrides.pop("discovery_issuer", None)
    provider.misbehaviour.discovery_issuer = issuer
    provider.misbehaviour.discovery_overrides = overrides
    transport = RecordingTransport()
    with pytest.raises(OidcError) as caught:
        make_rp(transport=transport).start(now())
    assert caught.value.code == code
    assert transport.urls == [f"{provider.issuer}/.well-known/openid-configuration"]


def test_configured_issuer_must_match_exactly(provider: LocalOidcProvider, make_rp: MakeRP) -> None:
    """Configured with a trailing slash, discovered without: not the same issuer."""
    with pytest.raises(OidcError) as caught:
        make_rp(issuer=provider.issuer + "/").start(now())
    assert caught.value.code == ISSUER_MISMATCH


def test_redirects_are_not_followed(provider: LocalOidcProvider, rp: OidcRelyingParty) -> None:
    provider.misbehaviour.discovery_overrides = {"jwks_uri": f"{provider.issuer}/moved/jwks"}
    error = refusal(rp)
    assert error.code == PROVIDER_UNREACHABLE
    assert "HTTP 307" in error.message_en
    assert provider.jwks_requests == 0


def test_public_client_needs_a_provider_that_allows_it(
    provider: LocalOidcProvider, make_rp: MakeRP
) -> None:
    provider.misbehaviour.discovery_overrides = {
        "token_endpoint_auth_methods_supported": ["client_secret_basic"]
    }
    with pytest.raises(OidcError) as caught:
        make_rp(public=True).start(now())
    assert caught.value.code == PROVIDER_UNREACHABLE


def test_discovery_and_keys_are_cached_for_their_ttl(
    provider: LocalOidcProvider, rp: OidcRelyingParty
) -> None:
    at = now()
    for login in ADULTS:
        log_in(rp, login, at)
    assert (provider.discovery_requests, provider.jwks_requests) == (1, 1)
    provider.time_offset = 3601  # an hour later for both sides
    log_in(rp, "hanako", at + timedelta(seconds=3601))
    assert (provider.discovery_requests, provider.jwks_requests) == (2, 2)


def test_key_rotation_refetches_the_jwks_once(
    provider: LocalOidcProvider, rp: OidcRelyingParty
) -> None:
    at = now()
    log_in(rp, "hanako", at)
    assert provider.jwks_requests == 1
    provider.rotate_keys()
    identity = log_in(rp, "ichiro", at + timedelta(seconds=61))
    assert identity == expected_identity(USERS["ichiro"])
    assert provider.jwks_requests == 2
    log_in(rp, "misaki", at + timedelta(seconds=62))
    assert provider.jwks_requests == 2


def test_unknown_kid_does_not_cause_a_refetch_storm(
    provider: LocalOidcProvider, rp: OidcRelyingParty
) -> None:
    at = now()
    log_in(rp, "hanako", at)
    provider.misbehaviour.forgery = "unknown_key"
    later = at + timedelta(seconds=61)
    for second in range(6):
        assert refusal(rp, at=later + timedelta(seconds=second)).code == ID_TOKEN_INVALID
    assert provider.jwks_requests == 2  # the first load and one refetch, not seven
    assert refusal(rp, at=later + timedelta(seconds=61)).code == ID_TOKEN_INVALID
    assert provider.jwks_requests == 3  # one more once the minimum interval has passed


def test_a_known_kid_with_a_bad_signature_is_no_reason_to_refetch(
    provider: LocalOidcProvider, rp: OidcRelyingParty
) -> None:
    at = now()
    log_in(rp, "hanako", at)
    provider.misbehaviour.forgery = "wrong_key_same_kid"
    assert refusal(rp, at=at + timedelta(seconds=61)).code == ID_TOKEN_INVALID
    assert provider.jwks_requests == 1


def test_rotation_right_after_a_fetch_waits_for_the_interval(
    provider: LocalOidcProvider, rp: OidcRelyingParty
) -> None:
    """Documented trade-off: keys rotated within the interval are picked up after it."""
    at = now()
    log_in(rp, "hanako", at)
    provider.rotate_keys()
    assert refusal(rp, at=at + timedelta(seconds=10)).code == ID_TOKEN_INVALID
    assert log_in(rp, "hanako", at + timedelta(seconds=70)).name == USERS["hanako"].name


# --- transport and configuration ---------------------------------------------------------------


def test_provider_unreachable_at_start() -> None:
    config = OidcProviderConfig(
        issuer=f"http://127.0.0.1:{free_port()}",
        client_id=CONFIDENTIAL_CLIENT_ID,
        redirect_uri=REDIRECT_URI,
    )
    relying_party = OidcRelyingParty(config)
    with pytest.raises(OidcError) as caught:
        relying_party.start(now())
    relying_party.close()
    assert caught.value.code == PROVIDER_UNREACHABLE
    assert caught.value.http_status == 502


def test_provider_gone_before_the_code_exchange() -> None:
    at = now()
    with LocalOidcProvider() as gone:
        relying_party = OidcRelyingParty(config_for(gone))
        request = relying_party.start(at)
        code, state = browse(request.authorization_url, "hanako")
    with pytest.raises(OidcError) as caught:
        relying_party.finish(request, code, state, at)
    relying_party.close()
    assert caught.value.code == PROVIDER_UNREACHABLE


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example.jp",
        "https://idp.example.jp/tenant/v2",
        "http://localhost:8080",
        "http://127.0.0.1:1",
        "http://[::1]:8080",
    ],
)
def test_allowed_issuer_urls(url: str) -> None:
    assert OidcProviderConfig(issuer=url, client_id="c", redirect_uri=REDIRECT_URI).issuer == url


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.jp",
        "http://10.0.0.1",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.jp",
        "ftp://idp.example.jp",
        "https://user@idp.example.jp",
        "https://idp.example.jp/#x",
        "idp.example.jp",
        "",
    ],
)
def test_insecure_or_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="must"):
        OidcProviderConfig(issuer=url, client_id="c", redirect_uri=REDIRECT_URI)
    with pytest.raises(ValueError, match="must"):
        OidcProviderConfig(issuer="https://idp.example.jp", client_id="c", redirect_uri=url)


@pytest.mark.parametrize(
    "changes",
    [
        {"allowed_algs": ("HS256",)},
        {"allowed_algs": ("none",)},
        {"allowed_algs": ()},
        {"scopes": "profile address"},
        {"client_id": ""},
        {"clock_skew_seconds": 3600},
        {"extra_authorization_params": (("nonce", "fixed"),)},
    ],
    ids=["hs256", "none", "no-algs", "no-openid", "no-client", "skew", "override"],
)
def test_unsafe_configuration_is_refused(changes: dict[str, Any]) -> None:
    settings: dict[str, Any] = {
        "issuer": "https://idp.example.jp",
        "client_id": "c",
        "redirect_uri": REDIRECT_URI,
    }
    with pytest.raises(ValueError, match="must"):
        OidcProviderConfig(**(settings | changes))


def test_issuer_with_a_query_is_refused() -> None:
    """OpenID Connect Discovery §2: the issuer has no query or fragment (a redirect URI may)."""
    with pytest.raises(ValueError, match="must not have a query"):
        OidcProviderConfig(
            issuer="https://idp.example.jp/?tenant=1", client_id="c", redirect_uri=REDIRECT_URI
        )
    redirect = "https://issuer.furusato.example/cb?lg=015814"
    config = OidcProviderConfig(
        issuer="https://idp.example.jp", client_id="c", redirect_uri=redirect
    )
    assert config.redirect_uri == redirect


def test_client_secret_is_not_in_the_config_repr() -> None:
    config = OidcProviderConfig(
        issuer="https://idp.example.jp",
        client_id="c",
        client_secret="top-secret-value",
        redirect_uri=REDIRECT_URI,
    )
    assert "top-secret-value" not in repr(config)


def test_extra_authorization_params_are_sent(make_rp: MakeRP) -> None:
    request = make_rp(extra_authorization_params=(("prompt", "login"),)).start(now())
    assert parse_qs(urlsplit(request.authorization_url).query)["prompt"] == ["login"]


def test_nothing_personal_is_logged(
    provider: LocalOidcProvider, rp: OidcRelyingParty, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for login in (*ADULTS, MINOR):
            log_in(rp, login)
        provider.misbehaviour.claim_overrides = {"birthdate": "2001-02-30"}
        refusal(rp)
    assert caplog.records  # httpx does log its requests
    assert_nothing_personal(caplog.text)
