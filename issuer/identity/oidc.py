"""Identity proofing by OpenID Connect: the relying party for a デジタル認証アプリ-style login.

The flow (OpenID Connect Core 1.0 §3.1, authorization code flow; RFC 7636 PKCE with S256)::

    rp = OidcRelyingParty(OidcProviderConfig(issuer=..., client_id=..., redirect_uri=...))
    request = rp.start(now)              # keep request.to_json() server-side (sealed)
    # redirect the browser to request.authorization_url; the provider logs the person in and
    # sends the browser back to redirect_uri with ?code=...&state=...
    identity = rp.finish(request, code, state, now)   # a ProvenIdentity (method "oidc")

:meth:`OidcRelyingParty.start` reads the provider's metadata
(``<issuer>/.well-known/openid-configuration``, OpenID Connect Discovery 1.0 §4) and makes a
fresh ``state``, ``nonce`` and PKCE ``code_verifier`` (64 characters from 48 random bytes) with
its S256 ``code_challenge``.  :meth:`OidcRelyingParty.finish` then checks, in this order:

1. the login attempt belongs to this provider and client, is younger than
   ``auth_request_ttl_seconds``, and ``state`` equals the one sent (constant time);
   an ``iss`` callback parameter (RFC 9207), when given, equals the issuer;
2. the code is exchanged at the token endpoint (form POST with ``code_verifier``;
   ``client_secret_basic`` when a client secret is configured, else a public client);
3. the ID token: compact JWS only, its ``alg`` in the allow-list (never ``none``, never
   HS*; no ``crit``/``b64`` headers), signed by a key of the provider's JWKS whose type and
   curve fit the alg (RSA keys of at least 2048 bits), the signature checked by jwcrypto;
4. ``iss`` equals the configured issuer exactly; ``aud`` contains the client_id, and with
   several audiences (or any ``azp``) ``azp`` equals the client_id;
5. ``exp`` not passed, ``iat`` and ``nbf`` not in the future, ``iat`` not older than
   ``id_token_max_age_seconds`` (each with ``clock_skew_seconds``);
6. ``nonce`` equals the one sent (constant time); ``sub`` is present;
7. the person's claims: name, birth date (``YYYY-MM-DD``, a real date, not in the future),
   address (the standard address object — ``formatted``, else region + locality +
   street_address — or a plain string) and, when given, gender.

Discovery and JWKS are fetched through an injected :class:`HttpTransport` (default
:class:`HttpxTransport`: timeouts, no redirects, bounded responses, no proxy from the
environment).  Every URL must be https, except http on localhost, 127.0.0.1 and [::1]; the
discovery ``issuer`` must equal the configured one exactly.  Metadata and keys are cached for
their TTL; a token whose ``kid`` is unknown makes the JWKS be fetched again once (key
rotation), but never more often than ``jwks_min_refetch_seconds``.

Each refusal raises :class:`OidcError` (an :class:`~issuer.identity.IdentityError`) with one
of these stable codes:

=============================  ==========================================================
``oidc_state_mismatch``        state differs, or the login attempt is stale/foreign/garbled
``oidc_token_request_failed``  the token endpoint refused the code (replayed, wrong PKCE
                               verifier, client authentication) or answered without an
                               ID token; a malformed code
``oidc_id_token_invalid``      malformed token, alg not allowed, no fitting key, bad
                               signature, no ``sub``, bad time claims
``oidc_issuer_mismatch``       ``iss`` (token, discovery or callback) is not the issuer
``oidc_audience_mismatch``     ``aud``/``azp`` do not name this client
``oidc_nonce_mismatch``        ``nonce`` missing or different
``oidc_id_token_expired``      outside its validity period (``exp`` passed, ``iat``/``nbf``
                               in the future, or ``iat`` too old)
``oidc_claims_missing``        a required claim is missing or malformed
``oidc_provider_unreachable``  discovery, JWKS or token endpoint unreachable, or their
                               answers unusable (also: an insecure endpoint URL)
=============================  ==========================================================

Messages (Japanese and English) name claims and codes, never their values: nothing personal
reaches an exception, a log or a repr.  This module logs nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
from jwcrypto import jwk as _jwk
from jwcrypto import jws as _jws
from jwcrypto.common import JWException

from did.errors import FurusatoError
from did.jsonio import Limits, load_json
from issuer.identity import IdentityError, ProvenIdentity

__all__ = [
    "AUDIENCE_MISMATCH",
    "CLAIMS_MISSING",
    "DEFAULT_ALLOWED_ALGS",
    "ID_TOKEN_EXPIRED",
    "ID_TOKEN_INVALID",
    "ISSUER_MISMATCH",
    "NONCE_MISMATCH",
    "PROVIDER_UNREACHABLE",
    "STATE_MISMATCH",
    "SUPPORTED_ALGS",
    "TOKEN_REQUEST_FAILED",
    "AuthRequest",
    "FetchError",
    "HttpResponse",
    "HttpTransport",
    "HttpxTransport",
    "JsonWebKeySet",
    "OidcClaimNames",
    "OidcError",
    "OidcProviderConfig",
    "OidcRelyingParty",
    "ProviderMetadata",
    "UnknownKeyError",
    "identity_from_claims",
    "verify_id_token",
]

# --- codes -----------------------------------------------------------------------------------

STATE_MISMATCH = "oidc_state_mismatch"
TOKEN_REQUEST_FAILED = "oidc_token_request_failed"  # noqa: S105 - an error code, not a secret
ID_TOKEN_INVALID = "oidc_id_token_invalid"  # noqa: S105 - an error code, not a secret
ISSUER_MISMATCH = "oidc_issuer_mismatch"
AUDIENCE_MISMATCH = "oidc_audience_mismatch"
NONCE_MISMATCH = "oidc_nonce_mismatch"
ID_TOKEN_EXPIRED = "oidc_id_token_expired"  # noqa: S105 - an error code, not a secret
CLAIMS_MISSING = "oidc_claims_missing"
PROVIDER_UNREACHABLE = "oidc_provider_unreachable"

# --- limits ----------------------------------------------------------------------------------

MAX_METADATA_BYTES = 64 * 1024
MAX_JWKS_BYTES = 256 * 1024
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
MAX_ID_TOKEN_CHARS = 32 * 1024
MAX_KEYS = 64
MAX_CODE_CHARS = 2048
MAX_STATE_CHARS = 512
MIN_RSA_BITS = 2048
MAX_NAME_CHARS = 256
MAX_ADDRESS_CHARS = 512
MAX_GENDER_CHARS = 32

_HEADER_LIMITS = Limits(max_bytes=4096, max_depth=4, max_nodes=64)
_CLAIMS_LIMITS = Limits(max_bytes=MAX_ID_TOKEN_CHARS, max_depth=8, max_nodes=1024)
_METADATA_LIMITS = Limits(max_bytes=MAX_METADATA_BYTES, max_depth=8, max_nodes=4096)
_JWKS_LIMITS = Limits(max_bytes=MAX_JWKS_BYTES, max_depth=6, max_nodes=4096)
_TOKEN_LIMITS = Limits(max_bytes=MAX_TOKEN_RESPONSE_BYTES, max_depth=8, max_nodes=1024)

#: Signature algorithms we can check, with the key type (and curves) each needs.
_ALG_KEYS: dict[str, tuple[str, frozenset[str]]] = {
    "RS256": ("RSA", frozenset()),
    "RS384": ("RSA", frozenset()),
    "RS512": ("RSA", frozenset()),
    "PS256": ("RSA", frozenset()),
    "PS384": ("RSA", frozenset()),
    "PS512": ("RSA", frozenset()),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
SUPPORTED_ALGS: tuple[str, ...] = tuple(_ALG_KEYS)
DEFAULT_ALLOWED_ALGS: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
#: Algorithm names a refusal may repeat (anything else is shown as "other").
_NAMED_ALGS = frozenset({*SUPPORTED_ALGS, "none", "HS256", "HS384", "HS512"})
#: Birth dates are dates of the Japanese calendar day (at 08:00 JST, UTC is still yesterday).
_JST = timezone(timedelta(hours=9), "JST")

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_OAUTH_ERROR = re.compile(r"[a-z_]{1,64}")
_VSCHAR = re.compile(r"[\x20-\x7e]+")
_BIRTHDATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --- errors ----------------------------------------------------------------------------------


class OidcError(IdentityError):
    """An OpenID Connect login was refused; ``code`` is one of the ``oidc_*`` codes."""

    code = ID_TOKEN_INVALID


class UnknownKeyError(OidcError):
    """No key of the provider's JWKS fits the token (unknown ``kid``): worth one refetch."""


def _fail(code: str, message_en: str, message_ja: str, *, status: int | None = None) -> OidcError:
    return OidcError(message_en, message_ja, code=code, status=status)


def _unreachable(what_en: str, what_ja: str, reason: str) -> OidcError:
    return _fail(
        PROVIDER_UNREACHABLE,
        f"the identity provider's {what_en} is unavailable ({reason})",
        f"本人確認サービスの{what_ja}を利用できません ({reason})",
        status=502,
    )


def _invalid(reason_en: str, reason_ja: str) -> OidcError:
    return _fail(
        ID_TOKEN_INVALID,
        f"the ID token is invalid: {reason_en}",
        f"ID トークンが不正です: {reason_ja}",
    )


# --- configuration ---------------------------------------------------------------------------


def _is_allowed_url(url: str) -> bool:
    """https, or http on loopback; a host; no user info, no fragment."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if not hostname or parts.username is not None or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and hostname in _LOOPBACK_HOSTS


@dataclass(frozen=True, kw_only=True)
class OidcClaimNames:
    """Which ID token claims carry the person's attributes (OIDC Core §5.1 names by default)."""

    name: str = "name"
    birth_date: str = "birthdate"
    address: str = "address"
    gender: str = "gender"


@dataclass(frozen=True, kw_only=True)
class OidcProviderConfig:
    """One OpenID provider and our registration with it.

    ``client_secret`` given: a confidential client (``client_secret_basic``); else a public
    client (PKCE only).  Times are in seconds.
    """

    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str | None = field(default=None, repr=False)
    scopes: str = "openid profile address"
    claims: OidcClaimNames = field(default_factory=OidcClaimNames)
    allowed_algs: tuple[str, ...] = DEFAULT_ALLOWED_ALGS
    clock_skew_seconds: int = 60
    extra_authorization_params: tuple[tuple[str, str], ...] = ()
    metadata_ttl_seconds: int = 3600
    jwks_ttl_seconds: int = 3600
    jwks_min_refetch_seconds: int = 60
    auth_request_ttl_seconds: int = 600
    id_token_max_age_seconds: int = 600

    def __post_init__(self) -> None:  # configuration errors: fail at start-up, not per login
        for name, url in (("issuer", self.issuer), ("redirect_uri", self.redirect_uri)):
            if not _is_allowed_url(url):
                raise ValueError(f"{name} must be an https URL (http only on loopback): {url!r}")
        if urlsplit(self.issuer).query:
            raise ValueError("the issuer URL must not have a query")
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if "openid" not in self.scopes.split():
            raise ValueError("scopes must include 'openid'")
        unknown = [alg for alg in self.allowed_algs if alg not in _ALG_KEYS]
        if unknown or not self.allowed_algs:
            raise ValueError(f"allowed_algs must be a non-empty subset of {SUPPORTED_ALGS}")
        if not 0 <= self.clock_skew_seconds <= 300:
            raise ValueError("clock_skew_seconds must be between 0 and 300")
        reserved = {"response_type", "client_id", "redirect_uri", "scope", "state", "nonce"}
        reserved |= {"code_challenge", "code_challenge_method"}
        if any(key in reserved for key, _ in self.extra_authorization_params):
            raise ValueError("extra_authorization_params must not override the flow's own")

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


# --- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = field(repr=False)
    content_type: str = ""


class FetchError(Exception):
    """Raised by a transport: the server could not be reached, or its answer was too large."""


class HttpTransport(Protocol):
    """How the relying party talks to the provider (injected; tests may pass their own)."""

    def get(self, url: str, *, max_bytes: int) -> HttpResponse: ...

    def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str], max_bytes: int
    ) -> HttpResponse: ...


class HttpxTransport:
    """httpx with timeouts, no redirects, no proxy settings from the environment (pass a
    configured client for a proxy), and a size limit on every response (after decoding)."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(10.0, connect=5.0),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "furusato-issuer-oidc"},
        )

    def get(self, url: str, *, max_bytes: int) -> HttpResponse:
        return self._send("GET", url, max_bytes, headers={"Accept": "application/json"})

    def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str], max_bytes: int
    ) -> HttpResponse:
        return self._send("POST", url, max_bytes, headers=dict(headers), data=dict(form))

    def _send(self, method: str, url: str, max_bytes: int, **kwargs: Any) -> HttpResponse:
        try:
            with self.client.stream(method, url, **kwargs) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError(f"response larger than {max_bytes} bytes")
                content_type = response.headers.get("content-type", "")
                return HttpResponse(response.status_code, bytes(body), content_type)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(type(exc).__name__) from None

    def close(self) -> None:
        self.client.close()


# --- the login attempt -----------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256_challenge(code_verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return _b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())


@dataclass(frozen=True, kw_only=True)
class AuthRequest:
    """One login attempt, to be kept server-side (sealed) between start and finish.

    ``state``, ``nonce`` and ``code_verifier`` are secrets of this attempt: hidden from repr.
    """

    issuer: str
    client_id: str
    redirect_uri: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    created_at: datetime
    authorization_url: str = field(repr=False)

    @property
    def code_challenge(self) -> str:
        return s256_challenge(self.code_verifier)

    def to_json(self) -> dict[str, str]:
        return {
            "v": "1",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
            "created_at": self.created_at.isoformat(),
            "authorization_url": self.authorization_url,
        }

    @classmethod
    def from_json(cls, data: Any) -> AuthRequest:
        """The inverse of :meth:`to_json`; a garbled record is ``oidc_state_mismatch``."""
        names = (
            "issuer",
            "client_id",
            "redirect_uri",
            "state",
            "nonce",
            "code_verifier",
            "created_at",
            "authorization_url",
        )
        garbled = _fail(
            STATE_MISMATCH,
            "the stored login attempt is unreadable; please log in again",
            "保存されたログイン手続きを読み取れません。もう一度ログインしてください",
        )
        if not isinstance(data, Mapping) or data.get("v") != "1":
            raise garbled
        values = {name: data.get(name) for name in names}
        if not all(isinstance(value, str) and value for value in values.values()):
            raise garbled
        try:
            created_at = datetime.fromisoformat(str(values.pop("created_at")))
        except ValueError:
            raise garbled from None
        if created_at.tzinfo is None:
            raise garbled
        text = {name: str(value) for name, value in values.items()}
        return cls(
            issuer=text["issuer"],
            client_id=text["client_id"],
            redirect_uri=text["redirect_uri"],
            state=text["state"],
            nonce=text["nonce"],
            code_verifier=text["code_verifier"],
            created_at=created_at,
            authorization_url=text["authorization_url"],
        )


# --- provider metadata and keys --------------------------------------------------------------


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document we use (OpenID Connect Discovery 1.0 §3)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    iss_parameter_supported: bool = False

    @classmethod
    def from_json(cls, document: Any, config: OidcProviderConfig) -> ProviderMetadata:
        def unusable(field_name: str) -> OidcError:
            return _unreachable(
                f"metadata (field {field_name})", f"メタデータ (項目 {field_name})", "unusable"
            )

        if not isinstance(document, dict):
            raise unusable("(document)")
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or issuer != config.issuer:
            raise _fail(
                ISSUER_MISMATCH,
                "the provider's discovery document names another issuer than the configured "
                "one (they must be equal, character for character)",
                "本人確認サービスのディスカバリ文書の issuer が設定と一致しません (完全一致が必要です)",
            )
        endpoints: dict[str, str] = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(name)
            if not isinstance(value, str) or len(value) > 2048 or not _is_allowed_url(value):
                raise unusable(name)
            endpoints[name] = value

        def listed(name: str, wanted: Iterable[str]) -> None:
            value = document.get(name)
            if value is None:
                return
            if not isinstance(value, list) or not set(wanted) & {
                item for item in value if isinstance(item, str)
            }:
                raise unusable(name)

        listed("response_types_supported", ["code"])
        listed("code_challenge_methods_supported", ["S256"])
        listed("id_token_signing_alg_values_supported", config.allowed_algs)
        listed("grant_types_supported", ["authorization_code"])
        auth_method = "client_secret_basic" if config.client_secret else "none"
        if "token_endpoint_auth_methods_supported" in document or auth_method == "none":
            # Omitted means client_secret_basic only (Discovery §3), which a public client
            # cannot use.
            value = document.get("token_endpoint_auth_methods_supported")
            if value is None or not isinstance(value, list) or auth_method not in value:
                raise unusable("token_endpoint_auth_methods_supported")
        iss_supported = document.get("authorization_response_iss_parameter_supported") is True
        return cls(
            issuer=issuer,
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=endpoints["token_endpoint"],
            jwks_uri=endpoints["jwks_uri"],
            iss_parameter_supported=iss_supported,
        )


@dataclass(frozen=True)
class _Key:
    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    use: str | None
    key_ops: tuple[str, ...] | None
    rsa_bits: int
    jwk: Any  # jwcrypto.jwk.JWK (public part only)


def _strict_b64url(text: str) -> bytes:
    """Base64url without padding, canonical (no stray bits); ValueError otherwise."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


class JsonWebKeySet:
    """The provider's verification keys (RFC 7517 §5): asymmetric public keys only.

    Keys we cannot use (symmetric, unknown type, malformed, encryption only) are skipped,
    never trusted.
    """

    def __init__(self, keys: Sequence[_Key]) -> None:
        self.keys = tuple(keys)

    @classmethod
    def from_json(cls, document: Any) -> JsonWebKeySet:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise _unreachable("key set (JWKS)", "鍵セット (JWKS)", "not a JWK set")
        if len(document["keys"]) > MAX_KEYS:
            raise _unreachable("key set (JWKS)", "鍵セット (JWKS)", "too many keys")
        keys: list[_Key] = []
        for entry in document["keys"]:
            key = _import_key(entry)
            if key is not None:
                keys.append(key)
        return cls(keys)

    def has_kid(self, kid: str) -> bool:
        return any(key.kid == kid for key in self.keys)

    def candidates(self, alg: str, kid: str | None) -> list[_Key]:
        """Keys that may verify a token with this ``alg`` and ``kid``.

        Raises :class:`UnknownKeyError` when no key has this ``kid`` (or, without a ``kid``,
        none fits the alg), and ``oidc_id_token_invalid`` when the ``kid`` names a key of
        another type than the alg needs.
        """
        kty, curves = _ALG_KEYS[alg]
        named = [key for key in self.keys if kid is None or key.kid == kid]
        if not named:
            raise UnknownKeyError(
                "the ID token is signed with a key the provider does not publish (unknown kid)",
                "ID トークンが本人確認サービスの公開していない鍵で署名されています (不明な kid)",
                code=ID_TOKEN_INVALID,
            )
        fitting = [
            key
            for key in named
            if key.kty == kty
            and (not curves or key.crv in curves)
            and key.alg in (None, alg)
            and key.use in (None, "sig")
            and (key.key_ops is None or "verify" in key.key_ops)
            and (kty != "RSA" or key.rsa_bits >= MIN_RSA_BITS)
        ]
        if not fitting:
            if kid is None:
                raise UnknownKeyError(
                    f"the provider publishes no key for {alg}",
                    f"本人確認サービスが {alg} の鍵を公開していません",
                    code=ID_TOKEN_INVALID,
                )
            raise _invalid(
                f"the key it names does not fit the algorithm {alg}",
                f"指定された鍵がアルゴリズム {alg} に合いません",
            )
        return fitting


def _import_key(entry: Any) -> _Key | None:
    if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC", "OKP"):
        return None
    kid = entry.get("kid")
    alg = entry.get("alg")
    use = entry.get("use")
    crv = entry.get("crv")
    key_ops = entry.get("key_ops")
    if kid is not None and not isinstance(kid, str):
        return None
    if not all(v is None or isinstance(v, str) for v in (alg, use, crv)):
        return None
    if key_ops is not None and (
        not isinstance(key_ops, list) or not all(isinstance(op, str) for op in key_ops)
    ):
        return None
    public_members = {
        "RSA": ("kty", "n", "e"),
        "EC": ("kty", "crv", "x", "y"),
        "OKP": ("kty", "crv", "x"),
    }[entry["kty"]]
    members = {name: entry.get(name) for name in public_members}
    if not all(isinstance(value, str) for value in members.values()):
        return None
    rsa_bits = 0
    try:
        if entry["kty"] == "RSA":
            rsa_bits = int.from_bytes(_strict_b64url(str(members["n"])), "big").bit_length()
        jwk = _jwk.JWK(**members)
    except (JWException, ValueError, TypeError):
        return None
    ops = tuple(key_ops) if isinstance(key_ops, list) else None
    return _Key(kid, entry["kty"], crv, alg, use, ops, rsa_bits, jwk)


# --- ID token --------------------------------------------------------------------------------


def _unverified_header(id_token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS (not yet verified: used to pick the key)."""
    if len(id_token) > MAX_ID_TOKEN_CHARS:
        raise _invalid("it is too large", "大きすぎます")
    parts = id_token.split(".")
    if len(parts) != 3 or not all(parts):
        raise _invalid("not a compact JWS", "コンパクト形式の JWS ではありません")
    try:
        for part in parts:
            _strict_b64url(part)
        unverified_header = load_json(_strict_b64url(parts[0]), _HEADER_LIMITS)
    except (ValueError, FurusatoError):
        raise _invalid("not a compact JWS", "コンパクト形式の JWS ではありません") from None
    if not isinstance(unverified_header, dict):
        raise _invalid(
            "its header is not a JSON object", "ヘッダーが JSON オブジェクトではありません"
        )
    return unverified_header


def _check_signature(id_token: str, alg: str, keys: Sequence[_Key]) -> bytes:
    """The payload, when one of ``keys`` verifies the signature with ``alg`` (jwcrypto)."""
    for key in keys:
        token = _jws.JWS()
        token.allowed_algs = [alg]
        try:
            token.deserialize(id_token)
            token.verify(key.jwk, alg=alg)
        except (JWException, ValueError, TypeError):
            continue
        payload: bytes = token.payload
        return payload
    raise _invalid("the signature does not verify", "署名を検証できません")


def _numeric_date(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(
            f"'{name}' is missing or not a number", f"'{name}' がないか数値ではありません"
        )
    return float(value)


def verify_id_token(
    id_token: str,
    jwks: JsonWebKeySet,
    *,
    config: OidcProviderConfig,
    nonce: str,
    now: datetime,
) -> dict[str, Any]:
    """Check an ID token (steps 3–6 of the module docstring); return its claims.

    Raises :class:`UnknownKeyError` when no published key fits its ``kid`` (the caller may
    refetch the JWKS once and try again), :class:`OidcError` for every other refusal.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    header = _unverified_header(id_token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in config.allowed_algs:
        shown = alg if alg in _NAMED_ALGS else "other"
        raise _invalid(
            f"the algorithm {shown!r} is not allowed",
            f"アルゴリズム {shown!r} は許可されていません",
        )
    if "crit" in header or "b64" in header:
        raise _invalid("it uses critical header parameters", "crit ヘッダーは受け付けません")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _invalid("its 'kid' is not a string", "'kid' が文字列ではありません")
    payload = _check_signature(id_token, alg, jwks.candidates(alg, kid))
    try:
        claims = load_json(payload, _CLAIMS_LIMITS)
    except FurusatoError:
        raise _invalid("its payload is not JSON", "ペイロードが JSON ではありません") from None
    if not isinstance(claims, dict):
        raise _invalid(
            "its payload is not a JSON object", "ペイロードが JSON オブジェクトではありません"
        )

    if claims.get("iss") != config.issuer:
        raise _fail(
            ISSUER_MISMATCH,
            "the ID token was issued by another issuer than the configured provider",
            "ID トークンの発行者 (iss) が設定された本人確認サービスではありません",
        )
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    azp = claims.get("azp")
    if (
        not isinstance(audiences, list)
        or not all(isinstance(item, str) for item in audiences)
        or config.client_id not in audiences
        or ((len(audiences) > 1 or azp is not None) and azp != config.client_id)
    ):
        raise _fail(
            AUDIENCE_MISMATCH,
            "the ID token is not meant for this service (aud/azp)",
            "ID トークンの宛先 (aud/azp) がこのサービスではありません",
        )

    skew = config.clock_skew_seconds
    at = now.timestamp()
    expires = _numeric_date(claims, "exp")
    issued = _numeric_date(claims, "iat")
    not_before = _numeric_date(claims, "nbf") if "nbf" in claims else None
    if at > expires + skew:
        raise _fail(
            ID_TOKEN_EXPIRED, "the ID token has expired", "ID トークンの有効期限が切れています"
        )
    if issued > at + skew or (not_before is not None and not_before > at + skew):
        raise _fail(
            ID_TOKEN_EXPIRED,
            "the ID token is not valid yet (iat/nbf in the future; check the clocks)",
            "ID トークンがまだ有効ではありません (iat/nbf が未来です。時計を確認してください)",
        )
    if issued < at - config.id_token_max_age_seconds - skew:
        raise _fail(
            ID_TOKEN_EXPIRED,
            "the ID token was issued too long ago",
            "ID トークンの発行から時間が経ちすぎています",
        )

    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
    ):
        raise _fail(
            NONCE_MISMATCH,
            "the ID token does not belong to this login attempt (nonce)",
            "ID トークンがこのログイン手続きのものではありません (nonce 不一致)",
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise _invalid("'sub' is missing or malformed", "'sub' がないか不正です")
    return claims


# --- claims → ProvenIdentity -----------------------------------------------------------------


def _claims_missing(name: str) -> OidcError:
    return _fail(
        CLAIMS_MISSING,
        f"the provider did not give the claim '{name[:64]}' (or gave it malformed)",
        f"本人確認サービスから '{name[:64]}' の情報を受け取れませんでした (またはその形式が不正です)",
    )


def _text(value: Any, max_chars: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > max_chars:
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        return None
    return text


def _address(value: Any) -> str | None:
    if isinstance(value, dict):
        formatted = _text(value.get("formatted"), MAX_ADDRESS_CHARS)
        if formatted is not None:
            return formatted
        parts = [value.get(name) for name in ("region", "locality", "street_address")]
        if not all(part is None or isinstance(part, str) for part in parts):
            return None
        # Japanese addresses run together without separators (北海道札幌市中央区北1条西2丁目).
        return _text("".join(str(part).strip() for part in parts if part), MAX_ADDRESS_CHARS)
    return _text(value, MAX_ADDRESS_CHARS)


def identity_from_claims(
    claims: Mapping[str, Any], names: OidcClaimNames, *, today: date
) -> ProvenIdentity:
    """The person's attributes from verified claims; ``oidc_claims_missing`` when one is
    missing or malformed.  ``birthdate`` must be a full, real date, not after ``today``."""
    name = _text(claims.get(names.name), MAX_NAME_CHARS)
    if name is None:
        raise _claims_missing(names.name)
    raw_birthdate = claims.get(names.birth_date)
    birth_date: date | None = None
    if isinstance(raw_birthdate, str) and _BIRTHDATE.fullmatch(raw_birthdate):
        try:
            birth_date = date.fromisoformat(raw_birthdate)
        except ValueError:
            birth_date = None
    if birth_date is None or birth_date.year < 1900 or birth_date > today:
        raise _claims_missing(names.birth_date)
    address = _address(claims.get(names.address))
    if address is None:
        raise _claims_missing(names.address)
    raw_gender = claims.get(names.gender)
    gender = None
    if raw_gender is not None:
        gender = _text(raw_gender, MAX_GENDER_CHARS)
        if gender is None:
            raise _claims_missing(names.gender)
    return ProvenIdentity(
        method="oidc", name=name, birth_date=birth_date, address=address, gender=gender
    )


# --- the relying party -----------------------------------------------------------------------


def _seconds_since(then: datetime, now: datetime) -> float:
    return (now - then).total_seconds()


class OidcRelyingParty:
    """The relying party for one provider: discovery and keys cached, start and finish.

    Thread-safe; one instance per provider and process.  ``random_bytes`` makes state,
    nonce and code_verifier.
    """

    def __init__(
        self,
        config: OidcProviderConfig,
        transport: HttpTransport | None = None,
        *,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.config = config
        self.transport: HttpTransport = transport or HttpxTransport()
        self.random_bytes = random_bytes
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at: datetime | None = None
        self._jwks: JsonWebKeySet | None = None
        self._jwks_at: datetime | None = None
        self._jwks_attempt_at: datetime | None = None

    # -- fetching

    def _get_json(self, url: str, limits: Limits, what_en: str, what_ja: str) -> Any:
        if not _is_allowed_url(url):
            raise _unreachable(what_en, what_ja, "insecure URL refused")
        try:
            response = self.transport.get(url, max_bytes=limits.max_bytes)
        except FetchError as exc:
            raise _unreachable(what_en, what_ja, str(exc)[:80]) from None
        if response.status != 200:
            raise _unreachable(what_en, what_ja, f"HTTP {response.status}")
        try:
            return load_json(response.body, limits)
        except FurusatoError:
            raise _unreachable(what_en, what_ja, "not JSON") from None

    def metadata(self, now: datetime) -> ProviderMetadata:
        """The provider's metadata, from the cache while younger than its TTL."""
        with self._lock:
            at = self._metadata_at
            fresh = (
                at is not None and 0 <= _seconds_since(at, now) < self.config.metadata_ttl_seconds
            )
            if self._metadata is None or not fresh:
                document = self._get_json(
                    self.config.discovery_url,
                    _METADATA_LIMITS,
                    "discovery document",
                    "ディスカバリ文書",
                )
                self._metadata = ProviderMetadata.from_json(document, self.config)
                self._metadata_at = now
            return self._metadata

    def _keys(self, now: datetime, *, refresh: bool = False) -> tuple[JsonWebKeySet, bool]:
        """The JWKS (cached); with ``refresh``, fetched again unless that happened less than
        ``jwks_min_refetch_seconds`` ago.  Returns the keys and whether they were fetched."""
        metadata = self.metadata(now)
        with self._lock:
            at, attempt = self._jwks_at, self._jwks_attempt_at
            fresh = at is not None and 0 <= _seconds_since(at, now) < self.config.jwks_ttl_seconds
            may_refetch = (
                attempt is None
                or not 0 <= _seconds_since(attempt, now) < self.config.jwks_min_refetch_seconds
            )
            if self._jwks is not None and fresh and not (refresh and may_refetch):
                return self._jwks, False
            self._jwks_attempt_at = now
            document = self._get_json(
                metadata.jwks_uri, _JWKS_LIMITS, "key set (JWKS)", "鍵セット (JWKS)"
            )
            self._jwks = JsonWebKeySet.from_json(document)
            self._jwks_at = now
            return self._jwks, True

    # -- the flow

    def start(self, now: datetime) -> AuthRequest:
        """A new login attempt: state, nonce, PKCE verifier and the authorization URL."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        metadata = self.metadata(now)
        state = _b64url(self.random_bytes(32))
        nonce = _b64url(self.random_bytes(32))
        code_verifier = _b64url(self.random_bytes(48))  # 64 characters (RFC 7636 §4.1)
        params = [
            ("response_type", "code"),
            ("client_id", self.config.client_id),
            ("redirect_uri", self.config.redirect_uri),
            ("scope", self.config.scopes),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", s256_challenge(code_verifier)),
            ("code_challenge_method", "S256"),
            *self.config.extra_authorization_params,
        ]
        parts = urlsplit(metadata.authorization_endpoint)
        query = parse_qsl(parts.query, keep_blank_values=True) + params
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
        return AuthRequest(
            issuer=self.config.issuer,
            client_id=self.config.client_id,
            redirect_uri=self.config.redirect_uri,
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
            created_at=now,
            authorization_url=url,
        )

    def _check_callback(
        self, auth_request: AuthRequest, state: str, now: datetime, iss: str | None
    ) -> None:
        config = self.config
        age = _seconds_since(auth_request.created_at, now)
        foreign = (auth_request.issuer, auth_request.client_id, auth_request.redirect_uri) != (
            config.issuer,
            config.client_id,
            config.redirect_uri,
        )
        if foreign or age > config.auth_request_ttl_seconds or age < -config.clock_skew_seconds:
            raise _fail(
                STATE_MISMATCH,
                "the login attempt has expired or belongs to another provider; please log in again",
                "ログイン手続きの有効期限が切れたか、別のサービスのものです。もう一度ログインしてください",
            )
        if (
            not isinstance(state, str)
            or len(state) > MAX_STATE_CHARS
            or not hmac.compare_digest(
                state.encode("utf-8", "surrogatepass"), auth_request.state.encode("utf-8")
            )
        ):
            raise _fail(
                STATE_MISMATCH,
                "the login response does not belong to this login attempt (state); please log "
                "in again",
                "ログインの応答がこのログイン手続きのものではありません (state 不一致)。もう一度ログインしてください",
            )
        metadata = self.metadata(now)
        if (iss is None and metadata.iss_parameter_supported) or (
            iss is not None and iss != config.issuer
        ):
            raise _fail(
                ISSUER_MISMATCH,
                "the login response comes from another issuer (iss)",
                "ログインの応答が別の発行者から届きました (iss 不一致)",
            )

    def _exchange_code(self, auth_request: AuthRequest, code: str, now: datetime) -> str:
        """The ID token for ``code`` (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        if not isinstance(code, str) or len(code) > MAX_CODE_CHARS or not _VSCHAR.fullmatch(code):
            raise _fail(
                TOKEN_REQUEST_FAILED,
                "the authorization code in the login response is malformed",
                "ログインの応答の認可コードが不正です",
            )
        metadata = self.metadata(now)
        if not _is_allowed_url(metadata.token_endpoint):
            raise _unreachable("token endpoint", "トークンエンドポイント", "insecure URL refused")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": auth_request.redirect_uri,
            "code_verifier": auth_request.code_verifier,
        }
        headers = {"Accept": "application/json"}
        if self.config.client_secret is None:
            form["client_id"] = self.config.client_id
        else:  # RFC 6749 §2.3.1: form-urlencoded, then Basic
            pair = quote(self.config.client_id, safe="") + ":"
            pair += quote(self.config.client_secret, safe="")
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        try:
            response = self.transport.post_form(
                metadata.token_endpoint, form, headers=headers, max_bytes=MAX_TOKEN_RESPONSE_BYTES
            )
        except FetchError as exc:
            raise _unreachable("token endpoint", "トークンエンドポイント", str(exc)[:80]) from None
        try:
            body = load_json(response.body, _TOKEN_LIMITS)
        except FurusatoError:
            body = None
        if response.status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            reason = error if isinstance(error, str) and _OAUTH_ERROR.fullmatch(error) else None
            reason = reason or f"HTTP {response.status}"
            raise _fail(
                TOKEN_REQUEST_FAILED,
                f"the provider refused to exchange the authorization code ({reason})",
                f"本人確認サービスが認可コードの交換を拒否しました ({reason})",
            )
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise _fail(
                TOKEN_REQUEST_FAILED,
                "the provider's token response has no ID token",
                "本人確認サービスのトークン応答に ID トークンがありません",
            )
        return id_token

    def finish(
        self,
        auth_request: AuthRequest,
        code: str,
        state: str,
        now: datetime,
        *,
        iss: str | None = None,
    ) -> ProvenIdentity:
        """The proven identity of the person who just logged in (checks in the module
        docstring); ``iss`` is the callback's ``iss`` parameter (RFC 9207) when it has one."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._check_callback(auth_request, state, now, iss)
        id_token = self._exchange_code(auth_request, code, now)
        keys, fetched = self._keys(now)
        try:
            claims = verify_id_token(
                id_token, keys, config=self.config, nonce=auth_request.nonce, now=now
            )
        except UnknownKeyError:
            if fetched:
                raise
            keys, fetched = self._keys(now, refresh=True)  # the provider may have rotated
            if not fetched:
                raise
            claims = verify_id_token(
                id_token, keys, config=self.config, nonce=auth_request.nonce, now=now
            )
        return identity_from_claims(claims, self.config.claims, today=now.astimezone(_JST).date())

    def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if callable(close):
            close()
