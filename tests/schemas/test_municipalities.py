"""The MIC municipality table and lgCode check digits."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from did.errors import MalformedValueError
from schemas.municipalities import (
    UnknownMunicipalityError,
    check_digit,
    municipality_table,
    prefecture_code_of,
    validate_lg_code,
)


def test_table_counts() -> None:
    table = municipality_table()
    assert len(table.prefectures()) == 47
    assert len(table.municipalities()) == 1741


@pytest.mark.parametrize(
    ("code", "prefecture", "name"),
    [
        ("015814", "北海道", "厚真町"),
        ("131016", "東京都", "千代田区"),
        ("011002", "北海道", "札幌市"),
        ("473821", "沖縄県", "与那国町"),
        ("010006", "北海道", "北海道"),
    ],
)
def test_known_rows(code: str, prefecture: str, name: str) -> None:
    row = municipality_table().get(code)
    assert (row.prefecture, row.name) == (prefecture, name)


def test_check_digit_known_answers() -> None:
    # 0·6+1·5+5·4+8·3+1·2 = 51; 51 mod 11 = 7; 11 − 7 = 4
    assert check_digit("01581") == 4
    # remainder 0 → 11 → last digit 1; remainder 1 → 10 → 0
    assert check_digit("00000") == 1
    assert check_digit("00002") == 7


def test_every_row_has_a_valid_check_digit_and_prefecture() -> None:
    table = municipality_table()
    for code, row in table.by_code.items():
        assert validate_lg_code(code) == code
        assert table.prefecture_of(code).prefecture == row.prefecture
        assert prefecture_code_of(code) == table.prefecture_of(code).lg_code


@pytest.mark.parametrize("bad", ["01581", "0158140", "01581X", "015815", "０１５８１４", ""])
def test_malformed_codes(bad: str) -> None:
    with pytest.raises(MalformedValueError) as raised:
        validate_lg_code(bad)
    assert raised.value.message_ja
    assert raised.value.path == "lgCode"


def test_well_formed_but_unknown() -> None:
    code = "99999" + str(check_digit("99999"))
    with pytest.raises(UnknownMunicipalityError):
        municipality_table().get(code)


@given(st.text(max_size=8))
def test_validate_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(MalformedValueError):
        assert validate_lg_code(text) == text


@given(st.from_regex(r"[0-9]{5}", fullmatch=True))
def test_exactly_one_check_digit_validates(first_five: str) -> None:
    valid = [d for d in "0123456789" if _valid(first_five + d)]
    assert valid == [str(check_digit(first_five))]


def _valid(code: str) -> bool:
    try:
        validate_lg_code(code)
    except MalformedValueError:
        return False
    return True
