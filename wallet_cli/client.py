"""The wallet's side of OID4VCI 1.0 (pre-authorized code flow) and of status checks.

receive: offer (by value or by reference) → issuer metadata → token (with the tx_code when
the offer asks) → c_nonce → a fresh Ed25519 key for this registration and a key proof JWT →
the credential, in the format the resident chose (``ldp_vc``, ``jwt_vc_json``, ``dc+sd-jwt``:
docs/formats.md), which is checked before it is kept: a valid issuer proof or signature (the
key from the issuer's DID document), our key as its subject (``cnf.jwk`` for SD-JWT), the
furusato profile, its status entries and their state.

Premium registration (docs/wallet.md): a check-in QR is read and its signature checked
against the municipality's DID before anything is sent (``parse_checkin_qr``,
``verify_checkin_qr``); check-ins and applications prove the registration with a
presentation over the issuer's c_nonce; an application's state is read with its status token.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from jwcrypto import jwe, jwk

from did.document import public_key_from_verification_method
from did.errors import FurusatoError, LimitExceededError
from did.jsonio import Limits, load_json
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey, PublicKey, generate_private_key
from did.multibase import base64url_decode
from did.resolver import Resolver
from vc import jose, oid4vci, sdjwt
from vc.dates import parse_datetime
from vc.furusato import (
    ACTIVITY_CREDENTIAL_TYPE,
    RESIDENT_VCT,
    SD_JWT_STATUS_MEMBER,
    profile_problems,
)
from vc.model import as_list, issuer_id, subject_ids
from vc.statuslist import (
    LIST_CREDENTIAL_TYPE,
    MIN_ENTRIES,
    BitstringStatusList,
    StatusListDocument,
    parse_status_entries,
)
from vc.verify import VerifyOptions, verify_credential
from wallet_cli.store import APPLICATION_STATES, WalletError

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

    def get_json(self, url: str, *, headers: Mapping[str, str] | None = None) -> Any:
        try:
            with self.client.stream(
                "GET", url, headers={"Accept": "application/json", **(headers or {})}
            ) as response:
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

    def delete(self, url: str, *, headers: Mapping[str, str] | None = None) -> None:
        """DELETE, expecting 204 (or 200); a refusal raises like ``get_json``."""
        try:
            with self.client.stream("DELETE", url, headers=dict(headers or {})) as response:
                if response.status_code not in (200, 204):
                    raise _http_error(url, response.status_code, self._reason(response))
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


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CODE = re.compile(r"[a-z][a-z0-9_]{0,59}")


def clean_text(value: Any, limit: int = 300) -> str:
    """A server's text made safe to print: no control characters (terminal escapes), bounded."""
    return _CONTROL.sub(" ", str(value))[:limit]


def _code(value: Any, default: str) -> str:
    """A server's error code, if it looks like one (``checkin_duplicate``)."""
    return value if isinstance(value, str) and _CODE.fullmatch(value) else default


def _http_error(url: str, status: int, body: Any = None) -> WalletError:
    """The server's own bilingual reason when it gave one (our issuer's problem+json)."""
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    messages = fields.get("messages")
    if isinstance(messages, dict) and isinstance(messages.get("en"), str):
        en = clean_text(messages["en"])
        ja = clean_text(messages["ja"]) if isinstance(messages.get("ja"), str) else en
        return WalletError(
            f"{url} answered HTTP {status}: {en}",
            f"{url} が HTTP {status} を返しました: {ja}",
            code=_code(fields.get("code"), "http_error"),
        )
    return WalletError(
        f"{url} answered HTTP {status}", f"{url} が HTTP {status} を返しました", code="http_error"
    )


def _refused(step_en: str, step_ja: str, body: Any) -> WalletError:
    """The issuer's refusal in both languages with its stable code (our issuer sends
    problem+json with ``code`` and ``messages``; any OAuth server sends ``error`` and
    ``error_description``)."""
    fields: dict[str, Any] = body if isinstance(body, dict) else {}
    error = fields.get("error")
    messages: dict[str, Any] = (
        fields["messages"] if isinstance(fields.get("messages"), dict) else {}
    )
    en = clean_text(messages.get("en") or fields.get("error_description") or "")
    ja = clean_text(messages.get("ja") or en)
    reason = clean_text(error or "", 60)
    return WalletError(
        f"the issuer refused the {step_en}: {en or reason or 'no reason given'}",
        f"発行者が{step_ja}を拒否しました: {ja or reason or '理由の説明なし'}",
        code=_code(fields.get("code"), _code(error, "refused")),
    )


@dataclass(frozen=True)
class Received:
    credential: dict[str, Any]  # the decoded JSON for the compact formats
    holder: PrivateKey
    issuer_url: str
    format: str = "ldp_vc"
    encoded: str | None = None  # the compact string as received (jwt_vc_json, dc+sd-jwt)


FORMAT_CONFIGURATIONS: Mapping[str, str] = {
    oid4vci.FURUSATO_RESIDENT_CONFIGURATIONS[config_id].format: config_id
    for config_id in oid4vci.FURUSATO_RESIDENT_CONFIGURATIONS
}
"""OID4VCI format (``ldp_vc``, ``jwt_vc_json``, ``dc+sd-jwt``) → our configuration id."""


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
    holder: PrivateKey | None = None,
    expected_issuer: str | None = None,
    credential_format: str | None = None,
) -> Received:
    """Run the pre-authorized code flow; return the checked credential and its key — a new
    one, or ``holder`` (a premium credential goes to the registration key that applied).
    With ``expected_issuer``, an offer of any other issuer is refused before it is used.
    ``credential_format`` (``ldp_vc``, ``jwt_vc_json``, ``dc+sd-jwt``) requests our resident
    configuration of that format, which the offer must list; without it, the offer's first."""
    offer = fetch_offer(http, offer_text)
    issuer = offer.credential_issuer
    if credential_format is None:
        configuration = offer.credential_configuration_ids[0]
    else:
        configuration = FORMAT_CONFIGURATIONS.get(credential_format, "")
        if configuration not in offer.credential_configuration_ids:
            raise WalletError(
                f"the offer does not include the format {credential_format} "
                f"(it offers: {', '.join(clean_text(c, 80) for c in offer.credential_configuration_ids)})",
                f"申込みに形式 {credential_format} は含まれていません "
                f"(申込みの形式: {', '.join(clean_text(c, 80) for c in offer.credential_configuration_ids)})",
                code="format_not_offered",
            )
    if expected_issuer is not None and issuer != expected_issuer:
        raise WalletError(
            f"the offer comes from {issuer}, not from {expected_issuer}",
            f"申込みの発行者が {expected_issuer} ではなく {issuer} です",
            code="offer_issuer_mismatch",
        )
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
    holder = holder or generate_private_key(KeyType.ED25519, random_bytes)
    fmt = _configuration_format(metadata, configuration)
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
    if fmt == "ldp_vc":
        check_received(http, credential, holder, now=now)
        return Received(credential, holder, issuer)
    decoded = check_received_compact(http, fmt, credential, holder, now=now)
    return Received(decoded, holder, issuer, fmt, credential)


def _configuration_format(metadata: Mapping[str, Any], configuration: str) -> str:
    """The format the issuer metadata gives the configuration (ours, when it says none)."""
    supported = metadata.get("credential_configurations_supported")
    entry = supported.get(configuration) if isinstance(supported, dict) else None
    fmt = entry.get("format") if isinstance(entry, dict) else None
    if fmt is None and configuration in oid4vci.FURUSATO_RESIDENT_CONFIGURATIONS:
        fmt = oid4vci.FURUSATO_RESIDENT_CONFIGURATIONS[configuration].format
    if fmt is None:
        fmt = "ldp_vc"
    if fmt not in FORMAT_CONFIGURATIONS:
        raise WalletError(
            f"the wallet does not keep credentials of format {clean_text(fmt, 40)}",
            f"ウォレットは形式 {clean_text(fmt, 40)} の証明書を保管できません",
            code="unsupported_format",
        )
    return str(fmt)


def _not_verified(exc: FurusatoError) -> WalletError:
    return WalletError(
        f"the received credential does not verify: {exc.message_en}",
        f"受け取った証明書を検証できません: {exc.message_ja}",
        code=exc.code,
    )


def _assertion_key(res: Resolver) -> Callable[[str], PublicKey]:
    """``kid`` → the issuer's key: an assertion method of its DID document (a revoked key is
    under none)."""

    def key_for(kid: str) -> PublicKey:
        return public_key_from_verification_method(res.dereference(kid, "assertionMethod"))

    return key_for


def _sd_jwt_issuer_key(res: Resolver) -> sdjwt.IssuerKeyResolver:
    """The SD-JWT issuer's key by the header ``kid``, whose DID must be ``iss``."""
    key_for = _assertion_key(res)

    def issuer_key(header: Mapping[str, Any], payload: Mapping[str, Any]) -> PublicKey:
        kid = header.get("kid")
        kid = kid if isinstance(kid, str) else ""
        did, _, fragment = kid.partition("#")
        if not did.startswith("did:") or not fragment or payload.get("iss") != did:
            raise WalletError(
                "the SD-JWT's kid is not a key of its issuer (iss)",
                "SD-JWT の kid が発行者 (iss) の鍵ではありません",
                code="issuer_mismatch",
            )
        return key_for(kid)

    return issuer_key


def status_holder(fmt: str, credential: Mapping[str, Any]) -> dict[str, Any]:
    """The status entries of a decoded credential of either shape, as ``credentialStatus``
    (VCDM, ``jwt_vc_json``) or from ``status.bitstring_status_list`` (``dc+sd-jwt``)."""
    if fmt == "dc+sd-jwt":
        status = credential.get("status")
        entries = status.get(SD_JWT_STATUS_MEMBER) if isinstance(status, dict) else None
        return {"credentialStatus": entries} if entries is not None else {}
    return (
        {"credentialStatus": credential["credentialStatus"]}
        if "credentialStatus" in (credential)
        else {}
    )


def credential_issuer(fmt: str, credential: Mapping[str, Any]) -> str | None:
    """The issuer DID of a decoded credential (``iss`` for SD-JWT)."""
    if fmt == "dc+sd-jwt":
        iss = credential.get("iss")
        return iss if isinstance(iss, str) else None
    return issuer_id(credential)


def verify_compact(http: HttpClient, fmt: str, encoded: str, *, now: datetime) -> dict[str, Any]:
    """The decoded JSON of a VC-JWT or SD-JWT VC whose signature verifies with its issuer's
    key (from the issuer's DID document).  Raises a :class:`FurusatoError`."""
    res = resolver(http)
    if fmt == "jwt_vc_json":
        return jose.verify_vc_jwt(encoded, key_for=_assertion_key(res), now=now).credential
    if fmt == "dc+sd-jwt":
        verified = sdjwt.verify_sd_jwt(encoded, issuer_key=_sd_jwt_issuer_key(res), now=now)
        return verified.processed_claims
    raise WalletError(
        f"not a compact format: {clean_text(fmt, 40)}",
        f"コンパクト形式ではありません: {clean_text(fmt, 40)}",
        code="unsupported_format",
    )


def check_received_compact(
    http: HttpClient, fmt: str, credential: Any, holder: PrivateKey, *, now: datetime
) -> dict[str, Any]:
    """Keep only a VC-JWT / SD-JWT VC that verifies, is bound to our key (its
    ``credentialSubject.id`` / ``cnf.jwk``), follows the profile and has active status
    entries.  Returns its decoded JSON."""
    if not isinstance(credential, str):
        raise WalletError(
            f"a {fmt} credential must arrive as a compact string",
            f"{fmt} の証明書はコンパクト形式の文字列で届くはずです",
            code="malformed",
        )
    try:
        decoded = verify_compact(http, fmt, credential, now=now)
    except FurusatoError as exc:
        raise _not_verified(exc) from None
    if fmt == "jwt_vc_json":
        bound = subject_ids(decoded) == [did_key_from_public_key(holder.public_key)]
        problems = profile_problems({k: v for k, v in decoded.items() if k != "iat"})
        if problems:
            raise _not_verified(problems[0])
        until = decoded.get("validUntil")
        if until is not None and parse_datetime(until, "validUntil") <= now:
            raise WalletError(
                "the received credential has expired",
                "受け取った証明書は期限切れです",
                code="expired",
            )
    else:
        cnf = decoded.get("cnf")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        try:
            bound = isinstance(jwk, dict) and PublicKey.from_jwk(jwk) == holder.public_key
        except FurusatoError:
            bound = False
        if decoded.get("vct") != RESIDENT_VCT:
            raise WalletError(
                "the SD-JWT VC is not a furusato resident credential (vct)",
                "SD-JWT VC がふるさと住民の証明書ではありません (vct)",
                code="malformed",
            )
    if not bound:
        raise WalletError(
            "the credential is not about this wallet's key",
            "証明書がこのウォレットの鍵のものではありません",
            code="holder_binding_failed",
        )
    holder_doc = status_holder(fmt, decoded)
    if not as_list(holder_doc.get("credentialStatus")):
        raise WalletError(
            "the credential has no status entries",
            "証明書にステータスがありません",
            code="status_missing",
        )
    state = status_state(http, holder_doc, credential_issuer(fmt, decoded), now=now)
    if state != "active":
        raise WalletError(
            f"the received credential is not active ({state})",
            f"受け取った証明書は有効ではありません ({state})",
            code=state if state in ("revoked", "suspended") else "status_unknown",
        )
    return decoded


def status_state(
    http: HttpClient, status: Mapping[str, Any], issuer: str | None, *, now: datetime
) -> str:
    """active / revoked / suspended / unknown from the issuer's published Bitstring Status
    Lists (each list verified: its proof, its issuer, its purpose, its size).
    ``status`` holds ``credentialStatus`` (see :func:`status_holder`)."""
    try:
        entries = parse_status_entries(status)
    except FurusatoError:
        return "unknown"
    if not entries or issuer is None:
        return "unknown"
    lists = StatusLists(http, now)
    res = resolver(http)
    found: set[str] = set()
    for entry in entries:
        document = lists.get(entry.list_url)
        if document is None:
            return "unknown"
        listed = document.credential
        subject = listed.get("credentialSubject")
        if (
            listed.get("id") not in (None, entry.list_url)
            or LIST_CREDENTIAL_TYPE not in as_list(listed.get("type"))
            or issuer_id(listed) != issuer
            or not isinstance(subject, dict)
            or entry.purpose not in as_list(subject.get("statusPurpose"))
        ):
            return "unknown"
        if not verify_credential(listed, resolver=res, options=VerifyOptions(now=now)).verified:
            return "unknown"
        try:
            bits = BitstringStatusList.decode(subject.get("encodedList"))
            if bits.length < MIN_ENTRIES or (entry.index + 1) * entry.size > bits.length:
                return "unknown"
            value = bits.get_status(entry.index, entry.size)
        except FurusatoError:
            return "unknown"
        if value and entry.purpose in ("revocation", "suspension"):
            found.add("revoked" if entry.purpose == "revocation" else "suspended")
    for state in ("revoked", "suspended"):
        if state in found:
            return state
    return "active"


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


def current_state(
    http: HttpClient,
    credential: dict[str, Any],
    *,
    now: datetime,
    credential_format: str = "ldp_vc",
    encoded: str | None = None,
) -> str:
    """active / revoked / suspended / expired / unknown, from the issuer's published lists.
    For the compact formats give ``encoded`` (the string as received): its signature is
    checked again and the status entries of either shape are read."""
    if credential_format != "ldp_vc":
        return _compact_state(http, credential_format, encoded, now=now)
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


def _compact_state(http: HttpClient, fmt: str, encoded: str | None, *, now: datetime) -> str:
    if encoded is None:
        return "unknown"
    try:
        decoded = verify_compact(http, fmt, encoded, now=now)
    except FurusatoError as exc:
        return "expired" if exc.code == "expired" else "unknown"
    state = status_state(
        http, status_holder(fmt, decoded), credential_issuer(fmt, decoded), now=now
    )
    if state != "active":
        return state
    until = decoded.get("validUntil")
    try:
        if until is not None and parse_datetime(until, "validUntil") <= now:
            return "expired"
    except FurusatoError:
        return "unknown"
    return "active"


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
    presentation = presentation_for(c_nonce(http, metadata), issuer_url)
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


def c_nonce(http: HttpClient, metadata: Any) -> str:
    """A fresh c_nonce from the issuer's nonce endpoint (named in its metadata)."""
    endpoint = metadata.get("nonce_endpoint") if isinstance(metadata, dict) else None
    if not isinstance(endpoint, str):
        raise WalletError(
            "the issuer has no nonce endpoint", "発行者にノンスのエンドポイントがありません"
        )
    status, body = http.post(endpoint)
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("c_nonce"), str):
        raise _refused("nonce request", "ノンス要求", body)
    nonce: str = body["c_nonce"]
    return nonce


def issuer_metadata(http: HttpClient, issuer_url: str) -> Any:
    return http.get_json(oid4vci.well_known_url(issuer_url, unsafe_allow_http_localhost=True))


# --- premium registration: check-in QR codes ---------------------------------------------------

CHECKIN_PREFIX = "FCI1:"
CHECKIN_TYP = "furusato-checkin+jwt"
MAX_CHECKIN_QR = 4096  # the issuer's own bound on the QR text
CHECKIN_ALGS = ("EdDSA", "ES256")
CHECKIN_SKEW = timedelta(seconds=60)  # as the issuer allows
_CHECKIN_LIMITS = Limits(max_bytes=MAX_CHECKIN_QR, max_depth=3, max_nodes=64)
_LG_CODE = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class CheckinQR:
    """The claims of a check-in QR (docs/wallet.md)."""

    issuer: str  # the municipality's DID
    lg_code: str
    site_id: str
    name: str
    category: str
    qr_id: str
    not_before: datetime
    expires: datetime
    url: str  # where the check-in goes: the municipality's issuer + /checkins
    geofence: tuple[float, float, float] | None  # latitude, longitude, radius (m)

    def in_window(self, now: datetime) -> bool:
        return self.not_before - CHECKIN_SKEW <= now <= self.expires + CHECKIN_SKEW


@dataclass(frozen=True)
class UnverifiedCheckin:
    """A parsed check-in QR whose signature has not been checked yet (verify_checkin_qr)."""

    unverified_claims: CheckinQR
    kid: str
    alg: str
    signing_input: bytes
    signature: bytes


def _checkin_malformed(en: str, ja: str) -> WalletError:
    return WalletError(
        f"not a check-in QR: {en}",
        f"チェックイン用の QR ではありません: {ja}",
        code="checkin_malformed",
    )


def _checkin_part(text: str, what_en: str, what_ja: str) -> dict[str, Any]:
    try:
        value = load_json(base64url_decode(text, max_length=MAX_CHECKIN_QR), _CHECKIN_LIMITS)
    except FurusatoError:
        value = None
    if not isinstance(value, dict):
        raise _checkin_malformed(
            f"its {what_en} is not base64url JSON", f"{what_ja}が base64url の JSON ではありません"
        )
    return value


def _text(claims: dict[str, Any], name: str, limit: int = 200) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise _checkin_malformed(f"no valid {name!r}", f"{name!r} がないか正しくありません")
    return value


def _seconds(claims: dict[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**36:
        raise _checkin_malformed(f"no valid {name!r}", f"{name!r} がないか正しくありません")
    return datetime.fromtimestamp(value, tz=UTC)


def _geofence(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and -90 <= value[0] <= 90
        and -180 <= value[1] <= 180
        and 0 < value[2] <= 1_000_000
    ):
        return float(value[0]), float(value[1]), float(value[2])
    raise _checkin_malformed("a bad 'geo'", "'geo' が正しくありません")


def parse_checkin_qr(text: str) -> UnverifiedCheckin:
    """The text of a check-in QR (``FCI1:`` + a compact JWS), parsed strictly and within
    bounds.  Nothing is checked against keys: see :func:`verify_checkin_qr`."""
    text = text.strip()
    if len(text) > MAX_CHECKIN_QR:
        raise _checkin_malformed(
            f"longer than {MAX_CHECKIN_QR} characters", f"{MAX_CHECKIN_QR} 文字を超えています"
        )
    if not text.startswith(CHECKIN_PREFIX):
        raise _checkin_malformed("it does not start with FCI1:", "FCI1: で始まっていません")
    parts = text[len(CHECKIN_PREFIX) :].split(".")
    if len(parts) != 3:
        raise _checkin_malformed("not a compact JWS", "JWS の形式ではありません")
    header = _checkin_part(parts[0], "header", "ヘッダー")
    claims = _checkin_part(parts[1], "payload", "内容")
    if (
        set(header) != {"alg", "typ", "kid"}
        or header["typ"] != CHECKIN_TYP
        or not isinstance(header["alg"], str)
        or not isinstance(header["kid"], str)
    ):
        raise _checkin_malformed("unexpected header", "ヘッダーが正しくありません")
    try:
        signature = base64url_decode(parts[2], max_length=512)
    except FurusatoError:
        raise _checkin_malformed(
            "the signature is not base64url", "署名が base64url ではありません"
        ) from None
    lg_code = _text(claims, "lgCode", 6)
    if not _LG_CODE.fullmatch(lg_code):
        raise _checkin_malformed("a bad 'lgCode'", "'lgCode' が正しくありません")
    issuer = _text(claims, "iss", 2048)
    if not issuer.startswith("did:"):
        raise _checkin_malformed("'iss' is not a DID", "'iss' が DID ではありません")
    url = _text(claims, "url", 2048)
    if urlsplit(url).scheme not in ("https", "http"):
        raise _checkin_malformed(
            "'url' is not an https URL", "'url' が https の URL ではありません"
        )
    qr = CheckinQR(
        issuer=issuer,
        lg_code=lg_code,
        site_id=_text(claims, "site", 64),
        name=_text(claims, "name", 100),
        category=_text(claims, "category", 32),
        qr_id=_text(claims, "qr", 64),
        not_before=_seconds(claims, "nbf"),
        expires=_seconds(claims, "exp"),
        url=url,
        geofence=_geofence(claims.get("geo")),
    )
    return UnverifiedCheckin(
        qr, header["kid"], header["alg"], f"{parts[0]}.{parts[1]}".encode("ascii"), signature
    )


def _bad_signature(en: str, ja: str) -> WalletError:
    return WalletError(
        f"the check-in QR's signature does not verify: {en}",
        f"チェックイン QR の署名を確認できません: {ja}",
        code="checkin_signature_invalid",
    )


def verify_checkin_qr(
    unverified: UnverifiedCheckin,
    resolver: Resolver,
    *,
    allowed_algs: tuple[str, ...] = CHECKIN_ALGS,
) -> CheckinQR:
    """The claims of a check-in QR signed by the municipality it names: ``kid`` is an
    assertion method of the ``iss`` DID (a revoked key is under none), the algorithm is the
    key's and allowed, the signature verifies.  Raises ``checkin_signature_invalid``."""
    claims = unverified.unverified_claims
    did, _, fragment = unverified.kid.partition("#")
    if did != claims.issuer or not fragment:
        raise _bad_signature(
            "its key is not one of the municipality's", "鍵がその自治体のものではありません"
        )
    if unverified.alg not in allowed_algs:
        raise _bad_signature(
            f"algorithm {unverified.alg[:20]!r} is not allowed",
            f"アルゴリズム {unverified.alg[:20]!r} は使えません",
        )
    try:
        method = resolver.dereference(unverified.kid, "assertionMethod")
        key = public_key_from_verification_method(method)
    except FurusatoError as exc:
        raise _bad_signature(exc.message_en, exc.message_ja) from None
    if key.alg != unverified.alg:
        raise _bad_signature("the algorithm is not the key's", "アルゴリズムが鍵と一致しません")
    try:
        key.verify(unverified.signature, unverified.signing_input)
    except FurusatoError as exc:
        raise _bad_signature(exc.message_en, exc.message_ja) from None
    return claims


def check_checkin_url(qr: CheckinQR, issuer_url: str) -> None:
    """The QR must send the check-in to the issuer of our registration, nowhere else (a
    forged QR must not collect the wallet's presentation)."""
    if qr.url != issuer_url.rstrip("/") + "/checkins":
        raise WalletError(
            f"the QR sends check-ins to {clean_text(qr.url, 200)}, not to the municipality's "
            f"issuer ({issuer_url}): refused",
            f"この QR の送信先 {clean_text(qr.url, 200)} は自治体の発行者 ({issuer_url}) "
            "ではありません。送信しません",
            code="checkin_url_mismatch",
        )


def valid_location(latitude: float, longitude: float) -> bool:
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    )


@dataclass(frozen=True)
class CheckedIn:
    credential: dict[str, Any]  # the FurusatoActivityCredential, checked
    activities_in_last_12_months: int | None
    min_activities: int | None = None  # the municipality's rule, when the issuer says


def send_checkin(
    http: HttpClient,
    qr: CheckinQR,
    qr_text: str,
    *,
    issuer_url: str,
    holder: PrivateKey,
    presentation_for: Callable[[str, str], dict[str, Any]],
    location: tuple[float, float] | None,
    now: datetime,
) -> CheckedIn:
    """Post a check-in (the QR as scanned, a presentation of the registration, the location
    when given) to the registration's issuer; the activity credential is checked before it
    is returned (our key as its subject, the municipality's proof)."""
    check_checkin_url(qr, issuer_url)
    nonce = c_nonce(http, issuer_metadata(http, issuer_url))
    body: dict[str, Any] = {
        "checkin": qr_text.strip(),
        "presentation": presentation_for(nonce, issuer_url),
    }
    if location is not None:
        body["location"] = {"latitude": location[0], "longitude": location[1]}
    status, answer = http.post(qr.url, json=body)
    if status != 201 or not isinstance(answer, dict):
        raise _refused("check-in", "チェックイン", answer)
    credential = answer.get("credential")
    if not isinstance(credential, dict) or ACTIVITY_CREDENTIAL_TYPE not in (
        credential.get("type") or []
    ):
        raise WalletError(
            "the issuer's answer holds no activity credential",
            "発行者の応答に活動の証明書がありません",
            code="no_credential",
        )
    if issuer_id(credential) != qr.issuer:
        raise WalletError(
            "the activity credential was not issued by the municipality of the QR",
            "活動の証明書の発行者が QR の自治体ではありません",
            code="issuer_mismatch",
        )
    check_received(http, credential, holder, now=now)
    total, minimum = answer.get("activitiesInLast12Months"), answer.get("minActivities")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        total = None
    if not isinstance(minimum, int) or isinstance(minimum, bool) or not 0 <= minimum <= 1000:
        minimum = None
    return CheckedIn(credential, total, minimum)


# --- premium registration: the application ------------------------------------------------------

_APPLICATION_ID = re.compile(r"[A-Za-z0-9_-]{16,40}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


@dataclass(frozen=True)
class Application:
    """The issuer's answer to an application (POST …/premium/applications)."""

    application_id: str
    status_token: str
    identity_url: str
    identity_expires_at: str
    status_url: str
    min_activities: int | None


def _unexpected(what_en: str, what_ja: str) -> WalletError:
    return WalletError(
        f"the issuer's answer is not as expected: {what_en}",
        f"発行者の応答が正しくありません: {what_ja}",
        code="unexpected_answer",
    )


def apply_premium(
    http: HttpClient,
    issuer_url: str,
    *,
    presentation_for: Callable[[str, str], dict[str, Any]],
) -> Application:
    """Apply for premium registration with a presentation of the registration; the
    application's links must belong to the same issuer (the status token goes there)."""
    issuer_url = issuer_url.rstrip("/")
    nonce = c_nonce(http, issuer_metadata(http, issuer_url))
    status, body = http.post(
        f"{issuer_url}/premium/applications",
        json={"presentation": presentation_for(nonce, issuer_url)},
    )
    if status != 201 or not isinstance(body, dict):
        raise _refused("application", "申請", body)
    application_id = body.get("applicationId")
    token = body.get("statusToken")
    if not (isinstance(application_id, str) and _APPLICATION_ID.fullmatch(application_id)):
        raise _unexpected("applicationId", "applicationId")
    if not (isinstance(token, str) and _TOKEN.fullmatch(token)):
        raise _unexpected("statusToken", "statusToken")
    status_url = body.get("statusUrl")
    if status_url != f"{issuer_url}/premium/applications/{application_id}":
        raise _unexpected(
            "statusUrl (not this issuer's)", "statusUrl (この発行者のものではありません)"
        )
    identity_url = body.get("identityUrl")
    if not (
        isinstance(identity_url, str)
        and identity_url.startswith(f"{issuer_url}/premium/identity?")
        and len(identity_url) <= 2048
        and not _CONTROL.search(identity_url)
    ):
        raise _unexpected(
            "identityUrl (not this issuer's)", "identityUrl (この発行者のものではありません)"
        )
    expires = body.get("identityExpiresAt")
    minimum = body.get("minActivities")
    return Application(
        application_id,
        token,
        identity_url,
        clean_text(expires, 40) if isinstance(expires, str) else "",
        status_url,
        minimum if isinstance(minimum, int) and not isinstance(minimum, bool) else None,
    )


def application_status(http: HttpClient, status_url: str, status_token: str) -> dict[str, Any]:
    """The application's state as the issuer reports it (``application_not_found`` when it
    is gone: the identity step expired or was refused)."""
    body = http.get_json(status_url, headers={"Authorization": f"Bearer {status_token}"})
    if not isinstance(body, dict) or body.get("state") not in APPLICATION_STATES:
        raise _unexpected("no known state", "状態がありません")
    answer: dict[str, Any] = body
    return answer


# --- the premium SD-JWT VC with name and birth date (issuer.personal) ------------------------------

SEALED_MAX = 64 * 1024
SEALED_HEADER = {"alg": "ECDH-ES", "enc": "A256GCM", "cty": "dc+sd-jwt"}


def new_encryption_key() -> dict[str, Any]:
    """A fresh X25519 key (private JWK) for one sealed credential."""
    key = jwk.JWK.generate(kty="OKP", crv="X25519")
    exported: dict[str, Any] = key.export_private(as_dict=True)
    return exported


def public_encryption_jwk(private: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(private[name]) for name in ("kty", "crv", "x")}


def request_personal_claims(
    http: HttpClient,
    issuer_url: str,
    status_url: str,
    status_token: str,
    encryption_key: Mapping[str, Any],
) -> tuple[str, str]:
    """Ask for the approved credential as an SD-JWT VC with name and birth date; returns the
    identity link (this issuer's) and when it expires."""
    issuer_url = issuer_url.rstrip("/")
    status, body = http.post(
        f"{status_url}/personal",
        json={"encryptionJwk": public_encryption_jwk(encryption_key)},
        headers={"Authorization": f"Bearer {status_token}"},
    )
    if status != 201 or not isinstance(body, dict):
        raise _refused("personal credential", "氏名入り証明書の申込み", body)
    identity_url = body.get("identityUrl")
    if not (
        isinstance(identity_url, str)
        and identity_url.startswith(f"{issuer_url}/premium/identity?")
        and len(identity_url) <= 2048
        and not _CONTROL.search(identity_url)
    ):
        raise _unexpected(
            "identityUrl (not this issuer's)", "identityUrl (この発行者のものではありません)"
        )
    expires = body.get("identityExpiresAt")
    return identity_url, clean_text(expires, 40) if isinstance(expires, str) else ""


def open_sealed(text: object, encryption_key: Mapping[str, Any]) -> str:
    """Decrypt the sealed credential (a compact JWE to our key, exactly the expected header);
    returns the SD-JWT VC — still to be verified like any received credential."""
    if not isinstance(text, str) or not 0 < len(text) <= SEALED_MAX or text.count(".") != 4:
        raise _unexpected(
            "sealedCredential (not a compact JWE)", "sealedCredential (JWE ではありません)"
        )
    try:
        header = json.loads(base64url_decode(text.split(".", 1)[0]))
    except (ValueError, FurusatoError):
        header = None
    if not isinstance(header, dict) or {k: header.get(k) for k in SEALED_HEADER} != SEALED_HEADER:
        raise _unexpected(
            "sealedCredential header (ECDH-ES, A256GCM, dc+sd-jwt expected)",
            "sealedCredential のヘッダー (ECDH-ES, A256GCM, dc+sd-jwt のはず)",
        )
    try:
        message = jwe.JWE()
        message.deserialize(text, key=jwk.JWK(**encryption_key))
        plain = bytes(message.payload).decode("ascii")
    except Exception:  # jwcrypto raises several kinds for a JWE not for this key
        raise WalletError(
            "the sealed credential cannot be opened with this wallet's key",
            "暗号化された証明書をこのウォレットの鍵で開けません",
            code="sealed_unreadable",
        ) from None
    return plain


def discard_sealed(http: HttpClient, status_url: str, status_token: str) -> None:
    http.delete(f"{status_url}/sealed", headers={"Authorization": f"Bearer {status_token}"})
