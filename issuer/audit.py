"""The audit log: append-only and hash-chained, one chain per municipality.

Each event's ``hash`` is SHA-256 over the previous hash and the event's canonical JSON
(tenant, sequence, time, actor, action, subject, details).  Changing, removing or reordering
any row breaks every hash after it, which ``verify_chain`` reports with the first bad
sequence number.  Appends lock the tenant's chain head (``audit_heads``) until commit, so
concurrent appends form one chain; that lock is taken last in a transaction to keep it short.
The log never holds personal data: actors are token ids, subjects credential ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from issuer.db import AuditEvent, AuditHead

GENESIS = "0" * 64
ACTIONS = frozenset(
    {
        "tenant.create",
        "key.create",
        "key.rotate",
        "key.revoke",
        "credential.issue",
        "credential.revoke",
        "credential.suspend",
        "credential.reinstate",
        "token.create",
        "token.revoke",
        "offer.create",
        "status.rollover",
        "site.create",
        "site.close",
        "activity.record",
        "premium.apply",
        "premium.approve",
        "premium.reject",
        "premium.personal_claims",
        "notice.create",
        "notice.update",
        "notice.close",
        "notice.withdraw",
        "tenant.settings",
    }
)


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_hash(
    prev_hash: str,
    *,
    lg_code: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str | None,
    details: str,
) -> str:
    material = _canonical(
        {
            "lgCode": lg_code,
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        }
    )
    return hashlib.sha256((prev_hash + material).encode("utf-8")).hexdigest()


def start_chain(session: Session, lg_code: str) -> None:
    """Create the empty chain of a new tenant."""
    session.add(AuditHead(lg_code=lg_code, seq=0, hash=GENESIS))


def append(
    session: Session,
    lg_code: str,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (commits with it, or not at all)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    head = session.execute(
        select(AuditHead).where(AuditHead.lg_code == lg_code).with_for_update()
    ).scalar_one()
    seq = head.seq + 1
    body = _canonical(dict(details or {}))
    digest = event_hash(
        head.hash,
        lg_code=lg_code,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=body,
    )
    event = AuditEvent(
        lg_code=lg_code,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=body,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(event)
    head.seq, head.hash = seq, digest
    return event


@dataclass(frozen=True)
class NewEvent:
    """An event to append with :func:`append_many`."""

    at: datetime
    actor: str
    action: str
    subject: str | None = None
    details: Mapping[str, Any] | None = None


def append_many(session: Session, lg_code: str, events: Sequence[NewEvent]) -> None:
    """Append ``events`` in order, chained as :func:`append` chains them, in the caller's
    transaction — one lock of the head, one multi-row insert (batch issuance)."""
    if not events:
        return
    unknown = {e.action for e in events} - ACTIONS
    if unknown:
        raise ValueError(f"unknown audit actions {sorted(unknown)!r}")
    head = session.execute(
        select(AuditHead).where(AuditHead.lg_code == lg_code).with_for_update()
    ).scalar_one()
    seq, previous = head.seq, head.hash
    rows = []
    for event in events:
        seq += 1
        body = _canonical(dict(event.details or {}))
        digest = event_hash(
            previous,
            lg_code=lg_code,
            seq=seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            subject=event.subject,
            details=body,
        )
        rows.append(
            {
                "lg_code": lg_code,
                "seq": seq,
                "at": event.at,
                "actor": event.actor,
                "action": event.action,
                "subject": event.subject,
                "details": body,
                "prev_hash": previous,
                "hash": digest,
            }
        )
        previous = digest
    session.execute(insert(AuditEvent), rows)
    head.seq, head.hash = seq, previous


@dataclass(frozen=True)
class ChainReport:
    lg_code: str
    events: int
    ok: bool
    first_bad_seq: int | None = None
    reason: str | None = None


def verify_events(
    lg_code: str, events: Iterable[AuditEvent], head: AuditHead | None
) -> ChainReport:
    """Recompute the chain; report the first event that does not fit."""
    prev, count = GENESIS, 0
    for expected_seq, event in enumerate(events, start=1):
        count += 1
        if event.seq != expected_seq:
            return ChainReport(lg_code, count, False, expected_seq, "a sequence number is missing")
        if event.prev_hash != prev:
            return ChainReport(
                lg_code, count, False, event.seq, "the link to the previous event is broken"
            )
        digest = event_hash(
            prev,
            lg_code=lg_code,
            seq=event.seq,
            at=event.at,
            actor=event.actor,
            action=event.action,
            subject=event.subject,
            details=event.details,
        )
        if digest != event.hash:
            return ChainReport(lg_code, count, False, event.seq, "the event was altered")
        prev = digest
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(
            lg_code, count, False, count + 1, "events after the last one were removed"
        )
    return ChainReport(lg_code, count, True)


def verify_chain(session: Session, lg_code: str) -> ChainReport:
    events = session.execute(
        select(AuditEvent).where(AuditEvent.lg_code == lg_code).order_by(AuditEvent.seq)
    ).scalars()
    head = session.get(AuditHead, lg_code)
    return verify_events(lg_code, events, head)
