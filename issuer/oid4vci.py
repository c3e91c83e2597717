"""OID4VCI 1.0, pre-authorized code flow, as the issuer runs it (the wire formats are in
``vc.oid4vci``).

offer (pre-authorized code, optional tx_code) → token endpoint (code → access token; the
code is single-use and short-lived) → nonce endpoint (single-use c_nonce) → credential
endpoint (access token + a key proof JWT over the c_nonce → a FurusatoResidentCredential for
the proven key, in the format of the configuration the wallet asks for).  Every offer names
all the configurations of :data:`vc.oid4vci.FURUSATO_RESIDENT_CONFIGURATIONS`, ``ldp_vc``
first; the wallet picks one.  Codes, tokens and nonces are stored as SHA-256 hashes or
single-use rows; the offer row is locked while its credential is issued, so one offer yields
one credential (in one format) even under concurrent requests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from did.errors import FurusatoError
from did.multibase import base64url_encode
from issuer import audit, membership
from issuer.bootstrap import Services
from issuer.db import Database, IssuedCredential, Nonce, Offer
from issuer.errors import NotFoundError, OAuthError
from issuer.issuance import issue_resident, premium_requires_application
from issuer.resolving import LocalStatusLists, tenant_resolver
from issuer.settings import Settings
from issuer.tenants import KeyRing, TenantInfo, get_tenant
from vc import oid4vci
from vc.model import as_list, issuer_id
from vc.verify import VerifyOptions, verify_presentation

CONFIGURATION_IDS = tuple(oid4vci.FURUSATO_RESIDENT_CONFIGURATIONS)
"""What every offer names, ``ldp_vc`` first (a wallet that takes the first gets ``ldp_vc``)."""
OFFER_SCHEME = "openid-credential-offer://"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def offer_uri(tenant: TenantInfo, offer_ref: str) -> str:
    """The ``openid-credential-offer://`` URI (by reference) of an offer."""
    return OFFER_SCHEME + "?credential_offer_uri=" + quote(offer_url(tenant, offer_ref), safe="")


def offer_url(tenant: TenantInfo, offer_ref: str) -> str:
    return f"{tenant.identifier}/offers/{offer_ref}"


def _code_for(secret: str, lg_code: str, offer_ref: str) -> str:
    """The pre-authorized code of an offer, derived from the offer reference with the
    deployment secret: only its hash is stored, yet the by-reference offer can show it."""
    mac = hmac.new(
        secret.encode("utf-8"),
        f"pre-authorized-code|{lg_code}|{offer_ref}".encode(),
        hashlib.sha256,
    )
    return base64url_encode(mac.digest())


_TX_CODE = oid4vci.TxCode(
    input_mode="numeric",
    length=6,
    description="窓口で表示された6桁の番号 / the 6-digit code shown at the counter",
)


@dataclass(frozen=True)
class NewOffer:
    offer_ref: str  # the secret reference in the offer URL (the QR)
    tier: str
    tx_code: str | None  # shown to the resident separately (e.g. on the counter's screen)
    offer: dict[str, Any]
    offer_uri: str  # openid-credential-offer://?credential_offer_uri=…
    expires_at: datetime

    @property
    def offer_id(self) -> str:
        """The stored key of the offer (a hash of its reference)."""
        return _hash(self.offer_ref)


def create_offer(
    session: Session,
    settings: Settings,
    secret: str,
    tenant: TenantInfo,
    *,
    tier: str,
    channel: str,
    now: datetime,
    actor: str,
    with_tx_code: bool = False,
    offer_ref: str | None = None,
) -> NewOffer:
    """A credential offer for one credential of ``tier`` (in the caller's transaction).

    ``offer_ref`` (the secret in the offer URL) is random unless the caller derives one it
    can compute again (a premium application's offer is shown to its applicant on request).
    """
    if tier == "premium" and channel != "premium":
        raise premium_requires_application()
    offer_ref = offer_ref or secrets.token_urlsafe(24)
    code = _code_for(secret, tenant.lg_code, offer_ref)
    tx_code = f"{secrets.randbelow(10**6):06d}" if with_tx_code else None
    expires_at = now + settings.offer_ttl
    offer_id = _hash(offer_ref)
    session.add(
        Offer(
            lg_code=tenant.lg_code,
            offer_id=offer_id,
            tier=tier,
            code_hash=_hash(code),
            tx_code_hash=_hash(tx_code) if tx_code else None,
            tx_attempts=0,
            created_at=now,
            expires_at=expires_at,
            redeemed_at=None,
            token_hash=None,
            token_expires_at=None,
            credential_id=None,
            channel=channel,
        )
    )
    audit.append(
        session,
        tenant.lg_code,
        at=now,
        actor=actor,
        action="offer.create",
        subject=offer_id[:16],
        details={"tier": tier, "channel": channel, "txCode": with_tx_code},
    )
    offer = oid4vci.CredentialOffer(
        credential_issuer=tenant.identifier,
        credential_configuration_ids=CONFIGURATION_IDS,
        pre_authorized_code=code,
        tx_code=_TX_CODE if tx_code else None,
    )
    return NewOffer(
        offer_ref, tier, tx_code, offer.to_json(), offer_uri(tenant, offer_ref), expires_at
    )


def offer_document(
    db: Database, secret: str, lg_code: str, offer_ref: str, now: datetime
) -> dict[str, Any]:
    """The offer object a wallet fetches by reference (the code in it is still single-use)."""
    with db.read() as session:
        tenant = get_tenant(session, lg_code)
        row = session.get(Offer, (lg_code, _hash(offer_ref)))
        if row is None or row.expires_at <= now or row.redeemed_at is not None:
            raise NotFoundError(
                "no such offer (expired or already used)",
                "この申込みは見つかりません (期限切れか使用済みです)",
            )
        offer = oid4vci.CredentialOffer(
            credential_issuer=tenant.identifier,
            credential_configuration_ids=CONFIGURATION_IDS,
            pre_authorized_code=_code_for(secret, lg_code, offer_ref),
            tx_code=_TX_CODE if row.tx_code_hash else None,
        )
        return offer.to_json()


def redeem(
    db: Database, settings: Settings, lg_code: str, form: Mapping[str, str], now: datetime
) -> dict[str, Any]:
    """The token endpoint: a pre-authorized code (and tx_code) for an access token."""
    request = oid4vci.parse_token_request(form)
    with db.transaction() as session:
        get_tenant(session, lg_code)
        row = session.execute(
            select(Offer)
            .where(Offer.lg_code == lg_code, Offer.code_hash == _hash(request.pre_authorized_code))
            .with_for_update()
        ).scalar_one_or_none()
        if row is None or row.redeemed_at is not None or row.expires_at <= now:
            raise OAuthError(
                "invalid_grant",
                "the pre-authorized code is unknown, expired or already used",
                "事前認可コードが無効です (不明・期限切れ・使用済み)",
            )
        if row.tx_code_hash is None and request.tx_code is not None:
            raise OAuthError(
                "invalid_request",
                "this offer needs no tx_code",
                "この申込みには確認コード (tx_code) は不要です",
            )
        if row.tx_code_hash is not None:
            if request.tx_code is None:
                raise OAuthError(
                    "invalid_request", "the tx_code is required", "確認コード (tx_code) が必要です"
                )
            if not hmac.compare_digest(row.tx_code_hash, _hash(request.tx_code)):
                row.tx_attempts += 1
                if row.tx_attempts >= settings.max_tx_code_attempts:
                    row.expires_at = now  # too many guesses: the offer is dead
                # commit the attempt count, then refuse
                session.commit()
                raise OAuthError(
                    "invalid_grant",
                    "the tx_code is wrong",
                    "確認コード (tx_code) が正しくありません",
                )
        token = secrets.token_urlsafe(32)
        row.redeemed_at = now
        row.token_hash = _hash(token)
        row.token_expires_at = now + settings.token_ttl
    return oid4vci.token_response(token, int(settings.token_ttl.total_seconds()))


def new_nonce(db: Database, settings: Settings, lg_code: str, now: datetime) -> dict[str, Any]:
    nonce = secrets.token_urlsafe(24)
    with db.transaction() as session:
        get_tenant(session, lg_code)
        session.add(
            Nonce(lg_code=lg_code, nonce=nonce, expires_at=now + settings.nonce_ttl, used_at=None)
        )
    return oid4vci.nonce_response(nonce)


def _consume_nonce(db: Database, lg_code: str, nonce: str, now: datetime) -> bool:
    with db.transaction() as session:
        used = session.execute(
            update(Nonce)
            .where(
                Nonce.lg_code == lg_code,
                Nonce.nonce == nonce,
                Nonce.used_at.is_(None),
                Nonce.expires_at > now,
            )
            .values(used_at=now)
            .returning(Nonce.nonce)  # decided by the row, not by the driver's rowcount
        ).first()
        return used is not None


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise OAuthError(
            "invalid_token",
            "an access token is required (Authorization: Bearer)",
            "アクセストークンが必要です (Authorization: Bearer)",
            status=401,
        )
    return token.strip()


def credential(
    db: Database,
    ring: KeyRing,
    settings: Settings,
    lg_code: str,
    *,
    authorization: str | None,
    body: Any,
    now: datetime,
) -> dict[str, Any]:
    """The credential endpoint."""
    token_digest = _hash(_bearer(authorization))
    with db.read() as session:
        tenant = get_tenant(session, lg_code)
        offer = session.execute(
            select(Offer).where(Offer.lg_code == lg_code, Offer.token_hash == token_digest)
        ).scalar_one_or_none()
        if (
            offer is None
            or offer.token_expires_at is None
            or offer.token_expires_at <= now
            or offer.credential_id is not None
        ):
            raise OAuthError(
                "invalid_token",
                "the access token is unknown, expired or used",
                "アクセストークンが無効です (不明・期限切れ・使用済み)",
                status=401,
            )
        offer_id, tier = offer.offer_id, offer.tier
    # unknown_credential_configuration for any id but ours
    request = oid4vci.parse_credential_request(body, configuration_ids=CONFIGURATION_IDS)
    if len(request.proofs) != 1:
        raise OAuthError(
            "invalid_credential_request",
            "send exactly one key proof (batch issuance is not offered)",
            "鍵の証明 (proof) は1つだけ送ってください (一括発行には対応していません)",
        )
    proof = oid4vci.verify_key_proof(
        request.proofs[0],
        audience=tenant.identifier,
        now=now,
        nonce_ok=lambda nonce: _consume_nonce(db, lg_code, nonce, now),
        max_age=settings.proof_max_age,
    )
    if tier == "premium":  # only from an approved application, to the key that applied
        with db.read() as session:
            application = membership.application_for_offer(session, lg_code, offer_id)
        if application is None:
            raise OAuthError(
                "credential_request_denied",
                "a premium credential is issued only for an approved application",
                "プレミアムの証明書は承認された申請にのみ発行されます",
                status=403,
            )
        try:
            membership.check_premium_holder(application, proof.holder_did)
        except FurusatoError:
            _reopen(db, lg_code, offer_id)
            raise

    def bind(session: Session, record: IssuedCredential) -> None:
        bind_offer(session, lg_code, offer_id, tier, record, now=now)

    issued = issue_resident(
        db,
        ring,
        settings,
        lg_code=lg_code,
        holder=proof.holder_did,
        tier=tier,
        now=now,
        source="oid4vci",
        actor=f"offer:{offer_id[:16]}",
        on_issued=bind,
        configuration_id=request.credential_configuration_id,
    )
    return oid4vci.credential_response([issued.delivered])


def bind_offer(
    session: Session,
    lg_code: str,
    offer_id: str,
    tier: str,
    record: IssuedCredential,
    *,
    now: datetime,
) -> None:
    """In the issuing transaction: mark the offer used by ``record`` (a concurrent redemption
    that got there first rolls this one back) and, for premium, activate the membership."""
    row = session.execute(
        select(Offer)
        .where(Offer.lg_code == lg_code, Offer.offer_id == offer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if row.credential_id is not None:  # a concurrent request won: roll this one back
        raise OAuthError(
            "invalid_token",
            "the access token has already been used",
            "アクセストークンは既に使われています",
            status=401,
        )
    row.credential_id = record.credential_id
    if tier == "premium":
        membership.on_premium_issued(session, lg_code, offer_id, record.credential_id, now=now)


def _reopen(db: Database, lg_code: str, offer_id: str) -> None:
    """A premium offer redeemed with the wrong key stays usable by the key that applied
    (whoever else got hold of its link cannot use it up)."""
    with db.transaction() as session:
        row = session.get(Offer, (lg_code, offer_id))
        if row is not None and row.credential_id is None:
            row.redeemed_at = None
            row.token_hash = None
            row.token_expires_at = None


def presented_credential(
    svc: Services, lg_code: str, *, body: Any, now: datetime
) -> dict[str, Any]:
    """A registrant proves who they are: ``{"presentation": VP}`` of a credential this
    municipality issued (not revoked), signed by its subject over a fresh c_nonce (the
    challenge) for our identifier (the domain).  Returns the credential; its subject id is
    the registration key.  Used by renewal, check-ins and premium applications."""
    db, settings = svc.db, svc.settings
    if not isinstance(body, dict) or not isinstance(body.get("presentation"), dict):
        raise OAuthError(
            "invalid_request",
            'send {"presentation": <VP>}',
            '{"presentation": <提示>} を送ってください',
        )
    presentation = body["presentation"]
    proof = presentation.get("proof")
    challenge = proof.get("challenge") if isinstance(proof, dict) else None
    if not isinstance(challenge, str) or not _consume_nonce(db, lg_code, challenge, now):
        raise OAuthError(
            "invalid_nonce",
            "the presentation's challenge is not a fresh c_nonce",
            "提示のチャレンジが有効な c_nonce ではありません",
        )
    with db.read() as session:
        tenant = get_tenant(session, lg_code)
    result = verify_presentation(
        presentation,
        resolver=tenant_resolver(svc),
        options=VerifyOptions(
            now=now,
            challenge=challenge,
            domain=tenant.identifier,
            require_holder_binding=True,
            presentation_max_age=settings.proof_max_age,
            status_lists=LocalStatusLists(svc),
        ),
    )
    if not result.verified:
        first = result.errors[0]
        raise OAuthError(
            "invalid_proof",
            f"the presentation does not verify: {first.message_en}",
            f"提示を検証できません: {first.message_ja}",
        )
    credentials = as_list(presentation.get("verifiableCredential"))
    if len(credentials) != 1 or not isinstance(credentials[0], dict):
        raise OAuthError(
            "invalid_request",
            "present exactly one credential",
            "証明書を1つだけ提示してください",
        )
    credential = credentials[0]
    if issuer_id(credential) != tenant.did:
        raise OAuthError(
            "credential_request_denied",
            "the credential was not issued here",
            "この証明書はここで発行されたものではありません",
            status=403,
        )
    return dict(credential)


def renew(svc: Services, lg_code: str, *, body: Any, now: datetime) -> dict[str, Any]:
    """Renewal (our extension, advertised as ``renewal_endpoint``): the holder proves a current
    credential of ours with a presentation over a fresh c_nonce (challenge) and our identifier
    (domain), and gets a new credential for the same key.  Basic only: a premium renewal
    re-checks the programme's rules, which is the premium process.  ``ldp_vc`` only, both ways:
    the presentation is a Data Integrity VP and the new credential is ``ldp_vc``."""
    db, ring, settings = svc.db, svc.ring, svc.settings
    credential = presented_credential(svc, lg_code, body=body, now=now)
    tier = credential["credentialSubject"].get("registrationTier")
    if tier != "basic":
        raise OAuthError(
            "credential_request_denied",
            "a premium registration is renewed through the premium process (its rules are checked again)",
            "プレミアム登録の更新は、条件を改めて確認するプレミアムの手続きで行います",
            status=403,
        )
    issued = issue_resident(
        db,
        ring,
        settings,
        lg_code=lg_code,
        holder=credential["credentialSubject"]["id"],
        tier="basic",
        now=now,
        source="renewal",
        actor=f"renewal:{credential['id']}",
    )
    return oid4vci.credential_response([issued.credential])
