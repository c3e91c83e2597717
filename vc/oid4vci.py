"""OpenID for Verifiable Credential Issuance 1.0 (Final), pre-authorized code flow.

The pure parts of OID4VCI that the issuer service and the wallet share (REFERENCES.md §6):

* the Credential Offer (§4.1) as a value, its ``openid-credential-offer://`` URI by value and by
  reference, and strict parsing of both;
* well-known URLs formed by inserting the segment between host and path (§12.2.2, RFC 8414 §3);
* Credential Issuer metadata (§12.2.4) and Authorization Server metadata (§12.3) builders, and
  our three configurations of the resident credential (docs/formats.md):
  :data:`FURUSATO_RESIDENT_LDP` (``ldp_vc``), :data:`FURUSATO_RESIDENT_JWT` (``jwt_vc_json``) and
  :data:`FURUSATO_RESIDENT_SD_JWT` (``dc+sd-jwt``), listed by id, in offer order, in
  :data:`FURUSATO_RESIDENT_CONFIGURATIONS`;
* the ``jwt`` key proof (Appendix F.1): :func:`create_key_proof` for the wallet and
  :func:`verify_key_proof` for the issuer, with every check of Appendix F.4;
* parsing of the Token Request (§6.1) and the Credential Request (§8.2), and the response bodies
  (§6.2, §7.2, §8.3) — OID4VCI 1.0 shapes only: ``proofs`` (never the draft ``proof``), a
  ``credentials`` array, ``c_nonce`` only from the Nonce Endpoint.

No network, no clock, no randomness: callers pass ``now``, nonces, codes and tokens.  Every error
derives from :class:`OID4VCIError`, which carries the OAuth ``error`` code the HTTP shell sends
(``oauth_error``) next to the bilingual messages of :class:`~did.errors.FurusatoError`.

Decisions (see the functions for details):

* ``aud`` of a key proof must be a JSON **string** equal, byte for byte, to the Credential Issuer
  Identifier (Appendix F.1 types it "REQUIRED (string)"); an array — even one holding the
  identifier — is rejected, so a proof can never be valid for several audiences.
* ``credential_signing_alg_values_supported`` for ``ldp_vc`` lists Data Integrity **cryptosuite
  names** (``eddsa-rdfc-2022``).  The spec points at the 2020 CCG suite registry, which predates
  Data Integrity 1.0 and knows only proof types (``Ed25519Signature2018``); the ``di_vp`` proof type
  of the same spec lists cryptosuite names in ``proof_signing_alg_values_supported``, so we use
  the same vocabulary for the credential.  The JOSE name ``EdDSA`` would not say which
  canonicalisation the wallet must support.  The JOSE formats (``jwt_vc_json``, ``dc+sd-jwt``)
  list JOSE ``alg`` names (``EdDSA``, ``ES256``), as the spec says for them.
* ``jwt_vc_json`` carries the VC-JOSE-COSE ``vc+jwt`` (the VCDM 2.0 credential is the payload,
  no ``vc`` claim): OID4VCI 1.0 cites VCDM 1.1 for this format id and has none for VCDM 2.0
  with JOSE (docs/formats.md).
* ``iat`` must be an integer (no fractional NumericDate); ``exp``/``nbf``, when a wallet sends them,
  are checked too.
* ``nonce_ok`` is called last, only for a proof that passed every other check, so a forged
  proof cannot consume a nonce.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl, quote, urlsplit

from did.errors import (
    PROOF_VERIFICATION_ERROR,
    FurusatoError,
    InvalidSignatureError,
    MalformedValueError,
)
from did.jsonio import Limits, load_json
from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PublicKey, Signer
from did.multibase import base64url_decode, base64url_encode
from vc.furusato import CONTEXTS, RESIDENT_CREDENTIAL_TYPE, RESIDENT_VCT

__all__ = [
    "DEFAULT_PROOF_ALGS",
    "FURUSATO_RESIDENT_CONFIGURATIONS",
    "FURUSATO_RESIDENT_JWT",
    "FURUSATO_RESIDENT_JWT_ID",
    "FURUSATO_RESIDENT_LDP",
    "FURUSATO_RESIDENT_LDP_ID",
    "FURUSATO_RESIDENT_SD_JWT",
    "FURUSATO_RESIDENT_SD_JWT_ID",
    "JOSE_SIGNING_ALGS",
    "OFFER_SCHEME",
    "PRE_AUTHORIZED_GRANT_TYPE",
    "PROOF_TYP",
    "ClaimDescription",
    "ClaimDisplay",
    "CredentialConfiguration",
    "CredentialDisplay",
    "CredentialOffer",
    "CredentialRequest",
    "InvalidClientError",
    "InvalidCredentialOfferError",
    "InvalidCredentialRequestError",
    "InvalidEncryptionParametersError",
    "InvalidGrantError",
    "InvalidNonceError",
    "InvalidProofError",
    "InvalidRequestError",
    "OID4VCIError",
    "TokenRequest",
    "TxCode",
    "UnknownCredentialConfigurationError",
    "UnknownCredentialIdentifierError",
    "UnsupportedGrantTypeError",
    "VerifiedKeyProof",
    "authorization_server_metadata",
    "check_tx_code",
    "create_key_proof",
    "credential_response",
    "issuer_metadata",
    "nonce_response",
    "oauth_error_body",
    "offer_uri_by_reference",
    "offer_uri_by_value",
    "parse_credential_offer",
    "parse_credential_request",
    "parse_offer_uri",
    "parse_token_request",
    "token_response",
    "verify_key_proof",
    "verify_key_proofs",
    "well_known_url",
]

PRE_AUTHORIZED_GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
"""The Pre-Authorized Code grant type (§4.1.1, IANA OAuth URI registry)."""

OFFER_SCHEME: Final = "openid-credential-offer://"
"""The custom scheme of a Credential Offer when the wallet's offer endpoint is unknown (§12.1)."""

PROOF_TYP: Final = "openid4vci-proof+jwt"
"""The ``typ`` header of a ``jwt`` key proof (Appendix F.1)."""

DEFAULT_PROOF_ALGS: Final = ("EdDSA", "ES256")
"""Key proof algorithms we accept unless the caller says otherwise."""

MAX_OFFER_URI_LENGTH: Final = 8192
"""Characters of an offer URI (a QR holds at most 7,089 digits, far fewer bytes)."""

MAX_OFFER_JSON_BYTES: Final = 8192
MAX_URL_LENGTH: Final = 2048
MAX_IDENTIFIER_LENGTH: Final = 256
"""Configuration ids, credential identifiers: short ASCII-ish names."""

MAX_CONFIGURATION_IDS: Final = 32
MAX_CODE_LENGTH: Final = 1024
"""Pre-authorized codes, access tokens and nonces as the wallet echoes them."""

MAX_TX_CODE_LENGTH: Final = 64
MAX_TX_CODE_DESCRIPTION: Final = 300  # §4.1.1: "MUST NOT exceed 300 characters"
MAX_PROOF_LENGTH: Final = 8192
MAX_PROOFS: Final = 10
CLOCK_SKEW: Final = timedelta(seconds=60)

_SUPPORTED_PROOF_ALGS: Final[Mapping[str, frozenset[KeyType]]] = {
    "EdDSA": frozenset({KeyType.ED25519}),
    "Ed25519": frozenset({KeyType.ED25519}),  # fully-specified JOSE name (RFC 9864)
    "ES256": frozenset({KeyType.P256}),
    "ES384": frozenset({KeyType.P384}),
}
# Members of a JWK that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
_PRIVATE_JWK_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_LOCALHOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_WELL_KNOWN_SUFFIX = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_JSON_LIMITS_OFFER = Limits(max_bytes=MAX_OFFER_JSON_BYTES, max_depth=8, max_nodes=512)


# --- errors ---------------------------------------------------------------------------------


class OID4VCIError(FurusatoError):
    """An OID4VCI protocol error; ``oauth_error`` is the ``error`` code of the HTTP response.

    ``http_status`` is the status the spec prescribes for it (400 unless said otherwise).
    :func:`oauth_error_body` turns one into the JSON error body.
    """

    code = "oid4vci_error"
    title_en = "Credential issuance error"
    title_ja = "クレデンシャル発行のエラー"
    oauth_error: ClassVar[str] = "invalid_request"
    http_status: ClassVar[int] = 400


class InvalidCredentialOfferError(OID4VCIError):
    """A Credential Offer (or its URI) the wallet cannot use (§4.1)."""

    code = "invalid_credential_offer"
    title_en = "Invalid credential offer"
    title_ja = "クレデンシャルオファーが不正です"


class InvalidRequestError(OID4VCIError):
    """Token Request: a missing or unexpected parameter (RFC 6749 §5.2, OID4VCI §6.3)."""

    code = "invalid_request"
    oauth_error = "invalid_request"


class InvalidGrantError(OID4VCIError):
    """Token Request: wrong Transaction Code, unknown or expired pre-authorized code (§6.3)."""

    code = "invalid_grant"
    oauth_error = "invalid_grant"


class InvalidClientError(OID4VCIError):
    """Token Request without a client where anonymous access is not allowed (§6.3)."""

    code = "invalid_client"
    oauth_error = "invalid_client"
    http_status = 401


class UnsupportedGrantTypeError(OID4VCIError):
    """Token Request with a grant type other than the pre-authorized code (RFC 6749 §5.2)."""

    code = "unsupported_grant_type"
    oauth_error = "unsupported_grant_type"


class InvalidCredentialRequestError(OID4VCIError):
    """Credential Request missing a parameter, or malformed (§8.3.1.2)."""

    code = "invalid_credential_request"
    oauth_error = "invalid_credential_request"


class UnknownCredentialConfigurationError(OID4VCIError):
    code = "unknown_credential_configuration"
    oauth_error = "unknown_credential_configuration"


class UnknownCredentialIdentifierError(OID4VCIError):
    code = "unknown_credential_identifier"
    oauth_error = "unknown_credential_identifier"


class InvalidEncryptionParametersError(OID4VCIError):
    code = "invalid_encryption_parameters"
    oauth_error = "invalid_encryption_parameters"


class InvalidProofError(OID4VCIError):
    """A key proof, or the ``proofs`` parameter, is missing or invalid (§8.3.1.2, App. F.4)."""

    code = "invalid_proof"
    problem_type = PROOF_VERIFICATION_ERROR
    title_en = "Invalid key proof"
    title_ja = "鍵の所持証明 (key proof) が不正です"
    oauth_error = "invalid_proof"


class InvalidNonceError(OID4VCIError):
    """The proof's ``nonce`` is not a current ``c_nonce``: the wallet should fetch a new one."""

    code = "invalid_nonce"
    problem_type = PROOF_VERIFICATION_ERROR
    title_en = "Invalid or expired nonce"
    title_ja = "nonce が不正か期限切れです"
    oauth_error = "invalid_nonce"


def _show(value: object, limit: int = 60) -> str:
    """``repr`` of an untrusted value, cut to ``limit`` characters for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_DESCRIPTION_CHAR = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def oauth_error_body(error: OID4VCIError) -> dict[str, str]:
    """The JSON body of an OAuth/OID4VCI error response: ``error`` and ``error_description``.

    ``error_description`` is the English message restricted to the characters §8.3.1.2 allows
    (``%x20-21 / %x23-5B / %x5D-7E``); anything else becomes ``?``.  Send it with
    ``error.http_status`` and ``Cache-Control: no-store``.
    """
    description = _DESCRIPTION_CHAR.sub("?", error.message_en)[:500]
    return {"error": error.oauth_error, "error_description": description}


# --- URLs -----------------------------------------------------------------------------------


def _check_url(
    value: object,
    what: str,
    error: type[FurusatoError],
    *,
    allow_query: bool,
    unsafe_allow_http_localhost: bool,
) -> str:
    """An absolute ``https`` URL with a host, no user info, no fragment (and no query)."""

    def bad(en: str, ja: str) -> FurusatoError:
        return error(f"{what}: {en}", f"{what}: {ja}", path=what)

    if not isinstance(value, str) or not value:
        raise bad("must be a non-empty string", "空でない文字列でなければなりません")
    if len(value) > MAX_URL_LENGTH:
        raise bad(
            f"longer than {MAX_URL_LENGTH} characters",
            f"{MAX_URL_LENGTH} 文字を超えています",
        )
    if any(not 0x21 <= ord(c) <= 0x7E for c in value):
        raise bad(
            "must be printable ASCII without spaces (percent-encode other characters)",
            "空白を含まない表示可能な ASCII 文字でなければなりません"
            " (他の文字は %-エンコードします)",
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise bad(
            f"not a valid URL: {_show(value)}", f"URL の形式が不正です: {_show(value)}"
        ) from None
    secure = value.startswith("https://")
    local_http = unsafe_allow_http_localhost and value.startswith("http://") and host in _LOCALHOSTS
    if not (secure or local_http):
        raise bad(
            f"must be an https URL, got {_show(value)}",
            f"https の URL でなければなりません: {_show(value)}",
        )
    if not host:
        raise bad("has no host", "ホストがありません")
    if "@" in parts.netloc:
        raise bad("must not contain user information ('@')", "ユーザー情報 ('@') は使用できません")
    if "#" in value:
        raise bad("must not have a fragment ('#')", "フラグメント ('#') は使用できません")
    if not allow_query and "?" in value:
        raise bad("must not have a query ('?')", "クエリ ('?') は使用できません")
    return value


def well_known_url(
    identifier: str,
    suffix: str = "openid-credential-issuer",
    *,
    unsafe_allow_http_localhost: bool = False,
) -> str:
    """The well-known metadata URL of an issuer identifier (OID4VCI §12.2.2; RFC 8414 §3.1).

    ``/.well-known/<suffix>`` goes between the host and the path, and a terminating ``/`` of the
    path is removed first: ``https://furusato.example.jp/lg/015814`` →
    ``https://furusato.example.jp/.well-known/openid-credential-issuer/lg/015814``.  Use
    ``suffix="oauth-authorization-server"`` for the Authorization Server metadata.
    """
    identifier = _check_url(
        identifier,
        "issuer identifier",
        MalformedValueError,
        allow_query=False,
        unsafe_allow_http_localhost=unsafe_allow_http_localhost,
    )
    if not isinstance(suffix, str) or _WELL_KNOWN_SUFFIX.fullmatch(suffix) is None:
        raise MalformedValueError(
            f"well-known suffix must be a lowercase name such as 'openid-credential-issuer',"
            f" got {_show(suffix)}",
            f"well-known のサフィックスは 'openid-credential-issuer' のような小文字の名前で"
            f"なければなりません: {_show(suffix)}",
        )
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}/.well-known/{suffix}{path}"


# --- Credential Offer (§4.1) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TxCode:
    """The ``tx_code`` object of a pre-authorized grant: a Transaction Code is required.

    Every member is optional; an empty object still means "a code is required" (§4.1.1).
    ``input_mode`` is ``"numeric"`` (the default when absent) or ``"text"``.
    """

    input_mode: str | None = None
    length: int | None = None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.input_mode is not None:
            out["input_mode"] = self.input_mode
        if self.length is not None:
            out["length"] = self.length
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class CredentialOffer:
    """A Credential Offer with the Pre-Authorized Code grant (§4.1.1).

    ``credential_issuer`` must equal, byte for byte, the ``credential_issuer`` of the issuer's
    metadata.  ``tx_code`` is ``None`` when no Transaction Code is needed.
    """

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]
    pre_authorized_code: str
    tx_code: TxCode | None = None
    authorization_server: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The Credential Offer object (§4.1.1), as sent by value or served by reference."""
        grant: dict[str, Any] = {"pre-authorized_code": self.pre_authorized_code}
        if self.tx_code is not None:
            grant["tx_code"] = self.tx_code.to_json()
        if self.authorization_server is not None:
            grant["authorization_server"] = self.authorization_server
        return {
            "credential_issuer": self.credential_issuer,
            "credential_configuration_ids": list(self.credential_configuration_ids),
            "grants": {PRE_AUTHORIZED_GRANT_TYPE: grant},
        }


def _offer_error(en: str, ja: str, path: str | None = None) -> InvalidCredentialOfferError:
    return InvalidCredentialOfferError(
        f"credential offer: {en}", f"クレデンシャルオファー: {ja}", path=path
    )


def _bounded_string(
    value: object,
    path: str,
    max_length: int,
    error: Callable[[str, str, str], FurusatoError],
) -> str:
    if not isinstance(value, str) or not value:
        raise error(
            f"{path} must be a non-empty string, got {_show(value)}",
            f"{path} は空でない文字列でなければなりません: {_show(value)}",
            path,
        )
    if len(value) > max_length:
        raise error(
            f"{path} is longer than {max_length} characters",
            f"{path} が {max_length} 文字を超えています",
            path,
        )
    return value


def _parse_tx_code(value: object) -> TxCode:
    path = f"grants.{PRE_AUTHORIZED_GRANT_TYPE}.tx_code"
    if not isinstance(value, dict):
        raise _offer_error(
            f"tx_code must be an object (an empty object means a code is required),"
            f" got {_show(value)}",
            "tx_code はオブジェクトでなければなりません"
            f" (空のオブジェクトはコードが必要という意味です): {_show(value)}",
            path,
        )
    input_mode = value.get("input_mode")
    if input_mode is not None and input_mode not in ("numeric", "text"):
        raise _offer_error(
            f"tx_code.input_mode must be 'numeric' or 'text', got {_show(input_mode)}",
            f"tx_code.input_mode は 'numeric' か 'text' でなければなりません: {_show(input_mode)}",
            path + ".input_mode",
        )
    length = value.get("length")
    if length is not None and (
        isinstance(length, bool)
        or not isinstance(length, int)
        or not 1 <= length <= MAX_TX_CODE_LENGTH
    ):
        raise _offer_error(
            f"tx_code.length must be an integer from 1 to {MAX_TX_CODE_LENGTH},"
            f" got {_show(length)}",
            f"tx_code.length は 1 から {MAX_TX_CODE_LENGTH} までの整数でなければなりません:"
            f" {_show(length)}",
            path + ".length",
        )
    description = value.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise _offer_error(
                "tx_code.description must be a string",
                "tx_code.description は文字列でなければなりません",
                path + ".description",
            )
        if len(description) > MAX_TX_CODE_DESCRIPTION:
            raise _offer_error(
                f"tx_code.description is longer than {MAX_TX_CODE_DESCRIPTION} characters",
                f"tx_code.description が {MAX_TX_CODE_DESCRIPTION} 文字を超えています",
                path + ".description",
            )
    return TxCode(input_mode=input_mode, length=length, description=description)


def parse_credential_offer(
    obj: object, *, unsafe_allow_http_localhost: bool = False
) -> CredentialOffer:
    """Validate a Credential Offer object (§4.1.1) with a Pre-Authorized Code grant.

    Required: ``credential_issuer`` (an https URL without query or fragment),
    ``credential_configuration_ids`` (a non-empty array of unique strings) and the grant
    ``urn:ietf:params:oauth:grant-type:pre-authorized_code`` with its ``pre-authorized_code``.
    An offer with only the ``authorization_code`` grant, or no grant, is refused: this wallet
    speaks the pre-authorized code flow only.  Unknown members are ignored (§4.1.1).
    """
    if not isinstance(obj, dict):
        raise _offer_error(
            f"must be a JSON object, got {type(obj).__name__}",
            f"JSON オブジェクトでなければなりません ({type(obj).__name__})",
        )
    issuer = _check_url(
        obj.get("credential_issuer"),
        "credential_issuer",
        InvalidCredentialOfferError,
        allow_query=False,
        unsafe_allow_http_localhost=unsafe_allow_http_localhost,
    )
    ids = obj.get("credential_configuration_ids")
    if not isinstance(ids, list) or not ids:
        raise _offer_error(
            "credential_configuration_ids must be a non-empty array of strings",
            "credential_configuration_ids は空でない文字列の配列でなければなりません",
            "credential_configuration_ids",
        )
    if len(ids) > MAX_CONFIGURATION_IDS:
        raise _offer_error(
            f"more than {MAX_CONFIGURATION_IDS} credential_configuration_ids",
            f"credential_configuration_ids が {MAX_CONFIGURATION_IDS} 個を超えています",
            "credential_configuration_ids",
        )
    for index, item in enumerate(ids):
        _bounded_string(
            item, f"credential_configuration_ids[{index}]", MAX_IDENTIFIER_LENGTH, _offer_error
        )
    if len(set(ids)) != len(ids):
        raise _offer_error(
            "credential_configuration_ids must not repeat a value",
            "credential_configuration_ids に重複があります",
            "credential_configuration_ids",
        )
    grants = obj.get("grants")
    if grants is None:
        raise _offer_error(
            "no 'grants': this wallet needs the pre-authorized code grant",
            "'grants' がありません: 事前認可コード (pre-authorized code) のグラントが必要です",
            "grants",
        )
    if not isinstance(grants, dict):
        raise _offer_error(
            "'grants' must be an object", "'grants' はオブジェクトでなければなりません", "grants"
        )
    grant = grants.get(PRE_AUTHORIZED_GRANT_TYPE)
    if grant is None:
        raise _offer_error(
            "the offer has no pre-authorized code grant (only the pre-authorized code flow"
            " is supported)",
            "事前認可コード (pre-authorized code) のグラントがありません"
            " (対応しているのは事前認可コードフローのみです)",
            "grants",
        )
    path = f"grants.{PRE_AUTHORIZED_GRANT_TYPE}"
    if not isinstance(grant, dict):
        raise _offer_error(
            "the pre-authorized code grant must be an object",
            "事前認可コードのグラントはオブジェクトでなければなりません",
            path,
        )
    code = _bounded_string(
        grant.get("pre-authorized_code"),
        f"{path}.pre-authorized_code",
        MAX_CODE_LENGTH,
        _offer_error,
    )
    tx_code = _parse_tx_code(grant["tx_code"]) if "tx_code" in grant else None
    server = grant.get("authorization_server")
    if server is not None:
        server = _check_url(
            server,
            f"{path}.authorization_server",
            InvalidCredentialOfferError,
            allow_query=False,
            unsafe_allow_http_localhost=unsafe_allow_http_localhost,
        )
    return CredentialOffer(
        credential_issuer=issuer,
        credential_configuration_ids=tuple(ids),
        pre_authorized_code=code,
        tx_code=tx_code,
        authorization_server=server,
    )


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def offer_uri_by_value(offer: CredentialOffer, *, base: str = OFFER_SCHEME) -> str:
    """``openid-credential-offer://?credential_offer=<URL-encoded JSON>`` (§4.1.2).

    ``base`` may be a wallet's https offer endpoint instead of the custom scheme.  For QR codes
    prefer :func:`offer_uri_by_reference` (smaller).
    """
    return f"{base}?credential_offer={quote(_compact_json(offer.to_json()), safe='')}"


def offer_uri_by_reference(
    offer_uri: str, *, base: str = OFFER_SCHEME, unsafe_allow_http_localhost: bool = False
) -> str:
    """``openid-credential-offer://?credential_offer_uri=<URL-encoded https URL>`` (§4.1.3).

    The URL should be unique per offer (§4.1.3) and serve the offer as ``application/json``.
    This is what our QR codes carry.
    """
    offer_uri = _check_url(
        offer_uri,
        "credential_offer_uri",
        InvalidCredentialOfferError,
        allow_query=True,
        unsafe_allow_http_localhost=unsafe_allow_http_localhost,
    )
    return f"{base}?credential_offer_uri={quote(offer_uri, safe='')}"


def parse_offer_uri(
    text: str,
    *,
    max_length: int = MAX_OFFER_URI_LENGTH,
    unsafe_allow_http_localhost: bool = False,
) -> tuple[CredentialOffer | None, str | None]:
    """Read a Credential Offer link or QR payload: ``(offer, None)`` or ``(None, offer_uri)``.

    Accepts ``openid-credential-offer://?…`` and https links carrying the same query.  The query
    must hold exactly one of ``credential_offer`` (parsed and validated here) and
    ``credential_offer_uri`` (an https URL the wallet then GETs; the fetched JSON goes to
    :func:`parse_credential_offer`).  Leading/trailing whitespace is ignored; other parameters
    are ignored; a repeated parameter is an error.
    """
    if not isinstance(text, str):
        raise _offer_error(
            f"the offer link must be text, got {type(text).__name__}",
            f"オファーのリンクは文字列でなければなりません ({type(text).__name__})",
        )
    if len(text) > max_length:
        raise _offer_error(
            f"the offer link is {len(text)} characters; the limit is {max_length}",
            f"オファーのリンクが {len(text)} 文字あり、上限 {max_length} 文字を超えています",
        )
    text = text.strip()
    lowered = text[: len(OFFER_SCHEME)].lower()
    if not (lowered == OFFER_SCHEME or text.startswith("https://")):
        raise _offer_error(
            f"not a credential offer link (expected {OFFER_SCHEME} or https://): {_show(text, 40)}",
            "クレデンシャルオファーのリンクではありません"
            f" ({OFFER_SCHEME} または https:// が必要です):"
            f" {_show(text, 40)}",
        )
    try:
        query = urlsplit(text).query
        pairs = parse_qsl(
            query,
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=32,
        )
    except ValueError:  # includes UnicodeDecodeError from a bad %-escape
        raise _offer_error(
            "the link's query cannot be parsed (a parameter without '=', a malformed"
            " %-escape, or too many parameters)",
            "リンクのクエリを解析できません ('=' のないパラメーター、不正な %-エスケープ、"
            "またはパラメーターが多すぎます)",
        ) from None
    names = [name for name, _ in pairs]
    for name in ("credential_offer", "credential_offer_uri"):
        if names.count(name) > 1:
            raise _offer_error(
                f"parameter {name!r} appears more than once",
                f"パラメーター {name!r} が複数回あります",
                name,
            )
    values = dict(pairs)
    by_value = values.get("credential_offer")
    by_reference = values.get("credential_offer_uri")
    if by_value is not None and by_reference is not None:
        raise _offer_error(
            "the link has both credential_offer and credential_offer_uri; exactly one is allowed",
            "credential_offer と credential_offer_uri の両方があります。"
            "どちらか一方のみ指定できます",
        )
    if by_reference is not None:
        uri = _check_url(
            by_reference,
            "credential_offer_uri",
            InvalidCredentialOfferError,
            allow_query=True,
            unsafe_allow_http_localhost=unsafe_allow_http_localhost,
        )
        return None, uri
    if by_value is None:
        raise _offer_error(
            "the link has neither credential_offer nor credential_offer_uri",
            "credential_offer も credential_offer_uri もありません",
        )
    try:
        obj = load_json(by_value, _JSON_LIMITS_OFFER)
    except FurusatoError as exc:
        raise _offer_error(
            f"credential_offer is not valid JSON: {exc.message_en}",
            f"credential_offer が正しい JSON ではありません: {exc.message_ja}",
            "credential_offer",
        ) from exc
    offer = parse_credential_offer(obj, unsafe_allow_http_localhost=unsafe_allow_http_localhost)
    return offer, None


# --- metadata (§12.2, §12.3) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialDisplay:
    """One language's display of a credential (``credential_metadata.display[]``, §12.2.4)."""

    name: str
    locale: str
    description: str | None = None
    background_color: str | None = None
    text_color: str | None = None
    logo_uri: str | None = None
    logo_alt_text: str | None = None
    background_image_uri: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "locale": self.locale}
        if self.logo_uri is not None:
            logo: dict[str, str] = {"uri": self.logo_uri}
            if self.logo_alt_text is not None:
                logo["alt_text"] = self.logo_alt_text
            out["logo"] = logo
        if self.description is not None:
            out["description"] = self.description
        if self.background_color is not None:
            out["background_color"] = self.background_color
        if self.background_image_uri is not None:
            out["background_image"] = {"uri": self.background_image_uri}
        if self.text_color is not None:
            out["text_color"] = self.text_color
        return out


@dataclass(frozen=True, slots=True)
class ClaimDisplay:
    """A claim's name in one language."""

    name: str
    locale: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "locale": self.locale}


@dataclass(frozen=True, slots=True)
class ClaimDescription:
    """A claims description for issuer metadata (Appendix B.2).

    ``path`` is a claims path pointer (Appendix C) into the whole credential, e.g.
    ``("credentialSubject", "registrationTier")``.
    """

    path: tuple[str | int | None, ...]
    display: tuple[ClaimDisplay, ...] = ()
    mandatory: bool | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": list(self.path)}
        if self.mandatory is not None:
            out["mandatory"] = self.mandatory
        if self.display:
            out["display"] = [d.to_json() for d in self.display]
        return out


_W3C_FORMATS = ("ldp_vc", "jwt_vc_json", "jwt_vc_json-ld")


def _config_error(config_id: str, en: str, ja: str) -> MalformedValueError:
    return MalformedValueError(
        f"credential configuration {config_id!r}: {en}",
        f"クレデンシャル設定 {config_id!r}: {ja}",
        path=f"credential_configurations_supported.{config_id}",
    )


def _unique_locales(locales: Iterable[str]) -> bool:
    seen = list(locales)
    return len(seen) == len(set(seen))


@dataclass(frozen=True, slots=True)
class CredentialConfiguration:
    """One entry of ``credential_configurations_supported`` (§12.2.4, Appendix A).

    W3C formats (``ldp_vc``, ``jwt_vc_json``, ``jwt_vc_json-ld``) need ``types`` (and
    ``context`` for the JSON-LD ones); ``dc+sd-jwt`` needs ``vct``.  With binding methods, the
    ``jwt`` proof type is advertised with ``proof_signing_algs`` (§12.2.4: required then).
    ``credential_signing_algs`` for ``ldp_vc`` are cryptosuite names (see the module docstring).
    """

    format: str
    types: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    vct: str | None = None
    display: tuple[CredentialDisplay, ...] = ()
    claims: tuple[ClaimDescription, ...] = ()
    scope: str | None = None
    cryptographic_binding_methods: tuple[str, ...] = ("did:key", "jwk")
    credential_signing_algs: tuple[str, ...] = ("eddsa-rdfc-2022",)
    proof_signing_algs: tuple[str, ...] = DEFAULT_PROOF_ALGS

    def to_json(self, config_id: str = "") -> dict[str, Any]:
        """The metadata object; raises :class:`MalformedValueError` on an inconsistent one."""
        fmt = self.format
        out: dict[str, Any] = {"format": fmt}
        if self.scope is not None:
            out["scope"] = self.scope
        if fmt in _W3C_FORMATS:
            if not self.types:
                raise _config_error(
                    config_id,
                    f"format {fmt} needs credential_definition.type",
                    f"形式 {fmt} には credential_definition.type が必要です",
                )
            definition: dict[str, Any] = {}
            if fmt != "jwt_vc_json":
                if not self.context:
                    raise _config_error(
                        config_id,
                        f"format {fmt} needs credential_definition.@context",
                        f"形式 {fmt} には credential_definition.@context が必要です",
                    )
                definition["@context"] = list(self.context)
            definition["type"] = list(self.types)
            out["credential_definition"] = definition
        elif fmt == "dc+sd-jwt":
            if not self.vct:
                raise _config_error(
                    config_id, "format dc+sd-jwt needs vct", "形式 dc+sd-jwt には vct が必要です"
                )
            out["vct"] = self.vct
        else:
            raise _config_error(
                config_id,
                f"unsupported format {fmt!r}",
                f"対応していない形式です: {fmt!r}",
            )
        if self.cryptographic_binding_methods:
            out["cryptographic_binding_methods_supported"] = list(
                self.cryptographic_binding_methods
            )
        if self.credential_signing_algs:
            out["credential_signing_alg_values_supported"] = list(self.credential_signing_algs)
        if self.cryptographic_binding_methods:
            if not self.proof_signing_algs:
                raise _config_error(
                    config_id,
                    "binding methods need at least one proof signing algorithm",
                    "鍵の紐付け方式には少なくとも 1 つの証明署名アルゴリズムが必要です",
                )
            out["proof_types_supported"] = {
                "jwt": {"proof_signing_alg_values_supported": list(self.proof_signing_algs)}
            }
        metadata: dict[str, Any] = {}
        if self.display:
            if not _unique_locales(d.locale for d in self.display):
                raise _config_error(
                    config_id,
                    "display has two entries for one locale",
                    "display に同じロケールの項目が 2 つあります",
                )
            metadata["display"] = [d.to_json() for d in self.display]
        if self.claims:
            paths = [c.path for c in self.claims]
            if any(not p for p in paths) or len(set(paths)) != len(paths):
                raise _config_error(
                    config_id,
                    "every claim needs a non-empty path, and no path may repeat",
                    "各クレームには空でない path が必要で、同じ path は繰り返せません",
                )
            for claim in self.claims:
                if not _unique_locales(d.locale for d in claim.display):
                    raise _config_error(
                        config_id,
                        f"claim {list(claim.path)} has two names for one locale",
                        f"クレーム {list(claim.path)} に同じロケールの名前が 2 つあります",
                    )
            metadata["claims"] = [c.to_json() for c in self.claims]
        if metadata:
            out["credential_metadata"] = metadata
        return out


def _claim(path: tuple[str, ...], ja: str, en: str) -> ClaimDescription:
    return ClaimDescription(
        path=path,
        display=(ClaimDisplay(ja, "ja"), ClaimDisplay(en, "en")),
        mandatory=True,
    )


_RESIDENT_DISPLAY: Final = (
    CredentialDisplay(
        name="ふるさと住民登録証",
        locale="ja",
        description="この自治体のふるさと住民 (ベーシックまたはプレミアム) として"
        "登録されていることを示します。",
        background_color="#0B6E4F",
        text_color="#FFFFFF",
    ),
    CredentialDisplay(
        name="Furusato resident registration",
        locale="en",
        description="Shows that you are registered with this municipality as a furusato"
        " resident (basic or premium).",
        background_color="#0B6E4F",
        text_color="#FFFFFF",
    ),
)

# Claims path pointers (Appendix C) into the VCDM credential (ldp_vc, and jwt_vc_json whose
# JWS payload is the same document) ...
_VCDM_CLAIMS: Final = (
    _claim(("credentialSubject", "registrationTier"), "登録区分", "Registration tier"),
    _claim(("credentialSubject", "municipality", "name"), "自治体", "Municipality"),
    _claim(("credentialSubject", "municipality", "prefecture"), "都道府県", "Prefecture"),
    _claim(("credentialSubject", "registeredSince"), "登録日", "Registered since"),
    _claim(("validUntil",), "有効期限", "Valid until"),
)
# ... and into the SD-JWT VC's processed claims, where the subject's claims are top-level.
_SD_JWT_CLAIMS: Final = (
    _claim(("registrationTier",), "登録区分", "Registration tier"),
    _claim(("municipality", "name"), "自治体", "Municipality"),
    _claim(("municipality", "prefecture"), "都道府県", "Prefecture"),
    _claim(("registeredSince",), "登録日", "Registered since"),
)

JOSE_SIGNING_ALGS: Final = ("EdDSA", "ES256")
"""``credential_signing_alg_values_supported`` of our JOSE-secured configurations."""

FURUSATO_RESIDENT_LDP_ID: Final = "FurusatoResidentCredential_ldp_vc"
"""Configuration id of :data:`FURUSATO_RESIDENT_LDP` in our issuer metadata and offers."""

FURUSATO_RESIDENT_LDP: Final = CredentialConfiguration(
    format="ldp_vc",
    context=CONTEXTS,
    types=("VerifiableCredential", RESIDENT_CREDENTIAL_TYPE),
    display=_RESIDENT_DISPLAY,
    claims=_VCDM_CLAIMS,
)
"""Our ``FurusatoResidentCredential`` as ``ldp_vc`` (DESIGN.md §3, §7), bound to a ``did:key``."""

FURUSATO_RESIDENT_JWT_ID: Final = "FurusatoResidentCredential_jwt_vc_json"
"""Configuration id of :data:`FURUSATO_RESIDENT_JWT`."""

FURUSATO_RESIDENT_JWT: Final = CredentialConfiguration(
    format="jwt_vc_json",
    types=("VerifiableCredential", RESIDENT_CREDENTIAL_TYPE),
    display=_RESIDENT_DISPLAY,
    claims=_VCDM_CLAIMS,
    cryptographic_binding_methods=("did:key", "jwk"),
    credential_signing_algs=JOSE_SIGNING_ALGS,
)
"""The same credential as a VC-JOSE ``vc+jwt`` (docs/formats.md); ``credential_definition``
has ``type`` only (``jwt_vc_json`` is not a JSON-LD format)."""

FURUSATO_RESIDENT_SD_JWT_ID: Final = "FurusatoResidentCredential_dc+sd-jwt"
"""Configuration id of :data:`FURUSATO_RESIDENT_SD_JWT`."""

FURUSATO_RESIDENT_SD_JWT: Final = CredentialConfiguration(
    format="dc+sd-jwt",
    vct=RESIDENT_VCT,
    display=_RESIDENT_DISPLAY,
    claims=_SD_JWT_CLAIMS,
    cryptographic_binding_methods=("jwk",),
    credential_signing_algs=JOSE_SIGNING_ALGS,
)
"""The same registration as an SD-JWT VC (docs/formats.md), bound by ``cnf.jwk``."""

FURUSATO_RESIDENT_CONFIGURATIONS: Final[Mapping[str, CredentialConfiguration]] = MappingProxyType(
    {
        FURUSATO_RESIDENT_LDP_ID: FURUSATO_RESIDENT_LDP,
        FURUSATO_RESIDENT_JWT_ID: FURUSATO_RESIDENT_JWT,
        FURUSATO_RESIDENT_SD_JWT_ID: FURUSATO_RESIDENT_SD_JWT,
    }
)
"""Every configuration of the resident credential by id — the one list of them.  Offers name
them in this order, ``ldp_vc`` first: a wallet that takes the first id gets what it always got."""


def issuer_metadata(
    credential_issuer: str,
    *,
    credential_endpoint: str,
    configurations: Mapping[str, CredentialConfiguration],
    nonce_endpoint: str | None = None,
    authorization_servers: Sequence[str] = (),
    deferred_credential_endpoint: str | None = None,
    notification_endpoint: str | None = None,
    batch_size: int | None = None,
    display: Sequence[Mapping[str, Any]] = (),
    unsafe_allow_http_localhost: bool = False,
) -> dict[str, Any]:
    """Credential Issuer Metadata (§12.2.4), served unsigned as ``application/json``.

    ``authorization_servers`` is omitted when empty: the issuer is then its own Authorization
    Server, whose metadata is :func:`authorization_server_metadata` at
    ``well_known_url(issuer, "oauth-authorization-server")``.  ``display`` entries are objects
    with ``name``, ``locale`` (one per locale) and optionally ``logo``.  Raises
    :class:`MalformedValueError` on an inconsistent argument.
    """

    def url(value: object, what: str) -> str:
        return _check_url(
            value,
            what,
            MalformedValueError,
            allow_query=what != "credential_issuer",
            unsafe_allow_http_localhost=unsafe_allow_http_localhost,
        )

    out: dict[str, Any] = {"credential_issuer": url(credential_issuer, "credential_issuer")}
    if authorization_servers:
        out["authorization_servers"] = [
            url(s, f"authorization_servers[{i}]") for i, s in enumerate(authorization_servers)
        ]
    out["credential_endpoint"] = url(credential_endpoint, "credential_endpoint")
    if nonce_endpoint is not None:
        out["nonce_endpoint"] = url(nonce_endpoint, "nonce_endpoint")
    if deferred_credential_endpoint is not None:
        out["deferred_credential_endpoint"] = url(
            deferred_credential_endpoint, "deferred_credential_endpoint"
        )
    if notification_endpoint is not None:
        out["notification_endpoint"] = url(notification_endpoint, "notification_endpoint")
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
            raise MalformedValueError(
                "batch_size must be an integer of at least 2 (§12.2.4)",
                "batch_size は 2 以上の整数でなければなりません (§12.2.4)",
                path="batch_credential_issuance.batch_size",
            )
        out["batch_credential_issuance"] = {"batch_size": batch_size}
    if display:
        entries = [dict(entry) for entry in display]
        for entry in entries:
            if not isinstance(entry.get("locale"), str) or not isinstance(entry.get("name"), str):
                raise MalformedValueError(
                    "each issuer display entry needs a string 'name' and 'locale'",
                    "発行者の display の各項目には文字列の 'name' と 'locale' が必要です",
                    path="display",
                )
        if not _unique_locales(e["locale"] for e in entries):
            raise MalformedValueError(
                "issuer display has two entries for one locale",
                "発行者の display に同じロケールの項目が 2 つあります",
                path="display",
            )
        out["display"] = entries
    if not configurations:
        raise MalformedValueError(
            "credential_configurations_supported must not be empty",
            "credential_configurations_supported は空にできません",
            path="credential_configurations_supported",
        )
    supported: dict[str, Any] = {}
    for config_id, config in configurations.items():
        if not isinstance(config_id, str) or not config_id:
            raise MalformedValueError(
                "credential configuration ids must be non-empty strings",
                "クレデンシャル設定の id は空でない文字列でなければなりません",
                path="credential_configurations_supported",
            )
        supported[config_id] = config.to_json(config_id)
    out["credential_configurations_supported"] = supported
    return out


def authorization_server_metadata(
    issuer: str,
    token_endpoint: str,
    *,
    anonymous_access: bool = True,
    unsafe_allow_http_localhost: bool = False,
) -> dict[str, Any]:
    """OAuth 2.0 Authorization Server Metadata (RFC 8414 §2; OID4VCI §12.3) for the
    pre-authorized code grant only.

    ``response_types_supported`` is omitted, as §12.2.4 allows for a server that supports only
    this grant.  ``pre-authorized_grant_anonymous_access_supported`` says whether a Token
    Request without ``client_id`` is accepted (our wallets are anonymous).
    """
    return {
        "issuer": _check_url(
            issuer,
            "issuer",
            MalformedValueError,
            allow_query=False,
            unsafe_allow_http_localhost=unsafe_allow_http_localhost,
        ),
        "token_endpoint": _check_url(
            token_endpoint,
            "token_endpoint",
            MalformedValueError,
            allow_query=True,
            unsafe_allow_http_localhost=unsafe_allow_http_localhost,
        ),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT_TYPE],
        "pre-authorized_grant_anonymous_access_supported": bool(anonymous_access),
    }


# --- key proof JWT (Appendix F.1, F.4) -------------------------------------------------------


def _b64_json(value: Mapping[str, Any]) -> str:
    return base64url_encode(_compact_json(value).encode("utf-8"))


def _aware(moment: object, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise MalformedValueError(
            f"{what} must be a timezone-aware datetime",
            f"{what} はタイムゾーン付きの datetime でなければなりません",
        )
    return moment


def create_key_proof(
    signer: Signer,
    *,
    audience: str,
    nonce: str | None,
    issued_at: datetime,
    kid: str | None = None,
    jwk: bool = True,
    client_id: str | None = None,
) -> str:
    """A ``jwt`` key proof (Appendix F.1), compact JWS signed by ``signer``.

    Header: ``typ`` ``openid4vci-proof+jwt``, ``alg`` from the key, and exactly one key
    reference — ``kid`` when given (it must be the signer's did:key verification method,
    ``did:key:z…#z…``), otherwise the public ``jwk`` (``jwk=True``).  Claims: ``aud`` (the
    Credential Issuer Identifier), ``iat`` (whole seconds), ``nonce`` (the ``c_nonce`` from the
    Nonce Endpoint; ``None`` only for an issuer without one) and ``iss`` only when ``client_id``
    is given (omit it for anonymous pre-authorized access).
    """
    issued_at = _aware(issued_at, "issued_at")
    public_key = signer.public_key
    alg = signer.alg
    if alg not in _SUPPORTED_PROOF_ALGS or public_key.key_type not in _SUPPORTED_PROOF_ALGS[alg]:
        raise MalformedValueError(
            f"key proof: unsupported signing algorithm {_show(alg)}",
            f"key proof: 対応していない署名アルゴリズムです {_show(alg)}",
        )
    header: dict[str, Any] = {"alg": alg, "typ": PROOF_TYP}
    if kid is not None:
        expected = did_key_verification_method_id(public_key)
        if kid != expected:
            raise MalformedValueError(
                f"key proof: kid must be the signer's did:key verification method {expected}",
                f"key proof: kid は署名鍵の did:key 検証メソッド {expected} でなければなりません",
            )
        header["kid"] = kid
    elif jwk:
        header["jwk"] = public_key.to_jwk()
    else:
        raise MalformedValueError(
            "key proof: give kid or jwk=True (the header must name the key)",
            "key proof: kid を指定するか jwk=True にしてください"
            " (ヘッダーで鍵を示す必要があります)",
        )
    claims: dict[str, Any] = {}
    if client_id is not None:
        claims["iss"] = client_id
    claims["aud"] = audience
    claims["iat"] = int(issued_at.timestamp() // 1)
    if nonce is not None:
        claims["nonce"] = nonce
    signing_input = f"{_b64_json(header)}.{_b64_json(claims)}"
    signature = signer.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{base64url_encode(signature)}"


@dataclass(frozen=True, slots=True)
class VerifiedKeyProof:
    """A key proof that passed every check: the key to bind the credential to."""

    public_key: PublicKey
    holder_did: str
    """``did:key`` of the proof key (``z6Mk…`` Ed25519, ``zDn…`` P-256): the subject id."""
    nonce: str
    issued_at: datetime


def _proof_error(en: str, ja: str, path: str | None = None) -> InvalidProofError:
    return InvalidProofError(f"key proof: {en}", f"key proof: {ja}", path=path)


def _decode_part(part: str, what: str, what_ja: str, max_length: int) -> dict[str, Any]:
    try:
        raw = base64url_decode(part, max_length=max_length)
        value = load_json(raw, Limits(max_bytes=max_length, max_depth=8, max_nodes=512))
    except FurusatoError as exc:
        raise _proof_error(
            f"the {what} is not base64url-encoded JSON: {exc.message_en}",
            f"{what_ja}が base64url 符号化された JSON ではありません: {exc.message_ja}",
            what,
        ) from exc
    if not isinstance(value, dict):
        raise _proof_error(
            f"the {what} must be a JSON object",
            f"{what_ja}は JSON オブジェクトでなければなりません",
            what,
        )
    return value


def _effective_algs(allowed_algs: Collection[str]) -> frozenset[str]:
    if isinstance(allowed_algs, str):
        allowed_algs = (allowed_algs,)
    unknown = [a for a in allowed_algs if a not in _SUPPORTED_PROOF_ALGS]
    if unknown:
        raise MalformedValueError(
            f"allowed_algs: {unknown[0]!r} is not an asymmetric algorithm we support"
            f" ({', '.join(_SUPPORTED_PROOF_ALGS)})",
            f"allowed_algs: {unknown[0]!r} は対応している非対称アルゴリズムではありません"
            f" ({', '.join(_SUPPORTED_PROOF_ALGS)})",
        )
    return frozenset(allowed_algs)


def _header_key(header: Mapping[str, Any], alg: str) -> PublicKey:
    """The key named by exactly one of ``kid`` (did:key DID URL) / ``jwk``; ``x5c`` refused."""
    present = [name for name in ("kid", "jwk", "x5c") if name in header]
    if not present:
        raise _proof_error(
            "the header names no key: exactly one of kid (did:key DID URL) or jwk is required",
            "ヘッダーに鍵がありません: kid (did:key の DID URL) か jwk のどちらか 1 つが必要です",
            "header",
        )
    if len(present) > 1:
        raise _proof_error(
            f"the header has {' and '.join(present)}; exactly one of kid, jwk, x5c is allowed",
            f"ヘッダーに {' と '.join(present)} があります。kid・jwk・x5c はどれか 1 つのみです",
            "header",
        )
    if present == ["x5c"]:
        raise _proof_error(
            "x5c (X.509 certificate chain) is not supported; use kid (did:key) or jwk",
            "x5c (X.509 証明書チェーン) には対応していません。"
            "kid (did:key) か jwk を使ってください",
            "header.x5c",
        )
    if present == ["jwk"]:
        jwk = header["jwk"]
        if not isinstance(jwk, dict):
            raise _proof_error(
                "header jwk must be a JSON object",
                "ヘッダーの jwk は JSON オブジェクトでなければなりません",
                "header.jwk",
            )
        private = [m for m in _PRIVATE_JWK_MEMBERS if m in jwk]
        if private:
            raise _proof_error(
                f"header jwk holds private key material (member {private[0]!r});"
                " send only the public key",
                f"ヘッダーの jwk に秘密鍵の情報 (メンバー {private[0]!r}) が含まれています。"
                "公開鍵のみを送ってください",
                "header.jwk",
            )
        try:
            public_key = PublicKey.from_jwk(jwk)
        except FurusatoError as exc:
            raise _proof_error(
                f"header jwk is not a usable public key: {exc.message_en}",
                f"ヘッダーの jwk は使用できる公開鍵ではありません: {exc.message_ja}",
                "header.jwk",
            ) from exc
    else:
        kid = header["kid"]
        if not isinstance(kid, str) or not kid.startswith("did:key:"):
            raise _proof_error(
                f"kid must be a did:key DID URL (did:key:z…#z…), got {_show(kid)}",
                f"kid は did:key の DID URL (did:key:z…#z…) でなければなりません: {_show(kid)}",
                "header.kid",
            )
        did, hash_mark, fragment = kid.partition("#")
        method_id = did[len("did:key:") :]
        if not hash_mark:
            raise _proof_error(
                "kid must be a DID URL whose fragment names the key (did:key:z…#z…)",
                "kid は鍵を示すフラグメント付きの DID URL (did:key:z…#z…) でなければなりません",
                "header.kid",
            )
        if fragment != method_id:
            raise _proof_error(
                "kid fragment does not match the did:key (expected did:key:<mb>#<same mb>)",
                "kid のフラグメントが did:key と一致しません (did:key:<mb>#<同じ mb> が必要です)",
                "header.kid",
            )
        try:
            public_key = PublicKey.from_multikey(method_id)
        except FurusatoError as exc:
            raise _proof_error(
                f"kid does not hold a usable did:key: {exc.message_en}",
                f"kid の did:key は使用できる鍵ではありません: {exc.message_ja}",
                "header.kid",
            ) from exc
    if public_key.key_type not in _SUPPORTED_PROOF_ALGS[alg]:
        raise _proof_error(
            f"alg {alg} does not match the {public_key.key_type.value} key in the header",
            f"alg {alg} がヘッダーの {public_key.key_type.value} 鍵と一致しません",
            "header.alg",
        )
    return public_key


def _check_numeric_time(value: object, name: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _proof_error(
            f"{name} must be a number (seconds since 1970), got {_show(value)}",
            f"{name} は数値 (1970 年からの秒数) でなければなりません: {_show(value)}",
            f"payload.{name}",
        )
    return value


def _seconds(value: int) -> tuple[str, str]:
    """A count of seconds for a message (en, ja); an absurd value is not printed whole."""
    return (str(value), str(value)) if value < 10**9 else ("more than 10^9", "10^9 以上")


@dataclass(frozen=True, slots=True)
class _Checked:
    public_key: PublicKey
    nonce: str
    iat: int


def _verify_without_nonce(
    jwt: object,
    *,
    audience: str,
    now: datetime,
    max_age: timedelta,
    algs: frozenset[str],
    max_length: int,
    client_id: str | None,
) -> _Checked:
    now_s = math.floor(_aware(now, "now").timestamp())
    skew = int(CLOCK_SKEW.total_seconds())
    max_age_s = int(max_age.total_seconds())
    if not isinstance(jwt, str):
        raise _proof_error(
            f"must be a string (compact JWS), got {type(jwt).__name__}",
            f"文字列 (JWS コンパクト形式) でなければなりません ({type(jwt).__name__})",
        )
    if len(jwt) > max_length:
        raise _proof_error(
            f"{len(jwt)} characters exceeds the limit of {max_length}",
            f"{len(jwt)} 文字は上限 {max_length} 文字を超えています",
        )
    parts = jwt.split(".")
    if len(parts) != 3:
        raise _proof_error(
            f"must be a compact JWS of 3 dot-separated parts, got {len(parts)}",
            f"ドットで区切られた 3 つの部分からなる JWS コンパクト形式でなければなりません"
            f" ({len(parts)} 個)",
        )
    header_b64, payload_b64, signature_b64 = parts
    header = _decode_part(header_b64, "header", "ヘッダー", max_length)
    typ = header.get("typ")
    if typ != PROOF_TYP:
        raise _proof_error(
            f"header typ must be {PROOF_TYP!r}, got {_show(typ)}",
            f"ヘッダーの typ は {PROOF_TYP!r} でなければなりません: {_show(typ)}",
            "header.typ",
        )
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise _proof_error(
            "header alg is missing or not a string",
            "ヘッダーの alg がないか文字列ではありません",
            "header.alg",
        )
    if alg.lower() == "none":
        raise _proof_error(
            "alg 'none' (an unsigned JWT) is never accepted",
            "alg 'none' (署名のない JWT) は受け付けません",
            "header.alg",
        )
    if alg.upper().startswith("HS"):
        raise _proof_error(
            f"alg {_show(alg)} is a MAC (symmetric) algorithm; a key proof needs a signature",
            f"alg {_show(alg)} は MAC (共通鍵) アルゴリズムです。鍵の所持証明には署名が必要です",
            "header.alg",
        )
    if alg not in algs:
        raise _proof_error(
            f"alg {_show(alg)} is not accepted (allowed: {', '.join(sorted(algs))})",
            f"alg {_show(alg)} は受け付けていません (許可: {', '.join(sorted(algs))})",
            "header.alg",
        )
    if "crit" in header:
        raise _proof_error(
            "header 'crit' names extensions we do not understand",
            "ヘッダーの 'crit' に理解できない拡張があります",
            "header.crit",
        )
    public_key = _header_key(header, alg)
    # Decoded before the signature check so that the signing input is known to be ASCII;
    # nothing in it is used until the signature has verified.
    payload = _decode_part(payload_b64, "payload", "ペイロード", max_length)
    if not signature_b64:
        raise _proof_error("the signature is empty", "署名が空です", "signature")
    try:
        signature = base64url_decode(signature_b64, max_length=max_length)
    except FurusatoError as exc:
        raise _proof_error(
            f"the signature is not base64url: {exc.message_en}",
            f"署名が base64url ではありません: {exc.message_ja}",
            "signature",
        ) from exc
    try:
        public_key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignatureError as exc:
        raise _proof_error(
            f"the signature does not verify with the header key ({exc.message_en})",
            f"ヘッダーの鍵で署名を検証できません ({exc.message_ja})",
            "signature",
        ) from exc

    aud = payload.get("aud")
    if aud is None:
        raise _proof_error(
            "aud is missing (it must be the credential issuer identifier)",
            "aud がありません (クレデンシャル発行者の識別子が必要です)",
            "payload.aud",
        )
    if not isinstance(aud, str):
        raise _proof_error(
            f"aud must be a single string, the credential issuer identifier, got {_show(aud)}",
            "aud はクレデンシャル発行者の識別子である 1 つの文字列でなければなりません:"
            f" {_show(aud)}",
            "payload.aud",
        )
    if aud != audience:
        raise _proof_error(
            f"aud {_show(aud)} is not this credential issuer ({audience})",
            f"aud {_show(aud)} はこのクレデンシャル発行者 ({audience}) ではありません",
            "payload.aud",
        )

    if "iat" not in payload:
        raise _proof_error("iat is missing", "iat がありません", "payload.iat")
    iat = payload["iat"]
    if isinstance(iat, bool) or not isinstance(iat, int):
        raise _proof_error(
            f"iat must be an integer (seconds since 1970), got {_show(iat)}",
            f"iat は整数 (1970 年からの秒数) でなければなりません: {_show(iat)}",
            "payload.iat",
        )
    if iat > now_s + skew:
        ahead, ahead_ja = _seconds(iat - now_s)
        raise _proof_error(
            f"iat is {ahead} s in the future (clock skew allowed: {skew} s)",
            f"iat が {ahead_ja} 秒先の時刻です (許容する時刻のずれ: {skew} 秒)",
            "payload.iat",
        )
    if iat < now_s - max_age_s:
        ago, ago_ja = _seconds(now_s - iat)
        raise _proof_error(
            f"the proof is too old: issued {ago} s ago (limit {max_age_s} s); make a new one",
            f"証明が古すぎます: {ago_ja} 秒前に作成されています (上限 {max_age_s} 秒)。"
            "作り直してください",
            "payload.iat",
        )
    if "exp" in payload and _check_numeric_time(payload["exp"], "exp") <= now_s - skew:
        raise _proof_error(
            "the proof has expired (exp)", "証明の有効期限 (exp) が切れています", "payload.exp"
        )
    if "nbf" in payload and _check_numeric_time(payload["nbf"], "nbf") > now_s + skew:
        raise _proof_error(
            "the proof is not valid yet (nbf)", "証明はまだ有効ではありません (nbf)", "payload.nbf"
        )

    iss = payload.get("iss")
    if client_id is not None and iss != client_id:
        raise _proof_error(
            f"iss {_show(iss)} is not the authenticated client_id",
            f"iss {_show(iss)} が認証されたクライアント (client_id) と一致しません",
            "payload.iss",
        )
    if iss is not None and not isinstance(iss, str):
        raise _proof_error(
            "iss must be a string", "iss は文字列でなければなりません", "payload.iss"
        )

    nonce = payload.get("nonce")
    if nonce is None:
        raise _proof_error(
            "nonce is missing: fetch a c_nonce from the nonce endpoint and put it in 'nonce'",
            "nonce がありません: nonce エンドポイントから c_nonce を取得し"
            " 'nonce' に入れてください",
            "payload.nonce",
        )
    if not isinstance(nonce, str) or not nonce or len(nonce) > MAX_CODE_LENGTH:
        raise _proof_error(
            f"nonce must be a non-empty string of at most {MAX_CODE_LENGTH} characters",
            f"nonce は {MAX_CODE_LENGTH} 文字以下の空でない文字列でなければなりません",
            "payload.nonce",
        )
    return _Checked(public_key=public_key, nonce=nonce, iat=iat)


def _rejected_nonce() -> InvalidNonceError:
    return InvalidNonceError(
        "key proof: the nonce is unknown, expired or already used; fetch a new c_nonce",
        "key proof: nonce が不明・期限切れ・使用済みです。新しい c_nonce を取得してください",
        path="payload.nonce",
    )


def _result(checked: _Checked) -> VerifiedKeyProof:
    return VerifiedKeyProof(
        public_key=checked.public_key,
        holder_did=did_key_from_public_key(checked.public_key),
        nonce=checked.nonce,
        issued_at=datetime.fromtimestamp(checked.iat, tz=UTC),
    )


def verify_key_proof(
    jwt: str,
    *,
    audience: str,
    now: datetime,
    nonce_ok: Callable[[str], bool],
    max_age: timedelta = timedelta(minutes=5),
    allowed_algs: Collection[str] = DEFAULT_PROOF_ALGS,
    max_length: int = MAX_PROOF_LENGTH,
    client_id: str | None = None,
) -> VerifiedKeyProof:
    """Verify a ``jwt`` key proof (Appendix F.1) with every check of Appendix F.4.

    * compact JWS, 3 parts, strict base64url, JSON header and payload within bounds;
    * ``typ`` exactly ``openid4vci-proof+jwt``; ``alg`` in ``allowed_algs`` (never ``none`` or a
      MAC) and matching the key; no ``crit``;
    * exactly one of ``kid`` / ``jwk`` / ``x5c``: ``kid`` must be a did:key DID URL whose
      fragment is the key, ``jwk`` a public key (no ``d``); ``x5c`` is not supported;
    * the signature verifies with that key;
    * ``aud`` is a string equal to ``audience`` (the Credential Issuer Identifier);
    * ``iat`` an integer, at most 60 s in the future and at most ``max_age`` old; ``exp``/``nbf``
      honoured when present; ``iss`` equal to ``client_id`` when one was authenticated;
    * ``nonce`` present, then ``nonce_ok(nonce)`` — called only after everything else passed.
      Marking the nonce used (single use) is the caller's job.

    Raises :class:`InvalidProofError` (``invalid_proof``) naming what was wrong, or
    :class:`InvalidNonceError` (``invalid_nonce``) when ``nonce_ok`` rejects the nonce, so the
    wallet knows to fetch a new one.
    """
    checked = _verify_without_nonce(
        jwt,
        audience=audience,
        now=now,
        max_age=max_age,
        algs=_effective_algs(allowed_algs),
        max_length=max_length,
        client_id=client_id,
    )
    if not nonce_ok(checked.nonce):
        raise _rejected_nonce()
    return _result(checked)


def verify_key_proofs(
    jwts: Sequence[str],
    *,
    audience: str,
    now: datetime,
    nonce_ok: Callable[[str], bool],
    max_age: timedelta = timedelta(minutes=5),
    allowed_algs: Collection[str] = DEFAULT_PROOF_ALGS,
    max_length: int = MAX_PROOF_LENGTH,
    client_id: str | None = None,
) -> list[VerifiedKeyProof]:
    """Verify the proofs of one Credential Request (a batch) as :func:`verify_key_proof` does.

    All proofs are checked first; then ``nonce_ok`` is called once per distinct nonce (a batch
    usually shares one ``c_nonce``).  Two proofs for the same key are an error: each key gets
    at most one credential (§8.3).
    """
    algs = _effective_algs(allowed_algs)
    if isinstance(jwts, str) or not jwts:
        raise _proof_error("no key proofs were given", "鍵の所持証明がありません", "proofs.jwt")
    checked = [
        _verify_without_nonce(
            jwt,
            audience=audience,
            now=now,
            max_age=max_age,
            algs=algs,
            max_length=max_length,
            client_id=client_id,
        )
        for jwt in jwts
    ]
    keys = [c.public_key for c in checked]
    if len(set(keys)) != len(keys):
        raise _proof_error(
            "two proofs in one request are for the same key; use one key per proof",
            "1 つのリクエストに同じ鍵の証明が 2 つあります。証明ごとに別の鍵を使ってください",
            "proofs.jwt",
        )
    for nonce in dict.fromkeys(c.nonce for c in checked):
        if not nonce_ok(nonce):
            raise _rejected_nonce()
    return [_result(c) for c in checked]


# --- Token Request (§6.1) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A Token Request with the Pre-Authorized Code grant."""

    pre_authorized_code: str
    tx_code: str | None = None


def _token_error(en: str, ja: str, path: str | None = None) -> InvalidRequestError:
    return InvalidRequestError(f"token request: {en}", f"トークンリクエスト: {ja}", path=path)


def parse_token_request(form: Mapping[str, str]) -> TokenRequest:
    """Parse the form of a Token Request (``application/x-www-form-urlencoded``, §6.1).

    ``grant_type`` must be the pre-authorized code grant (another one is
    ``unsupported_grant_type``); ``pre-authorized_code`` is required; ``tx_code`` is optional
    here — whether it must be present is :func:`check_tx_code`'s job, with the offer's state.
    Other parameters are ignored (RFC 6749 §3.2).
    """
    if not isinstance(form, Mapping):
        raise _token_error("the body must be a form", "本文はフォームでなければなりません")
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise _token_error("grant_type is missing", "grant_type がありません", "grant_type")
    if grant_type != PRE_AUTHORIZED_GRANT_TYPE:
        raise UnsupportedGrantTypeError(
            f"token request: grant_type {_show(grant_type)} is not supported"
            f" (only {PRE_AUTHORIZED_GRANT_TYPE})",
            f"トークンリクエスト: grant_type {_show(grant_type)} には対応していません"
            f" ({PRE_AUTHORIZED_GRANT_TYPE} のみ)",
            path="grant_type",
        )
    code = form.get("pre-authorized_code")
    if code is None:
        hint = (
            " (the parameter is spelled 'pre-authorized_code', with a hyphen)"
            if "pre_authorized_code" in form
            else ""
        )
        hint_ja = (
            " (パラメーター名は 'pre-authorized_code' で、ハイフンを含みます)"
            if "pre_authorized_code" in form
            else ""
        )
        raise _token_error(
            f"pre-authorized_code is missing{hint}",
            f"pre-authorized_code がありません{hint_ja}",
            "pre-authorized_code",
        )
    code = _bounded_string(code, "pre-authorized_code", MAX_CODE_LENGTH, _token_error)
    tx_code = form.get("tx_code")
    if tx_code is not None:
        tx_code = _bounded_string(tx_code, "tx_code", MAX_TX_CODE_LENGTH, _token_error)
    return TokenRequest(pre_authorized_code=code, tx_code=tx_code)


def check_tx_code(expected: str | None, given: str | None) -> None:
    """Compare the Transaction Code of a Token Request with the offer's (§6.3).

    No code expected but one sent, or expected but missing: ``invalid_request``; wrong code:
    ``invalid_grant`` (constant-time comparison).  Counting failed attempts and invalidating the
    pre-authorized code after a few (§13.6) is the caller's job.
    """
    if expected is None:
        if given is not None:
            raise _token_error(
                "tx_code was sent but this offer needs none",
                "このオファーには tx_code が不要ですが送信されました",
                "tx_code",
            )
        return
    if given is None:
        raise _token_error(
            "tx_code is required for this offer", "このオファーには tx_code が必要です", "tx_code"
        )
    if not hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8")):
        raise InvalidGrantError(
            "token request: the transaction code (tx_code) is wrong",
            "トークンリクエスト: 確認コード (tx_code) が違います",
            path="tx_code",
        )


# --- Credential Request (§8.2) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialRequest:
    """A Credential Request by configuration id with ``jwt`` key proofs."""

    credential_configuration_id: str
    proofs: list[str] = field(default_factory=list)


def _request_error(en: str, ja: str, path: str | None = None) -> InvalidCredentialRequestError:
    return InvalidCredentialRequestError(
        f"credential request: {en}", f"クレデンシャルリクエスト: {ja}", path=path
    )


def _proofs_error(en: str, ja: str, path: str | None = None) -> InvalidProofError:
    return InvalidProofError(
        f"credential request: {en}", f"クレデンシャルリクエスト: {ja}", path=path or "proofs"
    )


def parse_credential_request(
    obj: object,
    *,
    configuration_ids: Collection[str] | None = None,
    max_proofs: int = MAX_PROOFS,
) -> CredentialRequest:
    """Parse a Credential Request body (OID4VCI 1.0 §8.2).

    * exactly one of ``credential_configuration_id`` / ``credential_identifier``; we issue by
      configuration id, so an identifier is ``unknown_credential_identifier``; an id not in
      ``configuration_ids`` (when given) is ``unknown_credential_configuration``;
    * ``proofs``: an object with exactly one key, ``jwt``, holding 1 to ``max_proofs`` strings
      (``invalid_proof`` otherwise, also when missing: our configurations require binding);
    * the draft singular ``proof`` is ``invalid_credential_request`` with a hint to use
      ``proofs``; ``credential_response_encryption`` is refused (we do not encrypt);
    * other members (draft ``format``, ``credential_definition``, …) are ignored.

    The proofs are not verified here: pass them to :func:`verify_key_proofs`.
    """
    if not isinstance(obj, dict):
        raise _request_error(
            f"the body must be a JSON object, got {type(obj).__name__}",
            f"本文は JSON オブジェクトでなければなりません ({type(obj).__name__})",
        )
    if "proof" in obj:
        raise _request_error(
            "the singular 'proof' parameter was removed in OID4VCI 1.0; send"
            ' "proofs": {"jwt": ["<proof JWT>"]} instead',
            "単数形の 'proof' パラメーターは OID4VCI 1.0 で廃止されました。"
            '代わりに "proofs": {"jwt": ["<proof JWT>"]} を送ってください',
            "proof",
        )
    has_config = "credential_configuration_id" in obj
    has_identifier = "credential_identifier" in obj
    if has_config and has_identifier:
        raise _request_error(
            "send either credential_configuration_id or credential_identifier, not both",
            "credential_configuration_id と credential_identifier は同時に送れません",
        )
    if has_identifier:
        raise UnknownCredentialIdentifierError(
            "credential request: credential identifiers are not issued by this issuer;"
            " use credential_configuration_id",
            "クレデンシャルリクエスト: この発行者は credential_identifier を発行していません。"
            "credential_configuration_id を使ってください",
            path="credential_identifier",
        )
    if not has_config:
        legacy = "format" in obj or "credential_definition" in obj or "vct" in obj
        raise _request_error(
            "credential_configuration_id is missing"
            + (
                " (this looks like a pre-1.0 draft request with 'format'; OID4VCI 1.0 names"
                " the credential by credential_configuration_id)"
                if legacy
                else ""
            ),
            "credential_configuration_id がありません"
            + (
                " (1.0 以前のドラフト形式 ('format') のリクエストのようです。OID4VCI 1.0 では"
                " credential_configuration_id でクレデンシャルを指定します)"
                if legacy
                else ""
            ),
            "credential_configuration_id",
        )
    config_id = _bounded_string(
        obj["credential_configuration_id"],
        "credential_configuration_id",
        MAX_IDENTIFIER_LENGTH,
        _request_error,
    )
    if configuration_ids is not None and config_id not in configuration_ids:
        raise UnknownCredentialConfigurationError(
            f"credential request: unknown credential_configuration_id {_show(config_id)}",
            f"クレデンシャルリクエスト: 不明な credential_configuration_id です {_show(config_id)}",
            path="credential_configuration_id",
        )
    if "credential_response_encryption" in obj:
        raise InvalidEncryptionParametersError(
            "credential request: this issuer does not encrypt credential responses;"
            " omit credential_response_encryption",
            "クレデンシャルリクエスト: この発行者はレスポンスを暗号化しません。"
            "credential_response_encryption を外してください",
            path="credential_response_encryption",
        )
    proofs = obj.get("proofs")
    if proofs is None:
        raise _proofs_error(
            'proofs is missing; send "proofs": {"jwt": ["<proof JWT>"]}',
            'proofs がありません。"proofs": {"jwt": ["<proof JWT>"]} を送ってください',
        )
    if not isinstance(proofs, dict) or len(proofs) != 1:
        raise _proofs_error(
            "proofs must be an object with exactly one proof type",
            "proofs は証明の種類を 1 つだけ持つオブジェクトでなければなりません",
        )
    (proof_type, jwts), *_ = proofs.items()
    if proof_type != "jwt":
        raise _proofs_error(
            f"proof type {_show(proof_type)} is not supported; use 'jwt'",
            f"証明の種類 {_show(proof_type)} には対応していません。'jwt' を使ってください",
        )
    if not isinstance(jwts, list) or not jwts:
        raise _proofs_error(
            "proofs.jwt must be a non-empty array of JWT strings",
            "proofs.jwt は空でない JWT 文字列の配列でなければなりません",
            "proofs.jwt",
        )
    if len(jwts) > max_proofs:
        raise _proofs_error(
            f"{len(jwts)} proofs; at most {max_proofs} are accepted in one request",
            f"証明が {len(jwts)} 個あります。"
            f"1 回のリクエストで受け付けるのは {max_proofs} 個までです",
            "proofs.jwt",
        )
    for index, jwt in enumerate(jwts):
        _bounded_string(jwt, f"proofs.jwt[{index}]", MAX_PROOF_LENGTH, _proofs_error)
    return CredentialRequest(credential_configuration_id=config_id, proofs=list(jwts))


# --- responses (§6.2, §7.2, §8.3) ------------------------------------------------------------


def token_response(access_token: str, expires_in: int) -> dict[str, Any]:
    """A Token Response (§6.2, RFC 6749 §5.1) — without ``c_nonce`` (removed in draft -15;
    nonces come from the Nonce Endpoint).  Send with ``Cache-Control: no-store``."""
    if not isinstance(access_token, str) or not access_token:
        raise MalformedValueError(
            "access_token must be a non-empty string",
            "access_token は空でない文字列でなければなりません",
        )
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        raise MalformedValueError(
            "expires_in must be a positive integer (seconds)",
            "expires_in は正の整数 (秒) でなければなりません",
        )
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}


def nonce_response(c_nonce: str) -> dict[str, str]:
    """A Nonce Response (§7.2).  Send with ``Cache-Control: no-store``."""
    if not isinstance(c_nonce, str) or not c_nonce:
        raise MalformedValueError(
            "c_nonce must be a non-empty string", "c_nonce は空でない文字列でなければなりません"
        )
    return {"c_nonce": c_nonce}


def credential_response(
    credentials: Sequence[Mapping[str, Any] | str], notification_id: str | None = None
) -> dict[str, Any]:
    """An immediate Credential Response (§8.3, HTTP 200): ``{"credentials": [{"credential": …}]}``.

    ``ldp_vc`` credentials are JSON objects; JWT-based ones strings, not re-encoded.
    """
    if isinstance(credentials, str | Mapping) or not credentials:
        raise MalformedValueError(
            "credentials must be a non-empty list of credentials",
            "credentials は空でないクレデンシャルのリストでなければなりません",
        )
    entries: list[dict[str, Any]] = []
    for credential in credentials:
        if isinstance(credential, str):
            entries.append({"credential": credential})
        elif isinstance(credential, Mapping):
            entries.append({"credential": dict(credential)})
        else:
            raise MalformedValueError(
                "each credential must be a JSON object or a string",
                "各クレデンシャルは JSON オブジェクトか文字列でなければなりません",
            )
    out: dict[str, Any] = {"credentials": entries}
    if notification_id is not None:
        out["notification_id"] = notification_id
    return out
