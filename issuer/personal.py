"""A premium SD-JWT VC with the holder's name and birth date, selectively disclosable.

Premium registration proves a person's identity and then forgets it (issuer.premium): only
the person key stays.  A municipality may also offer (``settings.premium.sdJwtPersonalClaims``)
the premium credential as an SD-JWT VC whose ``name`` and ``birthDate`` the holder can
disclose — to a nursery that must know who picks up a child — and withhold everywhere else.
The issuer needs the name at the moment of issuance and must not keep it, so (docs/premium.md):

1. ``start`` — the wallet of an **approved** application asks for it with its status token and
   a fresh public encryption key (an X25519 or P-256 JWK); it gets a one-time identity link
   (30 minutes), the same identity page as the application's.
2. The resident proves their identity again (OIDC or JPKI).  ``issue`` checks the person is
   the one whose application was approved (the person key, compared in constant time), then —
   in one transaction — issues the premium credential to the key that applied, with ``name``
   and ``birthDate`` as Disclosures, redeems the approved offer (the membership activates, the
   replaced credential is revoked, as through OID4VCI) and keeps the credential only as a JWE
   (``ECDH-ES`` / ``A256GCM``) to the wallet's encryption key: the issuer cannot read it back.
   The credential's record keeps the SD-JWT without those two Disclosures (their salted
   digests reveal nothing).  The identity is dropped.
3. The wallet reads the JWE with the application's status (:func:`sealed`), decrypts it,
   verifies the credential, and asks the issuer to delete the JWE (:func:`discard`); a JWE not
   collected within a day is no longer served.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from jwcrypto import jwe, jwk
from sqlalchemy.orm import Session

from did.errors import MalformedValueError
from issuer import audit
from issuer.db import Database, IssuedCredential, Offer, PremiumApplication
from issuer.errors import ConflictError, NotFoundError, ServiceError
from issuer.identity import ProvenIdentity, person_key
from issuer.issuance import PERSONAL_CLAIMS, Issued, issue_resident
from issuer.oid4vci import bind_offer
from issuer.premium import (
    IDENTITY_STEP,
    PremiumRefused,
    _hash,
    get_application,
    personal_step_open,
)
from issuer.settings import Settings
from issuer.tenants import KeyRing, TenantInfo, get_tenant
from vc.dates import format_datetime, parse_datetime
from vc.oid4vci import FURUSATO_RESIDENT_CONFIGURATIONS

SEALED_TTL = timedelta(hours=24)
JWE_ALG, JWE_ENC = "ECDH-ES", "A256GCM"
NAME_MAX = 100
SD_JWT_CONFIGURATION = next(
    cid for cid, c in FURUSATO_RESIDENT_CONFIGURATIONS.items() if c.format == "dc+sd-jwt"
)
# The public members an encryption key may have (no private part, nothing else).
_KEY_MEMBERS = {
    "OKP": ({"kty", "crv", "x"}, {"X25519"}),
    "EC": ({"kty", "crv", "x", "y"}, {"P-256"}),
}
_OPTIONAL_MEMBERS = {"use", "alg", "kid"}


def offered(tenant: TenantInfo) -> bool:
    """Does the municipality offer name and birth date in its premium SD-JWT VC?"""
    premium = tenant.settings.get("premium") if isinstance(tenant.settings, dict) else None
    return isinstance(premium, dict) and premium.get("sdJwtPersonalClaims") is True


def _bad_key(en: str, ja: str) -> MalformedValueError:
    return MalformedValueError(f"encryptionJwk: {en}", f"encryptionJwk: {ja}", path="encryptionJwk")


def encryption_key(value: object) -> dict[str, str]:
    """The wallet's public encryption key, checked: X25519 (OKP) or P-256 (EC), public only."""
    if not isinstance(value, dict):
        raise _bad_key("must be a JWK object", "JWK のオブジェクトが必要です")
    kind = _KEY_MEMBERS.get(value.get("kty"))  # type: ignore[arg-type]
    if kind is None:
        raise _bad_key("kty must be OKP (X25519) or EC (P-256)", "kty は OKP か EC です")
    required, curves = kind
    if set(value) - required - _OPTIONAL_MEMBERS or not required <= set(value):
        raise _bad_key(
            f"a public key has exactly the members {', '.join(sorted(required))}",
            f"公開鍵のメンバーは {', '.join(sorted(required))} です (秘密鍵は送らないでください)",
        )
    if value["crv"] not in curves:
        raise _bad_key(f"crv must be {', '.join(sorted(curves))}", "crv が対応していません")
    if value.get("use", "enc") != "enc" or value.get("alg", JWE_ALG) != JWE_ALG:
        raise _bad_key("use must be enc and alg ECDH-ES", "use は enc、alg は ECDH-ES です")
    public = {k: value[k] for k in sorted(required)}
    if any(not isinstance(v, str) or len(v) > 100 for v in public.values()):
        raise _bad_key("members must be short strings", "メンバーは短い文字列です")
    try:
        jwk.JWK(**public)
    except Exception:  # jwcrypto raises several kinds for a key that is not on its curve
        raise _bad_key("not a valid public key", "有効な公開鍵ではありません") from None
    return public


def start(
    session: Session,
    tenant: TenantInfo,
    row: PremiumApplication,
    encryption_jwk: object,
    *,
    now: datetime,
    random_token: Callable[[int], str] = secrets.token_urlsafe,
) -> tuple[str, datetime]:
    """Open the identity step of an approved application for its personal SD-JWT VC; returns
    the one-time login token and when it expires.  ``row`` is the application the caller
    found by its status token."""
    if not offered(tenant):
        raise ServiceError(
            "this municipality does not issue name and birth date in its credentials",
            "この自治体は氏名・生年月日入りの証明書を発行していません",
            code="personal_claims_not_offered",
            status=404,
        )
    if row.state != "approved" or row.offer_id is None:
        raise ConflictError(
            "only an approved application whose credential is not received yet can ask for it",
            "承認済みで証明書をまだ受け取っていない申請でのみ利用できます",
            code="invalid_state",
        )
    offer = session.get(Offer, (tenant.lg_code, row.offer_id))
    if offer is None or offer.credential_id is not None or offer.expires_at <= now:
        raise ConflictError(
            "the approved credential was already received or its offer expired",
            "承認された証明書は受け取り済みか、受け取り期限が過ぎています",
            code="invalid_state",
        )
    key = encryption_key(encryption_jwk)
    token = random_token(32)
    until = now + IDENTITY_STEP
    row.login_hash = _hash(token)
    row.session = {"personal": {"jwk": key, "until": format_datetime(until)}}
    return token, until


def _seal(credential: str, key: Mapping[str, str]) -> str:
    message = jwe.JWE(
        credential.encode("ascii"),
        protected=json.dumps({"alg": JWE_ALG, "enc": JWE_ENC, "cty": "dc+sd-jwt"}),
    )
    message.add_recipient(jwk.JWK(**key))
    text: str = message.serialize(compact=True)
    return text


def _birth_date(identity: ProvenIdentity) -> str:
    return identity.birth_date.isoformat()


def issue(
    db: Database,
    ring: KeyRing,
    settings: Settings,
    *,
    lg_code: str,
    application_id: str,
    identity: ProvenIdentity,
    pepper: bytes,
    now: datetime,
) -> None:
    """Issue the approved premium credential with the proven name and birth date (module
    docstring).  A different person is refused and the step closed; nothing is issued."""
    with db.transaction() as session:
        tenant = get_tenant(session, lg_code)
        row = get_application(session, lg_code, application_id)
        personal = row.session.get("personal") if isinstance(row.session, dict) else None
        if not personal_step_open(row, now) or not isinstance(personal, dict):
            raise NotFoundError(
                "this link has expired or was used: ask again from the wallet",
                "このリンクは期限切れか使用済みです。ウォレットからやり直してください",
                code="application_link_invalid",
            )
        same = hmac.compare_digest(person_key(identity, pepper), row.person_key or "")
        if not same or not offered(tenant):
            row.session, row.login_hash = None, None
        offer_id, holder, key = row.offer_id, row.holder_did, personal["jwk"]
    if not offered(tenant):
        raise ServiceError(
            "this municipality no longer issues name and birth date in its credentials",
            "この自治体は氏名・生年月日入りの証明書の発行をやめました",
            code="personal_claims_not_offered",
            status=404,
        )
    if not same:
        raise PremiumRefused(
            "the identity proven is not the applicant's: the credential carries only the "
            "applicant's own name",
            "確認された本人が申請者と一致しません。証明書には申請者ご本人の氏名のみ記載できます",
            code="personal_claims_other_person",
        )
    name = identity.name.strip()
    if not 0 < len(name) <= NAME_MAX:
        raise ServiceError(
            "the proven name cannot be put in a credential",
            "確認された氏名を証明書に記載できません",
            code="personal_claims_unusable",
        )

    def redeem(session: Session, record: IssuedCredential) -> None:
        assert offer_id is not None  # personal_step_open() holds only for an approved application
        bind_offer(session, lg_code, offer_id, "premium", record, now=now)

    def deliver(session: Session, issued: Issued) -> None:
        assert isinstance(issued.delivered, str)
        row = get_application(session, lg_code, application_id)
        row.login_hash = None
        row.session = {
            "sealed": _seal(issued.delivered, key),
            "until": format_datetime(now + SEALED_TTL),
            "credentialId": issued.record.credential_id,
        }
        audit.append(
            session,
            lg_code,
            at=now,
            actor="applicant",
            action="premium.personal_claims",
            subject=application_id,
            details={"credential": issued.record.credential_id, "method": identity.method},
        )

    issue_resident(
        db,
        ring,
        settings,
        lg_code=lg_code,
        holder=holder,
        tier="premium",
        now=now,
        source="premium-personal",
        actor=f"premium:{application_id}",
        on_issued=redeem,
        configuration_id=SD_JWT_CONFIGURATION,
        personal_claims={"name": name, "birthDate": _birth_date(identity)},
        on_delivered=deliver,
    )


def sealed(row: PremiumApplication, now: datetime) -> str | None:
    """The JWE waiting for the wallet, if any (and not older than a day)."""
    session = row.session if isinstance(row.session, dict) else {}
    text, until = session.get("sealed"), session.get("until")
    if not isinstance(text, str) or not isinstance(until, str):
        return None
    return text if parse_datetime(until, "until") > now else None


def discard(row: PremiumApplication) -> None:
    """The wallet has it: the JWE is deleted."""
    if isinstance(row.session, dict) and "sealed" in row.session:
        row.session = None


__all__ = ["PERSONAL_CLAIMS", "discard", "encryption_key", "issue", "offered", "sealed", "start"]
