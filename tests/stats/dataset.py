"""A generated relationship population for the statistics tests and bench/bench_stats.py.

``generate`` builds, deterministically from a seed, the rows a municipality's issuer would
have after a year: registrations spread over the 12 months before ``NOW`` (and some older
ones, expired or renewed), basic renewals, moves to premium (the basic credential revoked),
premium renewals (the previous premium revoked), revocations and suspensions, activity
receipts (credentials without a tier), check-ins and reviewed documents, premium applications
in every state.  Registrations at a month's first and last second (JST) are included, where a
wrong month truncation would show.  ``insert`` writes the rows through the real schema (the
SQLAlchemy tables of :mod:`issuer.db`, Core ``executemany`` in chunks).

``expected`` computes every figure of the statistics page from the rows in plain Python — an
independent reckoning, never the SQL of :mod:`issuer.stats`.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert as sql_insert

from issuer.db import (
    Activity,
    Database,
    IssuedCredential,
    Notice,
    NoticeResponse,
    PremiumApplication,
)

NOW = datetime(2027, 3, 15, 3, 0, tzinfo=UTC)  # 2027-03-15 12:00 JST
NINE_HOURS = timedelta(hours=9)
YEAR = timedelta(days=365)
CATEGORIES = ("volunteer", "sideJob", "twoRegionLiving", "event", "disasterSupport", "other")


def jst_month(moment: datetime) -> str:
    return (moment.astimezone(UTC) + NINE_HOURS).strftime("%Y-%m")


def month_start(year: int, month: int) -> datetime:
    """00:00 JST on the 1st, in UTC."""
    return datetime(year, month, 1, tzinfo=UTC) - NINE_HOURS


def last_months(now: datetime, count: int = 12) -> list[str]:
    local = now.astimezone(UTC) + NINE_HOURS
    index = local.year * 12 + local.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


@dataclass
class Generated:
    now: datetime
    credentials: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)
    applications: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    hands: list[dict[str, Any]] = field(default_factory=list)  # notice_responses

    def extend(self, other: Generated) -> None:
        self.credentials += other.credentials
        self.activities += other.activities
        self.applications += other.applications
        self.notices += other.notices
        self.hands += other.hands


class _Builder:
    def __init__(self, lg_code: str, key_id: str, now: datetime, seed: int, document: str) -> None:
        self.lg_code = lg_code
        self.key_id = key_id
        self.document = document
        self.now = now
        self.rng = random.Random(seed)
        self.out = Generated(now)
        self.holders = 0
        self.calls: list[dict[str, Any]] = []

    def uuid(self) -> str:
        return f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def hex(self, size: int) -> str:
        return f"{self.rng.getrandbits(size * 4):0{size}x}"

    def between(self, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * self.rng.random()

    def credential(
        self,
        holder: str | None,
        tier: str | None,
        at: datetime,
        source: str,
        state: str = "active",
        valid_until: datetime | None = None,
    ) -> dict[str, Any]:
        row = {
            "lg_code": self.lg_code,
            "credential_id": self.uuid(),
            "holder_did": holder,
            "tier": tier,
            "state": state,
            "source": source,
            "key_id": self.key_id,
            "issued_at": at,
            "valid_from": at.replace(microsecond=0),
            "valid_until": valid_until if valid_until is not None else at + YEAR,
            "format": "ldp_vc",
            "document": self.document,
        }
        self.out.credentials.append(row)
        return row

    def application(
        self, holder: str, state: str, created: datetime, *, expires: datetime | None = None
    ) -> None:
        decided = state in ("approved", "rejected", "issued")
        identity_done = state != "identity"
        self.out.applications.append(
            {
                "lg_code": self.lg_code,
                "application_id": self.hex(24),
                "holder_did": holder,
                "state": state,
                "created_at": created,
                "expires_at": expires or created + timedelta(minutes=30),
                "status_hash": self.hex(64),
                "login_hash": None if identity_done else self.hex(64),
                "session": None,
                "person_key": self.hex(64) if identity_done else None,
                "identity_method": "oidc" if identity_done else None,
                "identity_at": created + timedelta(minutes=5) if identity_done else None,
                "activities": self.rng.randint(0, 6),
                "decided_at": created + timedelta(days=2) if decided else None,
                "decided_by": "token:generated" if decided else None,
                "reason": "活動の記録が足りません" if state == "rejected" else None,
                "offer_id": self.hex(64) if state in ("approved", "issued") else None,
                "replaces": None,
            }
        )

    def registration(self, first: datetime, *, older: bool) -> None:
        """One registration key and its credentials, activities and applications."""
        rng, now = self.rng, self.now
        self.holders += 1
        holder = f"did:key:z6MkGeneratedStats{self.lg_code}x{self.holders:08d}"
        tier = "premium" if rng.random() < 0.01 else "basic"
        chain: list[tuple[str, datetime, str]] = [(tier, first, "oid4vci")]
        roll = rng.random()
        if older and roll < 0.4:  # renewed near the end of its year, if that is before now
            renewed = first + timedelta(days=rng.uniform(330, 364))
            if renewed < now:
                chain.append((tier, renewed, "renewal" if tier == "basic" else "oid4vci"))
        elif tier == "basic" and roll < 0.06:  # moves to premium, some renew it again
            upgraded = self.between(first, now)
            chain.append(("premium", upgraded, "oid4vci"))
            if rng.random() < 0.15:
                chain.append(("premium", self.between(upgraded, now), "oid4vci"))
        elif tier == "basic" and roll < 0.16:  # an early basic renewal
            chain.append(("basic", self.between(first, now), "renewal"))
        for position, (kind, at, source) in enumerate(chain):
            following = chain[position + 1] if position + 1 < len(chain) else None
            if following is None:
                fate = rng.random()
                state = "revoked" if fate < 0.03 else "suspended" if fate < 0.05 else "active"
            else:  # a premium credential revokes the one it replaces (issuer.membership)
                state = "revoked" if following[0] == "premium" else "active"
            self.credential(holder, kind, at, source, state)
            if kind == "premium":
                self.application(holder, "issued", at - timedelta(days=3))
        if rng.random() < 0.25:
            for _ in range(rng.randint(1, 4)):
                self.activity(holder, self.between(first, now))
        if self.calls and rng.random() < 0.05:  # raised a hand for a call (some withdrew it)
            call = rng.choice(self.calls)
            when = self.between(max(first, call["published_at"]), now)
            self.out.hands.append(
                {
                    "tenant_id": self.lg_code,
                    "id": self.hex(32),
                    "notice_id": call["notice_id"],
                    "holder_did": holder,
                    "credential_id": self.uuid(),
                    "tier": tier,
                    "message": None,
                    "created_at": when,
                    "withdrawn_at": self.between(when, now) if rng.random() < 0.2 else None,
                }
            )

    def call(self, published: datetime) -> None:
        """A call for help (募集) with many places, open the whole year."""
        row = {
            "lg_code": self.lg_code,
            "notice_id": self.hex(16),
            "topic": "募集",
            "title_ja": "雪かきのお手伝い",
            "title_en": None,
            "body_ja": "除雪作業",
            "body_en": None,
            "link": None,
            "audience": "all",
            "published_at": published,
            "expires_at": None,
            "places": 100_000,
            "deadline": self.now + timedelta(days=30),
            "closed_at": None,
            "withdrawn_at": None,
            "created_at": published,
            "created_by": "token:generated",
            "updated_at": published,
            "updated_by": "token:generated",
        }
        self.calls.append(row)
        self.out.notices.append(row)

    def activity(self, holder: str, when: datetime) -> None:
        rng = self.rng
        checkin = rng.random() < 0.7
        self.out.activities.append(
            {
                "lg_code": self.lg_code,
                "activity_id": self.hex(32),
                "holder_did": holder,
                "kind": "checkIn" if checkin else "document",
                "category": rng.choice(CATEGORIES),
                "site_id": self.hex(16) if checkin else None,
                "qr_id": self.hex(22) if checkin else None,
                "activity_date": when,
                "recorded_at": when if checkin else min(when + timedelta(days=3), self.now),
                "recorded_by": "checkin" if checkin else "token:generated",
                "credential_id": None,
            }
        )
        if checkin and rng.random() < 0.5:  # its receipt: a credential without a tier
            self.credential(holder, None, when, "activity", valid_until=when + YEAR)


def generate(
    lg_code: str,
    key_id: str,
    *,
    registrations: int,
    older: int = 0,
    seed: int = 1,
    now: datetime = NOW,
    extra_applications: bool = True,
    document: str = "{}",
) -> Generated:
    """``registrations`` new registrations in the 12 months up to ``now`` (JST months), and
    ``older`` ones registered 13 to 20 months before.  Every credential row stores ``document``
    (the benchmark gives a real signed credential: on SQLite its size is what a scan reads)."""
    builder = _Builder(lg_code, key_id, now, seed, document)
    months = last_months(now)
    start = month_start(int(months[0][:4]), int(months[0][5:]))
    for _ in range(3):
        builder.call(start - timedelta(days=builder.rng.uniform(1, 300)))
    # the first and last second of each month (JST), where a wrong truncation would show
    edges: list[datetime] = []
    for key in months[1:]:
        boundary = month_start(int(key[:4]), int(key[5:]))
        edges += [boundary - timedelta(seconds=1), boundary]
    for i in range(registrations):
        first = edges[i] if i < len(edges) else builder.between(start, now)
        builder.registration(first, older=False)
    for _ in range(older):
        builder.registration(start - timedelta(days=builder.rng.uniform(30, 240)), older=True)
    if extra_applications:
        rng = builder.rng
        for state, count in (("submitted", 120), ("approved", 30), ("rejected", 60)):
            for _ in range(count):
                created = builder.between(start, now - timedelta(days=3))
                builder.application(
                    f"did:key:z6MkApplicant{lg_code}{rng.getrandbits(40)}", state, created
                )
        for _ in range(15):  # in the identity step now
            created = now - timedelta(minutes=rng.uniform(1, 20))
            builder.application(
                f"did:key:z6MkApplicant{lg_code}{rng.getrandbits(40)}", "identity", created
            )
        for _ in range(25):  # an identity step that expired unfinished: not an application
            created = builder.between(start, now - timedelta(days=1))
            builder.application(
                f"did:key:z6MkApplicant{lg_code}{rng.getrandbits(40)}", "identity", created
            )
    return builder.out


def insert(db: Database, data: Generated, *, chunk: int = 5000) -> None:
    """Write the rows through the schema's tables: Core executemany, one transaction, in the
    order an issuer would have written them over the year (by time)."""
    with db.engine.begin() as connection:
        for model, rows in (
            (IssuedCredential, sorted(data.credentials, key=lambda row: row["issued_at"])),
            (Activity, sorted(data.activities, key=lambda row: row["recorded_at"])),
            (PremiumApplication, sorted(data.applications, key=lambda row: row["created_at"])),
            (Notice, sorted(data.notices, key=lambda row: row["created_at"])),
            (NoticeResponse, sorted(data.hands, key=lambda row: row["created_at"])),
        ):
            for offset in range(0, len(rows), chunk):
                connection.execute(sql_insert(model), rows[offset : offset + chunk])


# --- the figures, reckoned independently ---------------------------------------------------------

TIERS = ("basic", "premium")
STATES = ("active", "suspended", "expired", "revoked")
SERIES = ("newRegistrations", "renewals", "tierChanges", "checkIns", "documents", "handsRaised")
APPLICATION_STATES = ("identity", "submitted", "approved", "rejected", "issued")


@dataclass
class Expected:
    registrations: dict[str, dict[str, int]]
    monthly: dict[str, dict[str, int]]  # series → month → count
    applications: dict[str, int]

    def monthly_list(self, series: str, months: Sequence[str]) -> list[int]:
        return [self.monthly[series].get(month, 0) for month in months]


def expected(data: Generated, lg_code: str, now: datetime, months: Sequence[str]) -> Expected:
    """Every figure of the page for ``lg_code``, from the generated rows."""
    wanted = set(months)
    registrations = {tier: dict.fromkeys(STATES, 0) for tier in TIERS}
    monthly: dict[str, dict[str, int]] = {series: defaultdict(int) for series in SERIES}
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in data.credentials:
        if row["lg_code"] == lg_code and row["tier"] in TIERS:
            chains[row["holder_did"] or row["credential_id"]].append(row)
    for chain in chains.values():
        chain.sort(key=lambda row: (row["issued_at"], row["credential_id"]))
        newest = chain[-1]
        if newest["state"] == "revoked":
            state = "revoked"
        elif newest["valid_until"] is not None and newest["valid_until"] <= now:
            state = "expired"
        else:
            state = newest["state"]
        registrations[newest["tier"]][state] += 1
        previous: str | None = None
        for row in chain:
            month = jst_month(row["issued_at"])
            if month in wanted:
                if previous is None:
                    kind = "newRegistrations"
                elif previous == row["tier"]:
                    kind = "renewals"
                else:
                    kind = "tierChanges"
                monthly[kind][month] += 1
            previous = row["tier"]
    for row in data.activities:
        month = jst_month(row["activity_date"])
        if row["lg_code"] == lg_code and month in wanted:
            monthly["checkIns" if row["kind"] == "checkIn" else "documents"][month] += 1
    for row in data.hands:
        month = jst_month(row["created_at"])
        if row["tenant_id"] == lg_code and month in wanted:
            monthly["handsRaised"][month] += 1
    applications = dict.fromkeys(APPLICATION_STATES, 0)
    for row in data.applications:
        if row["lg_code"] != lg_code:
            continue
        if row["state"] == "identity" and row["expires_at"] <= now:
            continue
        applications[row["state"]] += 1
    return Expected(registrations, {k: dict(v) for k, v in monthly.items()}, applications)
