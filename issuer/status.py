"""Status lists of a municipality: random allocation, state changes, signed publication.

* Every credential gets one revocation and one suspension entry, each at a **random** index
  of the tenant's current list (herd privacy, Bitstring Status List §6).
* An index is the primary key of ``status_entries``: a second allocation of the same index is
  impossible whatever the concurrency (``INSERT … ON CONFLICT DO NOTHING``, retry elsewhere).
* Lists hold 131,072 entries; when random picks keep colliding and the list is past the fill
  threshold (estimated on a sample of its indexes) it is marked full and the next list
  starts (rollover).  Indexes are never reused.
* Revoking, suspending and reinstating flip one bit of the stored bitstring in place (one
  ``UPDATE``: ``set_bit`` on PostgreSQL; on SQLite, whose writers are serialized, the row is
  read and written back) and count the list's ``version`` up; the row stays locked until the
  change commits.
* Publication is lazy: a GET re-signs the list when its version changed, the signing key
  changed or half of the published credential's validity has passed — **outside** any lock
  or write transaction (only storing the result is a short write, which never replaces a
  newer one).  Freshness: every GET that starts after a revocation committed serves a list
  with that revocation (the origin never serves a stale list; HTTP caches in front of it may,
  for at most ``Cache-Control: max-age`` = the list's ``ttl``).  docs/scaling.md has the
  figures.
"""

from __future__ import annotations

import json
import threading
import weakref
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from did.multibase import base64url_encode
from issuer.db import Database, StatusEntry, StatusList
from issuer.errors import NotFoundError, ServiceError
from issuer.tenants import ActiveKey, KeyRing, TenantInfo, active_key, get_tenant
from vc.dates import format_datetime
from vc.issue import issue_credential
from vc.statuslist import MIN_ENTRIES, BitstringStatusList, build_status_list_credential

PURPOSES = ("revocation", "suspension")
LIST_LENGTH = MIN_ENTRIES
COLLISIONS_BEFORE_COUNTING = 8
SAMPLE_SLOTS = 8192  # the fill of a list is estimated on this many of its indexes
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


def _where_list(lg_code: str, purpose: str, number: int) -> Any:
    return (
        (StatusList.lg_code == lg_code)
        & (StatusList.purpose == purpose)
        & (StatusList.list_number == number)
    )


def _expire_loaded(session: Session, lg_code: str, purpose: str, number: int) -> None:
    """Forget a ``StatusList`` the session may hold: a Core ``UPDATE`` changed its row."""
    loaded = session.identity_map.get(identity_key(StatusList, (lg_code, purpose, number)))
    if loaded is not None:
        session.expire(loaded)


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


def _estimated_use(session: Session, lg_code: str, purpose: str, number: int) -> float:
    """How many entries list ``number`` holds, counted over its first ``SAMPLE_SLOTS`` indexes
    and scaled: indexes are allocated uniformly at random, so the share taken there is the
    list's (±0.7 % at two standard errors for 8,192 slots of a list 90 % full), and counting
    a range of the primary key reads a sixteenth of the index a full count would (~1 ms
    instead of ~12 ms for a list of 118,000 entries on PostgreSQL)."""
    sample = min(LIST_LENGTH, SAMPLE_SLOTS)
    used = session.execute(
        select(func.count())
        .select_from(StatusEntry)
        .where(
            StatusEntry.lg_code == lg_code,
            StatusEntry.purpose == purpose,
            StatusEntry.list_number == number,
            StatusEntry.list_index < sample,
        )
    ).scalar_one()
    return float(used) * LIST_LENGTH / sample


def _roll_over_if_full(
    session: Session, lg_code: str, purpose: str, number: int, fill: float, now: datetime
) -> int:
    if _estimated_use(session, lg_code, purpose, number) < fill * LIST_LENGTH:
        return number
    return _roll_over(session, lg_code, purpose, number, now)


def _roll_over(session: Session, lg_code: str, purpose: str, number: int, now: datetime) -> int:
    """Mark list ``number`` full and make sure the next one exists; the next one's number."""
    session.execute(
        update(StatusList)
        .where(_where_list(lg_code, purpose, number))
        .values(full=True)
        .execution_options(synchronize_session=False)
    )
    _expire_loaded(session, lg_code, purpose, number)
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
    """Reserve a random, never-used index of the tenant's current list for ``purpose``.

    A pick that is taken is retried elsewhere; every few collisions the list is counted and
    rolled over past the fill threshold.  ``MAX_ATTEMPTS`` collisions in a row roll it over
    whatever the count: near the threshold ``fill`` that happens by chance once in
    ``fill ** -MAX_ATTEMPTS`` allocations (0.9: one in ~850), which must not fail an issuance.
    """
    number = _current_list(session, tenant.lg_code, purpose, now)
    for attempt in range(1, 2 * MAX_ATTEMPTS + 1):
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
        if attempt == MAX_ATTEMPTS:
            number = _roll_over(session, tenant.lg_code, purpose, number, now)
        elif attempt % COLLISIONS_BEFORE_COUNTING == 0:
            number = _roll_over_if_full(session, tenant.lg_code, purpose, number, fill, now)
    raise ServiceError(
        "could not allocate a status index (the list is unexpectedly full)",
        "ステータス番号を割り当てられませんでした",
        code="status_allocation_failed",
        status=503,
    )


def allocate_many(
    session: Session,
    tenant: TenantInfo,
    purpose: str,
    credential_ids: Sequence[str],
    *,
    now: datetime,
    randbelow: Callable[[int], int],
    fill: float,
) -> dict[str, Allocation]:
    """:func:`allocate` for many credentials at once (batch issuance): random indexes, distinct
    among themselves, taken with one multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``
    per round; the picks that collided with indexes already taken are drawn again, and the
    list rolls over as :func:`allocate` rolls it over."""
    number = _current_list(session, tenant.lg_code, purpose, now)
    pending = list(credential_ids)
    taken: dict[str, Allocation] = {}
    for attempt in range(1, 2 * MAX_ATTEMPTS + 1):
        picks: dict[int, str] = {}
        for credential_id in pending[: LIST_LENGTH // 4]:  # the rest in the next rounds
            index = randbelow(LIST_LENGTH)
            while index in picks:
                index = randbelow(LIST_LENGTH)
            picks[index] = credential_id
        dialect = session.get_bind().dialect.name
        builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            builder(StatusEntry)
            .values(
                [
                    {
                        "lg_code": tenant.lg_code,
                        "purpose": purpose,
                        "list_number": number,
                        "list_index": index,
                        "credential_id": credential_id,
                    }
                    for index, credential_id in picks.items()
                ]
            )
            .on_conflict_do_nothing()
            .returning(StatusEntry.list_index)
        )
        inserted = set(session.execute(statement).scalars())
        url = list_url(tenant.public_url, tenant.lg_code, purpose, number)
        for index in inserted:
            taken[picks[index]] = Allocation(purpose, number, index, url)
        pending = [c for c in pending if c not in taken]
        if not pending:
            return taken
        if inserted and len(inserted) == len(picks):
            continue  # no collision: more of the chunk, not a fuller list
        if attempt == MAX_ATTEMPTS:
            number = _roll_over(session, tenant.lg_code, purpose, number, now)
        elif attempt % COLLISIONS_BEFORE_COUNTING == 0 or len(inserted) < len(picks) // 2:
            number = _roll_over_if_full(session, tenant.lg_code, purpose, number, fill, now)
    raise ServiceError(
        "could not allocate status indexes (the list is unexpectedly full)",
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
    """Set the entry's bit in place; True when it changed.  Locks the list row until commit.

    One statement on PostgreSQL (``set_bit`` on the ``bytea``, whose bits count from the
    least significant one of each byte — the opposite of the list's order); on SQLite the
    bitstring is read and written back, guarded by its version (SQLite serializes writers,
    so the guard only matters to a caller outside ``Database.transaction``).
    """
    lg_code, purpose, number = entry.lg_code, entry.purpose, entry.list_number
    where = _where_list(lg_code, purpose, number)
    if session.get_bind().dialect.name == "postgresql":
        position = entry.list_index // 8 * 8 + 7 - entry.list_index % 8
        changed = session.execute(
            update(StatusList)
            .where(where, func.get_bit(StatusList.bits, position) != int(value))
            .values(
                bits=func.set_bit(StatusList.bits, position, int(value)),
                version=StatusList.version + 1,
            )
            .returning(StatusList.version)
            .execution_options(synchronize_session=False)
        ).first()
        _expire_loaded(session, lg_code, purpose, number)
        return changed is not None
    while True:
        length, stored, version = session.execute(
            select(StatusList.length, StatusList.bits, StatusList.version).where(where)
        ).one()
        bits = BitstringStatusList(length, bytearray(stored))
        if bits.get(entry.list_index) == value:
            return False
        bits.set(entry.list_index, value)
        written = session.execute(
            update(StatusList)
            .where(where, StatusList.version == version)
            .values(bits=bytes(bits.bits), version=version + 1)
            .returning(StatusList.version)
            .execution_options(synchronize_session=False)
        ).first()
        _expire_loaded(session, lg_code, purpose, number)
        if written is not None:
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


# --- publication ------------------------------------------------------------------------------


class _ListBits(BitstringStatusList):
    """The stored bitstring, ``encodedList``-encoded with DEFLATE's run-length strategy.

    A status list is long runs of zero bytes with a few set bits; ``Z_RLE`` compresses it in
    ~0.1 ms to within a few per cent of level 9 (smaller once a list has thousands of set
    bits), where level 9's lazy matching over those runs takes 10–25 ms for a list with
    1,000–5,000 set bits (bench/bench_status.py).  Any GZIP decoder reads it; the output is
    deterministic.
    """

    def encode(self) -> str:
        deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS, 9, zlib.Z_RLE)
        return "u" + base64url_encode(deflate.compress(bytes(self.bits)) + deflate.flush())


@dataclass(frozen=True)
class PublishedList:
    """A signed ``BitstringStatusListCredential`` as served: its bytes (compact JSON, UTF-8),
    the list version it carries, when it was signed, and the key that signed it."""

    body: bytes
    version: int
    published_at: datetime
    verification_method: str

    def document(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    @property
    def etag(self) -> str:
        return f'"{self.version}-{int(self.published_at.timestamp() * 1_000_000)}"'

    def fresh(self, version: int, key: ActiveKey, now: datetime, validity: timedelta) -> bool:
        """Still what a GET must serve: same version, same key, less than half used."""
        return (
            self.version == version
            and self.verification_method == key.verification_method
            and now - self.published_at < validity / 2
        )


def _stored(published: str, version: int, published_at: datetime) -> PublishedList | None:
    """The published credential as stored (None when it is not a JSON object with a proof)."""
    try:
        document = json.loads(published)
        method = document["proof"]["verificationMethod"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(method, str):
        return None
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return PublishedList(body, version, published_at, method)


def _sign(
    tenant: TenantInfo,
    key: ActiveKey,
    purpose: str,
    number: int,
    bits: BitstringStatusList,
    version: int,
    *,
    now: datetime,
    validity: timedelta,
    ttl: timedelta,
) -> PublishedList:
    unsigned = build_status_list_credential(
        list_url=list_url(tenant.public_url, tenant.lg_code, purpose, number),
        issuer=tenant.did,
        purpose=purpose,
        status_list=_ListBits(bits.length, bits.bits),
        valid_from=format_datetime(now),
        valid_until=format_datetime(now + validity),
        ttl_ms=int(ttl.total_seconds() * 1000),
    )
    signed = issue_credential(
        unsigned, key.signer, verification_method=key.verification_method, created=now
    )
    body = json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode()
    return PublishedList(body, version, now, key.verification_method)


def _store(session: Session, lg_code: str, purpose: str, number: int, new: PublishedList) -> None:
    """Keep ``new`` as the list's published credential unless a newer one is stored."""
    session.execute(
        update(StatusList)
        .where(
            _where_list(lg_code, purpose, number),
            or_(
                StatusList.published_version.is_(None),
                StatusList.published_at.is_(None),
                StatusList.published_version < new.version,
                (StatusList.published_version == new.version)
                & (StatusList.published_at < new.published_at),
            ),
        )
        .values(
            published=new.body.decode(),
            published_version=new.version,
            published_at=new.published_at,
        )
        .execution_options(synchronize_session=False)
    )
    _expire_loaded(session, lg_code, purpose, number)


def _no_such_list(lg_code: str, purpose: str, number: int) -> NotFoundError:
    return NotFoundError(
        f"no status list {lg_code}/{purpose}/{number}",
        f"ステータスリスト {lg_code}/{purpose}/{number} はありません",
    )


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise NotFoundError(
            f"no status list purpose {purpose!r}", f"目的 {purpose!r} のリストはありません"
        )


def _bits_of(session: Session, lg_code: str, purpose: str, number: int) -> tuple[_ListBits, int]:
    length, stored, version = session.execute(
        select(StatusList.length, StatusList.bits, StatusList.version).where(
            _where_list(lg_code, purpose, number)
        )
    ).one()
    return _ListBits(length, bytearray(stored)), version


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
    """The signed BitstringStatusListCredential in the caller's transaction, re-signed (and
    stored) when its version or key changed or half of its validity has passed.

    For callers that publish inside their own transaction (``publish``, the service's own
    verification); the public endpoint uses :func:`serve_list`, which signs outside one."""
    _check_purpose(purpose)
    found = session.execute(
        select(StatusList.version, StatusList.published_version, StatusList.published_at).where(
            _where_list(tenant.lg_code, purpose, number)
        )
    ).one_or_none()
    if found is None:
        raise _no_such_list(tenant.lg_code, purpose, number)
    version, published_version, published_at = found
    if published_version == version and published_at is not None:
        text = session.execute(
            select(StatusList.published).where(_where_list(tenant.lg_code, purpose, number))
        ).scalar_one()
        stored = _stored(text, version, published_at) if text is not None else None
        if stored is not None and stored.fresh(version, key, now, validity):
            return stored.document()
    bits, version = _bits_of(session, tenant.lg_code, purpose, number)
    new = _sign(tenant, key, purpose, number, bits, version, now=now, validity=validity, ttl=ttl)
    _store(session, tenant.lg_code, purpose, number, new)
    return new.document()


class _Served:
    """What one process has served, per database: the last published list of each list,
    checked against the database's version on every GET (never served stale), and a lock
    per list so one process signs a changed list once, not once per waiting request."""

    def __init__(self) -> None:
        self.lists: dict[tuple[str, str, int], PublishedList] = {}
        self.locks: dict[tuple[str, str, int], threading.Lock] = {}
        self.guard = threading.Lock()

    def lock(self, name: tuple[str, str, int]) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(name, threading.Lock())

    def keep(self, name: tuple[str, str, int], published: PublishedList) -> None:
        with self.guard:
            current = self.lists.get(name)
            if current is None or (current.version, current.published_at) <= (
                published.version,
                published.published_at,
            ):
                self.lists[name] = published


_SERVED: weakref.WeakKeyDictionary[Database, _Served] = weakref.WeakKeyDictionary()
_SERVED_GUARD = threading.Lock()


def _served(db: Database) -> _Served:
    with _SERVED_GUARD:
        served = _SERVED.get(db)
        if served is None:
            served = _SERVED[db] = _Served()
        return served


def serve_list(
    db: Database,
    ring: KeyRing,
    lg_code: str,
    purpose: str,
    number: int,
    *,
    now: datetime,
    validity: timedelta,
    ttl: timedelta,
) -> PublishedList:
    """The list a GET serves: read-only when the published one is still fresh (one small
    query after the tenant's; the body from memory, or the database); otherwise signed from
    a snapshot of the bitstring outside any transaction, then stored in a short write."""
    _check_purpose(purpose)
    name = (lg_code, purpose, number)
    served = _served(db)
    with db.read() as session:
        tenant = get_tenant(session, lg_code)
        key = active_key(session, ring, tenant)
        found = session.execute(
            select(StatusList.version, StatusList.published_version, StatusList.published_at).where(
                _where_list(lg_code, purpose, number)
            )
        ).one_or_none()
        if found is None:
            raise _no_such_list(lg_code, purpose, number)
        version, published_version, published_at = found
        held = served.lists.get(name)
        if held is not None and held.fresh(version, key, now, validity):
            return held
        if published_version == version and published_at is not None:
            text = session.execute(
                select(StatusList.published).where(_where_list(lg_code, purpose, number))
            ).scalar_one()
            stored = _stored(text, version, published_at) if text is not None else None
            if stored is not None and stored.fresh(version, key, now, validity):
                served.keep(name, stored)
                return stored
    with served.lock(name):
        held = served.lists.get(name)
        if (
            held is not None
            and held.version >= version
            and held.fresh(held.version, key, now, validity)
        ):
            return held  # signed by another request while this one waited
        with db.read() as session:
            bits, version = _bits_of(session, lg_code, purpose, number)
        new = _sign(
            tenant, key, purpose, number, bits, version, now=now, validity=validity, ttl=ttl
        )
        with db.transaction() as session:
            _store(session, lg_code, purpose, number, new)
        served.keep(name, new)
    return new
