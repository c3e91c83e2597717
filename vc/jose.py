"""VC-JOSE: credentials and presentations secured as JWS (``application/vc+jwt``, ``vp+jwt``).

W3C *Securing Verifiable Credentials using JOSE and COSE* (Recommendation 2025-05-15,
"VC-JOSE-COSE"): the VCDM 2.0 document itself is the JWS payload (an *enveloping* proof).  A
pure library — no network, no clock, no randomness: callers pass ``now`` and a ``key_for``
function (``kid`` → :class:`~did.keys.PublicKey`), e.g. the offline resolver fed by the registry.

API
---
``sign_vc_jwt(credential, signer, *, kid, issued_at=None) -> str``
    §3.1.1.  Compact JWS with the protected header, in this order,
    ``{"alg": "EdDSA" | "ES256" | "ES384" (the key's), "typ": "vc+jwt", "cty": "vc", "kid": kid}``
    and the credential JSON as payload (UTF-8, key order kept, no whitespace).  Refused: a
    credential that is not VCDM 2.0 (``@context[0]`` must be ``https://www.w3.org/ns/credentials/v2``)
    or breaks the data model (:func:`vc.model.credential_problems`), one that already has a
    ``proof`` (an embedded proof is not an enveloping one), one holding ``vc``/``vp`` members,
    and a ``kid`` that is not ``<issuer DID>#<fragment>``.
``verify_vc_jwt(token, *, key_for, now, accepted_algs={"EdDSA", "ES256"}, ...) -> VerifiedJwt``
    §3.1.1, §3.1.3, §4.1, §5.1 (RFC 7519 §7.2).  Returns the header and the credential; the
    credential's own data (``validFrom``/``validUntil``, status, registry, profile) is checked by
    the caller (:mod:`vc.verify`).
``sign_vp_jwt(presentation, holder, *, kid, nonce, audience, issued_at) -> str``
    §3.1.2: header ``{"alg", "typ": "vp+jwt", "cty": "vp", "kid"}``; the payload is the VP JSON
    plus the JWT claims ``nonce``, ``aud`` and ``iat``.  Every credential in it must be an
    ``EnvelopedVerifiableCredential`` holding a ``vc+jwt`` (§3.1.2: "Credentials in verifiable
    presentations MUST be secured" and "MUST use the Enveloped Verifiable Credential type").
``verify_vp_jwt(token, *, key_for, nonce, audience, now, max_age, ...) -> VerifiedPresentationJwt``
    The presentation, its holder DID and the enveloped VC-JWTs, **not yet verified**: the
    caller verifies each with :func:`verify_vc_jwt` and checks that its
    ``credentialSubject.id`` is :attr:`VerifiedPresentationJwt.holder`.
``envelope(jws) -> dict`` / ``unenvelope(obj) -> str``
    VCDM 2.0 §4.13.1 ``EnvelopedVerifiableCredential``
    ``{"@context": "https://www.w3.org/ns/credentials/v2", "id": "data:application/vc+jwt,<jws>",
    "type": "EnvelopedVerifiableCredential"}``.  The data: URL (RFC 2397) must use exactly the
    media type ``application/vc+jwt`` with no parameters and no ``;base64`` flag — a compact JWS
    is already URL-safe text, VC-JOSE-COSE Example 2 (§3.1.2) carries it as is, and only binary
    COSE is to be base64-encoded in a data: URL (the COSE rules, §3.3).

What the verifier checks, in order
----------------------------------
1. The token: a ``str`` of at most ``max_bytes`` (64 KiB for a VC, 256 KiB for a VP), ASCII,
   the **compact serialization only** (§3.1.2: "Implementations MUST support the JWS compact
   serialization. Use of the JWS JSON serialization is NOT RECOMMENDED"; a JSON-serialized JWS
   or an SD-JWT is ``unsupported_format``), three non-empty parts of strict base64url
   (canonical; jwcrypto alone would accept padding and stray characters).
2. The header: a JSON object (bounded, no duplicate members); ``typ`` must be ``vc+jwt``
   (``vp+jwt``) — jwcrypto never checks ``typ`` (REFERENCES.md §9) — and ``cty``, when present,
   ``vc`` (``vp``); both compared as RFC 7515 §4.1.9–10 say (case-insensitively, the
   ``application/`` prefix optional).  ``b64`` and ``crit`` (RFC 7797 unencoded payloads, and
   anything else made critical) and the in-token key sources ``jku``, ``jwk``, ``x5u``, ``x5c``
   are refused (``unsupported_format``): the key comes from ``key_for`` only.  Other members
   are ignored (§3.1.3: "If they are not understood, they MUST be ignored").
3. ``alg``: one of ``accepted_algs`` (default ``EdDSA``, ``ES256``; ``ES384`` and the
   fully-specified ``Ed25519`` may be allowed; ``none``, ``HS*``, ``RS*`` … never), and the
   algorithm of the key's type — so an HMAC "signed" with the public key (key confusion) or
   an ES256 header over an Ed25519 key is refused before any cryptography:
   ``jose_alg_not_allowed``.
4. ``kid``: required and a DID URL ``did:<method>:<id>#<fragment>`` (§4.1.1: "kid MUST be
   present when the key of the issuer or subject is expressed as a DID URL" — ours always is);
   ``key_for(kid)`` failing is ``verification_method_unresolved``.
5. The signature, checked by jwcrypto with the algorithm pinned: ``signature_invalid``.
6. Only then the payload (§5: minimise processing of untrusted data): a bounded JSON object,
   VCDM 2.0 (``@context[0]``), of type ``VerifiableCredential`` (``VerifiablePresentation``),
   without ``vc``/``vp`` claims (§1.1.2.1, §3.1.3: MUST NOT be present) and without an embedded
   ``proof`` (which securing mechanism would the caller trust?).
7. Binding: the issuer (``issuer`` or ``issuer.id``) must be the DID of ``kid`` and ``iss``, if
   present, must equal it (§4.1.2) — ``issuer_mismatch``; ``jti``/``sub``, if present, must not
   conflict with ``id``/``credentialSubject.id`` (§3.1.3) — ``malformed``.  For a VP: ``holder``
   must be the DID of ``kid`` (and ``iss``, if present, the holder) — ``holder_binding_failed``;
   ``nonce`` must be the verifier's — ``challenge_mismatch``; ``aud`` (a string or an array,
   RFC 7519 §4.1.3) must contain the verifier's ``audience`` — ``domain_mismatch``.
8. Time (RFC 7519 §4.1.4–6, NumericDate; ``max_clock_skew`` either way): ``exp`` passed →
   ``expired``; ``nbf`` or ``iat`` in the future → ``not_yet_valid``; for a VP ``iat`` is
   required and must lie within ``[now − max_age − skew, now + skew]`` → ``presentation_stale``.

Choices (and the spec text they follow)
---------------------------------------
* ``iat``/``exp`` of a VC-JWT.  §3.1.3 (non-normative): "When the ``iat`` (Issued At) and/or
  ``exp`` (Expiration Time) JWT claims are present, they represent the issuance and expiration
  time of the signature … different from the ``validFrom`` and ``validUntil`` properties …
  Use of the ``nbf`` (Not Before) claim is NOT RECOMMENDED".  So :func:`sign_vc_jwt` adds
  ``iat`` only when the caller passes ``issued_at`` (the signing time, whole seconds — useful to
  check the key was valid then), never ``exp`` (the data's end is ``validUntil``; revocation is
  the status list's job) and never ``nbf``.
* No ``iss``, ``jti`` or ``sub`` claims are written: §3.1.3 "Implementers SHOULD avoid setting
  JWT claims to values that conflict with the values of verifiable credential properties …
  ``iss`` and ``issuer``, ``jti`` and ``id``, and ``sub`` and ``credentialSubject.id``"; the
  payload already says all three, and a verifier finds the key through ``kid`` (§4.1.1).
* Holder binding of a VP-JWT.  VC-JOSE-COSE defines the envelope (§3.1.2) but no
  challenge/domain; we follow OpenID4VP 1.0 for JWT-secured W3C presentations (the
  ``jwt_vc_json`` format, and its rule against replay, REFERENCES.md §7: every presentation is
  bound to the request ``nonce`` and to the verifier's full ``client_id``): the JWT claims
  ``nonce`` (= request nonce) and ``aud`` (= client_id, with its prefix), plus ``iat`` for
  freshness — the same three claims RFC 9901 §4.3 gives a KB-JWT.  OpenID4VP's ``jwt_vc_json``
  presentation itself is the VCDM 1.1 JWT with a ``vp`` claim, which VC-JOSE-COSE forbids; the
  ``vp+jwt`` payload here is the VCDM 2.0 presentation, so only the binding claims are shared.

Errors
------
Every error is a :class:`JoseError` (a :class:`~did.errors.FurusatoError`) whose ``code`` is one
of ``malformed``, ``limit_exceeded``, ``unsupported_format``, ``jose_alg_not_allowed``,
``verification_method_unresolved``, ``signature_invalid``, ``issuer_mismatch``, ``expired``,
``not_yet_valid``, ``challenge_mismatch``, ``domain_mismatch``, ``presentation_stale``,
``holder_binding_failed``.  Messages (Japanese and English) never repeat claim values or other
token content — only member names and fixed algorithm names.

Signing uses :meth:`~did.keys.PrivateKey.sign` (deterministic ECDSA, RFC 6979: no global RNG,
STYLE.md 8); verification uses jwcrypto, wrapped here and nowhere else.  The tests cross-check
both directions with joserfc, a third implementation.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from jwcrypto import jwk as _jwk
from jwcrypto import jws as _jws
from jwcrypto.common import JWException

from did.errors import (
    CRYPTOGRAPHIC_SECURITY_ERROR,
    INVALID_CHALLENGE_ERROR,
    INVALID_DOMAIN_ERROR,
    PARSING_ERROR,
    PROOF_VERIFICATION_ERROR,
    RANGE_ERROR,
    FurusatoError,
    LimitExceededError,
)
from did.jsonio import Limits, check_shape, load_json
from did.keys import KeyType, PrivateKey, PublicKey
from did.multibase import base64url_decode, base64url_encode
from schemas.loader import CREDENTIALS_V2
from vc.model import (
    ENVELOPED_VC_TYPE,
    VC_TYPE,
    VP_TYPE,
    as_list,
    credential_problems,
    holder_id,
    presentation_problems,
)

__all__ = [
    "DEFAULT_ALGS",
    "DEFAULT_CLOCK_SKEW",
    "MAX_PRESENTATION_BYTES",
    "MAX_TOKEN_BYTES",
    "SUPPORTED_ALGS",
    "VC_JWT_MEDIA_TYPE",
    "VP_JWT_MEDIA_TYPE",
    "JoseError",
    "VerifiedJwt",
    "VerifiedPresentationJwt",
    "envelope",
    "sign_vc_jwt",
    "sign_vp_jwt",
    "unenvelope",
    "verify_vc_jwt",
    "verify_vp_jwt",
]

VC_JWT_MEDIA_TYPE: Final = "application/vc+jwt"
VP_JWT_MEDIA_TYPE: Final = "application/vp+jwt"
_DATA_URL_PREFIX: Final = "data:" + VC_JWT_MEDIA_TYPE + ","

MAX_TOKEN_BYTES: Final = 64 * 1024
"""Bound on a VC-JWT (ours are about 2 KiB)."""
MAX_PRESENTATION_BYTES: Final = 256 * 1024
"""Bound on a VP-JWT (it carries its credentials)."""
MAX_HEADER_CHARS: Final = 4096
"""Bound on the base64url header (ours is under 300 characters)."""
MAX_KID_LENGTH: Final = 1024
MAX_BINDING_LENGTH: Final = 1024
"""Bound on ``nonce`` and ``audience``."""

SUPPORTED_ALGS: Final = frozenset({"EdDSA", "Ed25519", "ES256", "ES384"})
DEFAULT_ALGS: Final = frozenset({"EdDSA", "ES256"})
DEFAULT_CLOCK_SKEW: Final = timedelta(seconds=60)

# The JWS algorithms each key type may verify (RFC 8037 §3.1 EdDSA, RFC 9864 Ed25519,
# RFC 7518 §3.4 ES256/ES384).
_KEY_ALGS: Final = {
    KeyType.ED25519: frozenset({"EdDSA", "Ed25519"}),
    KeyType.P256: frozenset({"ES256"}),
    KeyType.P384: frozenset({"ES384"}),
}
_SIGNATURE_LENGTH: Final = {KeyType.ED25519: 64, KeyType.P256: 64, KeyType.P384: 96}
# Named in messages; any other alg value is shown as "other" (no token content in messages).
_NAMED_ALGS: Final = frozenset(
    {"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    | {"ES256", "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "Ed448"}
)
# Header members we refuse: RFC 7797 unencoded payloads and critical extensions we do not
# implement, and keys or certificates carried by the token itself (the key comes from key_for).
_REFUSED_HEADER_MEMBERS: Final = ("crit", "b64", "jku", "jwk", "x5u", "x5c", "zip", "enc")
# JWT claims that must not be in a VC-JOSE-COSE payload (§1.1.2.1).
_FORBIDDEN_CLAIMS: Final = ("vc", "vp")
# A DID URL naming a verification method: did:<method>:<method-specific-id>#<fragment>
# (DID Core §3.1, §3.2; no path or query).
_DID_URL = re.compile(
    r"(did:[a-z0-9]+:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})*"
    r"(?::(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+)*)"
    r"#([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})+"
)
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NUMERIC_DATE = 253_402_300_800  # 10000-01-01T00:00:00Z


# --- errors -----------------------------------------------------------------------------------


class JoseError(FurusatoError):
    """A VC-JWT or VP-JWT that cannot be made or is not accepted; ``code`` says why."""

    code = "malformed"
    problem_type = PARSING_ERROR
    title_en = "VC-JOSE error"
    title_ja = "VC-JOSE のエラー"


class JoseLimitError(JoseError, LimitExceededError):
    """The token (or a part of it) is larger than the bounds."""

    code = "limit_exceeded"
    problem_type = PARSING_ERROR


class JoseSecurityError(JoseError):
    """Algorithm, key, signature or binding: ``jose_alg_not_allowed``, ``signature_invalid``,
    ``verification_method_unresolved``, ``issuer_mismatch``, ``holder_binding_failed``."""

    code = "signature_invalid"
    problem_type = CRYPTOGRAPHIC_SECURITY_ERROR


class JoseKeyError(JoseSecurityError):
    """``key_for`` could not give a key for ``kid``."""

    code = "verification_method_unresolved"
    problem_type = PROOF_VERIFICATION_ERROR


class JoseTimeError(JoseError):
    """``expired``, ``not_yet_valid`` or ``presentation_stale``."""

    code = "expired"
    problem_type = RANGE_ERROR


class JoseChallengeError(JoseError):
    code = "challenge_mismatch"
    problem_type = INVALID_CHALLENGE_ERROR


class JoseDomainError(JoseError):
    code = "domain_mismatch"
    problem_type = INVALID_DOMAIN_ERROR


def _malformed(path: str, en: str, ja: str) -> JoseError:
    return JoseError(f"{path}: {en}", f"{path}: {ja}", path=path)


def _unsupported(path: str, en: str, ja: str) -> JoseError:
    return JoseError(f"{path}: {en}", f"{path}: {ja}", path=path, code="unsupported_format")


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedJwt:
    """A verified VC-JWT: its protected header and the credential (the payload)."""

    header: dict[str, Any]
    credential: dict[str, Any]

    @property
    def kid(self) -> str:
        """The verification method that signed (a DID URL)."""
        kid: str = self.header["kid"]
        return kid

    @property
    def issued_at(self) -> datetime | None:
        """The ``iat`` claim (when the signature was made), if present."""
        return _numeric_datetime(self.credential.get("iat"))


@dataclass(frozen=True)
class VerifiedPresentationJwt:
    """A verified VP-JWT.

    ``unverified_credentials`` are the VC-JWTs of its ``EnvelopedVerifiableCredential`` entries,
    in order; the holder's signature covers them, but **not** their issuers': verify each with
    :func:`verify_vc_jwt` and check that its ``credentialSubject.id`` is :attr:`holder`.
    """

    header: dict[str, Any]
    presentation: dict[str, Any]
    holder: str
    issued_at: datetime
    unverified_credentials: tuple[str, ...]

    @property
    def kid(self) -> str:
        kid: str = self.header["kid"]
        return kid


# --- small helpers ----------------------------------------------------------------------------


def _did_of_kid(kid: object, path: str = "header.kid") -> str:
    """The DID of a DID-URL ``kid``; ``malformed`` if ``kid`` is not one."""
    if not isinstance(kid, str):
        raise _malformed(
            path,
            "is required and must be a DID URL (did:…#…)",
            "必須で、DID URL (did:…#…) でなければなりません",
        )
    match = _DID_URL.fullmatch(kid) if len(kid) <= MAX_KID_LENGTH else None
    if match is None:
        raise _malformed(
            path,
            "must be a DID URL naming a verification method (did:…#…)",
            "検証メソッドを示す DID URL (did:…#…) でなければなりません",
        )
    return match.group(1)


def _issuer_id(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    value = issuer.get("id") if isinstance(issuer, dict) else issuer
    return value if isinstance(value, str) else None


def _check_now(now: object) -> datetime:
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise _malformed(
            "now", "must be a timezone-aware datetime", "タイムゾーン付きの日時が必要です"
        )
    return now


def _check_skew(value: object, name: str) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise _malformed(name, "must be a non-negative timedelta", "0 以上の timedelta が必要です")
    return value


def _check_binding_value(value: object, name: str) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_BINDING_LENGTH
        or _CONTROL.search(value)
    ):
        raise _malformed(
            name,
            f"must be a non-empty string of at most {MAX_BINDING_LENGTH} characters",
            f"{MAX_BINDING_LENGTH} 文字以内の空でない文字列が必要です",
        )
    return value


def _check_algs(accepted_algs: object) -> frozenset[str]:
    if (
        not isinstance(accepted_algs, Collection)
        or isinstance(accepted_algs, str)
        or not accepted_algs
        or not all(isinstance(a, str) and a in SUPPORTED_ALGS for a in accepted_algs)
    ):
        raise JoseSecurityError(
            "accepted_algs must be a non-empty set drawn from EdDSA, Ed25519, ES256, ES384",
            "accepted_algs は EdDSA・Ed25519・ES256・ES384 からなる空でない集合でなければなりません",
            code="jose_alg_not_allowed",
        )
    return frozenset(accepted_algs)


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 §2) if present; ``malformed`` if not a number in range."""
    if name not in claims:
        return None
    value = claims[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value < _MAX_NUMERIC_DATE
    ):
        raise _malformed(
            f"payload.{name}",
            "must be a NumericDate (seconds since 1970-01-01T00:00:00Z)",
            "NumericDate (1970-01-01T00:00:00Z からの秒数) でなければなりません",
        )
    return float(value)


def _numeric_datetime(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value < _MAX_NUMERIC_DATE:
        return None
    return datetime.fromtimestamp(value, UTC)


def _to_numeric_date(moment: datetime, name: str) -> int:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise _malformed(
            name, "must be a timezone-aware datetime", "タイムゾーン付きの日時が必要です"
        )
    return math.floor(moment.timestamp())


# --- wire format: encoding --------------------------------------------------------------------


def _payload_bytes(document: Mapping[str, Any]) -> bytes:
    try:
        check_shape(document, Limits(max_bytes=MAX_PRESENTATION_BYTES))
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except FurusatoError as exc:
        raise _malformed("payload", exc.message_en, exc.message_ja) from None
    except (TypeError, ValueError):
        raise _malformed(
            "payload", "is not representable as JSON", "JSON で表せない値を含んでいます"
        ) from None


def _compact(header: Mapping[str, str], payload: bytes, signer: PrivateKey, max_bytes: int) -> str:
    header_json = json.dumps(dict(header), separators=(",", ":"), ensure_ascii=True)
    signing_input = base64url_encode(header_json.encode("ascii")) + "." + base64url_encode(payload)
    signature = signer.sign(signing_input.encode("ascii"))
    token = signing_input + "." + base64url_encode(signature)
    if len(token) > max_bytes:
        raise JoseLimitError(
            f"the signed token is {len(token)} bytes; verifiers accept at most {max_bytes}",
            f"署名済みトークンが {len(token)} バイトあり、検証側の上限 {max_bytes} バイトを超えています",
        )
    return token


def _signing_alg(signer: object) -> str:
    if not isinstance(signer, PrivateKey):
        raise _malformed("signer", "must be a PrivateKey", "PrivateKey が必要です")
    alg = signer.alg
    if alg not in _KEY_ALGS[signer.key_type]:  # pragma: no cover - every PrivateKey has one
        raise JoseSecurityError(
            "this key cannot sign a JWS",
            "この鍵では JWS に署名できません",
            code="jose_alg_not_allowed",
        )
    return alg


def _check_members_for_signing(document: Mapping[str, Any], claims: Collection[str]) -> None:
    if "proof" in document:
        raise _unsupported(
            "proof",
            "the document already has an embedded proof; a VC-JWT is an enveloping proof",
            "既に埋め込み型の証明 (proof) があります。VC-JWT はエンベロープ型の証明です",
        )
    for name in (*_FORBIDDEN_CLAIMS, *claims):
        if name in document:
            raise _malformed(
                name,
                "must not be a member of the document (it is a JWT claim)",
                "文書のメンバーにできません (JWT のクレームです)",
            )


def _model_problem(problems: Sequence[FurusatoError]) -> None:
    if problems:
        raise _malformed(
            problems[0].path or "document",
            "does not conform to the VCDM 2.0 data model",
            "VCDM 2.0 のデータモデルに合っていません",
        )


def sign_vc_jwt(
    credential: Mapping[str, Any],
    signer: PrivateKey,
    *,
    kid: str,
    issued_at: datetime | None = None,
) -> str:
    """``credential`` as an ``application/vc+jwt`` (module docstring).

    ``kid`` must be ``<issuer DID>#<fragment>``, the verification method of ``signer``;
    ``issued_at`` (the signing time), when given, becomes the ``iat`` claim.  Raises
    :class:`JoseError`.
    """
    if not isinstance(credential, Mapping):
        raise _malformed("credential", "must be a JSON object", "JSON オブジェクトが必要です")
    credential = dict(credential)
    alg = _signing_alg(signer)
    context = credential.get("@context")
    if not isinstance(context, list) or not context or context[0] != CREDENTIALS_V2:
        raise _unsupported(
            "@context[0]",
            f"a vc+jwt secures a VCDM 2.0 credential: must be {CREDENTIALS_V2}",
            f"vc+jwt は VCDM 2.0 の証明書のみ: {CREDENTIALS_V2} でなければなりません",
        )
    _check_members_for_signing(credential, ("iat",) if issued_at is not None else ())
    _model_problem(credential_problems(credential, allow_v1=False))
    kid_did = _did_of_kid(kid, "kid")
    if _issuer_id(credential) != kid_did:
        raise JoseSecurityError(
            "kid: the key does not belong to the credential's issuer",
            "kid: 鍵が証明書の発行者 (issuer) のものではありません",
            path="kid",
            code="issuer_mismatch",
        )
    if issued_at is not None:
        credential["iat"] = _to_numeric_date(issued_at, "issued_at")
    header = {"alg": alg, "typ": "vc+jwt", "cty": "vc", "kid": kid}
    return _compact(header, _payload_bytes(credential), signer, MAX_TOKEN_BYTES)


def sign_vp_jwt(
    presentation: Mapping[str, Any],
    holder: PrivateKey,
    *,
    kid: str,
    nonce: str,
    audience: str,
    issued_at: datetime,
) -> str:
    """``presentation`` as an ``application/vp+jwt`` bound to ``nonce`` and ``audience``.

    ``presentation.holder`` must be the DID of ``kid``; every ``verifiableCredential`` entry
    must be an ``EnvelopedVerifiableCredential`` of a ``vc+jwt`` (see :func:`envelope`).
    ``nonce`` is the verifier's request nonce, ``audience`` its client_id (OpenID4VP 1.0).
    """
    if not isinstance(presentation, Mapping):
        raise _malformed("presentation", "must be a JSON object", "JSON オブジェクトが必要です")
    presentation = dict(presentation)
    alg = _signing_alg(holder)
    nonce = _check_binding_value(nonce, "nonce")
    audience = _check_binding_value(audience, "audience")
    context = presentation.get("@context")
    if not isinstance(context, list) or not context or context[0] != CREDENTIALS_V2:
        raise _unsupported(
            "@context[0]",
            f"a vp+jwt secures a VCDM 2.0 presentation: must be {CREDENTIALS_V2}",
            f"vp+jwt は VCDM 2.0 の提示のみ: {CREDENTIALS_V2} でなければなりません",
        )
    _check_members_for_signing(presentation, ("nonce", "aud", "iat"))
    _model_problem(presentation_problems(presentation, allow_v1=False))
    for i, item in enumerate(as_list(presentation.get("verifiableCredential", []))):
        unenvelope(item, path=f"verifiableCredential[{i}]")
    kid_did = _did_of_kid(kid, "kid")
    if holder_id(presentation) != kid_did:
        raise JoseSecurityError(
            "holder: must be present and be the DID of kid",
            "holder: 必須で、kid の DID でなければなりません",
            path="holder",
            code="holder_binding_failed",
        )
    presentation["nonce"] = nonce
    presentation["aud"] = audience
    presentation["iat"] = _to_numeric_date(issued_at, "issued_at")
    header = {"alg": alg, "typ": "vp+jwt", "cty": "vp", "kid": kid}
    return _compact(header, _payload_bytes(presentation), holder, MAX_PRESENTATION_BYTES)


# --- EnvelopedVerifiableCredential ------------------------------------------------------------


def envelope(jws: str) -> dict[str, Any]:
    """The ``EnvelopedVerifiableCredential`` of a VC-JWT (VCDM 2.0 §4.13.1)."""
    if not isinstance(jws, str) or len(jws) > MAX_TOKEN_BYTES or not _COMPACT.fullmatch(jws):
        raise _malformed(
            "jws",
            "must be a compact JWS (three base64url parts)",
            "コンパクト形式の JWS が必要です",
        )
    return {"@context": CREDENTIALS_V2, "id": _DATA_URL_PREFIX + jws, "type": ENVELOPED_VC_TYPE}


def unenvelope(obj: object, *, path: str = "verifiableCredential") -> str:
    """The VC-JWT inside an ``EnvelopedVerifiableCredential`` (not verified).

    ``obj`` must be an object whose ``type`` is (or includes) ``EnvelopedVerifiableCredential``,
    whose ``@context`` is (or starts with) the VCDM 2.0 context, and whose ``id`` is exactly
    ``data:application/vc+jwt,<compact JWS>``.  Another media type, media-type parameters or a
    ``;base64`` flag are ``unsupported_format``; anything else wrong is ``malformed``.
    """
    if not isinstance(obj, dict):
        raise _unsupported(
            path,
            "must be an EnvelopedVerifiableCredential object (credentials must be secured)",
            "EnvelopedVerifiableCredential のオブジェクトが必要です (証明書は保護されていなければなりません)",
        )
    types = as_list(obj.get("type"))
    if ENVELOPED_VC_TYPE not in types:
        raise _unsupported(
            f"{path}.type",
            "must be EnvelopedVerifiableCredential (credentials in a vp+jwt must be enveloped)",
            "EnvelopedVerifiableCredential でなければなりません (vp+jwt の証明書はエンベロープ型のみ)",
        )
    context = obj.get("@context")
    first = context[0] if isinstance(context, list) and context else context
    if first != CREDENTIALS_V2:
        raise _malformed(
            f"{path}.@context",
            f"must be {CREDENTIALS_V2}",
            f"{CREDENTIALS_V2} でなければなりません",
        )
    url = obj.get("id")
    if not isinstance(url, str) or not url.startswith("data:"):
        raise _malformed(f"{path}.id", "must be a data: URL", "data: URL が必要です")
    if not url.startswith(_DATA_URL_PREFIX):
        raise _unsupported(
            f"{path}.id",
            f"must be a data: URL of media type {VC_JWT_MEDIA_TYPE} (no parameters, no base64)",
            f"メディアタイプ {VC_JWT_MEDIA_TYPE} の data: URL でなければなりません (パラメーター・base64 不可)",
        )
    jws = url[len(_DATA_URL_PREFIX) :]
    if len(jws) > MAX_TOKEN_BYTES:
        raise JoseLimitError(
            f"{path}.id: the enveloped credential is larger than {MAX_TOKEN_BYTES} bytes",
            f"{path}.id: 証明書が {MAX_TOKEN_BYTES} バイトを超えています",
            path=f"{path}.id",
        )
    if not _COMPACT.fullmatch(jws):
        raise _malformed(
            f"{path}.id",
            "the data: URL must hold a compact JWS (three base64url parts)",
            "data: URL の内容はコンパクト形式の JWS でなければなりません",
        )
    return jws


# --- wire format: decoding and verification ---------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    """What differs between vc+jwt and vp+jwt."""

    typ: str
    cty: str
    document_type: str
    what_en: str
    what_ja: str


_VC: Final = _Profile("vc+jwt", "vc", VC_TYPE, "credential", "証明書")
_VP: Final = _Profile("vp+jwt", "vp", VP_TYPE, "presentation", "提示")


def _media_type(value: str) -> str:
    # RFC 7515 §4.1.9–10: "application/" may be omitted; media types are case-insensitive.
    lowered = value.lower()
    return lowered.removeprefix("application/")


def _decode_part(text: str, what: str) -> bytes:
    try:
        return base64url_decode(text, max_length=len(text))
    except FurusatoError:
        raise _malformed(
            what, "is not strict base64url (RFC 7515 §2)", "厳密な base64url ではありません"
        ) from None


def _load(data: bytes, limits: Limits, what: str) -> Any:
    try:
        return load_json(data, limits)
    except LimitExceededError as exc:
        raise JoseLimitError(
            f"{what}: {exc.message_en}", f"{what}: {exc.message_ja}", path=what
        ) from None
    except FurusatoError:
        raise _malformed(what, "is not valid JSON", "正しい JSON ではありません") from None


def _split(token: object, max_bytes: int) -> tuple[str, str, str]:
    if not isinstance(token, str):
        raise _malformed("token", "must be text", "テキストが必要です")
    if len(token) > max_bytes:
        raise JoseLimitError(
            f"token: longer than {max_bytes} characters",
            f"token: {max_bytes} 文字を超えています",
            path="token",
        )
    if token.lstrip(" \t\r\n").startswith("{"):
        raise _unsupported(
            "token",
            "the JWS JSON serialization is not accepted; send the compact serialization",
            "JWS JSON シリアライゼーションは受け付けません。コンパクト形式で送ってください",
        )
    if "~" in token:
        raise _unsupported(
            "token",
            "an SD-JWT is not a vc+jwt (use the SD-JWT verifier)",
            "SD-JWT は vc+jwt ではありません (SD-JWT の検証を使ってください)",
        )
    if not token.isascii():
        raise _malformed("token", "must be ASCII text", "ASCII テキストでなければなりません")
    parts = token.split(".")
    if len(parts) == 5:
        raise _unsupported("token", "a JWE is not accepted", "JWE は受け付けません")
    # An empty signature (an unsecured "alg": "none" JWT) gets as far as the alg check, which
    # names the problem; an empty payload would be RFC 7515 Appendix F (detached): refused.
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise _malformed(
            "token",
            "expected the compact serialization: three parts separated by '.'",
            "コンパクト形式 ('.' で区切られた3つの部分) が必要です",
        )
    return parts[0], parts[1], parts[2]


def _check_header(header: object, profile: _Profile, algs: frozenset[str]) -> tuple[str, str]:
    """Return (alg, kid) once the header passes steps 2–4 (module docstring)."""
    if not isinstance(header, dict):
        raise _malformed("header", "must be a JSON object", "JSON オブジェクトが必要です")
    for name in _REFUSED_HEADER_MEMBERS:
        if name in header:
            raise _unsupported(
                f"header.{name}",
                "is not accepted (no critical extensions, no unencoded payload, "
                "no key carried by the token)",
                "は受け付けません (crit 拡張・非エンコードのペイロード・トークン内の鍵は不可)",
            )
    typ = header.get("typ")
    if not isinstance(typ, str) or _media_type(typ) != profile.typ:
        raise _unsupported(
            "header.typ",
            f"must be {profile.typ} (application/{profile.typ})",
            f"{profile.typ} (application/{profile.typ}) でなければなりません",
        )
    if "cty" in header:
        cty = header["cty"]
        if not isinstance(cty, str) or _media_type(cty) != profile.cty:
            raise _unsupported(
                "header.cty",
                f"must be {profile.cty} when present",
                f"指定する場合は {profile.cty} でなければなりません",
            )
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs:
        shown = alg if isinstance(alg, str) and alg in _NAMED_ALGS else "other"
        raise JoseSecurityError(
            f"header.alg: {shown!r} is not an accepted algorithm ({', '.join(sorted(algs))})",
            f"header.alg: {shown!r} は許可されたアルゴリズムではありません ({', '.join(sorted(algs))})",
            path="header.alg",
            code="jose_alg_not_allowed",
        )
    kid = header.get("kid")
    _did_of_kid(kid)
    assert isinstance(kid, str)
    return alg, kid


def _resolve(key_for: Callable[[str], PublicKey], kid: str) -> PublicKey:
    try:
        key = key_for(kid)
    except FurusatoError as exc:
        raise JoseKeyError(
            f"header.kid: the verification method cannot be resolved ({exc.code})",
            f"header.kid: 検証メソッドを解決できません ({exc.code})",
            path="header.kid",
        ) from exc
    if not isinstance(key, PublicKey):
        raise JoseKeyError(
            "header.kid: key_for did not return a PublicKey",
            "header.kid: key_for が PublicKey を返しませんでした",
            path="header.kid",
        )
    return key


def _check_signature(token: str, signature: bytes, alg: str, key: PublicKey) -> None:
    """Step 5, by jwcrypto with ``alg`` pinned (jwcrypto's own header checks run too)."""
    if alg not in _KEY_ALGS[key.key_type]:
        raise JoseSecurityError(
            f"header.alg: {alg} does not match the {key.key_type.value} key of kid",
            f"header.alg: {alg} は kid の {key.key_type.value} 鍵に合いません",
            path="header.alg",
            code="jose_alg_not_allowed",
        )
    if len(signature) != _SIGNATURE_LENGTH[key.key_type]:
        raise JoseSecurityError(
            f"the {alg} signature has the wrong length",
            f"{alg} 署名の長さが正しくありません",
            path="signature",
        )
    try:
        verifier = _jws.JWS()
        verifier.allowed_algs = [alg]
        verifier.deserialize(token)
        verifier.verify(_jwk.JWK(**key.to_jwk()), alg=alg)
    except (JWException, ValueError, TypeError):
        raise JoseSecurityError(
            f"the {alg} signature does not verify with the key of kid",
            f"{alg} 署名が kid の鍵で検証できません",
            path="signature",
        ) from None


def _verify_compact(
    token: object,
    profile: _Profile,
    key_for: Callable[[str], PublicKey],
    accepted_algs: object,
    max_bytes: int,
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Steps 1–6: (header, payload, DID of kid)."""
    algs = _check_algs(accepted_algs)
    header_b64, payload_b64, signature_b64 = _split(token, max_bytes)
    assert isinstance(token, str)
    if len(header_b64) > MAX_HEADER_CHARS:
        raise JoseLimitError(
            f"header: longer than {MAX_HEADER_CHARS} characters",
            f"header: {MAX_HEADER_CHARS} 文字を超えています",
            path="header",
        )
    header_bytes = _decode_part(header_b64, "header")
    payload_bytes = _decode_part(payload_b64, "payload")
    signature = _decode_part(signature_b64, "signature") if signature_b64 else b""
    header = _load(
        header_bytes, Limits(max_bytes=MAX_HEADER_CHARS, max_depth=4, max_nodes=64), "header"
    )
    alg, kid = _check_header(header, profile, algs)
    key = _resolve(key_for, kid)
    _check_signature(token, signature, alg, key)
    payload = _load(payload_bytes, Limits(max_bytes=max_bytes), "payload")
    if not isinstance(payload, dict):
        raise _malformed("payload", "must be a JSON object", "JSON オブジェクトが必要です")
    for name in _FORBIDDEN_CLAIMS:
        if name in payload:
            raise _unsupported(
                f"payload.{name}",
                "a VC-JOSE-COSE payload must not have vc or vp claims (VCDM 1.1 JWT encoding)",
                "VC-JOSE-COSE のペイロードに vc・vp クレームは使えません (VCDM 1.1 の JWT 形式)",
            )
    context = payload.get("@context")
    first = context[0] if isinstance(context, list) and context else None
    if first != CREDENTIALS_V2:
        raise _unsupported(
            "payload.@context",
            f"a {profile.typ} secures a VCDM 2.0 {profile.what_en}: @context[0] must be "
            f"{CREDENTIALS_V2}",
            f"{profile.typ} は VCDM 2.0 の{profile.what_ja}のみ: @context[0] は {CREDENTIALS_V2} "
            "でなければなりません",
        )
    if profile.document_type not in as_list(payload.get("type")):
        raise _malformed(
            "payload.type",
            f"must include {profile.document_type}",
            f"{profile.document_type} を含む必要があります",
        )
    if "proof" in payload:
        raise _unsupported(
            "payload.proof",
            "an enveloped document must not also carry an embedded proof",
            "エンベロープ型の文書に埋め込み型の証明 (proof) は併用できません",
        )
    return dict(header), payload, _did_of_kid(kid)


def _check_times(
    payload: Mapping[str, Any], now: datetime, skew: timedelta, *, what_en: str, what_ja: str
) -> None:
    now_ts = now.timestamp()
    leeway = skew.total_seconds()
    exp = _numeric_date(payload, "exp")
    nbf = _numeric_date(payload, "nbf")
    iat = _numeric_date(payload, "iat")
    if exp is not None and now_ts - leeway >= exp:
        raise JoseTimeError(
            f"payload.exp: the {what_en}'s signature has expired",
            f"payload.exp: {what_ja}の署名の有効期限が切れています",
            path="payload.exp",
            code="expired",
        )
    if nbf is not None and now_ts + leeway < nbf:
        raise JoseTimeError(
            f"payload.nbf: the {what_en}'s signature is not valid yet",
            f"payload.nbf: {what_ja}の署名はまだ有効ではありません",
            path="payload.nbf",
            code="not_yet_valid",
        )
    if iat is not None and now_ts + leeway < iat:
        raise JoseTimeError(
            f"payload.iat: the {what_en} was signed in the future (check the clocks)",
            f"payload.iat: {what_ja}の署名日時が未来です (時計を確認してください)",
            path="payload.iat",
            code="not_yet_valid",
        )


def verify_vc_jwt(
    token: str,
    *,
    key_for: Callable[[str], PublicKey],
    now: datetime,
    accepted_algs: Collection[str] = DEFAULT_ALGS,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    max_bytes: int = MAX_TOKEN_BYTES,
) -> VerifiedJwt:
    """Verify an ``application/vc+jwt`` (module docstring, steps 1–8); return header and
    credential.  ``key_for(kid)`` gives the public key of a verification method or raises a
    :class:`~did.errors.FurusatoError`.  Raises :class:`JoseError` only."""
    now = _check_now(now)
    skew = _check_skew(max_clock_skew, "max_clock_skew")
    header, payload, kid_did = _verify_compact(token, _VC, key_for, accepted_algs, max_bytes)
    issuer = _issuer_id(payload)
    if issuer is None:
        raise _malformed(
            "payload.issuer", "is required (a DID, or an object with one as id)", "必須です"
        )
    if issuer != kid_did:
        raise JoseSecurityError(
            "header.kid: the signing key does not belong to the credential's issuer",
            "header.kid: 署名鍵が証明書の発行者 (issuer) のものではありません",
            path="header.kid",
            code="issuer_mismatch",
        )
    if "iss" in payload and payload["iss"] != issuer:
        raise JoseSecurityError(
            "payload.iss: does not match the credential's issuer",
            "payload.iss: 証明書の発行者 (issuer) と一致しません",
            path="payload.iss",
            code="issuer_mismatch",
        )
    if "jti" in payload and "id" in payload and payload["jti"] != payload["id"]:
        raise _malformed(
            "payload.jti", "conflicts with the credential's id", "証明書の id と矛盾しています"
        )
    if "sub" in payload:
        subjects = [
            s.get("id") for s in as_list(payload.get("credentialSubject")) if isinstance(s, dict)
        ]
        if payload["sub"] not in subjects:
            raise _malformed(
                "payload.sub",
                "conflicts with credentialSubject.id",
                "credentialSubject.id と矛盾しています",
            )
    _check_times(payload, now, skew, what_en="credential", what_ja="証明書")
    return VerifiedJwt(header=header, credential=payload)


def verify_vp_jwt(
    token: str,
    *,
    key_for: Callable[[str], PublicKey],
    nonce: str,
    audience: str,
    now: datetime,
    max_age: timedelta,
    accepted_algs: Collection[str] = DEFAULT_ALGS,
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    max_bytes: int = MAX_PRESENTATION_BYTES,
    max_credentials: int = Limits().max_credentials_per_presentation,
) -> VerifiedPresentationJwt:
    """Verify an ``application/vp+jwt`` for this verifier's ``nonce`` and ``audience``
    (client_id), signed at most ``max_age`` (± ``max_clock_skew``) before ``now``.

    The enveloped credentials are returned unverified (:class:`VerifiedPresentationJwt`).
    Raises :class:`JoseError` only.
    """
    now = _check_now(now)
    skew = _check_skew(max_clock_skew, "max_clock_skew")
    window = _check_skew(max_age, "max_age")
    nonce = _check_binding_value(nonce, "nonce")
    audience = _check_binding_value(audience, "audience")
    header, payload, kid_did = _verify_compact(token, _VP, key_for, accepted_algs, max_bytes)
    holder = holder_id(payload)
    if holder is None or holder != kid_did:
        raise JoseSecurityError(
            "payload.holder: must be present and be the DID of the signing key",
            "payload.holder: 必須で、署名鍵の DID でなければなりません",
            path="payload.holder",
            code="holder_binding_failed",
        )
    if "iss" in payload and payload["iss"] != holder:
        raise JoseSecurityError(
            "payload.iss: does not match the presentation's holder",
            "payload.iss: 提示者 (holder) と一致しません",
            path="payload.iss",
            code="holder_binding_failed",
        )
    claimed_nonce = payload.get("nonce")
    if not isinstance(claimed_nonce, str) or not hmac.compare_digest(
        claimed_nonce.encode("utf-8"), nonce.encode("utf-8")
    ):
        raise JoseChallengeError(
            "payload.nonce: missing or not this verifier's nonce (a replay?)",
            "payload.nonce: ないか、この検証者のノンスではありません (再送の可能性)",
            path="payload.nonce",
        )
    aud = payload.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or audience not in audiences:
        raise JoseDomainError(
            "payload.aud: missing or not addressed to this verifier",
            "payload.aud: ないか、この検証者宛てではありません",
            path="payload.aud",
        )
    iat = _numeric_date(payload, "iat")
    now_ts, leeway = now.timestamp(), skew.total_seconds()
    if iat is None or iat > now_ts + leeway or iat < now_ts - window.total_seconds() - leeway:
        raise JoseTimeError(
            f"payload.iat: missing, or the presentation was not made within "
            f"{int(window.total_seconds())} s of now",
            f"payload.iat: ないか、提示の作成が現在から {int(window.total_seconds())} 秒以内ではありません",
            path="payload.iat",
            code="presentation_stale",
        )
    _check_times(payload, now, skew, what_en="presentation", what_ja="提示")
    items = as_list(payload.get("verifiableCredential", []))
    if len(items) > max_credentials:
        raise JoseLimitError(
            f"payload.verifiableCredential: more than {max_credentials} credentials",
            f"payload.verifiableCredential: 証明書が {max_credentials} 件を超えています",
            path="payload.verifiableCredential",
        )
    credentials = tuple(
        unenvelope(item, path=f"payload.verifiableCredential[{i}]") for i, item in enumerate(items)
    )
    issued_at = _numeric_datetime(iat)
    assert issued_at is not None
    return VerifiedPresentationJwt(
        header=header,
        presentation=payload,
        holder=holder,
        issued_at=issued_at,
        unverified_credentials=credentials,
    )
