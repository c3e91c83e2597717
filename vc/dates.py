"""Date-times on the wire: XML Schema ``dateTimeStamp`` (VCDM 2.0 §4.9, §5.8).

VCDM 2.0 requires a time-zone offset (``Z`` or ``±hh:mm``); VCDM 1.1's ``xsd:dateTime``
does not, and a value without one is read as UTC.  The regular expression of VCDM §5.8 accepts
impossible dates (Feb 31), so values are also parsed for real.  Years outside 0001–9999 are
refused (Python cannot represent them, and no credential of ours needs them).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from did.errors import MalformedValueError

_DATE_TIME = re.compile(
    r"(?P<year>-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-(?P<month>0[1-9]|1[0-2])"
    r"-(?P<day>0[1-9]|[12][0-9]|3[01])"
    r"T(?P<time>(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?|24:00:00(?:\.0+)?)"
    r"(?P<tz>Z|[+\-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)
_DATE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")


def _bad(value: object, path: str, why_en: str, why_ja: str) -> MalformedValueError:
    shown = repr(value)[:80]
    return MalformedValueError(
        f"{path}: {shown} is not a valid date-time ({why_en})",
        f"{path}: {shown} は正しい日時ではありません ({why_ja})",
        path=path,
    )


def parse_datetime(value: object, path: str, *, require_offset: bool = True) -> datetime:
    """Parse a dateTimeStamp (``require_offset``) or xsd:dateTime into an aware UTC datetime."""
    if not isinstance(value, str):
        raise _bad(value, path, "not a string", "文字列ではありません")
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise _bad(
            value,
            path,
            "expected e.g. 2027-01-15T00:00:00Z",
            "例: 2027-01-15T00:00:00Z の形式が必要です",
        )
    if match["tz"] is None and require_offset:
        raise _bad(
            value,
            path,
            "a time-zone offset (Z or +09:00) is required",
            "タイムゾーン (Z または +09:00) が必要です",
        )
    year = int(match["year"])
    if not 1 <= year <= 9999:
        raise _bad(value, path, "year out of range", "年が範囲外です")
    time_part = match["time"]
    end_of_day = time_part.startswith("24:")
    hms, _, fraction = time_part.partition(".")
    hour, minute, second = (int(x) for x in hms.split(":"))
    micro = int((fraction + "000000")[:6]) if fraction else 0
    try:
        result = datetime(
            year,
            int(match["month"]),
            int(match["day"]),
            0 if end_of_day else hour,
            minute,
            second,
            micro,
            tzinfo=UTC,
        )
    except ValueError:
        raise _bad(value, path, "no such day", "存在しない日付です") from None
    tz = match["tz"]
    try:
        if end_of_day:
            result += timedelta(days=1)
        if tz and tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            result -= sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    except OverflowError:  # 9999-12-31T24:00:00Z, 0001-01-01T00:00:00+01:00
        raise _bad(value, path, "year out of range", "年が範囲外です") from None
    return result


def parse_date(value: object, path: str) -> date:
    """Parse an ``xsd:date`` without offset (``2027-01-15``)."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise MalformedValueError(
            f"{path}: {repr(value)[:80]} is not a date like 2027-01-15",
            f"{path}: {repr(value)[:80]} は 2027-01-15 の形式の日付ではありません",
            path=path,
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedValueError(
            f"{path}: {value} is not a real day",
            f"{path}: {value} は存在しない日付です",
            path=path,
        ) from None


def format_precise(moment: datetime) -> str:
    """Like :func:`format_datetime`, keeping fractional seconds when there are any (for key
    validity windows, where two events can fall within one second)."""
    text = format_datetime(moment)
    micro = moment.astimezone(UTC).microsecond
    if not micro:
        return text
    return text[:-1] + "." + f"{micro:06d}".rstrip("0") + "Z"


def format_datetime(moment: datetime) -> str:
    """UTC, whole seconds, ``Z``: the form we write on the wire."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    utc = moment.astimezone(UTC)
    # strftime does not pad years below 1000; the wire form needs four digits.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"
