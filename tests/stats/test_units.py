"""Units of the statistics: months and periods, the month truncation per SQL dialect, the
declarative series, the chart geometry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import column, create_engine, select, table
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import CompileError

from did.errors import MalformedValueError
from issuer import stats
from issuer.api import stats as stats_api

NOW = datetime(2027, 3, 15, 3, 0, tzinfo=UTC)


def test_a_month_is_a_month_in_japan() -> None:
    assert stats.Month.of(datetime(2027, 3, 31, 14, 59, 59, tzinfo=UTC)) == stats.Month(2027, 3)
    assert stats.Month.of(datetime(2027, 3, 31, 15, 0, tzinfo=UTC)) == stats.Month(2027, 4)
    assert stats.Month(2027, 4).start() == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
    assert stats.Month(2026, 12).plus(1) == stats.Month(2027, 1)
    assert stats.Month(2027, 1).plus(-1) == stats.Month(2026, 12)
    assert stats.Month(2027, 3).minus(stats.Month(2026, 4)) == 11
    assert str(stats.Month(2027, 3)) == "2027-03"


def test_the_default_period_is_the_last_twelve_months() -> None:
    period = stats.parse_period(None, None, NOW)
    assert (str(period.first), str(period.last)) == ("2026-04", "2027-03")
    assert len(period.months) == 12
    assert period.start == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    assert period.end == datetime(2027, 3, 31, 15, 0, tzinfo=UTC)
    assert str(stats.parse_period(None, "2026-06", NOW).first) == "2025-07"
    assert str(stats.parse_period("2027-01", None, NOW).last) == "2027-03"  # not the future


@pytest.mark.parametrize(
    ("first", "last"),
    [("2027-00", None), ("2027-1", None), (None, "2027-04"), ("2027-03", "2027-02"),
     ("2024-03", "2027-03"), ("1999-12", None), ("2101-01", None), ("２０２７-01", None)],
)  # fmt: skip
def test_bad_periods(first: str | None, last: str | None) -> None:
    with pytest.raises(MalformedValueError) as refused:
        stats.parse_period(first, last, NOW)
    assert refused.value.message_ja != refused.value.message_en


def test_month_truncation_in_each_dialect() -> None:
    rows = table("credentials", column("issued_at"))
    query = select(stats.month_jst(rows.c.issued_at))
    assert "strftime('%Y-%m', credentials.issued_at, '+9 hours')" in str(
        query.compile(dialect=sqlite.dialect())
    )
    assert "to_char(credentials.issued_at + interval '9 hours', 'YYYY-MM')" in str(
        query.compile(dialect=create_engine("postgresql+psycopg://").dialect)
    )
    with pytest.raises(CompileError, match="month_jst is not implemented for mysql"):
        str(query.compile(dialect=mysql.dialect()))


def test_the_series_are_declarative() -> None:
    keys = [s.key for s in stats.MONTHLY_SERIES]
    assert keys == [
        "newRegistrations",
        "renewals",
        "tierChanges",
        "checkIns",
        "documents",
        "handsRaised",
    ]
    assert len(set(keys)) == len(keys)
    assert {s.chart for s in stats.MONTHLY_SERIES} <= set(stats.CHARTS)
    for series in stats.MONTHLY_SERIES:
        assert series.ja
        assert series.en
        assert series.ja != series.en
    # a table named by a series is looked up when counted
    later = stats.table_source("not_yet_there", tenant="tenant_id")
    with pytest.raises(KeyError):
        later.rows("015814", NOW)


def test_nice_axis_tops() -> None:
    assert stats_api.nice_ceiling(0) == (4, 1)
    assert stats_api.nice_ceiling(7) == (8, 2)
    assert stats_api.nice_ceiling(4593) == (5000, 1000)
    top, step = stats_api.nice_ceiling(123_456)
    assert top >= 123_456
    assert top % step == 0
    assert top // step <= 5


def test_a_monthly_chart_has_a_bar_per_month_and_series() -> None:
    period = stats.parse_period("2026-01", "2027-03", NOW)
    series = [s for s in stats.MONTHLY_SERIES if s.chart == "registrations"]
    values = {s.key: [i * (n + 1) for i in range(len(period.months))] for n, s in enumerate(series)}
    chart = stats_api.monthly_chart("m", ("月別", "Monthly"), series, period, values, "monthly")
    assert len(chart.rects) == 15 * 3
    assert all(r.x >= 0 and r.x + r.width <= chart.width for r in chart.rects)
    assert all(r.y >= 0 and r.y + r.height <= chart.height + 0.01 for r in chart.rects)
    assert "2026-01〜2027-03" in chart.summary_ja
    assert f"{sum(values['newRegistrations']):,}" in chart.summary_ja
    labels = [t.text for t in chart.texts if t.text.endswith("月")]
    assert labels == ["1月", "3月", "5月", "7月", "9月", "11月", "1月", "3月"]  # every 2nd of 15
    assert chart.rects[-1].title == "2027-03 区分の変更 / Tier changes: 42"
