"""The home municipality of a proven address (issuer.identity.address, DESIGN.md §10).

One row per address; every expected lgCode is checked against the MIC table as well.  The
property tests walk the whole table: every municipality, every ward of a designated city, every
town and village behind a 郡.
"""

from __future__ import annotations

import logging
from itertools import cycle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.identity import IdentityError
from issuer.identity.address import (
    DESIGNATED_CITY_WARDS,
    MAX_ADDRESS_LENGTH,
    AddressResolver,
    AddressUnresolvedError,
    _fold,
    default_resolver,
    home_lg_code,
    home_municipality,
    normalize_address,
)
from schemas.municipalities import Municipality, MunicipalityTable, check_digit, municipality_table

TABLE = municipality_table()
MUNICIPALITIES = TABLE.municipalities()

# --- the table of addresses ----------------------------------------------------------------

RESOLVED = [
    # 政令指定都市: the ward is not a municipality, the city is
    ("北海道札幌市中央区北1条西2丁目1番地", "011002", "札幌市"),
    ("北海道札幌市北区北8条西5丁目", "011002", "札幌市"),
    ("宮城県仙台市青葉区国分町3丁目7番1号", "041009", "仙台市"),
    ("埼玉県さいたま市浦和区常盤6丁目4番4号", "111007", "さいたま市"),
    ("千葉県千葉市中央区千葉港1番1号", "121002", "千葉市"),
    ("神奈川県横浜市中区港町1丁目1番地", "141003", "横浜市"),
    ("神奈川県横浜市保土ケ谷区川辺町2番地9", "141003", "横浜市"),
    ("神奈川県川崎市川崎区宮本町1番地", "141305", "川崎市"),
    ("神奈川県相模原市緑区橋本6丁目2番1号", "141500", "相模原市"),
    ("新潟県新潟市中央区学校町通1番町602番地1", "151009", "新潟市"),
    ("静岡県静岡市清水区旭町6番8号", "221007", "静岡市"),
    # 浜松市: the wards of the 2024-01-01 reorganisation
    ("静岡県浜松市中央区元城町103番地の2", "221309", "浜松市"),
    ("静岡県浜松市浜名区貴布祢3000番地", "221309", "浜松市"),
    ("静岡県浜松市天竜区二俣町二俣481番地", "221309", "浜松市"),
    ("愛知県名古屋市中区三の丸3丁目1番1号", "231002", "名古屋市"),
    ("大阪府大阪市北区中之島1丁目3番20号", "271004", "大阪市"),
    ("大阪府堺市堺区南瓦町3番1号", "271403", "堺市"),
    ("兵庫県神戸市中央区加納町6丁目5番1号", "281000", "神戸市"),
    ("岡山県岡山市北区大供1丁目1番1号", "331007", "岡山市"),
    ("広島県広島市中区国泰寺町1丁目6番34号", "341002", "広島市"),
    ("福岡県北九州市小倉北区城内1番1号", "401005", "北九州市"),
    ("福岡県福岡市中央区天神1丁目8番1号", "401307", "福岡市"),
    ("熊本県熊本市中央区手取本町1番1号", "431001", "熊本市"),
    # 京都市: street-style addresses (通, 上る/下る/東入)
    ("京都府京都市中京区寺町通御池上る上本能寺前町488番地", "261009", "京都市"),
    ("京都府京都市下京区烏丸通七条下る東塩小路町721番地の1", "261009", "京都市"),
    ("京都府京都市上京区今出川通烏丸東入玄武町", "261009", "京都市"),
    ("京都府京田辺市田辺80番地", "262111", "京田辺市"),
    # Tokyo's 特別区 are municipalities themselves
    ("東京都千代田区九段南1丁目2番1号", "131016", "千代田区"),
    ("東京都中央区築地1丁目1番1号", "131024", "中央区"),
    ("東京都港区芝公園1丁目5番25号", "131032", "港区"),
    ("東京都北区王子本町1丁目15番22号", "131172", "北区"),
    ("東京都世田谷区世田谷4丁目21番27号", "131121", "世田谷区"),
    # 郡: the 郡 name is skipped, never taken for a municipality
    ("長野県北佐久郡軽井沢町大字軽井沢1323番地28", "203211", "軽井沢町"),
    ("北海道余市郡余市町朝日町26番地", "014087", "余市町"),
    ("北海道虻田郡ニセコ町字富士見47番地", "013951", "ニセコ町"),
    ("兵庫県赤穂郡上郡町大持278番地", "284815", "上郡町"),
    ("山形県東村山郡山辺町大字山辺1239番地", "063011", "山辺町"),
    ("沖縄県国頭郡東村字平良804番地", "473031", "東村"),
    ("東京都西多摩郡日の出町大字平井2780番地", "133051", "日の出町"),
    ("群馬県吾妻郡中之条町大字中之条町1091番地", "104213", "中之条町"),
    # 市/町/村/区/郡 inside the name
    ("三重県四日市市諏訪町1番5号", "242021", "四日市市"),
    ("広島県廿日市市下平良1丁目11番1号", "342131", "廿日市市"),
    ("千葉県市川市八幡1丁目1番1号", "122033", "市川市"),
    ("千葉県市原市国分寺台中央1丁目1番地1", "122190", "市原市"),
    ("東京都町田市森野2丁目2番22号", "132098", "町田市"),
    ("長野県大町市大町3887番地", "202126", "大町市"),
    ("佐賀県杵島郡大町町大字大町5017番地", "414239", "大町町"),
    ("新潟県十日町市千歳町3丁目3番地", "152102", "十日町市"),
    ("山形県村山市中央1丁目3番6号", "062081", "村山市"),
    ("東京都東村山市本町1丁目2番地3", "132136", "東村山市"),
    ("東京都武蔵村山市本町1丁目1番地1", "132233", "武蔵村山市"),
    ("石川県野々市市三納1丁目1番地", "172120", "野々市市"),
    ("奈良県大和郡山市北郡山町248番地4", "292036", "大和郡山市"),
    ("福島県郡山市朝日1丁目23番7号", "072036", "郡山市"),
    ("愛知県蒲郡市旭町17番1号", "232149", "蒲郡市"),
    ("福岡県小郡市小郡255番地1", "402168", "小郡市"),
    ("岐阜県郡上市八幡町島谷228番地", "212199", "郡上市"),
    ("鹿児島県鹿児島市郡元1丁目21番30号", "462012", "鹿児島市"),
    ("北海道北広島市中央4丁目2番地1", "012343", "北広島市"),
    ("大阪府大阪狭山市狭山1丁目2384番地の1", "272311", "大阪狭山市"),
    # the same name in several prefectures
    ("北海道伊達市梅本町61番地1", "012335", "伊達市"),
    ("福島県伊達市保原町字舟橋180番地", "072133", "伊達市"),
    ("東京都府中市宮西町2丁目24番地", "132063", "府中市"),
    ("広島県府中市府川町315番地", "342084", "府中市"),
    ("広島県安芸郡府中町大通3丁目5番1号", "343021", "府中町"),
    ("北海道中川郡池田町西1条7丁目11番地", "016446", "池田町"),
    ("福井県今立郡池田町稲荷28字1番地", "183822", "池田町"),
    ("長野県北安曇郡池田町大字池田3203番地6", "204811", "池田町"),
    ("岐阜県揖斐郡池田町六之井1468番地1", "214043", "池田町"),
    ("北海道上川郡清水町南4条2丁目2番地", "016365", "清水町"),
    ("静岡県駿東郡清水町堂庭210番地の1", "223417", "清水町"),
    ("茨城県鹿嶋市平井1187番地1", "082228", "鹿嶋市"),
    ("佐賀県鹿島市大字納富分2643番地1", "412074", "鹿島市"),
    # islands: the customary 島 form, island municipalities, islands in a 郡
    ("東京都八丈島八丈町大賀郷2551番地の2", "134015", "八丈町"),
    ("東京都三宅島三宅村阿古497番地", "133817", "三宅村"),
    ("東京都青ヶ島村無番地", "134023", "青ヶ島村"),
    ("東京都小笠原村父島字西町", "134210", "小笠原村"),
    ("東京都大島町元町1丁目1番14号", "133612", "大島町"),
    ("鹿児島県大島郡徳之島町亀津7203番地", "465305", "徳之島町"),
    ("鹿児島県鹿児島郡三島村大字竹島", "463035", "三島村"),
    ("島根県隠岐郡隠岐の島町城北町1番地", "325287", "隠岐の島町"),
    ("沖縄県島尻郡久米島町字比嘉2870番地", "473618", "久米島町"),
    ("北海道島牧郡島牧村字泊84番地", "013919", "島牧村"),
    ("愛知県海部郡飛島村竹之郷3丁目1番地", "234273", "飛島村"),
    ("新潟県岩船郡粟島浦村日ノ見山1513番地11", "155861", "粟島浦村"),
    # kana names (their が and の are not folded)
    ("山梨県南アルプス市小笠原376番地", "192082", "南アルプス市"),
    ("鹿児島県いちき串木野市昭和通133番地1", "462195", "いちき串木野市"),
    ("茨城県かすみがうら市上土田461番地", "082309", "かすみがうら市"),
    ("青森県つがる市木造若緑61番地1", "022098", "つがる市"),
    # ヶ/ケ/が and ノ/の/之 variants
    ("神奈川県茅ケ崎市茅ヶ崎1丁目1番1号", "142077", "茅ヶ崎市"),
    ("千葉県鎌ヶ谷市新鎌ケ谷2丁目6番1号", "122246", "鎌ケ谷市"),
    ("埼玉県鶴が島市大字中新田", "112411", "鶴ヶ島市"),
    ("岐阜県不破郡関ヶ原町大字関ケ原894番地の58", "213624", "関ケ原町"),
    ("北海道檜山郡上の国町字大留100番地", "013625", "上ノ国町"),
    ("東京都西多摩郡日ノ出町大字平井2780番地", "133051", "日の出町"),
    ("群馬県吾妻郡中ノ条町大字中之条町1091番地", "104213", "中之条町"),
    # old/new kanji written both ways
    ("茨城県竜ケ崎市3710番地", "082082", "龍ケ崎市"),
    ("宮城県塩釜市旭町1番1号", "042030", "塩竈市"),
    ("宮城県塩竃市旭町1番1号", "042030", "塩竈市"),
    ("青森県西津軽郡鯵ヶ沢町大字本町209番地2", "023213", "鰺ヶ沢町"),
    ("福島県南会津郡桧枝岐村字下ノ原880番地", "073644", "檜枝岐村"),
    ("東京都西多摩郡桧原村467番地1", "133078", "檜原村"),
    ("高知県高岡郡檮原町梼原1444番地1", "394050", "梼原町"),
    ("福島県相馬郡飯館村伊丹沢580番地1", "075647", "飯舘村"),
    ("長野県下伊那郡天竜村平岡878番地", "204137", "天龍村"),
    ("鹿児島県大島郡竜郷町浦110番地", "465275", "龍郷町"),
    # full-width digits and spaces, half-width kana, postal codes, invisible characters
    ("東京都　千代田区　九段南１丁目２番１号", "131016", "千代田区"),
    ("北海道虻田郡ﾆｾｺ町字富士見47番地", "013951", "ニセコ町"),
    ("〒100-8111 東京都千代田区千代田1番1号", "131016", "千代田区"),
    ("〒１００－８１１１　東京都千代田区千代田１－１", "131016", "千代田区"),
    ("北海道\u200b札幌市中央区北1条西2丁目", "011002", "札幌市"),
    ("東京都葛\U000e0100飾区立石5丁目13番1号", "131229", "葛飾区"),
    # no prefecture: the name alone, when it is unique in the table
    ("札幌市中央区北1条西2丁目", "011002", "札幌市"),
    ("京都市中京区寺町通御池上る上本能寺前町488番地", "261009", "京都市"),
    ("浜松市中央区元城町103番地の2", "221309", "浜松市"),
    ("北佐久郡軽井沢町大字軽井沢1323", "203211", "軽井沢町"),
    ("軽井沢町大字軽井沢1323", "203211", "軽井沢町"),
    ("千代田区九段南1丁目2番1号", "131016", "千代田区"),
    ("東村山市本町1丁目2番地3", "132136", "東村山市"),
    ("大和郡山市北郡山町248番地4", "292036", "大和郡山市"),
    ("郡山市朝日1丁目23番7号", "072036", "郡山市"),
    ("四日市市諏訪町1番5号", "242021", "四日市市"),
]

UNRESOLVED = [
    ("", "empty"),
    (" \u3000\t", "empty"),
    ("〒100-8111", "empty"),
    ("東京都", "no_match"),
    ("東京都存在市1丁目1番1号", "no_match"),
    ("東京都伊達市梅本町61番地1", "no_match"),  # a name of another prefecture
    ("北海道中央区北1条西2丁目", "no_match"),  # a ward without its city
    ("神奈川県港北区日吉本町1丁目", "no_match"),
    ("東京千代田区九段南1丁目2番1号", "no_match"),  # prefecture without 都: out of scope
    ("福島郡山市朝日1丁目", "no_match"),
    ("郡山1丁目2番3号", "no_match"),
    ("大字軽井沢1323番地", "no_match"),
    ("Tokyo, Chiyoda-ku, Kudan-minami 1-2-1", "no_match"),
    ("1-2-3", "no_match"),
    ("府中市宮西町2丁目24番地", "ambiguous"),
    ("伊達市梅本町61番地1", "ambiguous"),
    ("池田町大字池田3203番地6", "ambiguous"),
    ("上川郡清水町南4条2丁目2番地", "ambiguous"),
    ("中央区築地1丁目1番1号", "ambiguous"),  # 東京都 or a ward of a designated city
    ("北区王子本町1丁目15番22号", "ambiguous"),
    ("港区芝公園1丁目5番25号", "ambiguous"),
    ("東京都千代田区" + "1" * MAX_ADDRESS_LENGTH, "too_long"),
    ("東京都千代田区" + "\u337f" * 200, "too_long"),  # ㍿ grows fourfold under NFKC
]


@pytest.mark.parametrize(("address", "lg_code", "city"), RESOLVED)
def test_resolves(address: str, lg_code: str, city: str) -> None:
    assert TABLE.get(lg_code).city == city
    assert home_lg_code(address) == lg_code
    assert home_municipality(address) == TABLE.get(lg_code)


def test_the_table_of_addresses_is_large_enough() -> None:
    assert len(RESOLVED) >= 60
    assert len({address for address, _, _ in RESOLVED}) == len(RESOLVED)


def _assert_private(error: AddressUnresolvedError, address: str) -> None:
    """Neither message, nor str(), nor args, repeat the address or three Japanese characters of
    it."""
    text = normalize_address(address)
    said = " ".join([error.message_en, error.message_ja, str(error), repr(error.args)])
    windows = {text[i : i + 3] for i in range(max(0, len(text) - 2))}
    windows = {w for w in windows if not w.isascii()} | {text}
    assert not [w for w in windows if w and w in said]


@pytest.mark.parametrize(("address", "reason"), UNRESOLVED)
def test_unresolved(address: str, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AddressUnresolvedError) as info:
        home_municipality(address)
    error = info.value
    assert isinstance(error, IdentityError)
    assert (error.code, error.reason, error.http_status) == ("address_unresolved", reason, 400)
    assert error.problem_type.endswith("#address_unresolved")
    assert error.message_en.startswith("the home municipality could not be determined")
    assert error.message_ja.startswith("本人確認された住所から")
    _assert_private(error, address)
    assert not caplog.records


def test_not_text_is_an_identity_error() -> None:
    with pytest.raises(AddressUnresolvedError) as info:
        home_municipality(None)  # type: ignore[arg-type]
    assert info.value.reason == "not_text"


# --- designated cities and their wards -----------------------------------------------------

WARDS = [(code, ward) for code, wards in DESIGNATED_CITY_WARDS.items() for ward in wards]


def test_designated_cities_are_the_twenty_of_the_table() -> None:
    assert len(DESIGNATED_CITY_WARDS) == 20
    assert len(WARDS) == 171
    for code, wards in DESIGNATED_CITY_WARDS.items():
        assert TABLE.get(code).city.endswith("市")
        assert len(set(wards)) == len(wards)
        assert all(ward.endswith("区") for ward in wards)
    # the table has no ward rows: the only 区 are Tokyo's 23
    assert sorted(m.lg_code[:2] for m in MUNICIPALITIES if m.city.endswith("区")) == ["13"] * 23


@pytest.mark.parametrize(("code", "ward"), WARDS, ids=[f"{c}-{w}" for c, w in WARDS])
def test_every_ward_resolves_to_its_city(code: str, ward: str) -> None:
    city = TABLE.get(code)
    assert home_lg_code(f"{city.prefecture}{city.city}{ward}本町1丁目2番3号") == code
    assert home_lg_code(f"{city.city}{ward}1番地") == code


@pytest.mark.parametrize("code", sorted(DESIGNATED_CITY_WARDS))
def test_a_ward_without_its_city_is_refused(code: str) -> None:
    city = TABLE.get(code)
    tokyo_wards = {m.city for m in MUNICIPALITIES if m.prefecture == "東京都"}
    for ward in DESIGNATED_CITY_WARDS[code]:
        with pytest.raises(AddressUnresolvedError):
            home_municipality(f"{city.prefecture}{ward}1番地")
        if ward in tokyo_wards:
            with pytest.raises(AddressUnresolvedError, match="several municipalities"):
                home_municipality(f"{ward}1番地")


# --- the whole table, exhaustively and by hypothesis ---------------------------------------

TOWNS = [
    "",
    "本町",
    "大字本郷",
    "字中央",
    "栄町",
    "旭町",
    "緑ヶ丘",
    "宮の前",
    "新田",
    "大通西",
    "八幡",
]
NUMBERS = ["1丁目2番3号", "1-2-3", "1323番地", "12番地の4", "無番地", "3条西2丁目", "甲45", ""]


def _suffixes() -> st.SearchStrategy[str]:
    return st.builds(
        lambda town, number: town + number, st.sampled_from(TOWNS), st.sampled_from(NUMBERS)
    )


def test_every_municipality_resolves_with_its_prefecture() -> None:
    suffixes = cycle(t + n for t in TOWNS for n in NUMBERS)
    for m in MUNICIPALITIES:
        suffix = next(suffixes)
        assert home_municipality(f"{m.prefecture}{m.city}{suffix}") == m, m.full_name


def test_every_municipality_without_prefecture_resolves_if_unique() -> None:
    count: dict[str, int] = {}
    for m in MUNICIPALITIES:
        count[m.city] = count.get(m.city, 0) + 1
    ward_names = {ward for _, ward in WARDS}
    for m in MUNICIPALITIES:
        if count[m.city] == 1 and m.city not in ward_names:
            assert home_municipality(f"{m.city}1番地") == m, m.full_name
        else:
            with pytest.raises(AddressUnresolvedError, match="several municipalities"):
                home_municipality(f"{m.city}1番地")


# Real 郡 names, some with 市/町/村 or 島 in them.
GUNS = [
    "北佐久",
    "余市",
    "東村山",
    "西村山",
    "田村",
    "上川",
    "虻田",
    "国頭",
    "島尻",
    "大島",
    "赤穂",
    "隠岐",
]


def test_every_town_and_village_resolves_behind_a_gun() -> None:
    guns = cycle(GUNS)
    for m in MUNICIPALITIES:
        if m.city.endswith(("町", "村")):
            gun = next(guns)
            assert home_municipality(f"{m.prefecture}{gun}郡{m.city}大字本郷1番地") == m


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MUNICIPALITIES), _suffixes())
def test_municipality_property(m: Municipality, suffix: str) -> None:
    assert home_municipality(f"{m.prefecture}{m.city}{suffix}") == m


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(WARDS), _suffixes(), st.booleans())
def test_ward_property(ward: tuple[str, str], suffix: str, with_prefecture: bool) -> None:
    code, name = ward
    city = TABLE.get(code)
    prefix = city.prefecture if with_prefecture else ""
    assert home_lg_code(f"{prefix}{city.city}{name}{suffix}") == code


_TO_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(MUNICIPALITIES),
    _suffixes(),
    st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from([" ", "\u3000", "\u200b", "\t"])), max_size=5
    ),
)
def test_spaces_and_full_width_do_not_matter(
    m: Municipality, suffix: str, spaces: list[tuple[int, str]]
) -> None:
    text = f"{m.prefecture}{m.city}{suffix}".translate(_TO_FULL_WIDTH)
    for at, space in spaces:
        text = text[:at] + space + text[at:]
    assert home_municipality(text) == m


# Characters of the table, so that random text reaches the 郡, island and ambiguity routes.
_ALPHABET = sorted(
    {ch for m in TABLE.by_code.values() for ch in m.prefecture + m.city}
    | set("郡島区市町村ヶケがノの之大字丁目番地号〒-0123456789 \u3000")
)


def _outcome(address: str) -> Municipality | None:
    """The municipality, or None after an AddressUnresolvedError; anything else fails."""
    error: AddressUnresolvedError | None = None
    try:
        return home_municipality(address)
    except AddressUnresolvedError as exc:
        error = exc
    assert error.code == "address_unresolved"
    assert error.message_en
    assert error.message_ja
    return None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.text(alphabet=_ALPHABET, max_size=30))
def test_arbitrary_text_raises_only_the_identity_error(address: str) -> None:
    found = _outcome(address)
    assert found is None or found.lg_code in TABLE


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MUNICIPALITIES), st.text(alphabet=_ALPHABET, max_size=12))
def test_a_real_prefix_then_noise(m: Municipality, noise: str) -> None:
    found = _outcome(m.prefecture + noise + m.city)
    assert found is None or found.prefecture == m.prefecture


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_fold_keeps_one_character_per_character(text: str) -> None:
    assert len(_fold(text)) == len(text)
    assert len(_fold(normalize_address(text))) == len(normalize_address(text))


# --- the resolver over another table --------------------------------------------------------


def _code(first_five: str) -> str:
    return first_five + str(check_digit(first_five))


def _table(*rows: tuple[str, str, str]) -> MunicipalityTable:
    lines = ["code,prefecture,city,prefecture_kana,city_kana"]
    lines += [f"{_code(five)},{prefecture},{city},," for five, prefecture, city in rows]
    return MunicipalityTable.from_csv("\n".join(lines) + "\n")


def test_a_resolver_over_another_table() -> None:
    table = _table(("08000", "茨城県", ""), ("08208", "茨城県", "龍ケ崎市"))
    resolver = AddressResolver(table)
    assert home_lg_code("茨城県竜ヶ崎市3710番地", resolver=resolver) == _code("08208")
    with pytest.raises(AddressUnresolvedError):
        home_municipality("東京都千代田区", resolver=resolver)


def test_a_table_whose_names_fold_together_is_refused() -> None:
    table = _table(
        ("08000", "茨城県", ""), ("08208", "茨城県", "龍ケ崎市"), ("08209", "茨城県", "竜ヶ崎市")
    )
    with pytest.raises(ValueError, match="cannot be told apart"):
        AddressResolver(table)


def test_the_bundled_table_folds_apart() -> None:
    assert default_resolver() is default_resolver()
