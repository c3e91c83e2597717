"""Status lists of a municipality: random allocation, state changes, signed publication.

* Every credential gets one revocation and one suspension entry, each at a **random** index
  of the tenant's current list (herd privacy, Bitstring Status List §6).
* An index is the primary key of ``status_entries``: a second allocation of the same index is
  impossible whatever the concurrency (``INSERT … ON CONFLICT DO NOTHING``, retry elsewhere).
* Lists hold 131,072 entries; when random picks keep colliding and the list is past the fill
  threshold it is marked full and the next list starts (rollover).  Indexes are never reused.
* Revoking, suspending and reinstating flip bits in the stored bitstring under a row lock;
  the published list credential is re-signed lazily when its version changed or half of its
  validity has passed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from issuer.db import StatusEntry, StatusList
from issuer.errors import NotFoundError, ServiceError
from issuer.tenants import ActiveKey, TenantInfo
from vc.dates import format_datetime
from vc.issue import issue_credential
from vc.statuslist import MIN_ENTRIES, BitstringStatusList, build_status_list_credential

PURPOSES = ("revocation", "suspension")
LIST_LENGTH = MIN_ENTRIES
COLLISIONS_BEFORE_COUNTING = 8
MAX_ATTEMPTS = 64


def list_url(base_url: str, lg_code: str, purpose: str, number: int) -> str:
    return f"{base_url.rstrip('/')}/status/{lg_code}/{purpose}/{number}"


@dataclass(frozen=True)
class Allocation:
    purpose: str
    list_number: int
    index: int
    url: str

    def entry(self) -> dict[str, str]:
        return {
            "type": "BitstringStatusListEntry",
            "statusPurpose": self.purpose,
            "statusListIndex": str(self.index),
            "statusListCredential": self.url,
        }


def _insert_ignore(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was inserted.

    Decided by RETURNING, not ``rowcount``: drivers may report -1 ("unknown") for an insert,
    which would count a refused duplicate as a success.
    """
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = next(iter(table.primary_key.columns))
    statement = builder(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None


def _create_list(session: Session, lg_code: str, purpose: str, number: int, now: datetime) -> None:
    _insert_ignore(
        session,
        StatusList.__table__,
        {
            "lg_code": lg_code,
            "purpose": purpose,
            "list_number": number,
            "length": LIST_LENGTH,
            "bits": bytes(LIST_LENGTH // 8),
            "version": 0,
            "full": False,
            "created_at": now,
        },
    )


def _current_list(session: Session, lg_code: str, purpose: str, now: datetime) -> int:
    number = session.execute(
        select(func.max(StatusList.list_number)).where(
            StatusList.lg_code == lg_code, StatusList.purpose == purpose, StatusList.full.is_(False)
        )
    ).scalar_one_or_none()
    if number is None:
        highest = session.execute(
            select(func.max(StatusList.list_number)).where(
                StatusList.lg_code == lg_code, StatusList.purpose == purpose
            )
        ).scalar_one_or_none()
        number = (highest or 0) + 1
        _create_list(session, lg_code, purpose, number, now)
    return int(number)


def _roll_over_if_full(
    session: Session, lg_code: str, purpose: str, number: int, fill: float, now: datetime
) -> int:
    used = session.execute(
        select(func.count())
        .select_from(StatusEntry)
        .where(
            StatusEntry.lg_code == lg_code,
            StatusEntry.purpose == purpose,
            StatusEntry.list_number == number,
        )
    ).scalar_one()
    if used < fill * LIST_LENGTH:
        return number
    row = session.get(StatusList, (lg_code, purpose, number))
    if row is not None:
        row.full = True
    _create_list(session, lg_code, purpose, number + 1, now)
    return number + 1


def allocate(
    session: Session,
    tenant: TenantInfo,
    purpose: str,
    credential_id: str,
    *,
    now: datetime,
    randbelow: Callable[[int], int],
    fill: float,
) -> Allocation:
    """Reserve a random, never-used index of the tenant's current list for ``purpose``."""
    number = _current_list(session, tenant.lg_code, purpose, now)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        index = randbelow(LIST_LENGTH)
        if _insert_ignore(
            session,
            StatusEntry.__table__,
            {
                "lg_code": tenant.lg_code,
                "purpose": purpose,
                "list_number": number,
                "list_index": index,
                "credential_id": credential_id,
            },
        ):
            return Allocation(
                purpose, number, index, list_url(tenant.public_url, tenant.lg_code, purpose, number)
            )
        if attempt % COLLISIONS_BEFORE_COUNTING == 0:
            number = _roll_over_if_full(session, tenant.lg_code, purpose, number, fill, now)
    raise ServiceError(
        "could not allocate a status index (the list is unexpectedly full)",
        "ステータス番号を割り当てられませんでした",
        code="status_allocation_failed",
        status=503,
    )


def entries_of(session: Session, lg_code: str, credential_id: str) -> list[StatusEntry]:
    return list(
        session.execute(
            select(StatusEntry).where(
                StatusEntry.lg_code == lg_code, StatusEntry.credential_id == credential_id
            )
        ).scalars()
    )


def set_bit(session: Session, entry: StatusEntry, value: bool) -> bool:
    """Set the entry's bit; True when it changed.  Locks the list row until commit."""
    row = session.execute(
        select(StatusList)
        .where(
            StatusList.lg_code == entry.lg_code,
            StatusList.purpose == entry.purpose,
            StatusList.list_number == entry.list_number,
        )
        .with_for_update()
    ).scalar_one()
    bits = BitstringStatusList(row.length, bytearray(row.bits))
    if bits.get(entry.list_index) == value:
        return False
    bits.set(entry.list_index, value)
    row.bits = bytes(bits.bits)
    row.version += 1
    return True


def list_index(session: Session, tenant: TenantInfo) -> dict[str, Any]:
    """Every status list of a tenant, for verifiers that sync them all (``index.json``)."""
    rows = session.execute(
        select(StatusList.purpose, StatusList.list_number)
        .where(StatusList.lg_code == tenant.lg_code)
        .order_by(StatusList.purpose, StatusList.list_number)
    ).all()
    return {
        "lgCode": tenant.lg_code,
        "lists": [
            {
                "purpose": purpose,
                "number": number,
                "url": list_url(tenant.public_url, tenant.lg_code, purpose, number),
            }
            for purpose, number in rows
        ],
    }


def _fresh(row: StatusList, now: datetime, validity: timedelta) -> bool:
    return (
        row.published is not None
        and row.published_version == row.version
        and row.published_at is not None
        and now - row.published_at < validity / 2
    )


def published_list(
    session: Session,
    tenant: TenantInfo,
    key: ActiveKey,
    purpose: str,
    number: int,
    *,
    now: datetime,
    validity: timedelta,
    ttl: timedelta,
) -> dict[str, Any]:
    """The signed BitstringStatusListCredential, re-signed when stale or changed."""
    if purpose not in PURPOSES:
        raise NotFoundError(
            f"no status list purpose {purpose!r}", f"目的 {purpose!r} のリストはありません"
        )
    query = select(StatusList).where(
        StatusList.lg_code == tenant.lg_code,
        StatusList.purpose == purpose,
        StatusList.list_number == number,
    )
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(
            f"no status list {tenant.lg_code}/{purpose}/{number}",
            f"ステータスリスト {tenant.lg_code}/{purpose}/{number} はありません",
        )
    if _fresh(row, now, validity):
        assert row.published is not None
        published: dict[str, Any] = json.loads(row.published)
        return published
    # Re-sign under the row lock (another worker may have done it meanwhile).
    row = session.execute(
        query.with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if _fresh(row, now, validity):
        assert row.published is not None
        again: dict[str, Any] = json.loads(row.published)
        return again
    unsigned = build_status_list_credential(
        list_url=list_url(tenant.public_url, tenant.lg_code, purpose, number),
        issuer=tenant.did,
        purpose=purpose,
        status_list=BitstringStatusList(row.length, bytearray(row.bits)),
        valid_from=format_datetime(now),
        valid_until=format_datetime(now + validity),
        ttl_ms=int(ttl.total_seconds() * 1000),
    )
    signed = issue_credential(
        unsigned, key.signer, verification_method=key.verification_method, created=now
    )
    row.published = json.dumps(signed, ensure_ascii=False)
    row.published_version = row.version
    row.published_at = now
    return signed
