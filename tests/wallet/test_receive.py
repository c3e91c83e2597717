"""``furusato-wallet receive`` from what a resident actually has: the QR image of the
registration page, of the counter (``furusato-issuer offer --png``), a photo of it (JPEG);
with the transaction code; and the clear one-line errors for an offer used or expired, a
file without a QR code, an issuer that cannot be reached."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import segno
from PIL import Image

from issuer.oid4vci import create_offer
from issuer.tenants import get_tenant
from tests.cli.helpers import assert_one_line_error
from tests.issuer.conftest import SECRET, LiveServer, free_port
from tests.wallet.helpers import (
    HTTP_TIMEOUT,
    LG,
    OTHER_LG,
    WalletCli,
    admin_offer,
    expect,
    issuer,
    registration_offer,
    write_data_url,
)


@pytest.fixture
def wallet(live: LiveServer, tmp_path: Path) -> WalletCli:
    return WalletCli(tmp_path / "wallet").init()


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _tier_and_town(wallet: WalletCli, credential_id: str) -> tuple[str, str]:
    stored = next(c for c in wallet.open().credentials if c.id == credential_id)
    subject = stored.credential["credentialSubject"]
    return subject["registrationTier"], subject["municipality"]["lgCode"]


# --- from images ---------------------------------------------------------------------------------


def test_receive_from_the_registration_api_png(
    live: LiveServer, wallet: WalletCli, tmp_path: Path
) -> None:
    offer = registration_offer(live, LG)
    png = write_data_url(offer["qrPng"], tmp_path / "offer.png")
    stored = wallet.receive(png)
    assert _tier_and_town(wallet, stored.id) == ("basic", LG)


def test_receive_from_the_registration_page_png(
    live: LiveServer, wallet: WalletCli, tmp_path: Path
) -> None:
    """The web page a resident uses: POST the form, take the QR image out of the HTML."""
    response = httpx.post(f"{live.url}/lg/{OTHER_LG}/register", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    match = re.search(r'<img class="qr" src="([^"]+)"', response.text)
    assert match is not None, response.text
    png = write_data_url(html.unescape(match.group(1)), tmp_path / "page-qr.png")
    stored = wallet.receive(png)
    assert _tier_and_town(wallet, stored.id) == ("basic", OTHER_LG)


def test_receive_from_the_counter_png(live: LiveServer, wallet: WalletCli, tmp_path: Path) -> None:
    """``furusato-issuer offer --png`` at the counter, with the issuer's own data directory."""
    settings = live.world.svc.settings
    png = tmp_path / "counter.png"
    made = expect(
        issuer(
            "offer",
            "--data-dir",
            settings.data_dir,
            "--database-url",
            settings.effective_database_url,
            "--lg-code",
            LG,
            "--tier",
            "basic",
            "--png",
            png,
            env={"FURUSATO_ISSUER_SECRET": SECRET},
        ),
        0,
    )
    uri = made.stdout.strip().splitlines()[-1]
    assert uri.startswith("openid-credential-offer://")
    stored = wallet.receive(png)
    assert _tier_and_town(wallet, stored.id) == ("basic", LG)


def test_receive_from_a_photo(live: LiveServer, wallet: WalletCli, tmp_path: Path) -> None:
    """A JPEG of the QR, smaller and grey (what a phone's camera roll holds)."""
    uri = admin_offer(live, live.world.staff_token)["offerUri"]
    png = tmp_path / "offer.png"
    segno.make_qr(uri, error="m").save(str(png), kind="png", scale=8, border=4)
    jpeg = tmp_path / "photo.jpg"
    with Image.open(png) as image:
        grey = image.convert("L")
        grey = grey.resize((grey.width * 3 // 4, grey.height * 3 // 4))
        grey.save(jpeg, quality=70)
    stored = wallet.receive(jpeg)
    assert _tier_and_town(wallet, stored.id) == ("basic", LG)


# --- the transaction code ------------------------------------------------------------------------


def test_receive_with_a_transaction_code(live: LiveServer, wallet: WalletCli) -> None:
    offer = admin_offer(live, live.world.staff_token, tx_code=True)
    uri, code = offer["offerUri"], offer["txCode"]
    # without it, in a script: a usage error, and the offer is not spent
    result = wallet("receive", uri)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["--tx-code"])
    # a wrong one: refused by the issuer
    wrong = "000000" if code != "000000" else "111111"
    result = wallet("receive", uri, "--tx-code", wrong)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr)
    assert wallet.open().credentials == []
    # the right one
    wallet.ok("receive", uri, "--tx-code", code)
    assert len(wallet.open().credentials) == 1


# --- offers that cannot be used ------------------------------------------------------------------


def test_a_reused_offer_is_a_one_line_error(live: LiveServer, wallet: WalletCli) -> None:
    uri = admin_offer(live, live.world.staff_token)["offerUri"]
    wallet.receive(uri)
    before = _snapshot(wallet.directory)
    for lang in ("ja", "en"):
        result = wallet("--lang", lang, "receive", uri)
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        assert_one_line_error(result.stderr)
    assert _snapshot(wallet.directory) == before


def test_an_expired_offer_is_a_one_line_error(live: LiveServer, wallet: WalletCli) -> None:
    svc = live.world.svc
    with svc.db.transaction() as session:
        new = create_offer(
            session,
            svc.settings,
            svc.secret,
            get_tenant(session, LG),
            tier="basic",
            channel="counter",
            now=datetime.now(UTC) - svc.settings.offer_ttl - timedelta(minutes=1),
            actor="test",
        )
    before = _snapshot(wallet.directory)
    result = wallet("receive", new.offer_uri)
    assert result.exit_code == 1, result.output
    assert_one_line_error(result.stderr)
    assert _snapshot(wallet.directory) == before


def test_a_used_offer_says_why(live: LiveServer, wallet: WalletCli) -> None:
    uri = admin_offer(live, live.world.staff_token)["offerUri"]
    wallet.receive(uri)
    result = wallet("receive", uri)
    line = assert_one_line_error(result.stderr)
    assert "使用済み" in line or "期限切れ" in line
    assert "used" in line or "expired" in line


# --- inputs that are not offers ------------------------------------------------------------------


def test_an_image_without_a_qr_code(wallet: WalletCli, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    result = wallet("receive", str(blank))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["0"])


def test_a_file_that_is_not_an_image(wallet: WalletCli, tmp_path: Path) -> None:
    text = tmp_path / "offer.txt"
    text.write_text("hello", encoding="ascii")
    result = wallet("receive", str(text))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["offer.txt"])
    result = wallet("receive", str(tmp_path / "missing.png"))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, contains=["missing.png"])


def test_a_qr_code_that_is_not_an_offer(wallet: WalletCli, tmp_path: Path) -> None:
    png = tmp_path / "other.png"
    segno.make_qr("https://example.jp/not-an-offer", error="m").save(str(png), kind="png", scale=6)
    before = _snapshot(wallet.directory)
    result = wallet("receive", str(png))
    assert result.exit_code in (1, 2), result.output
    assert_one_line_error(result.stderr)
    assert _snapshot(wallet.directory) == before


def test_a_malformed_offer_uri(wallet: WalletCli) -> None:
    for uri in (
        "openid-credential-offer://?foo=bar",
        "openid-credential-offer://?credential_offer=%7B",
    ):
        result = wallet("receive", uri)
        assert result.exit_code == 1, result.output
        assert_one_line_error(result.stderr)


def test_an_unreachable_issuer(wallet: WalletCli) -> None:
    uri = (
        "openid-credential-offer://?credential_offer_uri="
        f"http%3A%2F%2Flocalhost%3A{free_port()}%2Flg%2F{LG}%2Foffers%2Fabc"
    )
    result = wallet("receive", uri)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[unreachable]"])
