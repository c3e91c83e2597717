"""Premium registration: application, identity, the programme's rules, staff decision, issuance.

The flow (docs/premium.md):

1. ``start`` — the wallet proves its registration key (a presentation of a credential of
   ours, or a key proof) and gets an application in state ``identity`` with a one-time login
   link for the identity step (valid 30 minutes).
2. ``prove_identity`` — a provider (OIDC or JPKI, :mod:`issuer.identity`) yields a
   :class:`~issuer.identity.ProvenIdentity`; the rules are checked **at once** and the
   identity dropped: only the person key (an HMAC with the deployment's pepper) and the method
   are kept.  A refusal deletes the application: nothing about the person stays.
   - not the person's home municipality (:mod:`issuer.identity.address`);
   - at most 3 premium registrations per person across the deployment (active ones and
     applications in progress elsewhere);
   - one application at a time per person and municipality.
3. ``approve`` / ``reject`` — staff decide; approval re-checks the 3-municipality rule under a
   lock on the person's row (two municipalities approving at once cannot both take a third
   place) and the activity rule (default: 3 activities in the last 12 months), and creates a
   credential offer bound to the application.
4. The wallet redeems the offer (OID4VCI) with **its registration key** (the same holder, so
   its activities stay its own); issuing the premium credential activates the membership and
   revokes the credential it replaces (the holder's basic credential here, or the previous
   premium one on renewal).

Renewal is a new application: identity and activities are checked again.  Minors may apply.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from issuer import audit
from issuer.activities import ACTIVITY_WINDOW, record_document_activity
from issuer.db import (
    Activity,
    IssuedCredential,
    Offer,
    PremiumApplication,
    PremiumMembership,
    PremiumPerson,
)
from issuer.errors import ConflictError, NotFoundError, ServiceError
from issuer.identity import ProvenIdentity, person_key
from issuer.identity.address import home_municipality
from issuer.oid4vci import NewOffer, create_offer
from issuer.settings import Settings
from issuer.tenants import KeyRing, TenantInfo
from vc.dates import parse_datetime

MAX_MUNICIPALITIES = 3
DEFAULT_MIN_ACTIVITIES = 3
IDENTITY_STEP = timedelta(minutes=30)
PREMIUM_OFFER_TTL = timedelta(days=30)
OPEN_STATES = ("identity", "submitted", "approved")
DECIDED_STATES = ("approved", "rejected", "issued")
REASON_MAX = 500


class PremiumRefused(ServiceError):
    """The programme's rules refuse this application; ``code`` says which rule."""

    status = 403
    code = "premium_refused"
    title_en = "Premium registration refused"
    title_ja = "プレミアム登録の条件を満たしていません"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def min_activities(tenant: TenantInfo) -> int:
    """The municipality's activity rule (``settings.premium.minActivities``, default 3)."""
    premium = tenant.settings.get("premium") if isinstance(tenant.settings, dict) else None
    value = premium.get("minActivities") if isinstance(premium, dict) else None
    return value if isinstance(value, int) and 0 <= value <= 50 else DEFAULT_MIN_ACTIVITIES


@dataclass(frozen=True)
class Started:
    application_id: str
    status_token: str  # the wallet keeps it: it reads the application's state with it
    login_token: str  # the one-time link of the identity step
    expires_at: datetime


def offer_ref_for(secret: str, lg_code: str, application_id: str) -> str:
    """The approved application's offer reference, derivable again (and by nobody without
    the deployment secret), so the applicant can be shown its offer on request."""
    digest = hmac.new(
        secret.encode(), f"premium-offer|{lg_code}|{application_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def by_status_token(
    session: Session, lg_code: str, application_id: str, token: str, now: datetime
) -> PremiumApplication:
    """The application whose status token this is; one whose identity step expired is gone."""
    row = session.get(PremiumApplication, (lg_code, application_id))
    if (
        row is None
        or not hmac.compare_digest(row.status_hash, _hash(token))
        or (row.state == "identity" and row.expires_at <= now)
    ):
        raise NotFoundError(
            "no such application", "その申請はありません", code="application_not_found"
        )
    return row


def start(
    session: Session,
    tenant: TenantInfo,
    *,
    holder_did: str,
    now: datetime,
    random_token: Callable[[int], str] = secrets.token_urlsafe,
) -> Started:
    """A new application of the registrant with ``holder_did`` (already proven by the caller).

    An application of the same holder still in its identity step is replaced; one waiting for
    staff (or approved, its credential not yet received) is a conflict.
    """
    pending = session.execute(
        select(PremiumApplication).where(
            PremiumApplication.lg_code == tenant.lg_code,
            PremiumApplication.holder_did == holder_did,
            PremiumApplication.state.in_(("submitted", "approved")),
        )
    ).scalar_one_or_none()
    if pending is not None:
        raise ConflictError(
            "an application of this registration is already waiting (see its status)",
            "この登録の申請は既に受け付けられ、審査中です (状況を確認してください)",
            code="application_pending",
        )
    session.execute(  # this holder's unfinished one, and any whose identity step expired
        delete(PremiumApplication).where(
            PremiumApplication.lg_code == tenant.lg_code,
            PremiumApplication.state == "identity",
            (PremiumApplication.holder_did == holder_did) | (PremiumApplication.expires_at <= now),
        )
    )
    application_id = random_token(18)
    token = random_token(32)
    status_token = random_token(32)
    expires = now + IDENTITY_STEP
    session.add(
        PremiumApplication(
            lg_code=tenant.lg_code,
            application_id=application_id,
            holder_did=holder_did,
            state="identity",
            created_at=now,
            expires_at=expires,
            status_hash=_hash(status_token),
            login_hash=_hash(token),
            session=None,
            person_key=None,
            identity_method=None,
            identity_at=None,
            activities=0,
            decided_at=None,
            decided_by=None,
            reason=None,
            offer_id=None,
            replaces=None,
        )
    )
    return Started(application_id, status_token, token, expires)


def by_login(session: Session, lg_code: str, token: str, now: datetime) -> PremiumApplication:
    """The application of a one-time login link, while its identity step is open."""
    row = session.execute(
        select(PremiumApplication).where(
            PremiumApplication.lg_code == lg_code,
            PremiumApplication.login_hash == _hash(token),
        )
    ).scalar_one_or_none()
    open_step = row is not None and (
        (row.state == "identity" and row.expires_at > now) or personal_step_open(row, now)
    )
    if row is None or not open_step:
        raise NotFoundError(
            "this link has expired or was used: start the application again from the wallet",
            "このリンクは期限切れか使用済みです。ウォレットから申請をやり直してください",
            code="application_link_invalid",
        )
    return row


def get_application(session: Session, lg_code: str, application_id: str) -> PremiumApplication:
    row = session.get(PremiumApplication, (lg_code, application_id))
    if row is None:
        raise NotFoundError(
            "no such application", "その申請はありません", code="application_not_found"
        )
    return row


def personal_step_open(row: PremiumApplication, now: datetime) -> bool:
    """An approved application's identity step for its personal SD-JWT VC (issuer.personal)."""
    personal = row.session.get("personal") if isinstance(row.session, dict) else None
    if row.state != "approved" or not isinstance(personal, dict):
        return False
    until = personal.get("until")
    return isinstance(until, str) and parse_datetime(until, "until") > now


def _active_elsewhere(session: Session, key: str, lg_code: str, now: datetime) -> int:
    """Premium places the person holds or is being given in other municipalities."""
    memberships = session.execute(
        select(func.count())
        .select_from(PremiumMembership)
        .where(
            PremiumMembership.person_key == key,
            PremiumMembership.lg_code != lg_code,
            PremiumMembership.state.in_(("approved", "active")),
            PremiumMembership.valid_until > now,
        )
    ).scalar_one()
    in_progress = session.execute(
        select(func.count(func.distinct(PremiumApplication.lg_code))).where(
            PremiumApplication.person_key == key,
            PremiumApplication.lg_code != lg_code,
            PremiumApplication.state == "submitted",
        )
    ).scalar_one()
    return int(memberships) + int(in_progress)


def _refuse(session: Session, row: PremiumApplication, error: PremiumRefused) -> PremiumRefused:
    """Delete the application (nothing about the person stays) and return the error for the
    caller to raise once this transaction has committed."""
    session.delete(row)
    return error


def prove_identity(
    session: Session,
    tenant: TenantInfo,
    row: PremiumApplication,
    identity: ProvenIdentity,
    *,
    pepper: bytes,
    now: datetime,
) -> PremiumRefused | None:
    """Check the rules with the proven identity, keep only the person key, and submit the
    application to staff (None).  On a refusal the application is deleted and the error is
    returned: the caller commits, then raises it — so nothing about the person is stored."""
    key = person_key(identity, pepper)
    home = home_municipality(identity.address)
    if home.lg_code == tenant.lg_code:
        return _refuse(
            session,
            row,
            PremiumRefused(
                "premium registration is not possible with one's home municipality",
                "住民票のある自治体 (お住まいの自治体) にはプレミアム登録できません",
                code="home_municipality",
            ),
        )
    duplicate = session.execute(
        select(PremiumApplication).where(
            PremiumApplication.lg_code == tenant.lg_code,
            PremiumApplication.person_key == key,
            PremiumApplication.state.in_(("submitted", "approved")),
        )
    ).scalar_one_or_none()
    if duplicate is not None:
        return _refuse(
            session,
            row,
            PremiumRefused(
                "this person already has an application here waiting for a decision",
                "この自治体への申請が既に審査中です",
                code="application_pending",
            ),
        )
    if _active_elsewhere(session, key, tenant.lg_code, now) >= MAX_MUNICIPALITIES:
        return _refuse(
            session,
            row,
            PremiumRefused(
                f"premium registration is limited to {MAX_MUNICIPALITIES} municipalities per "
                "person, and this person has reached it",
                f"プレミアム登録は1人 {MAX_MUNICIPALITIES} 自治体までです。既に上限に達しています",
                code="premium_limit",
            ),
        )
    row.person_key = key
    row.identity_method = identity.method
    row.identity_at = now
    row.session = None
    row.login_hash = None
    row.state = "submitted"
    row.activities = count_activities(session, tenant.lg_code, row.holder_did, now)
    row.replaces = _replaced_credential(session, tenant.lg_code, row.holder_did)
    audit.append(
        session,
        tenant.lg_code,
        at=now,
        actor="applicant",
        action="premium.apply",
        subject=row.application_id,
        details={"method": identity.method, "activities": row.activities},
    )
    return None


def is_renewal(session: Session, lg_code: str, row: PremiumApplication) -> bool:
    """Whether the applicant already holds (or held) a premium place here."""
    if row.person_key is None:
        return False
    membership = session.get(PremiumMembership, (lg_code, row.person_key))
    return membership is not None and membership.application_id != row.application_id


def count_activities(session: Session, lg_code: str, holder_did: str, now: datetime) -> int:
    """Activities of a registration in the last 12 months."""
    return int(
        session.execute(
            select(func.count())
            .select_from(Activity)
            .where(
                Activity.lg_code == lg_code,
                Activity.holder_did == holder_did,
                Activity.activity_date > now - ACTIVITY_WINDOW,
            )
        ).scalar_one()
    )


def record_document(
    session: Session,
    ring: KeyRing,
    secret: str,
    tenant: TenantInfo,
    application_id: str,
    *,
    category: str,
    activity_date: date,
    name: str,
    data: bytes,
    now: datetime,
    actor: str,
) -> Activity:
    """Staff record an activity of the applicant from a document they reviewed
    (:func:`issuer.activities.record_document_activity`); a waiting application's count, which
    staff decide on, is brought up to date in the same transaction."""
    row = get_application(session, tenant.lg_code, application_id)
    activity = record_document_activity(
        session,
        ring,
        secret,
        tenant,
        holder_did=row.holder_did,
        category=category,
        activity_date=activity_date,
        name=name,
        data=data,
        now=now,
        actor=actor,
    )
    if row.state == "submitted":
        row.activities = count_activities(session, tenant.lg_code, row.holder_did, now)
    return activity


def _replaced_credential(session: Session, lg_code: str, holder_did: str) -> str | None:
    """The holder's current credential here that the premium one will replace, if any."""
    return session.execute(
        select(IssuedCredential.credential_id)
        .where(
            IssuedCredential.lg_code == lg_code,
            IssuedCredential.holder_did == holder_did,
            IssuedCredential.tier.is_not(None),  # resident credentials, not activity receipts
            IssuedCredential.state.in_(("active", "suspended")),
        )
        .order_by(IssuedCredential.issued_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def _lock_person(session: Session, key: str, now: datetime) -> None:
    """Create the person's row if needed, then hold its lock until the transaction ends."""
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        builder(PremiumPerson).values(person_key=key, created_at=now).on_conflict_do_nothing()
    )
    session.execute(
        select(PremiumPerson).where(PremiumPerson.person_key == key).with_for_update()
    ).scalar_one()


def approve(
    session: Session,
    settings: Settings,
    secret: str,
    tenant: TenantInfo,
    application_id: str,
    *,
    actor: str,
    now: datetime,
) -> NewOffer:
    """Staff approve: rules re-checked under the person's lock; an offer is created."""
    row = get_application(session, tenant.lg_code, application_id)
    if row.state != "submitted" or row.person_key is None:
        raise ConflictError(
            f"the application is {row.state}, not waiting for a decision",
            f"この申請は審査待ちではありません ({_STATE_JA.get(row.state, row.state)})",
            code="invalid_state",
        )
    _lock_person(session, row.person_key, now)
    if _active_elsewhere(session, row.person_key, tenant.lg_code, now) >= MAX_MUNICIPALITIES:
        raise PremiumRefused(
            f"the person now holds premium registrations in {MAX_MUNICIPALITIES} other "
            "municipalities",
            f"この方は既に他の {MAX_MUNICIPALITIES} 自治体でプレミアム登録しています",
            code="premium_limit",
        )
    activities = count_activities(session, tenant.lg_code, row.holder_did, now)
    needed = min_activities(tenant)
    if activities < needed:
        raise PremiumRefused(
            f"{activities} activities in the last 12 months; this municipality asks for {needed}",
            f"過去12か月の活動が {activities} 件です。この自治体では {needed} 件以上が必要です",
            code="activities_insufficient",
        )
    offer = create_offer(
        session,
        settings,
        secret,
        tenant,
        tier="premium",
        channel="premium",
        now=now,
        actor=actor,
        offer_ref=offer_ref_for(secret, tenant.lg_code, row.application_id),
    )
    stored = session.get(Offer, (tenant.lg_code, offer.offer_id))
    if stored is not None:  # the applicant may collect it any time in the next 30 days
        stored.expires_at = now + PREMIUM_OFFER_TTL
    row.state = "approved"
    row.activities = activities
    row.decided_at = now
    row.decided_by = actor
    row.offer_id = offer.offer_id
    membership = session.get(PremiumMembership, (tenant.lg_code, row.person_key))
    valid_until = now + settings.credential_validity
    if membership is None:
        session.add(
            PremiumMembership(
                lg_code=tenant.lg_code,
                person_key=row.person_key,
                application_id=row.application_id,
                credential_id=None,
                state="approved",
                valid_until=valid_until,
                updated_at=now,
            )
        )
    else:  # a renewal: the place is kept
        membership.application_id = row.application_id
        membership.state = "approved" if membership.state == "ended" else membership.state
        membership.valid_until = max(membership.valid_until, valid_until)
        membership.updated_at = now
    audit.append(
        session,
        tenant.lg_code,
        at=now,
        actor=actor,
        action="premium.approve",
        subject=row.application_id,
        details={"activities": activities},
    )
    return offer


def reject(
    session: Session,
    tenant: TenantInfo,
    application_id: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> PremiumApplication:
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise ServiceError(
            f"give a reason (1–{REASON_MAX} characters): the applicant reads it",
            f"理由を入力してください (1〜{REASON_MAX} 文字、申請者に表示されます)",
            path="reason",
            code="reason_required",
        )
    row = get_application(session, tenant.lg_code, application_id)
    if row.state != "submitted":
        raise ConflictError(
            f"the application is {row.state}, not waiting for a decision",
            f"この申請は審査待ちではありません ({_STATE_JA.get(row.state, row.state)})",
            code="invalid_state",
        )
    row.state = "rejected"
    row.decided_at = now
    row.decided_by = actor
    row.reason = reason
    audit.append(
        session,
        tenant.lg_code,
        at=now,
        actor=actor,
        action="premium.reject",
        subject=row.application_id,
        details={},
    )
    return row


def queue(session: Session, lg_code: str, states: tuple[str, ...] = ("submitted",)) -> list[Any]:
    return list(
        session.execute(
            select(PremiumApplication)
            .where(PremiumApplication.lg_code == lg_code, PremiumApplication.state.in_(states))
            .order_by(PremiumApplication.identity_at, PremiumApplication.application_id)
        ).scalars()
    )


def offer_of(session: Session, lg_code: str, offer_id: str) -> Offer | None:
    return session.get(Offer, (lg_code, offer_id))


_STATE_JA = {
    "identity": "本人確認待ち",
    "submitted": "審査待ち",
    "approved": "承認済み",
    "rejected": "却下",
    "issued": "発行済み",
}
