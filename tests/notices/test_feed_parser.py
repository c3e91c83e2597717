"""Property tests (hypothesis) of the wallet's feed parser — data from outside: any text, any
JSON is either parsed within bounds or refused with a code and both messages, never another
exception; a feed the issuer signed (its own signing code) parses back to what was signed; any
change to a signed feed is refused."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did.keys import KeyType, PrivateKey, generate_private_key
from issuer.notices import AUDIENCES, TOPICS, prepare_feed
from issuer.tenants import ActiveKey
from tests.properties import JSONISH_TEXT, json_values, outcome
from vc.dates import format_datetime
from wallet_cli import notices as wallet
from wallet_cli.store import WalletError

SETTINGS = settings(max_examples=200, deadline=None)
ISSUER = "did:web:furusato.example.jp:lg:015814"
KID = ISSUER + "#key-1"
URL = "https://furusato.example.jp/lg/015814/notices?limit=50"
KEY = PrivateKey.from_seed(KeyType.ED25519, bytes(range(32)))
OTHER_KEY = generate_private_key(KeyType.ED25519, secrets.token_bytes)
BASE = datetime(2027, 3, 1, tzinfo=UTC)

times = st.integers(min_value=0, max_value=10**9).map(
    lambda s: format_datetime(BASE + timedelta(seconds=s))
)
titles = st.text(min_size=1, max_size=120)
bodies = st.text(min_size=1, max_size=400)


@st.composite
def notices(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": draw(st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)),
        "topic": draw(st.sampled_from(list(TOPICS))),
        "title": {"ja": draw(titles)},
        "body": {"ja": draw(bodies)},
        "audience": draw(st.sampled_from(list(AUDIENCES))),
        "publishedAt": draw(times),
        "updatedAt": draw(times),
    }
    if draw(st.booleans()):
        item["title"]["en"] = draw(titles)
        item["body"]["en"] = draw(bodies)
    if draw(st.booleans()):
        item["link"] = "https://example.jp/" + draw(st.text(alphabet="abc/-_09", max_size=30))
    if draw(st.booleans()):
        item["expiresAt"] = draw(times)
    if draw(st.booleans()):
        places = draw(st.integers(min_value=1, max_value=10_000))
        item["call"] = {
            "places": places,
            "placesLeft": draw(st.integers(min_value=0, max_value=places)),
            "deadline": draw(times),
            "state": draw(st.sampled_from(["open", "full", "closed"])),
        }
    return item


def claims_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "lgCode": "015814",
        "name": "厚真町",
        "prefecture": "北海道",
        "url": URL,
        "notices": items,
    }


def signed(claims: dict[str, Any], key: PrivateKey = KEY, kid: str = KID) -> str:
    """A page signed by the issuer's own code (issuer.notices.prepare_feed)."""
    return prepare_feed(ActiveKey("key-1", kid, key), claims).jws()


def verify(text: str | bytes) -> wallet.FeedPage:
    return wallet.verify_feed(
        wallet.split_feed(text),
        key_for=lambda kid: KEY.public_key,
        issuer=ISSUER,
        lg_code="015814",
        url=URL,
    )


@SETTINGS
@given(st.text(max_size=300) | st.binary(max_size=300) | JSONISH_TEXT)
def test_any_text_is_split_or_refused(text: str | bytes) -> None:
    outcome(wallet.split_feed, text)


@SETTINGS
@given(json_values(40))
def test_any_json_header_is_refused_unless_it_is_ours(header: Any) -> None:
    from did.multibase import base64url_encode

    text = base64url_encode(json.dumps(header).encode()) + ".e30.AAAA"
    assert outcome(wallet.split_feed, text) is None


@SETTINGS
@given(json_values(60) | st.builds(claims_of, st.lists(json_values(12), max_size=4)))
def test_any_json_payload_is_parsed_within_bounds_or_refused(value: Any) -> None:
    page = outcome(wallet.parse_feed_payload, json.dumps(value).encode())
    if page is not None:
        assert page.issuer.startswith("did:")
        assert len(page.notices) <= wallet.MAX_NOTICES_PER_PAGE
        for notice in page.notices:
            assert notice.audience in AUDIENCES
            assert len(notice.id) == 16


MEMBERS = ("id", "topic", "title", "body", "audience", "publishedAt", "link", "call", "expiresAt")


@SETTINGS
@given(notices(), st.sampled_from(MEMBERS), json_values(6))
def test_a_notice_with_any_member_replaced_is_parsed_or_refused(
    item: dict[str, Any], member: str, value: Any
) -> None:
    parsed = outcome(wallet.parse_notice, {**item, member: value})
    if parsed is not None:
        assert parsed.audience in AUDIENCES
        assert parsed.link is None or parsed.link.startswith("https://")
        assert parsed.call is None or 0 <= parsed.call.places_left <= parsed.call.places


@SETTINGS
@given(st.lists(notices(), max_size=5))
def test_a_signed_feed_parses_back_to_what_was_signed(items: list[dict[str, Any]]) -> None:
    page = verify(signed(claims_of(items)))
    assert [n.raw for n in page.notices] == items
    for notice, item in zip(page.notices, items, strict=True):
        assert notice.title_ja == item["title"]["ja"]
        assert notice.body("en") == wallet.safe(
            item["body"].get("en") or item["body"]["ja"], lines=True
        )
        assert (notice.call is None) == ("call" not in item)


FEED = signed(
    claims_of(
        [
            {
                "id": "0123456789abcdef",
                "topic": "募集",
                "title": {"ja": "雪かき", "en": "Snow"},
                "body": {"ja": "朝7時", "en": "7 am"},
                "audience": "all",
                "publishedAt": "2027-03-01T00:00:00Z",
                "updatedAt": "2027-03-01T00:00:00Z",
                "link": "https://example.jp/yuki",
                "call": {
                    "places": 3,
                    "placesLeft": 2,
                    "deadline": "2027-03-09T08:00:00Z",
                    "state": "open",
                },
            }
        ]
    )
)


@SETTINGS
@given(st.integers(min_value=0, max_value=len(FEED) - 1), st.sampled_from("AQgw_-.x9="))
def test_any_change_to_a_signed_feed_is_refused(at: int, char: str) -> None:
    if FEED[at] == char:
        return
    changed = FEED[:at] + char + FEED[at + 1 :]
    assert outcome(verify, changed) is None


def test_a_feed_signed_by_another_key_or_for_another_page_is_refused() -> None:
    claims = claims_of([])
    for text, code in (
        (signed(claims, OTHER_KEY), "feed_signature_invalid"),
        (signed(claims, kid="did:web:furusato.example.jp:lg:011002#key-1"), "feed_wrong_issuer"),
        (signed({**claims, "url": URL + "&cursor=1.0123456789abcdef"}), "feed_mismatch"),
        (signed({**claims, "lgCode": "011002"}), "feed_mismatch"),
    ):
        with pytest.raises(WalletError) as caught:
            verify(text)
        assert caught.value.code == code


def test_text_from_a_feed_is_safe_to_print() -> None:
    assert wallet.safe("a\x1b[31mred\u202eevil\nnext") == "a [31mred evil next"
    assert wallet.safe("one\ntwo\x07", lines=True) == "one\ntwo "
