"""``furusato-wallet news``, ``prefs``, ``raise-hand`` and ``withdraw-hand`` against the live
issuer (over real HTTP, on SQLite: the wallet only speaks HTTP): the feeds of every
municipality the wallet is registered with, checked against each municipality's key; notices
for a tier not held or a topic not wanted are not shown; the topic preferences stay in the
wallet; a tampered or wrongly signed feed is refused (exit 1) while the others are shown; the
ETag is sent back and a 304 shows the kept notices; a hand raised and withdrawn from the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.issuer.conftest import AppServer, LiveServer
from tests.notices.conftest import (
    HTTP_TIMEOUT,
    LG,
    OTHER,
    call_body,
    notice_body,
    publish,
    staff,
)
from tests.wallet.helpers import WalletCli, expect, registration_offer
from wallet_cli import notices as wallet_notices
from wallet_cli.store import WalletStore


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the issuer's own tests of notices run on both databases."""
    return f"sqlite:///{tmp_path / 'issuer.db'}"


def registered_wallet(live: LiveServer, directory: Path, *lg_codes: str) -> WalletCli:
    wallet = WalletCli(directory).init()
    for lg_code in lg_codes:
        wallet.receive(registration_offer(live, lg_code)["offerUri"])
    return wallet


@pytest.fixture
def wallet(live: LiveServer, tmp_path: Path) -> WalletCli:
    """A wallet with basic registrations of 厚真町 and 札幌市."""
    return registered_wallet(live, tmp_path / "wallet", LG, OTHER)


@pytest.fixture
def gets(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None, int]]:
    """Every feed request the wallet makes: (URL, If-None-Match sent, status)."""
    seen: list[tuple[str, str | None, int]] = []
    real = wallet_notices._get

    def recording(http: Any, url: str, etag: str | None) -> tuple[int, bytes, str | None]:
        answer = real(http, url, etag)
        seen.append((url, etag, answer[0]))
        return answer

    monkeypatch.setattr(wallet_notices, "_get", recording)
    return seen


def titles(output: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in output.splitlines() if line.startswith("[")]


def test_news_shows_the_notices_for_the_tiers_held_and_the_topics_wanted(
    live: LiveServer, wallet: WalletCli, gets: list[tuple[str, str | None, int]]
) -> None:
    publish(live, notice_body("防災", title={"ja": "土のうの配布", "en": "Sandbags"}))
    publish(live, notice_body("イベント", title={"ja": "秋祭り"}))
    publish(live, notice_body("お知らせ", title={"ja": "プレミアム限定"}, audience="premium"))
    publish(live, notice_body("子育て", title={"ja": "ベーシック向け"}, audience="basic"))
    publish(live, notice_body("移住", title={"ja": "移住相談会"}), OTHER)

    shown = wallet.ok("news")
    assert titles(shown) == ["移住相談会", "ベーシック向け", "秋祭り", "土のうの配布"]
    assert "北海道厚真町" in shown
    assert "北海道札幌市" in shown
    assert "プレミアム限定" not in shown  # for a tier the wallet does not hold

    # topic preferences: kept in the wallet, applied here
    saved = wallet.ok("prefs", "--topics", "防災,moving")
    assert "防災、移住" in saved
    assert "ウォレットの中だけ" in saved
    assert titles(wallet.ok("news")) == ["移住相談会", "土のうの配布"]
    assert titles(wallet.ok("news", "--topic", "イベント")) == ["秋祭り"]  # instead of prefs
    english = wallet.ok("--lang", "en", "news")
    assert "[Disaster preparedness] Sandbags" in english
    assert "[Moving here] 移住相談会" in english  # no English title: the Japanese one
    assert "厚真町 (北海道)" in english
    assert WalletStore(wallet.directory).load(wallet.passphrase).prefs["topics"] == ["防災", "移住"]
    # what went over the wire: the two feeds' URLs, nothing of the preferences
    assert {url for url, _, _ in gets} == {
        f"{live.url}/lg/{LG}/notices?limit=50",
        f"{live.url}/lg/{OTHER}/notices?limit=50",
    }
    listed = json.loads(wallet.ok("news", "--json"))
    assert listed["topics"] == ["防災", "移住"]
    assert listed["failed"] == []
    assert [(n["lgCode"], n["topic"], n["handRaised"]) for n in listed["notices"]] == [
        (OTHER, "移住", False),
        (LG, "防災", False),
    ]
    shown_prefs = wallet.ok("prefs", "--show")
    assert "[✓] 防災" in shown_prefs
    assert "[ ] イベント" in shown_prefs
    assert "すべての分類" in wallet.ok("prefs", "--clear")
    assert len(titles(wallet.ok("news"))) == 4
    assert titles(wallet.ok("news", "--since", "2999-01-01")) == []
    assert "表示するお知らせはありません" in wallet.ok("news", "--since", "2999-01-01")


def test_the_etag_is_sent_back_and_a_304_shows_the_kept_notices(
    live: LiveServer, wallet: WalletCli, gets: list[tuple[str, str | None, int]]
) -> None:
    publish(live, notice_body("防災"))
    first = wallet.ok("news")
    assert [status for _, etag, status in gets] == [200, 200]
    kept = WalletStore(wallet.directory).load(wallet.passphrase).notices["feeds"]
    assert kept[LG]["etag"].startswith('W/"')
    gets.clear()
    assert wallet.ok("news") == first
    assert [(etag is not None, status) for _, etag, status in gets] == [(True, 304), (True, 304)]
    publish(live, notice_body("イベント"))
    gets.clear()
    assert len(titles(wallet.ok("news"))) == 2
    assert sorted(status for _, _, status in gets) == [200, 304]


def test_usage_errors(wallet: WalletCli) -> None:
    for args in (
        ("news", "--topic", "天気"),
        ("news", "--since", "yesterday"),
        ("prefs", "--topics", "防災", "--clear"),
        ("prefs", "--topics", " "),
        ("raise-hand", "nope"),
        ("raise-hand", "0123456789abcdef", "--withdraw", "--message", "x"),
        ("raise-hand", "0123456789abcdef", "--message", "x" * 501),
    ):
        result = expect(wallet(*args), 2)
        assert "エラー:" in result.stderr, args
        assert "Error:" in result.stderr, args
    unknown = expect(wallet("raise-hand", "0123456789abcdef"), 1)
    assert "furusato-wallet news" in unknown.stderr
    assert "notice_unknown" in unknown.stderr


# --- a feed changed on the way ---------------------------------------------------------------------


def _flip_one_byte(body: bytes) -> bytes:
    """One character of the payload part replaced by another base64url character."""
    header, payload, signature = body.split(b".")
    at = len(payload) // 2
    replacement = b"A" if payload[at : at + 1] != b"A" else b"B"
    return b".".join((header, payload[:at] + replacement + payload[at + 1 :], signature))


@contextmanager
def proxy(target: str, change: Callable[[str, bytes], bytes]) -> Iterator[str]:
    """A tiny proxy on loopback in front of ``target``, changing the bodies it relays."""

    def relay(request: Request) -> Response:
        url = target + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        upstream = httpx.request(request.method, url, timeout=HTTP_TIMEOUT)
        headers = {k: v for k, v in upstream.headers.items() if k in ("content-type", "etag")}
        body = change(request.url.path, upstream.content)
        return Response(body, status_code=upstream.status_code, headers=headers)

    app = Starlette(routes=[Route("/{path:path}", relay, methods=["GET"])])
    with AppServer(app) as server:
        yield server.url


def _route_through(wallet: WalletCli, lg_code: str, base: str) -> None:
    """The wallet's registrations of ``lg_code`` pointed at ``base`` (where it finds the
    issuer), as a network in the middle would make it."""
    store = WalletStore(wallet.directory)
    contents = store.load(wallet.passphrase)
    for stored in contents.credentials:
        if stored.issuer_url.endswith(f"/lg/{lg_code}"):
            stored.issuer_url = f"{base}/lg/{lg_code}"
    import secrets

    store.save(contents, wallet.passphrase, secrets.token_bytes)


def test_a_tampered_feed_is_refused_and_the_others_are_shown(
    live: LiveServer, wallet: WalletCli
) -> None:
    publish(live, notice_body("防災", title={"ja": "厚真町の防災"}))
    publish(live, notice_body("移住", title={"ja": "札幌市の移住"}), OTHER)
    with proxy(live.url, lambda path, body: _flip_one_byte(body)) as middle:
        _route_through(wallet, OTHER, middle)
        result = expect(wallet("news"), 1)
    assert titles(result.stdout) == ["厚真町の防災"]
    assert "札幌市の移住" not in result.stdout
    assert "エラー: 北海道札幌市のお知らせを表示できません" in result.stderr
    assert "署名を確認できません" in result.stderr
    assert "the signature does not verify" in result.stderr
    assert "[feed_signature_invalid]" in result.stderr
    listed = json.loads(expect(wallet("news", "--json"), 1).stdout)
    assert [f["code"] for f in listed["failed"]] == ["unreachable"]  # the proxy is gone


def test_a_feed_signed_by_another_municipality_or_for_another_page_is_refused(
    live: LiveServer, wallet: WalletCli
) -> None:
    publish(live, notice_body("防災", title={"ja": "厚真町の防災"}))

    def theirs(path: str, body: bytes) -> bytes:  # 厚真町's feed where 札幌市's should be
        return httpx.get(f"{live.url}/lg/{LG}/notices?limit=50", timeout=HTTP_TIMEOUT).content

    with proxy(live.url, theirs) as middle:
        _route_through(wallet, OTHER, middle)
        result = expect(wallet("news"), 1)
        assert "[feed_wrong_issuer]" in result.stderr
        assert titles(result.stdout) == ["厚真町の防災"]
    with proxy(live.url, lambda path, body: body) as middle:  # untouched, at another address
        _route_through(wallet, OTHER, middle)
        result = expect(wallet("news"), 1)
        assert "[feed_mismatch]" in result.stderr


# --- 手を挙げる from the wallet -----------------------------------------------------------------------


def test_raise_a_hand_from_the_wallet_then_withdraw_it(
    live: LiveServer, wallet: WalletCli, tmp_path: Path
) -> None:
    call = publish(live, call_body(places=1))
    shown = wallet.ok("news")
    assert "雪かきボランティア募集" in shown
    assert "募集: 残り 1 / 1 名" in shown
    assert f"furusato-wallet raise-hand {call['id']}" in shown

    done = wallet.ok("raise-hand", call["id"], "--message", "山田です。軽トラックがあります")
    assert "手を挙げました: 「雪かきボランティア募集」 (残り 0 名)" in done
    with staff(live) as api:
        answers = api.get(f"/admin/api/notices/{call['id']}/responses").json()
    assert [a["message"] for a in answers["responses"]] == ["山田です。軽トラックがあります"]
    shown = wallet.ok("news")
    assert "✋ 手を挙げています" in shown
    assert "定員に達しました" in shown

    twice = expect(wallet("raise-hand", call["id"]), 1)
    assert "[already_answered]" in twice.stderr
    other = registered_wallet(live, tmp_path / "other", LG)
    full = expect(other("raise-hand", call["id"], "--lg-code", LG), 1)
    assert "定員" in full.stderr
    assert "[call_full]" in full.stderr

    withdrawn = wallet.ok("withdraw-hand", call["id"])
    assert "取り消しました" in withdrawn
    assert "(残り 1 名)" in withdrawn
    assert "✋" not in wallet.ok("news")
    assert "You raised your hand" in other.ok(
        "--lang", "en", "raise-hand", call["id"], "--lg-code", LG
    )
    again = expect(other("raise-hand", call["id"], "--withdraw", "--lg-code", LG), 0)
    assert "取り消しました" in again.stdout
    with staff(live) as api:
        answers = api.get(f"/admin/api/notices/{call['id']}/responses").json()
    assert answers["active"] == 0
    assert len(answers["responses"]) == 2
