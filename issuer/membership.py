"""Premium memberships at issuance: the hooks the OID4VCI credential endpoint calls.

Kept apart from :mod:`issuer.premium` (which creates offers through :mod:`issuer.oid4vci`)
so the credential endpoint can call them without an import cycle.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.db import IssuedCredential, PremiumApplication, PremiumMembership
from issuer.errors import ForbiddenError
from issuer.issuance import change_state_in


def application_for_offer(
    session: Session, lg_code: str, offer_id: str
) -> PremiumApplication | None:
    return session.execute(
        select(PremiumApplication).where(
            PremiumApplication.lg_code == lg_code, PremiumApplication.offer_id == offer_id
        )
    ).scalar_one_or_none()


def check_premium_holder(application: PremiumApplication, holder_did: str) -> None:
    """The premium credential goes to the registration key that applied (and whose activities
    were counted), never to another key."""
    if holder_did != application.holder_did:
        raise ForbiddenError(
            "receive the premium credential with the registration key that applied",
            "申請した登録の鍵でプレミアムの証明書を受け取ってください",
            code="holder_mismatch",
        )


def on_premium_issued(
    session: Session, lg_code: str, offer_id: str, credential_id: str, *, now: datetime
) -> None:
    """In the issuing transaction: activate the membership, revoke what it replaces."""
    row = application_for_offer(session, lg_code, offer_id)
    if row is None or row.person_key is None:
        return
    membership = session.get(PremiumMembership, (lg_code, row.person_key))
    if membership is not None:
        membership.state = "active"
        membership.credential_id = credential_id
        membership.updated_at = now
    if row.replaces is not None:
        current = session.get(IssuedCredential, (lg_code, row.replaces))
        if current is not None and current.state != "revoked":
            change_state_in(
                session,
                lg_code=lg_code,
                credential_id=row.replaces,
                action="revoke",
                now=now,
                actor=f"premium:{row.application_id}",
                reason="replaced by a premium credential",
            )
    row.state = "issued"
