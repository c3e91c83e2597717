"""The home municipality of a proven address: address string → lgCode (DESIGN.md §1, §10).

Premium registration refuses the person's home municipality (住所地).  The home is read from
the address the My Number Card proves (the JPKI certificate or the OIDC ``address`` claim), a
plain Japanese address such as 「北海道札幌市中央区北1条西2丁目1番地」 or
「長野県北佐久郡軽井沢町大字軽井沢1323」, and looked up in the MIC table
(:mod:`schemas.municipalities`: 47 prefectures, 1,741 municipalities — Tokyo's 23 特別区 are
rows of their own, a 政令指定都市 is one row and its wards are not rows).

Algorithm
---------
1. **Normalize** (:func:`normalize_address`): NFKC (full-width digits and letters, half-width
   katakana, the ideographic space), then drop every space, format character (zero-width
   space, BOM…) and variation selector; a leading postal code (``〒100-8111``) is dropped.
2. **Fold** for matching, on the address and on the table's names alike, one character for one
   character (so positions never shift):

   * ヶ/ケ/ヵ/が/ガ between two kanji are one letter (茅ケ崎 = 茅ヶ崎, 鶴が島 = 鶴ヶ島), and so
     are ノ/の/之 between two kanji (上の国 = 上ノ国, 日ノ出 = 日の出).  In kana words they are
     left alone (つがる市, かすみがうら市, ときがわ町 keep their が).
   * a handful of old/new kanji pairs that are written both ways in addresses: 龍/竜, 檜/桧,
     鰺/鯵, 竈/竃/釜 (塩竈), 檮/梼, 舘/館, 﨑/崎, 髙/高, 邊/邉/辺, 澤/沢, 濱/浜, 冨/富, 德/徳.

   The resolver checks, when it is built, that folding never makes two municipalities of one
   prefecture look alike.  嶋/島 is deliberately *not* folded (鹿嶋市 in 茨城県 and 鹿島市 in
   佐賀県 are different cities).
3. **Prefecture**: the longest of the 47 names (北海道, 東京都, 大阪府, 京都府, …県) that starts
   the address.  The municipality is then looked up in that prefecture only (東京都伊達市 does
   not exist; it is not "corrected" to another prefecture).  Without a prefecture the whole
   table is searched and the result must be unique: 札幌市… and 北佐久郡軽井沢町… resolve,
   府中市…, 伊達市…, 池田町… do not.
4. **Municipality** at that point, by three routes:

   * *direct*: the longest table name that the text continues with.  Longest-match is what
     keeps 東村山市 (東京都) from reading as 東村 (沖縄県) + 山市, and what makes every
     continuation harmless — a ward (札幌市中央区, 浜松市浜名区 of the 2024 reorganisation),
     a Kyoto street direction (京都市中京区烏丸通御池上る…), 大字/字/丁目/番地/号, or an 区 or
     町 inside an 大字 name.  Names that contain 市/町/村/区/郡 inside them (四日市市, 廿日市市,
     市川市, 町田市, 大町市, 十日町市, 村山市, 野々市市, 余市町, 郡山市, 大和郡山市, 上郡町,
     蒲郡市…) need no special case: the whole name, suffix included, is matched.
   * *behind a 郡*: 1–6 characters, then 郡, then the longest 町 or 村 (a 郡 holds only towns
     and villages) — 北佐久郡軽井沢町 → 軽井沢町; the 郡 name itself is never looked up.
     When both routes match, a direct 市 or 区 wins (鹿児島市郡元…, 大和郡山市…; no 郡 name
     begins with a complete city name), a direct 町/村 that ends inside the 郡 name loses
     (東村山郡山辺町 is 山形県山辺町, not 東村), and one that runs past the 郡 wins (上郡町).
   * *behind an island*: only when neither route matched, 1–6 characters, then 島, then a 町 or
     村 — the customary 東京都八丈島八丈町 and 東京都三宅島三宅村.  Islands that are a
     municipality themselves (東京都青ヶ島村, 利島村…) match directly; islands in a 郡 (鹿児島県
     大島郡徳之島町, 島根県隠岐郡隠岐の島町) take the 郡 route.

5. **Wards of designated cities** need no table rows: the city matches and the ward is part of
   the continuation (札幌市中央区 → 札幌市 011002).  :data:`DESIGNATED_CITY_WARDS` lists the 171
   wards of the 20 cities (as of the 浜松市 reorganisation of 2024-01-01) for one purpose:
   without a prefecture, a Tokyo ward whose name is also the ward of a designated city
   (中央区, 北区, 港区) is ambiguous and refused, not taken to be Tokyo's.  A ward written
   without its city (北海道中央区…, 神奈川県港北区…) is not resolved.

An address that does not resolve to exactly one municipality raises
:class:`AddressUnresolvedError` (code ``address_unresolved``).  Its messages say why in general
terms and never contain the address or any part of it; this module logs nothing.

Out of scope
------------
Prefectures written without 都/府/県 (東京千代田区), 郡 or island names used to tell apart two
towns of the same name when the prefecture is missing (上川郡清水町 without 北海道), 支庁 and
振興局 prefixes, romanized addresses, municipality names from before a merger, 々 written as a
repeated kanji (野野市市), and kanji variants other than those listed above.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import ClassVar

from issuer.identity import PROBLEM_BASE, IdentityError
from schemas.municipalities import Municipality, MunicipalityTable, municipality_table

__all__ = [
    "DESIGNATED_CITY_WARDS",
    "MAX_ADDRESS_LENGTH",
    "AddressResolver",
    "AddressUnresolvedError",
    "default_resolver",
    "home_lg_code",
    "home_municipality",
    "normalize_address",
]

MAX_ADDRESS_LENGTH = 512
"""Longest address accepted, in characters, before and after normalization (STYLE.md 7)."""

_MAX_DIVISION_NAME = 6
"""Most characters a 郡 or island name may have before its 郡/島 (real ones have 1–4)."""


class AddressUnresolvedError(IdentityError):
    """The home municipality of a proven address could not be determined.

    ``reason`` is one of ``not_text``, ``empty``, ``too_long``, ``no_match``, ``ambiguous``.
    The messages never contain the address.
    """

    code = "address_unresolved"
    problem_type = PROBLEM_BASE + "address_unresolved"
    title_en = "Home municipality not determined"
    title_ja = "住所地の市区町村を特定できません"

    _REASONS: ClassVar[Mapping[str, tuple[str, str]]] = MappingProxyType(
        {
            "not_text": ("the address is not text", "住所が文字列ではありません"),
            "empty": ("the address is empty", "住所が空です"),
            "too_long": (
                f"the address is longer than {MAX_ADDRESS_LENGTH} characters",
                f"住所が {MAX_ADDRESS_LENGTH} 文字を超えています",
            ),
            "no_match": (
                "no municipality of the MIC table matches it",
                "総務省の自治体コード表のどの市区町村とも一致しません",
            ),
            "ambiguous": (
                "several municipalities have that name and no prefecture is given",
                "都道府県名がなく、同じ名前の市区町村が複数あります",
            ),
        }
    )

    def __init__(self, reason: str) -> None:
        reason_en, reason_ja = self._REASONS[reason]
        super().__init__(
            f"the home municipality could not be determined from the proven address: {reason_en}",
            f"本人確認された住所から住所地の市区町村を特定できません: {reason_ja}",
        )
        self.reason = reason


# --- the 20 designated cities and their wards ----------------------------------------------

_WARDS = {
    "011002": "中央区 北区 東区 白石区 豊平区 南区 西区 厚別区 手稲区 清田区",  # 札幌市
    "041009": "青葉区 宮城野区 若林区 太白区 泉区",  # 仙台市
    "111007": "西区 北区 大宮区 見沼区 中央区 桜区 浦和区 南区 緑区 岩槻区",  # さいたま市
    "121002": "中央区 花見川区 稲毛区 若葉区 緑区 美浜区",  # 千葉市
    "141003": (  # 横浜市
        "鶴見区 神奈川区 西区 中区 南区 保土ケ谷区 磯子区 金沢区 港北区 "
        "戸塚区 港南区 旭区 緑区 瀬谷区 栄区 泉区 青葉区 都筑区"
    ),
    "141305": "川崎区 幸区 中原区 高津区 多摩区 宮前区 麻生区",  # 川崎市
    "141500": "緑区 中央区 南区",  # 相模原市
    "151009": "北区 東区 中央区 江南区 秋葉区 南区 西区 西蒲区",  # 新潟市
    "221007": "葵区 駿河区 清水区",  # 静岡市
    "221309": "中央区 浜名区 天竜区",  # 浜松市, since 2024-01-01 (before: 中 東 西 南 北 浜北 天竜)
    "231002": (  # 名古屋市
        "千種区 東区 北区 西区 中村区 中区 昭和区 瑞穂区 熱田区 中川区 "
        "港区 南区 守山区 緑区 名東区 天白区"
    ),
    "261009": (  # 京都市
        "北区 上京区 左京区 中京区 東山区 下京区 南区 右京区 伏見区 山科区 西京区"
    ),
    "271004": (  # 大阪市
        "都島区 福島区 此花区 西区 港区 大正区 天王寺区 浪速区 西淀川区 東淀川区 東成区 "
        "生野区 旭区 城東区 阿倍野区 住吉区 東住吉区 西成区 淀川区 鶴見区 住之江区 "
        "平野区 北区 中央区"
    ),
    "271403": "堺区 中区 東区 西区 南区 北区 美原区",  # 堺市
    "281000": "東灘区 灘区 兵庫区 長田区 須磨区 垂水区 北区 中央区 西区",  # 神戸市
    "331007": "北区 中区 東区 南区",  # 岡山市
    "341002": "中区 東区 南区 西区 安佐南区 安佐北区 安芸区 佐伯区",  # 広島市
    "401005": "門司区 若松区 戸畑区 小倉北区 小倉南区 八幡東区 八幡西区",  # 北九州市
    "401307": "東区 博多区 中央区 南区 西区 城南区 早良区",  # 福岡市
    "431001": "中央区 東区 西区 南区 北区",  # 熊本市
}

DESIGNATED_CITY_WARDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {code: tuple(wards.split()) for code, wards in _WARDS.items()}
)
"""lgCode of each 政令指定都市 → the names of its wards (行政区), 171 in all."""


# --- normalizing and folding ---------------------------------------------------------------

_POSTAL_CODE = re.compile(r"〒?[0-9]{3}[-‐−ー]?[0-9]{4}")


def _dropped(ch: str) -> bool:
    code = ord(ch)
    return (
        ch.isspace()
        or unicodedata.category(ch) == "Cf"
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
    )


def normalize_address(address: str) -> str:
    """NFKC, without spaces, format characters, variation selectors or a leading postal code."""
    text = unicodedata.normalize("NFKC", address)
    text = "".join(ch for ch in text if not _dropped(ch))
    postal = _POSTAL_CODE.match(text)
    return text[postal.end() :] if postal else text


_KANJI_VARIANTS = str.maketrans(
    {
        "龍": "竜",
        "檜": "桧",
        "鰺": "鯵",
        "竈": "釜",
        "竃": "釜",
        "檮": "梼",
        "舘": "館",
        "﨑": "崎",
        "髙": "高",
        "邊": "辺",
        "邉": "辺",
        "澤": "沢",
        "濱": "浜",
        "冨": "富",
        "德": "徳",
    }
)
_KE = frozenset("ヶケヵがガ")
_NO = frozenset("ノの之")


def _is_kanji(ch: str) -> bool:
    return (
        "\u3400" <= ch <= "\u4dbf"
        or "\u4e00" <= ch <= "\u9fff"
        or "\uf900" <= ch <= "\ufaff"
        or "\U00020000" <= ch <= "\U0003ffff"
        or ch in "々〆"
    )


def _fold(text: str) -> str:
    """The matching form of normalized text: exactly one character per character."""
    chars = list(text.translate(_KANJI_VARIANTS))
    for i in range(1, len(chars) - 1):
        ch = chars[i]
        if (ch in _KE or ch in _NO) and _is_kanji(chars[i - 1]) and _is_kanji(chars[i + 1]):
            chars[i] = "ヶ" if ch in _KE else "ノ"
    return "".join(chars)


# --- the resolver --------------------------------------------------------------------------

_Names = Mapping[str, tuple[Municipality, ...]]


@dataclass(frozen=True)
class _Found:
    end: int
    marker: int  # index of the 郡/島 the route went behind; -1 for a direct match
    municipalities: tuple[Municipality, ...]


def _any(_: Municipality) -> bool:
    return True


def _town_or_village(m: Municipality) -> bool:
    return m.city.endswith(("町", "村"))


class AddressResolver:
    """Finds the municipality of an address in one municipality table (build once, reuse)."""

    def __init__(self, table: MunicipalityTable) -> None:
        prefectures = sorted(table.prefectures(), key=lambda p: -len(p.prefecture))
        self._prefectures = tuple((_fold(p.prefecture), p) for p in prefectures)
        by_prefecture: dict[str, dict[str, tuple[Municipality, ...]]] = {}
        everywhere: dict[str, tuple[Municipality, ...]] = {}
        for m in table.municipalities():
            key = _fold(m.city)
            in_prefecture = by_prefecture.setdefault(m.prefecture, {})
            if key in in_prefecture:
                raise ValueError(
                    f"municipality table: {m.prefecture}{m.city} and "
                    f"{in_prefecture[key][0].full_name} cannot be told apart"
                )
            in_prefecture[key] = (m,)
            everywhere[key] = (*everywhere.get(key, ()), m)
        self._by_prefecture: Mapping[str, _Names] = by_prefecture
        self._everywhere: _Names = everywhere
        self._longest = max((len(key) for key in everywhere), default=0)
        self._ward_names = frozenset(
            _fold(ward)
            for code, wards in DESIGNATED_CITY_WARDS.items()
            if code in table
            for ward in wards
        )

    def resolve(self, address: str) -> Municipality:
        """The municipality of ``address``; raises :class:`AddressUnresolvedError`."""
        if not isinstance(address, str):
            raise AddressUnresolvedError("not_text")
        if len(address) > MAX_ADDRESS_LENGTH:
            raise AddressUnresolvedError("too_long")
        text = normalize_address(address)
        if not text:
            raise AddressUnresolvedError("empty")
        if len(text) > MAX_ADDRESS_LENGTH:
            raise AddressUnresolvedError("too_long")
        key = _fold(text)
        prefecture = next((p for p in self._prefectures if key.startswith(p[0])), None)
        if prefecture is None:
            names, start = self._everywhere, 0
        else:
            names, start = self._by_prefecture.get(prefecture[1].prefecture, {}), len(prefecture[0])
        found = self._locate(key, start, names)
        if found is None:
            raise AddressUnresolvedError("no_match")
        if len(found) > 1:
            raise AddressUnresolvedError("ambiguous")
        (municipality,) = found
        if prefecture is None and _fold(municipality.city) in self._ward_names:
            raise AddressUnresolvedError("ambiguous")
        return municipality

    def _locate(self, key: str, start: int, names: _Names) -> tuple[Municipality, ...] | None:
        direct = self._longest_name(key, start, names, _any)
        if direct is not None and direct.municipalities[0].city.endswith(("市", "区")):
            return direct.municipalities
        behind_gun = self._behind(key, start, names, "郡")
        if behind_gun is not None and (direct is None or direct.end <= behind_gun.marker):
            return behind_gun.municipalities
        if direct is not None:
            return direct.municipalities
        behind_island = self._behind(key, start, names, "島")
        return behind_island.municipalities if behind_island is not None else None

    def _longest_name(
        self, key: str, start: int, names: _Names, accept: Callable[[Municipality], bool]
    ) -> _Found | None:
        for end in range(min(len(key), start + self._longest), start, -1):
            found = names.get(key[start:end])
            if found and accept(found[0]):
                return _Found(end, -1, found)
        return None

    def _behind(self, key: str, start: int, names: _Names, marker: str) -> _Found | None:
        """A town or village right after ``marker`` (郡 or 島), which ends a 1–6 character name."""
        for at in range(start + 1, min(len(key), start + _MAX_DIVISION_NAME + 1)):
            if key[at] != marker:
                continue
            found = self._longest_name(key, at + 1, names, _town_or_village)
            if found is not None:
                return _Found(found.end, at, found.municipalities)
        return None


@cache
def default_resolver() -> AddressResolver:
    """The resolver over the bundled MIC table (built once)."""
    return AddressResolver(municipality_table())


def home_municipality(address: str, *, resolver: AddressResolver | None = None) -> Municipality:
    """The municipality of a proven address (the person's home, 住所地).

    Raises :class:`AddressUnresolvedError` (an :class:`~issuer.identity.IdentityError`, code
    ``address_unresolved``) unless exactly one municipality fits; the error never repeats the
    address.
    """
    return (resolver or default_resolver()).resolve(address)


def home_lg_code(address: str, *, resolver: AddressResolver | None = None) -> str:
    """The lgCode of :func:`home_municipality` (``011002`` for 札幌市中央区…)."""
    return home_municipality(address, resolver=resolver).lg_code
