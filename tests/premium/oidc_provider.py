"""A real OpenID provider on loopback for the tests of issuer.identity.oidc.

Built from authlib's own server classes: ``AuthorizationServer`` with
``AuthorizationCodeGrant``, the RFC 7636 ``CodeChallenge`` extension (S256 only, required) and
the OIDC ``OpenIDCode`` extension (nonce required), behind a small Starlette app served by
uvicorn (tests.issuer.conftest.AppServer).  ID tokens are signed with joserfc — the JOSE
library authlib 1.9 itself signs ID tokens with (``authlib.jose`` is deprecated in its favour).

Endpoints: ``/.well-known/openid-configuration``, ``/jwks``, ``/authorize`` (GET or POST) and
``/token``.  "Logging in" names one of :data:`USERS` by ``login_hint``; without it
``/authorize`` shows a login form listing them.  Two clients are registered: a confidential
one (``client_secret_basic``) and a public one (``none``, PKCE only).

A test flips switches on :attr:`LocalOidcProvider.misbehaviour` to make the provider lie
(wrong ``aud``/``iss``/``nonce``, expired, ``alg: none``, a key not in the JWKS, …) and calls
:meth:`LocalOidcProvider.rotate_keys` to rotate its signing key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self
from urllib.parse import parse_qsl

from authlib.oauth2 import AuthorizationServer, OAuth2Error  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import (  # type: ignore[import-untyped]
    InvalidRequestError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import (  # type: ignore[import-untyped]
    AuthorizationCodeGrant,
)
from authlib.oauth2.rfc7636 import CodeChallenge  # type: ignore[import-untyped]
from authlib.oidc.core.grants import OpenIDCode  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.issuer.conftest import AppServer, free_port

CONFIDENTIAL_CLIENT_ID = "furusato-issuer"
CONFIDENTIAL_CLIENT_SECRET = "s3cret-for-tests-only"
PUBLIC_CLIENT_ID = "furusato-public"
REDIRECT_URI = "https://issuer.furusato.example/premium/oidc/callback"
SCOPES = ("openid", "profile", "address")


@dataclass(frozen=True)
class TestUser:
    """A person the provider knows; ``login`` is what ``login_hint`` names."""

    __test__ = False  # not a pytest test class

    login: str
    sub: str
    name: str
    birthdate: str
    address: dict[str, str] | str
    gender: str | None
    expected_address: str  # what the relying party should make of ``address``


USERS: dict[str, TestUser] = {
    user.login: user
    for user in (
        TestUser(
            login="hanako",
            sub="sub-0001-hanako",
            name="佐藤 花子",
            birthdate="1985-04-12",
            address={
                "formatted": "北海道札幌市中央区北1条西2丁目1番地",
                "postal_code": "060-0001",
                "region": "北海道",
                "locality": "札幌市中央区",
                "street_address": "北1条西2丁目1番地",
                "country": "JP",
            },
            gender="female",
            expected_address="北海道札幌市中央区北1条西2丁目1番地",
        ),
        TestUser(
            login="ichiro",
            sub="sub-0002-ichiro",
            name="鈴木 一郎",
            birthdate="1970-11-03",
            address={
                "postal_code": "100-8926",
                "region": "東京都",
                "locality": "千代田区",
                "street_address": "霞が関1-2-3",
                "country": "JP",
            },
            gender="male",
            expected_address="東京都千代田区霞が関1-2-3",
        ),
        TestUser(
            login="misaki",
            sub="sub-0003-misaki",
            name="高橋 美咲",
            birthdate="1992-02-29",
            address="長野県北佐久郡軽井沢町大字軽井沢1323",
            gender=None,
            expected_address="長野県北佐久郡軽井沢町大字軽井沢1323",
        ),
        TestUser(
            login="shota",
            sub="sub-0004-shota",
            name="田中 翔太",
            birthdate="2015-06-01",
            address={"formatted": "沖縄県那覇市泉崎1-2-2", "region": "沖縄県"},
            gender="male",
            expected_address="沖縄県那覇市泉崎1-2-2",
        ),
    )
}

Forgery = Literal[
    "unknown_key",  # a key the JWKS does not hold, with its own kid
    "wrong_key_same_kid",  # a key the JWKS does not hold, under the published kid
    "alg_none",  # unsigned
    "hs256_public_key",  # HMAC keyed with the published RSA public key (key confusion)
    "alg_kty_mismatch",  # ES256 signature under the kid of the RSA key
    "tampered",  # signed, then a claim changed
    "garbage",  # not a JWS at all
]


@dataclass
class Misbehaviour:
    """Switches that make the provider lie; the defaults behave."""

    forgery: Forgery | None = None
    audience: str | list[str] | None = None  # the aud claim (default: the client)
    azp: str | None = None
    issuer: str | None = None  # the iss claim
    discovery_issuer: str | None = None  # the issuer of the discovery document
    discovery_overrides: dict[str, Any] = field(default_factory=dict)
    nonce: str | None = None  # replaces the request's nonce
    omit_nonce: bool = False
    expires_in: int = 300
    iat_offset: int = 0
    nbf_offset: int | None = None
    omit_claims: set[str] = field(default_factory=set)
    claim_overrides: dict[str, Any] = field(default_factory=dict)
    omit_id_token: bool = False
    token_endpoint_down: bool = False  # /token answers 503 with HTML
    jwks_status: int = 200


# --- authlib's server, adapted to a Starlette request read up front --------------------------


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._datalist: dict[str, list[str]] = defaultdict(list)
        self._data: dict[str, str] = {}
        for key, value in pairs:
            self._datalist[key].append(value)
            self._data.setdefault(key, value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],  # case-insensitive (Starlette's Headers)
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, url, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(query + form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class _Client:
    """authlib's ClientMixin, duck-typed."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]

    @property
    def auth_method(self) -> str:
        return "none" if self.client_secret is None else "client_secret_basic"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # redirect_uri is required

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None:
            return False
        return hmac.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _AuthorizationCode:
    """authlib's AuthorizationCodeMixin (OIDC flavour), duck-typed."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    login: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return None

    def get_amr(self) -> list[str] | None:
        return None


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "none"]  # noqa: RUF012

    @property
    def provider(self) -> LocalOidcProvider:
        provider: LocalOidcProvider = self.server.provider
        return provider

    def save_authorization_code(self, code: str, request: _Request) -> None:
        data = request.payload.data
        self.provider._codes[code] = _AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=data["redirect_uri"],
            scope=request.scope,
            login=request.user.login,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=int(self.provider.now()),
            expires_at=self.provider.now() + 60,
        )
        if data.get("nonce"):
            self.provider._nonces.add((request.client.client_id, data["nonce"]))

    def query_authorization_code(self, code: str, client: _Client) -> _AuthorizationCode | None:
        # Taken out on first use, whatever happens next: a code is checked once.
        found = self.provider._codes.pop(code, None)
        if found is None or found.client_id != client.client_id:
            return None
        if found.expires_at < self.provider.now():
            return None
        return found

    def delete_authorization_code(self, authorization_code: _AuthorizationCode) -> None:
        self.provider._codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: _AuthorizationCode) -> TestUser | None:
        return self.provider.users.get(authorization_code.login)


class _S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE is mandatory and S256 only (the provider refuses plain and no challenge)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012

    def validate_code_challenge(self, grant: _CodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge'")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class _OpenIDCode(OpenIDCode):  # type: ignore[misc]
    def __init__(self, provider: LocalOidcProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: _Request) -> bool:
        return (request.payload.client_id, nonce) in self.provider._nonces

    def encode_id_token(self, token: dict[str, Any], request: _Request) -> str:
        return self.provider._id_token(request.client, request.user, request.authorization_code)


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, provider: LocalOidcProvider) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider
        self.register_token_generator("default", self._bearer_token)
        self.register_grant(_CodeGrant, [_S256Required(required=True), _OpenIDCode(provider)])

    def query_client(self, client_id: str) -> _Client | None:
        return self.provider.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: _Request) -> None:
        self.provider.issued_tokens += 1

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or b"", status_code=status, headers=dict(headers))

    @staticmethod
    def _bearer_token(
        grant_type: str,
        client: _Client,
        user: TestUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": expires_in or 300,
            "scope": scope or "",
        }


# --- the provider ----------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class LocalOidcProvider:
    """An OpenID provider on 127.0.0.1 (a context manager: the server runs inside ``with``).

    ``issuer`` is its URL; ``users`` who can log in; ``misbehaviour`` the switches; counters
    ``discovery_requests``, ``jwks_requests`` and ``token_requests``; ``token_forms`` the
    forms the token endpoint received (and whether they came with Basic authentication).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        users: dict[str, TestUser] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.users = dict(users or USERS)
        self.clock = clock
        self.time_offset = 0.0  # seconds added to the clock (a test that lets time pass)
        self.clients = {
            CONFIDENTIAL_CLIENT_ID: _Client(
                CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, (REDIRECT_URI,)
            ),
            PUBLIC_CLIENT_ID: _Client(PUBLIC_CLIENT_ID, None, (REDIRECT_URI,)),
        }
        self.misbehaviour = Misbehaviour()
        self.discovery_requests = 0
        self.jwks_requests = 0
        self.token_requests = 0
        self.issued_tokens = 0
        self.token_forms: list[tuple[dict[str, str], bool]] = []
        self._codes: dict[str, _AuthorizationCode] = {}
        self._nonces: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._generation = 0
        self.rsa_key = self._new_rsa_key()
        self.ec_key = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})
        self.ed_key = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1", "use": "sig"})
        self.rogue_key = RSAKey.generate_key(2048, parameters={"kid": "rogue-1", "use": "sig"})
        self.published: list[RSAKey | ECKey | OKPKey] = [self.rsa_key, self.ec_key, self.ed_key]
        self.alg: Literal["RS256", "ES256", "EdDSA"] = "RS256"
        self.server = _Server(self)
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery, methods=["GET"]),
                Route("/jwks", self._jwks, methods=["GET"]),
                Route("/moved/jwks", self._moved, methods=["GET"]),
                Route("/authorize", self._authorize, methods=["GET", "POST"]),
                Route("/token", self._token, methods=["POST"]),
            ]
        )
        self._app_server: AppServer | None = None

    # -- lifecycle

    def __enter__(self) -> Self:
        self._app_server = AppServer(self.app, self.port).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._app_server is not None:
            self._app_server.__exit__(*exc)
            self._app_server = None

    def reset(self) -> None:
        """Behave again, forget counters and codes (keys stay)."""
        self.misbehaviour = Misbehaviour()
        self.alg = "RS256"
        self.time_offset = 0.0
        self.discovery_requests = self.jwks_requests = self.token_requests = 0
        self.token_forms.clear()

    def now(self) -> float:
        return self.clock() + self.time_offset

    # -- keys

    def _new_rsa_key(self) -> RSAKey:
        self._generation += 1
        return RSAKey.generate_key(
            2048, parameters={"kid": f"rsa-{self._generation}", "use": "sig", "alg": "RS256"}
        )

    def rotate_keys(self, *, keep_old: bool = False) -> str:
        """A new RSA signing key with a new kid; the old one leaves the JWKS unless kept."""
        old = self.rsa_key
        self.rsa_key = self._new_rsa_key()
        self.published = [self.rsa_key, self.ec_key, self.ed_key]
        if keep_old:
            self.published.append(old)
        return str(self.rsa_key.kid)

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet(list(self.published)).as_dict(private=False))

    # -- endpoints

    def discovery_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "issuer": self.misbehaviour.discovery_issuer or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "claims_supported": ["sub", "name", "birthdate", "address", "gender"],
        }
        document.update(self.misbehaviour.discovery_overrides)
        return document

    async def _discovery(self, request: Request) -> Response:
        self.discovery_requests += 1
        return JSONResponse(self.discovery_document())

    async def _jwks(self, request: Request) -> Response:
        self.jwks_requests += 1
        if self.misbehaviour.jwks_status != 200:
            return Response("unavailable", status_code=self.misbehaviour.jwks_status)
        return JSONResponse(self.jwks())

    async def _moved(self, request: Request) -> Response:
        """A redirect to the JWKS (a client must not follow it)."""
        return Response(status_code=307, headers={"Location": f"{self.issuer}/jwks"})

    async def _read(self, request: Request) -> _Request:
        form: list[tuple[str, str]] = []
        if request.method == "POST":
            body = (await request.body()).decode("utf-8", "replace")
            form = parse_qsl(body, keep_blank_values=True)
        query = parse_qsl(request.url.query, keep_blank_values=True)
        return _Request(request.method, str(request.url), request.headers, query, form)

    async def _authorize(self, request: Request) -> Response:
        oauth_request = await self._read(request)
        user = self.users.get(oauth_request.payload.data.get("login_hint", ""))
        with self._lock:
            try:
                grant = self.server.get_consent_grant(oauth_request, end_user=user)
            except OAuth2Error as error:
                response: Response = self.server.handle_error_response(oauth_request, error)
                return response
            if user is None:
                return self._login_page(oauth_request)
            return self.server.create_authorization_response(  # type: ignore[no-any-return]
                oauth_request, grant_user=user, grant=grant
            )

    def _login_page(self, oauth_request: _Request) -> Response:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in oauth_request.payload.data.items()
            if k != "login_hint"
        )
        options = "".join(f'<option value="{login}">{login}</option>' for login in self.users)
        page = (
            '<!doctype html><html lang="ja"><title>ログイン</title>'
            f'<form method="post" action="/authorize">{hidden}'
            f'<select name="login_hint">{options}</select><button>ログイン</button></form>'
        )
        return HTMLResponse(page)

    async def _token(self, request: Request) -> Response:
        oauth_request = await self._read(request)
        self.token_requests += 1
        basic = request.headers.get("authorization", "").lower().startswith("basic ")
        self.token_forms.append((dict(oauth_request.form), basic))
        if self.misbehaviour.token_endpoint_down:
            return HTMLResponse("<h1>503 Service Unavailable</h1>", status_code=503)
        with self._lock:
            response: Response = self.server.create_token_response(oauth_request)
        if self.misbehaviour.omit_id_token and response.status_code == 200:
            body = json.loads(bytes(response.body))
            body.pop("id_token", None)
            return JSONResponse(body)
        return response

    # -- ID tokens

    def _id_token(
        self, client: _Client, user: TestUser, authorization_code: _AuthorizationCode
    ) -> str:
        bad = self.misbehaviour
        now = int(self.now())
        claims: dict[str, Any] = {
            "iss": bad.issuer or self.issuer,
            "sub": user.sub,
            "aud": bad.audience if bad.audience is not None else client.client_id,
            "iat": now + bad.iat_offset,
            "exp": now + bad.expires_in,
            "auth_time": authorization_code.auth_time,
        }
        if bad.azp is not None:
            claims["azp"] = bad.azp
        if bad.nbf_offset is not None:
            claims["nbf"] = now + bad.nbf_offset
        if not bad.omit_nonce:
            nonce = bad.nonce or authorization_code.nonce
            if nonce:
                claims["nonce"] = nonce
        scopes = authorization_code.scope.split()
        if "profile" in scopes:
            claims["name"] = user.name
            claims["birthdate"] = user.birthdate
            if user.gender is not None:
                claims["gender"] = user.gender
        if "address" in scopes:
            claims["address"] = user.address
        claims.update(bad.claim_overrides)
        for name in bad.omit_claims:
            claims.pop(name, None)
        return self.sign(claims)

    def sign(self, claims: dict[str, Any]) -> str:
        """An ID token over ``claims``, signed as the switches say."""
        forgery = self.misbehaviour.forgery
        keys: dict[str, RSAKey | ECKey | OKPKey] = {
            "RS256": self.rsa_key,
            "ES256": self.ec_key,
            "EdDSA": self.ed_key,
        }
        key = keys[self.alg]
        header: dict[str, Any] = {"typ": "JWT", "alg": self.alg, "kid": key.kid}
        if forgery == "unknown_key":
            key, header = self.rogue_key, {"alg": "RS256", "kid": self.rogue_key.kid}
        elif forgery == "wrong_key_same_kid":
            key, header = self.rogue_key, {"alg": "RS256", "kid": self.rsa_key.kid}
        elif forgery == "alg_kty_mismatch":
            key, header = self.ec_key, {"alg": "ES256", "kid": self.rsa_key.kid}
        elif forgery == "alg_none":
            return _compact({"alg": "none", "typ": "JWT"}, claims, lambda _: b"")
        elif forgery == "hs256_public_key":
            public_pem = self.rsa_key.as_pem(private=False)
            header = {"alg": "HS256", "kid": self.rsa_key.kid}
            return _compact(
                header, claims, lambda data: hmac.new(public_pem, data, hashlib.sha256).digest()
            )
        elif forgery == "garbage":
            return "this-is.not-a.jws!"
        with warnings.catch_warnings():  # joserfc: "EdDSA is deprecated via RFC 9864"
            warnings.simplefilter("ignore", SecurityWarning)
            token = jwt.encode(header, claims, key, algorithms=[header["alg"]])
        if forgery == "tampered":
            head, _, signature = token.split(".")
            changed = dict(claims, birthdate="1950-01-01")
            payload = _b64url(json.dumps(changed, ensure_ascii=False).encode())
            token = f"{head}.{payload}.{signature}"
        return token


def _compact(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = (
        _b64url(json.dumps(header).encode())
        + "."
        + _b64url(json.dumps(claims, ensure_ascii=False).encode())
    )
    return signing_input + "." + _b64url(sign(signing_input.encode()))
