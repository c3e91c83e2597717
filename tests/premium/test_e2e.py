"""The whole story of issue 6 over real HTTP, with every real part: a resident registers with
the wallet, collects three check-ins at a site whose QR staff printed from the console,
applies, proves identity through the local OpenID provider in a browser-like client, staff
approve in the console (login form, CSRF token, the approve form), the wallet receives the
premium credential with its registration key, and the offline verifier — synced from the
signed national registry and the municipality's status lists — shows tier premium (and the
basic credential it replaced as revoked).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape
from pathlib import Path

import httpx

from shellkit.qrimage import read_one_qr_bytes
from tests.premium.conftest import HTTP_TIMEOUT, PremiumWorld, prove_with_oidc
from tests.verifier.conftest import StaticServer
from tests.wallet.helpers import (
    RegistryDir,
    WalletCli,
    expect,
    registration_offer,
    short,
    verifier,
    verify_json,
    write_data_url,
)

LG = "015814"  # 厚真町; ichiro lives in 千代田区
JST = timezone(timedelta(hours=9))


def window() -> dict[str, str]:
    """The print form's window: from an hour ago to an hour ahead, Japan time."""
    now = datetime.now(JST)
    return {
        "valid_from": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "valid_until": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    }


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_premium_from_checkins_to_the_verifier(premium: PremiumWorld, tmp_path: Path) -> None:
    with httpx.Client(base_url=premium.url, timeout=HTTP_TIMEOUT) as console:
        # staff sign in to the console and print a check-in QR for today
        signed_in = console.post("/admin/login", data={"token": premium.token(LG)})
        assert signed_in.status_code == 303, signed_in.text
        sites = console.get("/admin/sites")
        created = console.post(
            "/admin/sites",
            data={"csrf": csrf_of(sites), "name": "雪かきボランティア", "category": "volunteer"},
        )
        assert created.status_code in (200, 303), created.text
        sites = console.get("/admin/sites")
        (qr_action,) = set(re.findall(r'action="(/admin/sites/[0-9a-f]{16}/qr)"', sites.text))
        printed = console.post(qr_action, data={"csrf": csrf_of(sites), **window()})
        assert printed.status_code == 200, printed.text
        image = re.search(r'src="(data:image/png;base64,[^"]+)"', printed.text)
        assert image, printed.text
        qr_png = write_data_url(unescape(image.group(1)), tmp_path / "checkin-qr.png")
        assert read_one_qr_bytes(qr_png.read_bytes()).startswith("FCI1:")

        # the resident: basic registration, three check-ins (the printed QR, photographed;
        # each check-in needs its own QR, so staff print one per day of activity)
        wallet = WalletCli(tmp_path / "wallet").init()
        basic = wallet.receive(registration_offer(premium.live, LG)["offerUri"])
        assert "チェックインしました" in wallet.ok("checkin", qr_png)
        for day in range(2):
            again = console.post(
                qr_action, data={"csrf": csrf_of(console.get("/admin/sites")), **window()}
            )
            more = re.search(r'src="(data:image/png;base64,[^"]+)"', again.text)
            assert more
            path = write_data_url(unescape(more.group(1)), tmp_path / f"qr-{day}.png")
            wallet.ok("checkin", path)
        wallet.ok("apply-premium", "--lg-code", LG)
        (application,) = wallet.open().applications
        assert application.identity_url is not None
        page = prove_with_oidc(application.identity_url, "ichiro")
        assert 'data-state="submitted"' in page.text, page.text

        # staff: the queue shows the application with its evidence; approve it
        queue = console.get("/admin/premium")
        assert application.application_id in queue.text
        detail = console.get(f"/admin/premium/{application.application_id}")
        assert detail.status_code == 200
        assert "雪かきボランティア" in detail.text
        approved = console.post(
            f"/admin/premium/{application.application_id}/approve",
            data={"csrf": csrf_of(detail)},
        )
        assert approved.status_code == 303, approved.text

    # the wallet receives the premium credential with the key that applied
    out = wallet.ok("--lang", "en", "premium-status")
    assert "premium" in out.lower()
    held = {c.id: c for c in wallet.open().credentials}
    (premium_credential,) = [
        c
        for c in held.values()
        if c.credential["credentialSubject"].get("registrationTier") == "premium"
    ]
    assert premium_credential.holder_jwk == basic.holder_jwk
    assert held[basic.id].state == "revoked"

    # the offline verifier: the signed registry on the operator's web server, sync, verify
    registry = RegistryDir(tmp_path / "registry").init()
    registry.add_from(premium.world, LG, tmp_path / "entry.json")
    public = tmp_path / "registry-web"
    public.mkdir()
    registry.sign(public / "registry.jws")
    server = StaticServer(public)
    cache = tmp_path / "verifier-cache"
    try:
        synced = verifier(
            "sync",
            "--registry",
            f"{server.url}/registry.jws",
            "--registry-key",
            registry.public_key,
            "--cache-dir",
            cache,
            "--lg-code",
            LG,
        )
        expect(synced, 0)
    finally:
        server.stop()
    code, result = verify_json(wallet.payload(short(premium_credential.id)), "--cache-dir", cache)
    assert code == 0, result
    assert result["verified"] is True
    assert result["summary"]["tier"] == "premium"
    assert result["summary"]["lgCode"] == LG
    shown = expect(
        verifier("verify", wallet.payload(short(premium_credential.id)), "--cache-dir", cache), 0
    )
    assert "プレミアム" in shown.stdout
    # the basic credential it replaced no longer verifies
    code, result = verify_json(wallet.payload(short(basic.id)), "--cache-dir", cache)
    assert code == 1
    assert "revoked" in result["codes"]
