"""Statistics of a municipality's relationship population (関係人口), and the national aggregate.

What is counted (docs/statistics.md says the same for staff):

* A **registration** is a registration key (the holder DID) of a municipality: renewing,
  moving up to premium or re-issuing keeps the registration, each issues another credential.
  Its tier and state are those of its **newest** resident credential (``credentials`` rows with
  a tier; activity receipts have none).  The state is ``revoked`` if that credential is
  revoked, else ``expired`` once its ``validUntil`` has passed, else ``suspended`` or
  ``active`` — as :mod:`issuer.issuance` and :mod:`issuer.status` record them.
* A resident credential is an event of its month (JST): the registration's first is a **new
  registration**, a further one of the same tier a **renewal**, one of the other tier a
  **tier change** (basic → premium, mostly).
* **Activities** are the rows of ``activities`` (:mod:`issuer.activities`), by kind: check-ins
  and documents staff reviewed, in the month of the activity's date.
* **Premium applications by state** are the rows of ``premium_applications`` now; an identity
  step that expired unfinished is not an application.

Everything is aggregate SQL: the database groups by month (the JST month of a UTC timestamp,
:class:`month_jst`, compiled for SQLite and PostgreSQL) and returns a few dozen rows, whatever
the number of registrations.  Every query is scoped by the tenant column.

The monthly series are declarative: one :class:`Series` per line of :data:`MONTHLY_SERIES`
(its names in Japanese and English, the chart it is drawn in, the rows it counts and a
condition); series over the same rows are counted in one query.

The national aggregate (:func:`national_counts`, :func:`publish_national`) sums over every
municipality of the deployment, with small counts suppressed: see :func:`publish_national`.
Nothing here reads the clock: ``now`` is a parameter.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import String, and_, case, func, or_, select
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from did.errors import MalformedValueError
from issuer.db import Base, IssuedCredential, PremiumApplication, Tenant

JST = timezone(timedelta(hours=9))
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
FIRST_YEAR, LAST_YEAR = 2000, 2100

TIERS: dict[str, tuple[str, str]] = {
    "basic": ("ベーシック", "basic"),
    "premium": ("プレミアム", "premium"),
}
STATES: dict[str, tuple[str, str]] = {
    "active": ("有効", "active"),
    "suspended": ("停止中", "suspended"),
    "expired": ("期限切れ", "expired"),
    "revoked": ("失効", "revoked"),
}
APPLICATION_STATES: dict[str, tuple[str, str]] = {
    "identity": ("本人確認中", "identity check in progress"),
    "submitted": ("審査待ち", "waiting for review"),
    "approved": ("承認済み", "approved"),
    "rejected": ("却下", "rejected"),
    "issued": ("発行済み", "issued"),
}


# --- months and periods -------------------------------------------------------------------------

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Japan time (JST, UTC+9, no daylight saving)."""

    year: int
    month: int

    @classmethod
    def of(cls, moment: datetime) -> Month:
        local = moment.astimezone(JST)
        return cls(local.year, local.month)

    @classmethod
    def parse(cls, text: str, path: str) -> Month:
        found = _MONTH.fullmatch(text)
        if found is None or not FIRST_YEAR <= int(found.group(1)) <= LAST_YEAR:
            raise MalformedValueError(
                f"{path}: a month like 2027-04 (years {FIRST_YEAR}–{LAST_YEAR})",
                f"{path} は 2027-04 の形式の年月です ({FIRST_YEAR}〜{LAST_YEAR}年)",
                path=path,
            )
        return cls(int(found.group(1)), int(found.group(2)))

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def minus(self, other: Month) -> int:
        """The number of months from ``other`` to this one."""
        return (self.year - other.year) * 12 + self.month - other.month

    def start(self) -> datetime:
        """The first instant of the month (00:00 JST on the 1st), in UTC."""
        return datetime(self.year, self.month, 1, tzinfo=JST).astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Period:
    """Whole months ``first``..``last`` (both included)."""

    first: Month
    last: Month

    @property
    def months(self) -> tuple[Month, ...]:
        return tuple(self.first.plus(i) for i in range(self.last.minus(self.first) + 1))

    @property
    def start(self) -> datetime:
        return self.first.start()

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive)."""
        return self.last.plus(1).start()

    def keys(self) -> list[str]:
        return [str(month) for month in self.months]


def parse_period(first: str | None, last: str | None, now: datetime) -> Period:
    """The period of ``from``/``to`` (``YYYY-MM``), by default the last 12 months including the
    current one.  At most :data:`MAX_MONTHS` months, none after the current month."""
    current = Month.of(now)
    end = Month.parse(last, "to") if last else None
    begin = Month.parse(first, "from") if first else None
    if end is None:
        end = min(begin.plus(DEFAULT_MONTHS - 1), current) if begin else current
    if begin is None:
        begin = end.plus(1 - DEFAULT_MONTHS)
    if end > current:
        raise MalformedValueError(
            f"to: {end} is after the current month ({current})",
            f"to ({end}) が今月 ({current}) より後です",
            path="to",
        )
    if begin > end:
        raise MalformedValueError(
            f"from: {begin} is after to ({end})",
            f"from ({begin}) が to ({end}) より後です",
            path="from",
        )
    if end.minus(begin) + 1 > MAX_MONTHS:
        raise MalformedValueError(
            f"the period is longer than {MAX_MONTHS} months",
            f"期間は {MAX_MONTHS} か月以内にしてください",
            path="from",
        )
    return Period(begin, end)


# --- the month of a timestamp, in the database ----------------------------------------------------


class month_jst(FunctionElement[str]):
    """``YYYY-MM`` of the JST month of a UTC timestamp column, computed by the database.

    The dialects differ: SQLite keeps timestamps as text and has ``strftime`` with a modifier;
    PostgreSQL has ``to_char`` and interval arithmetic (the columns are ``timestamp without
    time zone`` holding UTC).  Japan has no daylight saving, so +9 hours is exact."""

    type = String()
    name = "month_jst"
    inherit_cache = True


@compiles(month_jst)
def _month_unsupported(element: month_jst, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"month_jst is not implemented for {compiler.dialect.name}")


@compiles(month_jst, "sqlite")
def _month_sqlite(element: month_jst, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '+9 hours')"


@compiles(month_jst, "postgresql")
def _month_postgresql(element: month_jst, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)} + interval '9 hours', 'YYYY-MM')"


# --- what the series count --------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Rows counted per month: ``rows(lg_code, now)`` gives a table or a derived table
    (``None``: every tenant) with a tenant column and a timestamp column (UTC)."""

    name: str
    rows: Callable[[str | None, datetime], FromClause] = field(compare=False)
    tenant: str = "lg_code"
    at: str = "created_at"


def table_source(table: str, *, tenant: str = "lg_code", at: str = "created_at") -> Source:
    """A table of the schema by name (looked up when counted, so a series may name a table that
    a later migration adds)."""
    return Source(table, lambda _lg_code, _now: Base.metadata.tables[table], tenant, at)


def _resident_credentials() -> ColumnElement[bool]:
    return IssuedCredential.tier.in_(tuple(TIERS))


def _registration_rows(lg_code: str | None, now: datetime) -> FromClause:
    """Each resident credential of the tenant (``None``: of every tenant), all time, with

    * ``cell`` — its tier and state now (``"basic active"``; revoked, else expired once its
      ``validUntil`` has passed, else suspended or active);
    * ``previous_cell`` and ``previous_tier`` — those of its registration's previous credential
      (none: it is the registration's first), by one window over the credentials partitioned
      by registration key and ordered by issue time.

    A registration's credentials form a chain, each but the first the successor of one other,
    so the cells of its newest credential are the cells of all its credentials minus the
    previous cells of all of them: registrations by tier and state come from the same rows and
    the same single window as the monthly series (:func:`monthly_and_registrations`), and the
    table is read once.  Partitioned by ``holder_did`` itself (not an expression), so an index
    on ``(lg_code, holder_did, issued_at, credential_id, tier, state, valid_until)`` would give
    the window its order and its columns without reading the table (docs/statistics.md).  A
    credential without a holder (VC-API input without a subject id) is a registration of its
    own."""
    state = case(
        (IssuedCredential.state == "revoked", "revoked"),
        (
            and_(IssuedCredential.valid_until.is_not(None), IssuedCredential.valid_until <= now),
            "expired",
        ),
        (IssuedCredential.state == "suspended", "suspended"),
        else_="active",
    )
    credentials = select(
        IssuedCredential.lg_code.label("lg_code"),
        IssuedCredential.holder_did.label("holder_did"),
        IssuedCredential.credential_id.label("credential_id"),
        IssuedCredential.issued_at.label("at"),
        IssuedCredential.tier.label("tier"),
        (IssuedCredential.tier + " " + state).label("cell"),
    ).where(_resident_credentials())
    if lg_code is not None:
        credentials = credentials.where(IssuedCredential.lg_code == lg_code)
    cells = credentials.subquery("credential_cells")
    previous = func.lag(cells.c.cell).over(
        partition_by=(cells.c.lg_code, cells.c.holder_did),
        order_by=(cells.c.at, cells.c.credential_id),
    )
    chained = select(
        cells.c.lg_code,
        cells.c.at,
        cells.c.tier,
        cells.c.cell,
        case((cells.c.holder_did.is_(None), None), else_=previous).label("previous_cell"),
    ).subquery("credential_chain")
    previous_tier = case(
        *((chained.c.previous_cell.like(f"{tier} %"), tier) for tier in TIERS), else_=None
    )
    return select(chained, previous_tier.label("previous_tier")).subquery("registration_rows")


REGISTRATION_EVENTS = Source("registration_rows", _registration_rows, "lg_code", "at")
ACTIVITIES = table_source("activities", at="activity_date")


@dataclass(frozen=True)
class Series:
    """One monthly series: its stable key (JSON member, CSV column), its names, the chart it is
    drawn in (:data:`CHARTS`), the rows it counts and which of them (``None``: all)."""

    key: str
    ja: str
    en: str
    chart: str
    source: Source
    where: Callable[[FromClause], ColumnElement[bool]] | None = field(default=None, compare=False)


CHARTS: dict[str, tuple[str, str]] = {
    "registrations": ("登録の動き (月別)", "Registrations per month"),
    "activities": ("活動と参加 (月別)", "Activities and participation per month"),
}

# One line per series.
HANDS_RAISED = table_source("notice_responses", tenant="tenant_id", at="created_at")
MONTHLY_SERIES: tuple[Series, ...] = (
    Series(
        "newRegistrations",
        "新規登録",
        "New registrations",
        "registrations",
        REGISTRATION_EVENTS,
        lambda rows: rows.c.previous_cell.is_(None),
    ),
    Series(
        "renewals",
        "更新",
        "Renewals",
        "registrations",
        REGISTRATION_EVENTS,
        lambda rows: rows.c.previous_tier == rows.c.tier,
    ),
    Series(
        "tierChanges",
        "区分の変更",
        "Tier changes",
        "registrations",
        REGISTRATION_EVENTS,
        lambda rows: rows.c.previous_tier != rows.c.tier,
    ),
    Series(
        "checkIns",
        "チェックイン",
        "Check-ins",
        "activities",
        ACTIVITIES,
        lambda rows: rows.c.kind == "checkIn",
    ),
    Series(
        "documents",
        "書類で確認した活動",
        "Activities from reviewed documents",
        "activities",
        ACTIVITIES,
        lambda rows: rows.c.kind == "document",
    ),
    # answers to calls for help (手を挙げる) in the month they were given, withdrawn later or not
    Series("handsRaised", "手を挙げた数", "Hands raised", "activities", HANDS_RAISED),
)


Condition = Callable[[FromClause], ColumnElement[bool]]
Grouped = dict[tuple[str, str, tuple[str | None, ...]], dict[str, int]]
TOTAL = "*"


def _count_by_month(
    session: Session,
    source: Source,
    lg_code: str | None,
    period: Period | None,
    counts: Mapping[str, Condition | None],
    *,
    now: datetime,
    by: Sequence[str] = (),
) -> Grouped:
    """One GROUP BY query over a source, per (tenant, month[, the columns ``by``]): a
    conditional count of the period's rows for each of ``counts``.  With ``by`` the query also
    counts every row of the group, of any month (key :data:`TOTAL`) — the period is then a
    condition, not a filter.  ``None`` for ``lg_code`` counts every tenant, ``None`` for
    ``period`` every month."""
    rows = source.rows(lg_code, now)
    at, tenant = rows.c[source.at], rows.c[source.tenant]
    month = month_jst(at)
    in_period = and_(at >= period.start, at < period.end) if period is not None else None
    columns: list[Any] = []
    for where in counts.values():
        condition = where(rows) if where is not None else None
        if by and in_period is not None:
            condition = in_period if condition is None else and_(in_period, condition)
        columns.append(func.count() if condition is None else func.count(case((condition, 1))))
    groups: list[Any] = [tenant, month, *(rows.c[name] for name in by)]
    if by:
        columns.append(func.count())
    query = select(*groups, *columns).select_from(rows)
    if lg_code is not None:
        query = query.where(tenant == lg_code)
    if not by and in_period is not None:
        query = query.where(in_period)
    keys = [*counts, *([TOTAL] if by else [])]
    width = len(groups)
    out: Grouped = {}
    for row in session.execute(query.group_by(*groups)):
        group = (row[0], row[1], tuple(row[2:width]))
        out[group] = {key: int(row[i] or 0) for i, key in enumerate(keys, start=width)}
    return out


def _empty_registrations() -> dict[str, dict[str, int]]:
    return {tier: dict.fromkeys(STATES, 0) for tier in TIERS}


def _add_cell(into: dict[str, dict[str, int]], cell: str | None, count: int) -> None:
    tier, _, state = (cell or "").partition(" ")
    if tier in into and state in into[tier]:
        into[tier][state] += count


def monthly_and_registrations(
    session: Session,
    lg_code: str,
    period: Period,
    *,
    now: datetime,
    series: Sequence[Series] = MONTHLY_SERIES,
) -> tuple[dict[str, list[int]], dict[str, dict[str, int]]]:
    """Each series' count per month of the period (zeros included), one query per source (a
    conditional count per series), and the registrations by tier and state now — counted in
    the same query as the series over the registration rows."""
    keys = period.keys()
    position = {key: i for i, key in enumerate(keys)}
    monthly = {s.key: [0] * len(keys) for s in series}
    registrations = _empty_registrations()
    by_source: dict[str, list[Series]] = {REGISTRATION_EVENTS.name: []}
    sources = {REGISTRATION_EVENTS.name: REGISTRATION_EVENTS}
    for entry in series:
        by_source.setdefault(entry.source.name, []).append(entry)
        sources[entry.source.name] = entry.source
    for name, members in by_source.items():
        registration_rows = name == REGISTRATION_EVENTS.name
        grouped = _count_by_month(
            session,
            sources[name],
            lg_code,
            period,
            {s.key: s.where for s in members},
            now=now,
            by=("cell", "previous_cell") if registration_rows else (),
        )
        for (_tenant, month, cells), counts in grouped.items():
            index = position.get(month)
            if index is not None:
                for entry in members:
                    monthly[entry.key][index] += counts[entry.key]
            if registration_rows:  # newest = every credential, less every previous one
                _add_cell(registrations, cells[0], counts[TOTAL])
                _add_cell(registrations, cells[1], -counts[TOTAL])
    return monthly, registrations


def applications_now(session: Session, lg_code: str, now: datetime) -> dict[str, int]:
    """Premium applications by state (an identity step that expired unfinished is none)."""
    out = dict.fromkeys(APPLICATION_STATES, 0)
    query = (
        select(PremiumApplication.state, func.count())
        .where(
            PremiumApplication.lg_code == lg_code,
            or_(PremiumApplication.state != "identity", PremiumApplication.expires_at > now),
        )
        .group_by(PremiumApplication.state)
    )
    for state, count in session.execute(query):
        if state in out:
            out[state] = int(count)
    return out


@dataclass(frozen=True)
class TenantFigures:
    """Everything the statistics page, its CSV files and the admin API show."""

    lg_code: str
    as_of: datetime
    period: Period
    registrations: dict[str, dict[str, int]]
    monthly: dict[str, list[int]]
    applications: dict[str, int]
    series: tuple[Series, ...] = MONTHLY_SERIES

    def registrations_total(self, state: str | None = None, tier: str | None = None) -> int:
        return sum(
            count
            for t, states in self.registrations.items()
            for s, count in states.items()
            if (tier is None or t == tier) and (state is None or s == state)
        )


def tenant_figures(
    session: Session,
    lg_code: str,
    period: Period,
    *,
    now: datetime,
    series: Sequence[Series] = MONTHLY_SERIES,
) -> TenantFigures:
    monthly, registrations = monthly_and_registrations(
        session, lg_code, period, now=now, series=series
    )
    return TenantFigures(
        lg_code=lg_code,
        as_of=now,
        period=period,
        registrations=registrations,
        monthly=monthly,
        applications=applications_now(session, lg_code, now),
        series=tuple(series),
    )


def figures_json(figures: TenantFigures) -> dict[str, Any]:
    """The admin API's body (camelCase on the wire)."""
    return {
        "lgCode": figures.lg_code,
        "asOf": _iso(figures.as_of),
        "period": {
            "from": str(figures.period.first),
            "to": str(figures.period.last),
            "months": figures.period.keys(),
        },
        "registrations": {
            **{tier: dict(states) for tier, states in figures.registrations.items()},
            "total": {state: figures.registrations_total(state) for state in STATES},
        },
        "registrationsTotal": figures.registrations_total(),
        "monthly": [
            {
                "key": s.key,
                "ja": s.ja,
                "en": s.en,
                "chart": s.chart,
                "values": list(figures.monthly[s.key]),
            }
            for s in figures.series
        ],
        "premiumApplications": dict(figures.applications),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the national aggregate ---------------------------------------------------------------------

Cell = tuple[str, str]  # (tier, state)
CELLS: tuple[Cell, ...] = tuple((tier, state) for tier in TIERS for state in STATES)


@dataclass(frozen=True)
class Municipality:
    lg_code: str
    name: str
    prefecture: str
    prefecture_code: str


@dataclass(frozen=True)
class NationalCounts:
    """The exact counts of every municipality (never published as such): registrations by
    (tier, state) now, and new registrations per month from the deployment's first month to
    the current one (``months``)."""

    as_of: datetime
    municipalities: tuple[Municipality, ...]
    registrations: dict[str, dict[Cell, int]]
    new: dict[str, dict[str, int]]
    months: tuple[str, ...]


def national_counts(session: Session, now: datetime) -> NationalCounts:
    """One GROUP BY query over every tenant's registration rows, by (tenant, month): new
    registrations, and each (tier, state) cell of the registrations now (summed over months)."""
    municipalities = tuple(
        Municipality(row.lg_code, row.name, row.prefecture, row.prefecture_code)
        for row in session.execute(
            select(Tenant.lg_code, Tenant.name, Tenant.prefecture, Tenant.prefecture_code).order_by(
                Tenant.prefecture_code, Tenant.lg_code
            )
        )
    )
    registrations: dict[str, dict[Cell, int]] = {
        m.lg_code: dict.fromkeys(CELLS, 0) for m in municipalities
    }
    new: dict[str, dict[str, int]] = {m.lg_code: {} for m in municipalities}
    grouped = _count_by_month(
        session,
        REGISTRATION_EVENTS,
        None,
        None,
        {"new": lambda rows: and_(rows.c.previous_cell.is_(None), rows.c.at <= now)},
        now=now,
        by=("cell", "previous_cell"),
    )
    first: Month | None = None
    for (lg_code, key, (cell, previous)), counts in grouped.items():
        mine = registrations.setdefault(lg_code, dict.fromkeys(CELLS, 0))
        for which, sign in ((cell, 1), (previous, -1)):
            tier, _, state = (which or "").partition(" ")
            if (tier, state) in mine:
                mine[(tier, state)] += sign * counts[TOTAL]
        if counts["new"]:
            new.setdefault(lg_code, {})
            new[lg_code][key] = new[lg_code].get(key, 0) + counts["new"]
            parsed = Month.parse(key, "month")
            first = parsed if first is None or parsed < first else first
    current = Month.of(now)
    months: tuple[str, ...] = ()
    if first is not None:
        months = tuple(str(first.plus(i)) for i in range(current.minus(first) + 1))
    return NationalCounts(now, municipalities, registrations, new, months)


@dataclass(frozen=True)
class PublishedMunicipality:
    """A municipality's published cells: ``None`` is suppressed (or withheld)."""

    municipality: Municipality
    registrations: dict[Cell, int | None]
    new: dict[str, int | None]  # every month of NationalCounts.months
    monthly_withheld: bool


def _interval_sum(values: Iterable[float]) -> float:
    # inf + finite is inf; never inf - inf (only sums of bounds of one sign are formed)
    total = 0.0
    for value in values:
        total += value
    return total


def narrowed_cells(
    x_bounds: Sequence[tuple[float, float]],
    y_bounds: Sequence[tuple[float, float]],
    difference: int,
    k: int,
    x_primary: Sequence[bool],
    y_primary: Sequence[bool],
) -> list[tuple[str, int, float, float]]:
    """The primary cells an attacker can narrow down, with what they can learn.

    The published data of a municipality leaves one linear equation over its unpublished
    cells: ``sum(x) - sum(y) = difference``, where ``x`` are its registration cells (by tier
    and state) and ``y`` its monthly new-registration cells (over all months; both add up to
    its registrations).  An attacker knows the bounds of each unpublished cell — a primary
    suppression is in ``[0, k-1]``, a complementary one in ``[k, ∞)``.  A primary cell is
    protected when every value in ``[0, k-1]`` stays possible; returned are those that are not,
    as ``(side, index, low, high)``."""
    high_limit = k - 1
    found: list[tuple[str, int, float, float]] = []
    x_lo = [lo for lo, _ in x_bounds]
    x_hi = [hi for _, hi in x_bounds]
    y_lo = [lo for lo, _ in y_bounds]
    y_hi = [hi for _, hi in y_bounds]
    for i, primary in enumerate(x_primary):
        if not primary:
            continue
        low = (
            difference
            + _interval_sum(y_lo)
            - _interval_sum(h for j, h in enumerate(x_hi) if j != i)
        )
        high = (
            difference
            + _interval_sum(y_hi)
            - _interval_sum(lo for j, lo in enumerate(x_lo) if j != i)
        )
        low, high = max(low, 0.0), min(high, float(high_limit))
        if low > 0 or high < high_limit:
            found.append(("registrations", i, low, high))
    for i, primary in enumerate(y_primary):
        if not primary:
            continue
        low = (
            _interval_sum(x_lo)
            - difference
            - _interval_sum(h for j, h in enumerate(y_hi) if j != i)
        )
        high = (
            _interval_sum(x_hi)
            - difference
            - _interval_sum(lo for j, lo in enumerate(y_lo) if j != i)
        )
        low, high = max(low, 0.0), min(high, float(high_limit))
        if low > 0 or high < high_limit:
            found.append(("new", i, low, high))
    return found


def suppress_municipality(
    municipality: Municipality,
    registrations: Mapping[Cell, int],
    new: Mapping[str, int],
    months: Sequence[str],
    k: int,
) -> PublishedMunicipality:
    """Primary suppression (every count below k, zeros included), then complementary
    suppression of registration cells — the smallest published first — until no primary cell
    can be narrowed through the municipality's one equation (:func:`narrowed_cells`); if even
    that cannot protect them, the monthly series is withheld (the equation then has no
    published side)."""
    counts = [registrations.get(cell, 0) for cell in CELLS]
    monthly = [new.get(month, 0) for month in months]
    x_primary = [c < k for c in counts]
    y_primary = [c < k for c in monthly]
    complementary: list[int] = []
    withheld = False
    while any(x_primary) or any(y_primary):
        hidden_x = [i for i in range(len(counts)) if x_primary[i] or i in complementary]
        hidden_y = [i for i in range(len(monthly)) if y_primary[i]]
        # sum(hidden x) - sum(hidden y) = sum(published y) - sum(published x)
        difference = sum(monthly[i] for i in range(len(monthly)) if i not in hidden_y) - sum(
            counts[i] for i in range(len(counts)) if i not in hidden_x
        )
        x_bounds = [(0.0, float(k - 1)) if x_primary[i] else (float(k), math.inf) for i in hidden_x]
        y_bounds = [(0.0, float(k - 1)) for _ in hidden_y]
        if not narrowed_cells(
            x_bounds,
            y_bounds,
            difference,
            k,
            [x_primary[i] for i in hidden_x],
            [True for _ in hidden_y],
        ):
            break
        candidates = sorted(
            (counts[i], i)
            for i in range(len(counts))
            if not x_primary[i] and i not in complementary
        )
        if not candidates:
            withheld = True
            complementary = []
            break
        complementary.append(candidates[0][1])
    published_registrations: dict[Cell, int | None] = {
        cell: None if x_primary[i] or i in complementary else counts[i]
        for i, cell in enumerate(CELLS)
    }
    published_new: dict[str, int | None] = {
        month: None if withheld or y_primary[i] else monthly[i] for i, month in enumerate(months)
    }
    return PublishedMunicipality(municipality, published_registrations, published_new, withheld)


def _sum_published(values: Iterable[int | None]) -> tuple[int | None, int]:
    """The sum of the published values (``None`` when there is none) and how many were not."""
    total, left_out, any_published = 0, 0, False
    for value in values:
        if value is None:
            left_out += 1
        else:
            total += value
            any_published = True
    return (total if any_published else None), left_out


def _group_json(members: Sequence[PublishedMunicipality], months: Sequence[str]) -> dict[str, Any]:
    """Totals of a group of municipalities: sums of their published cells only."""
    registrations: dict[str, dict[str, int | None]] = {}
    left_out = 0
    for tier in TIERS:
        registrations[tier] = {}
        for state in STATES:
            total, missing = _sum_published(m.registrations[(tier, state)] for m in members)
            registrations[tier][state] = total
            left_out += missing
    per_month: list[int | None] = []
    months_left_out = 0
    for month in months:
        total, missing = _sum_published(m.new.get(month) for m in members)
        per_month.append(total)
        months_left_out += missing
    overall, _ = _sum_published(registrations[tier][state] for tier in TIERS for state in STATES)
    return {
        "registrations": registrations,
        "registrationsTotal": overall,
        "newPerMonth": per_month,
        "suppressedRegistrationCells": left_out,
        "suppressedMonthCells": months_left_out,
    }


def publish_national(counts: NationalCounts, k: int, period: Period) -> dict[str, Any]:
    """The national aggregate as published: per municipality, per prefecture and in total.

    * Every count below ``k`` is suppressed (``null``), zeros included.
    * Every total (prefecture, nation, over tiers or states) is the sum of **published** cells
      only, so no total minus published cells leaves anything; the number of cells left out is
      given beside it.
    * The one identity the data has — a municipality's registrations by tier and state add up
      to its new registrations over all months — is closed by complementary suppression
      (:func:`suppress_municipality`), checked over every month since the deployment's first,
      not only the months shown.
    """
    published = [
        suppress_municipality(
            m,
            counts.registrations.get(m.lg_code, {}),
            counts.new.get(m.lg_code, {}),
            counts.months,
            k,
        )
        for m in counts.municipalities
    ]
    months = period.keys()
    prefectures: dict[str, list[PublishedMunicipality]] = {}
    for entry in published:
        prefectures.setdefault(entry.municipality.prefecture_code, []).append(entry)

    def cells(entry: PublishedMunicipality) -> dict[str, dict[str, int | None]]:
        return {
            tier: {state: entry.registrations[(tier, state)] for state in STATES} for tier in TIERS
        }

    return {
        "asOf": _iso(counts.as_of),
        "k": k,
        "period": {"from": str(period.first), "to": str(period.last), "months": months},
        "national": _group_json(published, months),
        "prefectures": [
            {
                "prefectureCode": code,
                "name": members[0].municipality.prefecture,
                **_group_json(members, months),
            }
            for code, members in sorted(prefectures.items())
        ],
        "municipalities": [
            {
                "lgCode": entry.municipality.lg_code,
                "name": entry.municipality.name,
                "prefectureCode": entry.municipality.prefecture_code,
                "prefecture": entry.municipality.prefecture,
                "registrations": cells(entry),
                "registrationsTotal": _sum_published(entry.registrations.values())[0],
                "newPerMonth": [entry.new.get(month) for month in months],
                "monthlyWithheld": entry.monthly_withheld,
            }
            for entry in published
        ],
    }
