"""Statistics over HTTP: the console page, its CSV files, the admin API, the national aggregate.

* ``GET /admin/stats?from=YYYY-MM&to=YYYY-MM`` — the console page (the ``fvc_admin`` cookie,
  any role: admin, staff, auditor): tables and server-rendered SVG charts, Japanese first;
* ``GET /admin/stats.csv?table=…&from=…&to=…`` — each table as CSV (UTF-8 with a BOM and
  CRLF, so Excel opens it in Japanese; Japanese and English column headers);
* ``GET /admin/api/stats`` and ``GET /admin/api/stats.csv`` — the same with a bearer token
  (``read``: every role);
* ``GET /stats/national`` and ``GET /stats/national.csv`` — every municipality of the
  deployment summed, counts below k suppressed (``FURUSATO_STATS_K``).  Public open data: the
  argument is in docs/statistics.md.  Computed at most once per :data:`NATIONAL_TTL` per
  process (a public endpoint must not let anyone make the database sum everything at will).

The routes parse, call :mod:`issuer.stats`, and render; the chart geometry is computed here
(:func:`monthly_chart`, :func:`bar_chart`) and drawn by ``admin_stats.html``: no JavaScript,
nothing from elsewhere.
"""

from __future__ import annotations

import csv
import io
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from did.errors import FurusatoError, MalformedValueError
from issuer import stats
from issuer.api.admin import principal
from issuer.api.common import services
from issuer.api.pages import _console_principal, _page
from issuer.api.premium_pages import _refusal
from issuer.auth import PERMISSIONS, Principal
from issuer.bootstrap import Services
from issuer.tenants import TenantInfo, get_tenant

router = APIRouter(include_in_schema=False)
admin_router = APIRouter(prefix="/admin/api", tags=["admin"])
national_router = APIRouter(prefix="/stats", tags=["statistics"])

NATIONAL_TTL = 600.0  # seconds a computed national aggregate is served from memory
FromParam = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=7,
        pattern=r"^[0-9]{4}-[0-9]{2}$",
        description="最初の月 / first month, YYYY-MM (JST)",
    ),
]
ToParam = Annotated[
    str | None,
    Query(
        alias="to",
        max_length=7,
        pattern=r"^[0-9]{4}-[0-9]{2}$",
        description="最後の月 / last month, YYYY-MM (JST)",
    ),
]
TABLE_PATTERN = r"^(registrations|applications|monthly(-[a-z]{1,20})?)$"
TableParam = Annotated[str, Query(max_length=32, pattern=TABLE_PATTERN)]
NationalTableParam = Annotated[str, Query(max_length=16, pattern=r"^(registrations|monthly)$")]


# --- charts: geometry for the template ----------------------------------------------------------


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"
    css: str = ""


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = "grid"


@dataclass(frozen=True)
class Chart:
    """An SVG chart: its accessible name (title) and description in both languages, what to
    draw, the legend and the CSV table that holds its numbers."""

    key: str
    title_ja: str
    title_en: str
    summary_ja: str
    summary_en: str
    width: int
    height: int
    csv_table: str
    rects: list[Rect] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (css, ja, en)


def number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def nice_ceiling(value: int) -> tuple[int, int]:
    """A round top for an axis (≥ value) and its tick step: at most five steps."""
    if value <= 0:
        return 4, 1
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    whole = max(1, math.ceil(step))
    return math.ceil(value / whole) * whole, whole


def monthly_chart(
    key: str,
    title: tuple[str, str],
    series: Sequence[stats.Series],
    period: stats.Period,
    values: dict[str, list[int]],
    csv_table: str,
) -> Chart:
    """Grouped vertical bars: one group per month, one bar per series."""
    width, height = 400, 230
    left, right, top, bottom = 50, 8, 12, 38
    plot_w, plot_h = width - left - right, height - top - bottom
    months = period.months
    top_value, step = nice_ceiling(max((max(values[s.key], default=0) for s in series), default=0))
    chart = Chart(
        key=key,
        title_ja=title[0],
        title_en=title[1],
        summary_ja=f"{period.first}〜{period.last}: "
        + "、".join(f"{s.ja} 合計 {sum(values[s.key]):,}" for s in series)
        + "。月ごとの数は下の表にあります。",
        summary_en=f"{period.first} to {period.last}: "
        + "; ".join(f"{s.en} {sum(values[s.key]):,} in total" for s in series)
        + ". The numbers per month are in the table below.",
        width=width,
        height=height,
        csv_table=csv_table,
        legend=[(f"s{i}", s.ja, s.en) for i, s in enumerate(series)],
    )
    for tick in range(0, top_value + 1, step):
        y = top + plot_h - plot_h * tick / top_value
        chart.lines.append(Line(left, y, width - right, y, "grid" if tick else "axis"))
        chart.texts.append(Text(left - 6, y + 4, f"{tick:,}", "end", "tick"))
    group = plot_w / max(len(months), 1)
    bar = group * 0.8 / max(len(series), 1)
    every = max(1, math.ceil(len(months) / 12))
    for m, month in enumerate(months):
        x0 = left + m * group + group * 0.1
        for i, entry in enumerate(series):
            value = values[entry.key][m]
            h = plot_h * value / top_value
            chart.rects.append(
                Rect(
                    x0 + i * bar,
                    top + plot_h - h,
                    max(bar - 0.5, 0.5),
                    h,
                    f"s{i}",
                    f"{month} {entry.ja} / {entry.en}: {value:,}",
                )
            )
        if m % every == 0:
            cx = left + m * group + group / 2
            chart.texts.append(Text(cx, height - bottom + 15, f"{month.month}月", css="tick"))
            if m == 0 or month.month == 1:
                chart.texts.append(Text(cx, height - bottom + 30, str(month.year), css="tick"))
    return chart


@dataclass(frozen=True)
class BarRow:
    label_ja: str
    label_en: str
    segments: list[tuple[str, int, str]]  # (css, value, title)


def bar_chart(
    key: str,
    title: tuple[str, str],
    summary: tuple[str, str],
    rows: Sequence[BarRow],
    legend: list[tuple[str, str, str]],
    csv_table: str,
) -> Chart:
    """Horizontal bars, one per row, stacked by segment; the row's total at its end."""
    row_h, gap, top = 26, 12, 8
    left, right = 96, 64
    width = 400
    height = top * 2 + len(rows) * (row_h + gap)
    largest = max((sum(v for _, v, _ in row.segments) for row in rows), default=0) or 1
    plot_w = width - left - right
    chart = Chart(
        key=key,
        title_ja=title[0],
        title_en=title[1],
        summary_ja=summary[0],
        summary_en=summary[1],
        width=width,
        height=height,
        csv_table=csv_table,
        legend=legend,
    )
    chart.lines.append(Line(left, top / 2, left, height - top / 2, "axis"))
    for r, row in enumerate(rows):
        y = top + r * (row_h + gap)
        chart.texts.append(Text(left - 6, y + row_h / 2 - 1, row.label_ja, "end", "label"))
        chart.texts.append(Text(left - 6, y + row_h / 2 + 11, row.label_en, "end", "tick"))
        x = float(left)
        for css, value, label in row.segments:
            w = plot_w * value / largest
            if value:
                chart.rects.append(Rect(x, y, max(w, 0.5), row_h, css, label))
            x += w
        total = sum(v for _, v, _ in row.segments)
        chart.texts.append(Text(x + 4, y + row_h / 2 + 4, f"{total:,}", "start", "value"))
    return chart


STATE_CSS = {"active": "st-active", "suspended": "st-suspended", "expired": "st-expired"}
STATE_CSS["revoked"] = "st-revoked"


def registrations_chart(figures: stats.TenantFigures) -> Chart:
    rows = [
        BarRow(
            ja,
            en,
            [
                (
                    STATE_CSS[state],
                    figures.registrations[tier][state],
                    f"{ja} {stats.STATES[state][0]} / {en} {stats.STATES[state][1]}: "
                    f"{figures.registrations[tier][state]:,}",
                )
                for state in stats.STATES
            ],
        )
        for tier, (ja, en) in stats.TIERS.items()
    ]
    summary_ja = "、".join(
        f"{ja} {figures.registrations_total(tier=tier):,} ("
        + "・".join(
            f"{stats.STATES[s][0]} {figures.registrations[tier][s]:,}" for s in stats.STATES
        )
        + ")"
        for tier, (ja, _) in stats.TIERS.items()
    )
    summary_en = "; ".join(
        f"{en} {figures.registrations_total(tier=tier):,} ("
        + ", ".join(
            f"{stats.STATES[s][1]} {figures.registrations[tier][s]:,}" for s in stats.STATES
        )
        + ")"
        for tier, (_, en) in stats.TIERS.items()
    )
    return bar_chart(
        "registrations",
        ("登録者数 (区分・状態別)", "Registrations by tier and state"),
        (f"現在の登録者数: {summary_ja}。", f"Registrations now: {summary_en}."),
        rows,
        [(STATE_CSS[s], ja, en) for s, (ja, en) in stats.STATES.items()],
        "registrations",
    )


def applications_chart(figures: stats.TenantFigures) -> Chart:
    rows = [
        BarRow(
            ja,
            en,
            [("s0", figures.applications[state], f"{ja} / {en}: {figures.applications[state]:,}")],
        )
        for state, (ja, en) in stats.APPLICATION_STATES.items()
    ]
    return bar_chart(
        "applications",
        ("プレミアム申請 (状態別)", "Premium applications by state"),
        (
            "現在のプレミアム申請: "
            + "、".join(
                f"{ja} {figures.applications[s]:,}"
                for s, (ja, _) in stats.APPLICATION_STATES.items()
            )
            + "。",
            "Premium applications now: "
            + ", ".join(
                f"{en} {figures.applications[s]:,}"
                for s, (_, en) in stats.APPLICATION_STATES.items()
            )
            + ".",
        ),
        rows,
        [],
        "applications",
    )


def monthly_charts(figures: stats.TenantFigures) -> list[tuple[Chart, list[stats.Series]]]:
    out = []
    for key, title in stats.CHARTS.items():
        members = [s for s in figures.series if s.chart == key]
        if members:
            chart = monthly_chart(
                f"monthly-{key}", title, members, figures.period, figures.monthly, f"monthly-{key}"
            )
            out.append((chart, members))
    return out


# --- CSV ------------------------------------------------------------------------------------------

BOM = "\ufeff"


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """UTF-8 with a BOM and CRLF line ends: what Excel in Japan opens without asking."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return BOM + buffer.getvalue()


def heading(ja: str, en: str) -> str:
    return f"{ja} / {en}"


def tables_of(figures: stats.TenantFigures) -> dict[str, tuple[list[str], list[list[object]]]]:
    """Every table of the page, as a CSV header and rows, by its ``table`` name."""
    tables: dict[str, tuple[list[str], list[list[object]]]] = {}
    registration_rows: list[list[object]] = [
        [
            tier,
            ja,
            *(figures.registrations[tier][s] for s in stats.STATES),
            figures.registrations_total(tier=tier),
        ]
        for tier, (ja, _) in stats.TIERS.items()
    ]
    registration_rows.append(
        [
            "total",
            "合計",
            *(figures.registrations_total(state=s) for s in stats.STATES),
            figures.registrations_total(),
        ]
    )
    tables["registrations"] = (
        [heading("区分コード", "Tier code"), heading("区分", "Tier")]
        + [heading(ja, en.capitalize()) for ja, en in stats.STATES.values()]
        + [heading("合計", "Total")],
        registration_rows,
    )
    application_rows: list[list[object]] = [
        [state, ja, figures.applications[state]]
        for state, (ja, _) in stats.APPLICATION_STATES.items()
    ]
    tables["applications"] = (
        [heading("状態コード", "State code"), heading("状態", "State"), heading("件数", "Count")],
        application_rows,
    )

    def monthly(series: Sequence[stats.Series]) -> tuple[list[str], list[list[object]]]:
        return (
            [heading("年月", "Month")] + [heading(s.ja, s.en) for s in series],
            [
                [str(month)] + [figures.monthly[s.key][m] for s in series]
                for m, month in enumerate(figures.period.months)
            ],
        )

    tables["monthly"] = monthly(figures.series)
    for key in stats.CHARTS:
        members = [s for s in figures.series if s.chart == key]
        if members:
            tables[f"monthly-{key}"] = monthly(members)
    return tables


def csv_response(text: str, filename: str, *, public: bool = False) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "public, max-age=600" if public else "no-store",
        },
    )


def _table_csv(figures: stats.TenantFigures, table: str) -> Response:
    tables = tables_of(figures)
    if table not in tables:
        raise MalformedValueError(
            f"table: one of {', '.join(tables)}",
            f"table は {', '.join(tables)} のいずれかです",
            path="table",
        )
    header, rows = tables[table]
    period = f"-{figures.period.first}-{figures.period.last}" if table.startswith("monthly") else ""
    return csv_response(
        csv_text(header, rows), f"furusato-stats-{figures.lg_code}-{table}{period}.csv"
    )


# --- the municipality's statistics ----------------------------------------------------------------


def _figures(
    svc: Services, who: Principal, first: str | None, last: str | None
) -> tuple[TenantInfo, stats.TenantFigures]:
    now = svc.clock()
    period = stats.parse_period(first, last, now)
    with svc.db.read() as session:
        tenant = get_tenant(session, who.lg_code)
        figures = stats.tenant_figures(session, who.lg_code, period, now=now)
    return tenant, figures


def _console_reader(svc: Services, request: Request) -> Principal:
    who = _console_principal(svc, request)
    who.require("read")
    return who


@router.get("/admin/stats", response_class=HTMLResponse)
def stats_page(request: Request, first: FromParam = None, last: ToParam = None) -> HTMLResponse:
    svc = services(request)
    try:
        who = _console_reader(svc, request)
        tenant, figures = _figures(svc, who, first, last)
    except FurusatoError as exc:
        return _refusal(request, exc)
    current = stats.Month.of(figures.as_of)
    page = _page(
        request,
        "admin_stats.html",
        {
            "tenant": tenant,
            "role": who.role,
            "section": "stats",
            "permissions": PERMISSIONS,
            "figures": figures,
            "registrations": registrations_chart(figures),
            "applications": applications_chart(figures),
            "monthly": monthly_charts(figures),
            "tiers": stats.TIERS,
            "states": stats.STATES,
            "application_states": stats.APPLICATION_STATES,
            "number": number,
            "as_of": figures.as_of.astimezone(stats.JST).strftime("%Y-%m-%d %H:%M JST"),
            "query": f"from={figures.period.first}&to={figures.period.last}",
            "current": str(current),
            "presets": [
                (n, str(current.plus(1 - n)))
                for n in (12, 24, stats.MAX_MONTHS)
                if n <= stats.MAX_MONTHS
            ],
        },
    )
    page.headers["Cache-Control"] = "no-store"
    return page


@router.get("/admin/stats.csv")
def stats_csv_page(
    request: Request,
    table: TableParam = "registrations",
    first: FromParam = None,
    last: ToParam = None,
) -> Response:
    svc = services(request)
    try:
        who = _console_reader(svc, request)
        _, figures = _figures(svc, who, first, last)
        return _table_csv(figures, table)
    except FurusatoError as exc:
        return _refusal(request, exc)


@admin_router.get(
    "/stats",
    operation_id="admin_stats",
    summary="統計: 登録者数・月別の動き・活動・プレミアム申請 / Statistics of the municipality",
)
def stats_api(request: Request, first: FromParam = None, last: ToParam = None) -> JSONResponse:
    svc = services(request)
    who = principal(svc, request, "read")
    tenant, figures = _figures(svc, who, first, last)
    body = stats.figures_json(figures)
    body["name"] = tenant.name
    body["prefecture"] = tenant.prefecture
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@admin_router.get(
    "/stats.csv",
    operation_id="admin_stats_csv",
    summary="統計の表 (CSV, UTF-8 BOM 付き) / A statistics table as CSV",
    response_class=Response,
)
def stats_api_csv(
    request: Request,
    table: TableParam = "registrations",
    first: FromParam = None,
    last: ToParam = None,
) -> Response:
    svc = services(request)
    who = principal(svc, request, "read")
    _, figures = _figures(svc, who, first, last)
    return _table_csv(figures, table)


# --- the national aggregate -----------------------------------------------------------------------


class NationalCache:
    """The exact national counts of this process, recomputed after :data:`NATIONAL_TTL`; one
    thread computes while the others wait for its result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: stats.NationalCounts | None = None
        self._at = 0.0

    def get(self, svc: Services) -> stats.NationalCounts:
        with self._lock:
            if self._counts is None or time.monotonic() - self._at > NATIONAL_TTL:
                with svc.db.read() as session:
                    self._counts = stats.national_counts(session, svc.clock())
                self._at = time.monotonic()
            return self._counts


_CACHE_LOCK = threading.Lock()


def national_cache(request: Request) -> NationalCache:
    state = request.app.state
    with _CACHE_LOCK:
        cache = getattr(state, "furusato_national_stats", None)
        if not isinstance(cache, NationalCache):
            cache = NationalCache()
            state.furusato_national_stats = cache
        return cache


def _national(request: Request, first: str | None, last: str | None) -> dict[str, Any]:
    svc = services(request)
    period = stats.parse_period(first, last, svc.clock())
    counts = national_cache(request).get(svc)
    return stats.publish_national(counts, svc.settings.stats_k, period)


@national_router.get(
    "/national",
    operation_id="national_stats",
    summary="全国集計 (k 未満は非公開) / National aggregate, counts below k suppressed",
)
def national(request: Request, first: FromParam = None, last: ToParam = None) -> JSONResponse:
    body = _national(request, first, last)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=600"})


def _shown(value: int | None, k: int) -> object:
    return f"<{k}" if value is None else value


def national_tables(body: dict[str, Any], table: str) -> tuple[list[str], list[list[object]]]:
    """The national aggregate as one CSV table: a row for the nation, each prefecture and each
    municipality; suppressed cells read ``<k``."""
    k = int(body["k"])
    levels: list[tuple[str, str, str, str, dict[str, Any]]] = [
        ("全国", "national", "", "全国", body["national"])
    ]
    levels += [
        ("都道府県", p["prefectureCode"], p["name"], p["name"], p) for p in body["prefectures"]
    ]
    levels += [
        ("市区町村", m["lgCode"], m["prefecture"], m["name"], m) for m in body["municipalities"]
    ]
    header = [
        heading("区分", "Level"),
        heading("団体コード", "Code"),
        heading("都道府県", "Prefecture"),
        heading("名称", "Name"),
    ]
    rows: list[list[object]] = []
    if table == "registrations":
        header += [
            heading(f"{tja}・{sja}", f"{ten} {sen}")
            for tja, ten in stats.TIERS.values()
            for sja, sen in stats.STATES.values()
        ]
        header.append(heading("合計 (公開セルの和)", "Total (sum of published cells)"))
        for level, code, prefecture, name, entry in levels:
            cells = [
                _shown(entry["registrations"][tier][state], k)
                for tier in stats.TIERS
                for state in stats.STATES
            ]
            rows.append(
                [level, code, prefecture, name, *cells, _shown(entry["registrationsTotal"], k)]
            )
    else:
        header += [
            heading(f"新規登録 {month}", f"New registrations {month}")
            for month in body["period"]["months"]
        ]
        for level, code, prefecture, name, entry in levels:
            rows.append(
                [level, code, prefecture, name, *(_shown(v, k) for v in entry["newPerMonth"])]
            )
    return header, rows


@national_router.get(
    "/national.csv",
    operation_id="national_stats_csv",
    summary="全国集計 (CSV) / National aggregate as CSV",
    response_class=Response,
)
def national_csv(
    request: Request,
    table: NationalTableParam = "registrations",
    first: FromParam = None,
    last: ToParam = None,
) -> Response:
    body = _national(request, first, last)
    header, rows = national_tables(body, table)
    period = f"-{body['period']['from']}-{body['period']['to']}" if table == "monthly" else ""
    return csv_response(
        csv_text(header, rows), f"furusato-national-{table}{period}.csv", public=True
    )
