"""Units of the issuer service: the audit chain, status allocation, the rate limiter."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from issuer import audit, status
from issuer.db import AuditEvent, AuditHead, StatusEntry
from issuer.errors import RateLimitedError
from issuer.ratelimit import RateLimiter
from issuer.tenants import get_tenant, keys_of, rotate_key
from tests.issuer.conftest import World


def test_audit_chain_detects_alteration_removal_and_reordering(world: World) -> None:
    with world.svc.db.read() as session:
        report = audit.verify_chain(session, "015814")
    assert report.ok
    events_before = report.events
    assert events_before >= 3  # tenant.create, key.create, token.create…

    with world.svc.db.transaction() as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.lg_code == "015814", AuditEvent.seq == 2)
            .values(details='{"publicKeyMultibase":"z6MkForged"}')
        )
    with world.svc.db.read() as session:
        report = audit.verify_chain(session, "015814")
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_audit_chain_detects_a_truncated_tail(world: World) -> None:
    with world.svc.db.transaction() as session:
        last = session.execute(
            select(func.max(AuditEvent.seq)).where(AuditEvent.lg_code == "015814")
        ).scalar_one()
        session.execute(
            delete(AuditEvent).where(AuditEvent.lg_code == "015814", AuditEvent.seq == last)
        )
    with world.svc.db.read() as session:
        report = audit.verify_chain(session, "015814")
    assert not report.ok
    assert report.reason == "events after the last one were removed"


def test_audit_chains_are_per_tenant(world: World) -> None:
    with world.svc.db.read() as session:
        heads = {h.lg_code: h.seq for h in session.execute(select(AuditHead)).scalars()}
    assert set(heads) == {"015814", "011002"}


def test_allocation_is_random_unique_and_rolls_over(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status, "LIST_LENGTH", 64)
    world.svc.settings = replace(world.svc.settings, status_list_fill=0.5)
    now = world.svc.clock()
    allocations = []
    with world.svc.db.transaction() as session:
        tenant = get_tenant(session, "015814")
        for n in range(80):
            allocations.append(
                status.allocate(
                    session,
                    tenant,
                    "revocation",
                    f"urn:uuid:test-{n}",
                    now=now,
                    randbelow=secrets.randbelow,
                    fill=0.5,
                )
            )
    by_list: dict[int, list[int]] = {}
    for allocation in allocations:
        by_list.setdefault(allocation.list_number, []).append(allocation.index)
    assert len(by_list) >= 2
    for indexes in by_list.values():
        assert len(indexes) == len(set(indexes))
        assert all(0 <= i < 64 for i in indexes)
    with world.svc.db.read() as session:
        assert session.execute(select(func.count()).select_from(StatusEntry)).scalar_one() == 80


def test_allocation_never_repeats_under_a_rigged_random_source(world: World) -> None:
    """Even a random source that keeps proposing the same index cannot produce a duplicate."""
    proposals = iter([7, 7, 7, 9])
    now = world.svc.clock()
    with world.svc.db.transaction() as session:
        tenant = get_tenant(session, "015814")
        first = status.allocate(
            session,
            tenant,
            "suspension",
            "urn:uuid:a",
            now=now,
            randbelow=lambda n: next(proposals),
            fill=0.9,
        )
        second = status.allocate(
            session,
            tenant,
            "suspension",
            "urn:uuid:b",
            now=now,
            randbelow=lambda n: next(proposals),
            fill=0.9,
        )
    assert (first.index, second.index) == (7, 9)


def test_rate_limiter() -> None:
    clock = [0.0]
    limiter = RateLimiter(lambda: clock[0])
    for _ in range(3):
        limiter.check("a", per_minute=3)
    with pytest.raises(RateLimitedError) as raised:
        limiter.check("a", per_minute=3)
    assert raised.value.retry_after >= 1
    limiter.check("b", per_minute=3)  # other clients are unaffected
    clock[0] += 20.0  # one token back after 20 s at 3/min
    limiter.check("a", per_minute=3)


def test_status_list_is_re_signed_only_when_changed_or_half_expired(world: World) -> None:
    from issuer.tenants import active_key

    settings = world.svc.settings
    now = world.svc.clock()
    with world.svc.db.transaction() as session:
        tenant = get_tenant(session, "015814")
        status.allocate(
            session,
            tenant,
            "revocation",
            "urn:uuid:x",
            now=now,
            randbelow=secrets.randbelow,
            fill=0.9,
        )

    def publish(at: object) -> dict[str, object]:
        with world.svc.db.transaction() as session:
            tenant = get_tenant(session, "015814")
            key = active_key(session, world.svc.ring, tenant)
            return status.published_list(
                session,
                tenant,
                key,
                "revocation",
                1,
                now=at,  # type: ignore[arg-type]
                validity=settings.status_list_validity,
                ttl=settings.status_list_ttl,
            )

    first = publish(now)
    assert publish(now + timedelta(hours=1)) == first
    later = publish(now + settings.status_list_validity / 2 + timedelta(seconds=1))
    assert later != first
    assert later["validFrom"] != first["validFrom"]


@pytest.mark.parametrize("microsecond", [0, 1, 999_999])
def test_key_windows_are_whole_seconds_around_a_rotation(world: World, microsecond: int) -> None:
    """Proofs say ``created`` in whole seconds (rounded down): a credential signed by either key
    in the second of the rotation must fall inside that key's window."""
    moment = datetime(2027, 4, 1, 9, 0, 0, microsecond, tzinfo=UTC)
    with world.svc.db.transaction() as session:
        tenant = get_tenant(session, world.tenant.lg_code)
        rotate_key(
            session,
            world.svc.ring,
            tenant,
            now=moment,
            random_bytes=secrets.token_bytes,
            actor="test",
        )
    with world.svc.db.read() as session:
        rows = sorted(keys_of(session, world.tenant.lg_code), key=lambda k: k.key_id)
    old, new = rows[-2], rows[-1]
    floor = moment.replace(microsecond=0)

    def aware(value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    assert aware(new.valid_from) == floor  # a proof made now says created=floor
    assert old.valid_until is not None
    # a proof the old key made just before the rotation says created=floor too
    assert aware(old.valid_until) > floor or microsecond == 0
    assert aware(old.valid_until) - floor <= timedelta(seconds=1)
