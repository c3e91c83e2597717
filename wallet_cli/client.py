"""The wallet's side of OID4VCI 1.0 (pre-authorized code flow) and of status checks.

receive: offer (by value or by reference) → issuer metadata → token (with the tx_code when
the offer asks) → c_nonce → a fresh Ed25519 key for this registration and a key proof JWT →
the credential, which is checked before it is kept: a valid issuer proof, our key as its
subject, the furusato profile.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from did.errors import FurusatoError, LimitExceededError
from did.jsonio import Limits, load_json
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey, generate_private_key
from did.resolver import Resolver
from vc import oid4vci
from vc.model import subject_ids
from vc.statuslist import StatusListDocument
from vc.verify import VerifyOptions, verify_credential
from wallet_cli.store import WalletError

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _local_http(url: str) -> str:
    """did:web always means https; a loopback demo issuer speaks http (never anything else)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname in ("localhost", "127.0.0.1", "::1"):
        return urlunsplit(("http", *parts[1:]))
    return url


class HttpClient:
    """Bounded JSON over HTTP: timeouts, no redirects, a size limit on every response."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)

    def _read(self, response: httpx.Response) -> Any:
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise LimitExceededError("the response is too large", "応答が大きすぎます")
        return load_json(body, Limits(max_bytes=MAX_RESPONSE_BYTES))

    def get_json(self, url: str) -> Any:
        try:
            with self.client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise _http_error(url, response.status_code, self._reason(response))
                return self._read(response)
        except httpx.HTTPError as exc:
            raise _unreachable(url, exc) from None

    def _reason(self, response: httpx.Response) -> Any:
        """The body of a refusal (the issuer's problem+json), or None."""
        try:
            return self._read(response)
        except FurusatoError:
            return None

    def post(self, url: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            with self.client.stream("POST", url, **kwargs) as response:
                return response.status_code, self._read(response)
        except httpx.HTTPError as exc:
            raise _unreachable(url, exc) from None

    def fetch_bytes(self, url: str) -> bytes:
        """The fetcher for did:web (any failure means not found)."""
        with self.client.stream("GET", _local_http(url)) as response:
            response.raise_for_status()
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise LimitExceededError("the response is too large", "応答が大きすぎます")
            return body


def _unreachable(url: str, exc: Exception) -> WalletError:
    return WalletError(
        f"cannot reach {url} ({type(exc).__name__})",
        f"{url} に接続できません ({type(exc).__name__})",
        code="unreachable",
    )


def _http_error(url: str, status: int, body: Any = None) -> WalletError:
    """The server's own bilingual reason when it gave one (our issuer's problem+json)."""
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    messages = fields.get("messages")
    if isinstance(messages, dict) and isinstance(messages.get("en"), str):
        en = str(messages["en"])[:300]
        ja = str(messages["ja"])[:300] if isinstance(messages.get("ja"), str) else en
        return WalletError(
            f"{url} answered HTTP {status}: {en}",
            f"{url} が HTTP {status} を返しました: {ja}",
            code=str(fields.get("code") or "http_error")[:60],
        )
    return WalletError(
        f"{url} answered HTTP {status}", f"{url} が HTTP {status} を返しました", code="http_error"
    )


def _refused(step_en: str, step_ja: str, body: Any) -> WalletError:
    """The issuer's refusal in both languages (our issuer sends ``messages``; any OAuth
    server sends ``error`` and ``error_description``)."""
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    error = fields.get("error")
    messages: dict[str, Any] = (
        fields["messages"] if isinstance(fields.get("messages"), dict) else {}
    )
    en = messages.get("en") or fields.get("error_description") or ""
    ja = messages.get("ja") or en
    return WalletError(
        f"the issuer refused the {step_en}: {en or error or 'no reason given'}",
        f"発行者が{step_ja}を拒否しました: {ja or error or '理由の説明なし'}",
        code=str(error or "refused"),
    )


@dataclass(frozen=True)
class Received:
    credential: dict[str, Any]
    holder: PrivateKey
    issuer_url: str


def fetch_offer(http: HttpClient, text: str) -> oid4vci.CredentialOffer:
    offer, reference = oid4vci.parse_offer_uri(text.strip(), unsafe_allow_http_localhost=True)
    if offer is not None:
        return offer
    assert reference is not None
    return oid4vci.parse_credential_offer(
        http.get_json(reference), unsafe_allow_http_localhost=True
    )


def receive(
    http: HttpClient,
    offer_text: str,
    *,
    now: datetime,
    tx_code: Callable[[oid4vci.TxCode], str],
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> Received:
    """Run the pre-authorized code flow; return the checked credential and its new key."""
    offer = fetch_offer(http, offer_text)
    issuer = offer.credential_issuer
    metadata = http.get_json(oid4vci.well_known_url(issuer, unsafe_allow_http_localhost=True))
    authorization = http.get_json(
        oid4vci.well_known_url(
            issuer, "oauth-authorization-server", unsafe_allow_http_localhost=True
        )
    )
    if not isinstance(metadata, dict) or metadata.get("credential_issuer") != issuer:
        raise WalletError(
            "the issuer metadata does not belong to the offer's issuer",
            "発行者メタデータが申込みの発行者のものではありません",
            code="metadata",
        )
    form = {
        "grant_type": oid4vci.PRE_AUTHORIZED_GRANT_TYPE,
        "pre-authorized_code": offer.pre_authorized_code,
    }
    if offer.tx_code is not None:
        form["tx_code"] = tx_code(offer.tx_code)
    status, token = http.post(str(authorization.get("token_endpoint")), data=form)
    if status != 200 or not isinstance(token, dict) or "access_token" not in token:
        raise _refused("token request", "トークン要求", token)
    holder = generate_private_key(KeyType.ED25519, random_bytes)
    configuration = offer.credential_configuration_ids[0]
    nonce = None
    if metadata.get("nonce_endpoint"):
        status, body = http.post(str(metadata["nonce_endpoint"]))
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("c_nonce"), str):
            raise _refused("nonce request", "ノンス要求", body)
        nonce = body["c_nonce"]
    proof = oid4vci.create_key_proof(
        holder,
        audience=issuer,
        nonce=nonce,
        issued_at=now,
        kid=did_key_verification_method_id(holder.public_key),
    )
    status, body = http.post(
        str(metadata["credential_endpoint"]),
        json={"credential_configuration_id": configuration, "proofs": {"jwt": [proof]}},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    if status != 200 or not isinstance(body, dict):
        raise _refused("credential request", "証明書の要求", body)
    try:
        credential = body["credentials"][0]["credential"]
    except (KeyError, IndexError, TypeError):
        raise WalletError(
            "the issuer's answer holds no credential",
            "発行者の応答に証明書がありません",
            code="no_credential",
        ) from None
    check_received(http, credential, holder, now=now)
    return Received(credential, holder, issuer)


def check_received(http: HttpClient, credential: Any, holder: PrivateKey, *, now: datetime) -> None:
    """Keep only a credential that verifies and names our key as its subject."""
    if not isinstance(credential, dict):
        raise WalletError(
            "the credential is not a JSON object", "証明書が JSON オブジェクトではありません"
        )
    if subject_ids(credential) != [did_key_from_public_key(holder.public_key)]:
        raise WalletError(
            "the credential is not about this wallet's key",
            "証明書がこのウォレットの鍵のものではありません",
            code="holder_binding_failed",
        )
    result = verify_credential(
        credential,
        resolver=resolver(http),
        options=VerifyOptions(now=now, status_lists=StatusLists(http, now)),
    )
    if not result.verified:
        first = result.errors[0]
        raise WalletError(
            f"the received credential does not verify: {first.message_en}",
            f"受け取った証明書を検証できません: {first.message_ja}",
            code=first.code,
        )


def resolver(http: HttpClient) -> Resolver:
    return Resolver(http.fetch_bytes)


class StatusLists:
    """Status list credentials fetched as needed (the wallet is online when it checks)."""

    def __init__(self, http: HttpClient, now: datetime) -> None:
        self.http = http
        self.now = now

    def get(self, url: str) -> StatusListDocument | None:
        try:
            document = self.http.get_json(url)
        except FurusatoError:
            return None
        return (
            StatusListDocument(document, retrieved_at=self.now)
            if isinstance(document, dict)
            else None
        )


def current_state(http: HttpClient, credential: dict[str, Any], *, now: datetime) -> str:
    """active / revoked / suspended / expired / unknown, from the issuer's published lists."""
    result = verify_credential(
        credential,
        resolver=resolver(http),
        options=VerifyOptions(now=now, status_lists=StatusLists(http, now)),
    )
    if result.verified:
        return "active"
    codes = result.codes
    for code in ("revoked", "suspended", "expired"):
        if code in codes:
            return code
    return "unknown"


def renew(
    http: HttpClient,
    credential: dict[str, Any],
    holder: PrivateKey,
    issuer_url: str,
    *,
    now: datetime,
    presentation_for: Callable[[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """Ask the issuer for a renewed credential, proving the current one with a presentation
    over the issuer's c_nonce (challenge) and its identifier (domain)."""
    metadata = http.get_json(oid4vci.well_known_url(issuer_url, unsafe_allow_http_localhost=True))
    endpoint = metadata.get("renewal_endpoint") if isinstance(metadata, dict) else None
    if not isinstance(endpoint, str):
        raise WalletError(
            "this issuer does not offer renewal",
            "この発行者は更新に対応していません",
            code="renewal_unsupported",
        )
    status, body = http.post(str(metadata["nonce_endpoint"]))
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("c_nonce"), str):
        raise _refused("nonce request", "ノンス要求", body)
    presentation = presentation_for(body["c_nonce"], issuer_url)
    status, body = http.post(endpoint, json={"presentation": presentation})
    if status != 200 or not isinstance(body, dict):
        raise _refused("renewal", "更新", body)
    try:
        renewed = body["credentials"][0]["credential"]
    except (KeyError, IndexError, TypeError):
        raise WalletError(
            "the issuer's answer holds no credential",
            "発行者の応答に証明書がありません",
            code="no_credential",
        ) from None
    check_received(http, renewed, holder, now=now)
    result: dict[str, Any] = renewed
    return result
