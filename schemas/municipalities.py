"""The municipality table: the MIC's 全国地方公共団体コード with check digits.

An lgCode is six digits: two for the prefecture, three for the municipality, and a check
digit computed with weights 6, 5, 4, 3, 2 modulo 11 (総務省「全国地方公共団体コード」仕様:
check = 11 − (Σ mod 11), keeping the last digit when the result has two digits).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from did.errors import MalformedValueError

_WEIGHTS = (6, 5, 4, 3, 2)


class UnknownMunicipalityError(MalformedValueError):
    """A well-formed lgCode that is not in the table."""

    code = "unknown_municipality"
    title_en = "Unknown municipality"
    title_ja = "登録されていない自治体コードです"


def check_digit(first_five: str) -> int:
    """The check digit of the five leading digits of an lgCode."""
    if len(first_five) != 5 or not first_five.isascii() or not first_five.isdigit():
        raise MalformedValueError(
            f"expected five digits, got {first_five!r}",
            f"5桁の数字が必要です: {first_five!r}",
        )
    total = sum(int(d) * w for d, w in zip(first_five, _WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def validate_lg_code(code: str) -> str:
    """Return ``code`` if it is six ASCII digits with a correct check digit, else raise."""
    if not isinstance(code, str) or len(code) != 6 or not code.isascii() or not code.isdigit():
        raise MalformedValueError(
            f"an lgCode is six digits (e.g. 015814), got {code!r}",
            f"自治体コードは6桁の数字です (例: 015814): {code!r}",
            path="lgCode",
        )
    if check_digit(code[:5]) != int(code[5]):
        raise MalformedValueError(
            f"lgCode {code} has a wrong check digit (expected {check_digit(code[:5])})",
            f"自治体コード {code} の検査数字が誤っています (正しくは {check_digit(code[:5])})",
            path="lgCode",
        )
    return code


def prefecture_code_of(code: str) -> str:
    """The lgCode of the prefecture a (valid) lgCode belongs to: ``01xxxx`` → ``010006``."""
    first_five = code[:2] + "000"
    return first_five + str(check_digit(first_five))


@dataclass(frozen=True, slots=True)
class Municipality:
    """One row of the table.  For a prefecture itself ``city`` is empty."""

    lg_code: str
    prefecture: str
    city: str
    prefecture_kana: str
    city_kana: str

    @property
    def is_prefecture(self) -> bool:
        return not self.city

    @property
    def name(self) -> str:
        """The display name: the city, or the prefecture for a prefecture row."""
        return self.city or self.prefecture

    @property
    def prefecture_code(self) -> str:
        return prefecture_code_of(self.lg_code)

    @property
    def full_name(self) -> str:
        """Prefecture and city, as written on an address: 北海道厚真町."""
        return self.prefecture + self.city


@dataclass(frozen=True)
class MunicipalityTable:
    """All municipalities and prefectures, keyed by lgCode."""

    by_code: dict[str, Municipality]

    @classmethod
    def from_csv(cls, text: str) -> MunicipalityTable:
        rows: dict[str, Municipality] = {}
        reader = csv.DictReader(io.StringIO(text))
        for line_no, row in enumerate(reader, start=2):
            try:
                code = validate_lg_code(row["code"])
            except MalformedValueError as exc:
                raise MalformedValueError(
                    f"municipality table line {line_no}: {exc.message_en}",
                    f"自治体コード表 {line_no} 行目: {exc.message_ja}",
                ) from exc
            rows[code] = Municipality(
                lg_code=code,
                prefecture=row["prefecture"],
                city=row["city"],
                prefecture_kana=row["prefecture_kana"],
                city_kana=row["city_kana"],
            )
        return cls(rows)

    def get(self, code: str) -> Municipality:
        """The row for a valid lgCode; raises for a malformed or unknown one."""
        validate_lg_code(code)
        try:
            return self.by_code[code]
        except KeyError:
            raise UnknownMunicipalityError(
                f"lgCode {code} is not in the municipality table",
                f"自治体コード {code} は自治体コード表にありません",
                path="lgCode",
            ) from None

    def prefecture_of(self, code: str) -> Municipality:
        return self.get(prefecture_code_of(validate_lg_code(code)))

    def municipalities(self) -> list[Municipality]:
        """Every municipality (not the prefectures), in code order."""
        return [m for m in self.by_code.values() if not m.is_prefecture]

    def prefectures(self) -> list[Municipality]:
        return [m for m in self.by_code.values() if m.is_prefecture]

    def __len__(self) -> int:
        return len(self.by_code)

    def __contains__(self, code: object) -> bool:
        return code in self.by_code


@cache
def municipality_table() -> MunicipalityTable:
    """The bundled table (read once)."""
    text = resources.files("schemas").joinpath("data/municipalities.csv").read_text("utf-8")
    return MunicipalityTable.from_csv(text)
