"""``furusato-verifier serve``: the scanner app over a real uvicorn server on loopback.

The page's API (payload, image, challenge), the form that works without JavaScript, the
cache page, and bad input: each refusal a problem+json naming what was wrong.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.issuer.conftest import AppServer
from tests.verifier.conftest import Site
from tests.wallet.helpers import short
from verifier.cache import VerifierCache
from verifier.policy import Policy
from verifier.web import create_app

Doc = dict[str, Any]
Scanner = tuple[Site, AppServer]


def post_payload(server: AppServer, payload: object, **extra: object) -> httpx.Response:
    return httpx.post(f"{server.url}/api/verify", json={"payload": payload, **extra}, timeout=30)


def png_of(site: Site, tmp_path: Path, *extra: str) -> bytes:
    path = tmp_path / "qr.png"
    site.setup.wallet.ok("present", short(site.setup.basic.id), "--png", str(path), *extra)
    return path.read_bytes()


def assert_problem(response: httpx.Response, status: int, code: str) -> Doc:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Doc = response.json()
    assert body["code"] == code
    assert body["messages"]["ja"]
    assert body["messages"]["en"]
    return body


def test_a_payload_is_checked_with_the_summary_a_person_reads(scanner: Scanner) -> None:
    site, server = scanner
    payload = site.setup.wallet.payload(short(site.setup.premium.id))
    response = post_payload(server, payload)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["verified"] is True
    assert body["headline"]["ja"].startswith("✓")
    assert body["summary"]["municipality"] == "北海道 札幌市"
    assert body["summary"]["tierName"] == {"ja": "プレミアム", "en": "premium"}
    assert body["summary"]["validUntil"].endswith("JST")
    assert body["reasons"] == []
    assert body["result"]["verified"] is True
    assert any("全国レジストリの取得" in line for line in body["cache"]["ja"])


def test_a_revoked_credential_gives_its_reason(scanner: Scanner) -> None:
    site, server = scanner
    world = site.live.world
    httpx.post(
        f"{site.live.url}/admin/api/credentials/{site.setup.basic.credential['id']}/revoke",
        headers={"Authorization": f"Bearer {world.staff_token}"},
        timeout=30,
    ).raise_for_status()
    from tests.verifier.conftest import sync_site

    sync_site(site)
    body = post_payload(server, site.setup.wallet.payload(short(site.setup.basic.id))).json()
    assert body["verified"] is False
    assert body["headline"]["en"].startswith("✗")
    assert [r["code"] for r in body["reasons"]] == ["revoked"]
    assert "失効しています" in body["reasons"][0]["ja"]


def test_an_image_is_decoded_here(scanner: Scanner, tmp_path: Path) -> None:
    site, server = scanner
    response = httpx.post(
        f"{server.url}/api/verify-image",
        content=png_of(site, tmp_path),
        headers={"Content-Type": "image/png"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["verified"] is True


def test_an_image_without_a_qr_code_is_422(scanner: Scanner) -> None:
    _, server = scanner
    blank = io.BytesIO()
    Image.new("L", (320, 240), 255).save(blank, format="PNG")
    response = httpx.post(
        f"{server.url}/api/verify-image",
        content=blank.getvalue(),
        headers={"Content-Type": "image/png"},
        timeout=30,
    )
    assert_problem(response, 422, "qr_not_found")


def test_interactive_mode_challenges_are_single_use(scanner: Scanner) -> None:
    site, server = scanner
    issued = httpx.post(f"{server.url}/api/challenge", timeout=30).json()
    challenge = issued["challenge"]
    assert issued["qr"].startswith("data:image/svg+xml;base64,")
    payload = site.setup.wallet.payload(short(site.setup.basic.id), "--challenge", challenge)
    first = post_payload(server, payload, challenge=challenge).json()
    assert first["verified"] is True, first["reasons"]
    again = post_payload(server, payload, challenge=challenge).json()
    assert again["verified"] is False
    assert [r["code"] for r in again["reasons"]] == ["challenge_mismatch"]
    # a challenge the app never issued
    other = post_payload(server, payload, challenge="made-up").json()
    assert [r["code"] for r in other["reasons"]] == ["challenge_mismatch"]
    # the wallet signed another challenge than the one shown
    shown = httpx.post(f"{server.url}/api/challenge", timeout=30).json()["challenge"]
    wrong = post_payload(server, payload, challenge=shown).json()
    assert [r["code"] for r in wrong["reasons"]] == ["challenge_mismatch"]


def test_the_form_works_without_javascript(scanner: Scanner, tmp_path: Path) -> None:
    site, server = scanner
    payload = site.setup.wallet.payload(short(site.setup.basic.id))
    page = httpx.post(f"{server.url}/verify", data={"payload": payload}, timeout=30)
    assert page.status_code == 200
    assert '<div class="mark" id="mark">✓</div>' in page.text
    assert "北海道 厚真町" in page.text
    image = httpx.post(
        f"{server.url}/verify?lang=en",
        files={"image": ("qr.png", png_of(site, tmp_path), "image/png")},
        timeout=30,
    )
    assert '<div class="mark" id="mark">✓</div>' in image.text
    assert "VALID" in image.text
    empty = httpx.post(f"{server.url}/verify", data={"payload": "hello"}, timeout=30)
    assert empty.status_code == 200
    assert 'id="problem"' in empty.text
    assert "[not_a_payload]" in empty.text


def test_pages_in_japanese_and_english_with_strict_headers(scanner: Scanner) -> None:
    _, server = scanner
    page = httpx.get(f"{server.url}/", timeout=30)
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text
    assert "QR コードを確認" in page.text
    assert "テスト窓口" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    english = httpx.get(f"{server.url}/?lang=en", timeout=30)
    assert '<html lang="en">' in english.text
    assert "Check a QR code" in english.text
    script = httpx.get(f"{server.url}/static/scan.js", timeout=30)
    assert script.status_code == 200
    assert "BarcodeDetector" in script.text
    cache = httpx.get(f"{server.url}/cache", timeout=30)
    assert 'id="registry-sequence">1<' in cache.text
    assert "分前" in cache.text
    summary = httpx.get(f"{server.url}/api/cache", timeout=30).json()
    assert (summary["registrySequence"], summary["statusLists"]) == (1, 4)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"not json", "application/json", 400, "malformed"),
        (b"[1, 2]", "application/json", 400, "malformed"),
        (b'{"payload": 5}', "application/json", 400, "payload_missing"),
        (b'{"payload": "  "}', "application/json", 400, "payload_missing"),
        (b'{"payload": "hello"}', "application/json", 400, "not_a_payload"),
        (b'{"payload": "FR1:", "challenge": 7}', "application/json", 400, "malformed"),
        (
            json.dumps({"payload": "FR1:" + "A" * 70_000}).encode(),
            "application/json",
            413,
            "limit_exceeded",
        ),
        (b"\xff\xfe", "application/json", 400, "malformed"),
    ],
)
def test_bad_requests_are_problems(
    scanner: Scanner, body: bytes, content_type: str, status: int, code: str
) -> None:
    _, server = scanner
    response = httpx.post(
        f"{server.url}/api/verify",
        content=body,
        headers={"Content-Type": content_type},
        timeout=30,
    )
    assert_problem(response, status, code)


def test_a_broken_payload_is_a_result_not_a_crash(scanner: Scanner) -> None:
    _, server = scanner
    body = post_payload(server, "FR1:" + "%%%%").json()
    assert body["verified"] is False
    assert [r["code"] for r in body["reasons"]] == ["malformed"]


def test_bad_images_and_bodies(scanner: Scanner) -> None:
    _, server = scanner
    url = f"{server.url}/api/verify-image"
    assert_problem(
        httpx.post(url, content=b"abc", headers={"Content-Type": "text/plain"}, timeout=30),
        415,
        "unsupported_media_type",
    )
    assert_problem(
        httpx.post(url, content=b"not a png", headers={"Content-Type": "image/png"}, timeout=30),
        422,
        "qr_not_found",
    )
    assert_problem(
        httpx.post(url, content=b"", headers={"Content-Type": "image/png"}, timeout=30),
        400,
        "image_missing",
    )
    huge = b"\x89PNG\r\n\x1a\n" + b"\0" * (9 * 1024 * 1024)
    assert_problem(
        httpx.post(url, content=huge, headers={"Content-Type": "image/png"}, timeout=30),
        413,
        "limit_exceeded",
    )
    assert_problem(httpx.get(f"{server.url}/nowhere", timeout=30), 404, "not_found")


def test_a_device_that_never_synced_says_so(tmp_path: Path, site: Site) -> None:
    from datetime import UTC, datetime

    app = create_app(VerifierCache(tmp_path / "empty"), Policy(), clock=lambda: datetime.now(UTC))
    with AppServer(app) as server:
        page = httpx.get(f"{server.url}/", timeout=30)
        assert 'id="not-synced"' in page.text
        payload = site.setup.wallet.payload(short(site.setup.basic.id))
        body = post_payload(server, payload).json()
        assert body["verified"] is False
        assert [r["code"] for r in body["reasons"]] == ["issuer_unknown"]
        assert "sync" in body["reasons"][0]["en"]


def test_only_this_device_and_only_json(scanner: Scanner) -> None:
    """A web page elsewhere cannot use the verifier: not through another host name (DNS
    rebinding), and not with a simple cross-site form post."""
    site, server = scanner
    payload = site.setup.wallet.payload(short(site.setup.basic.id))
    rebound = httpx.get(f"{server.url}/api/cache", headers={"Host": "evil.example"}, timeout=30)
    assert_problem(rebound, 400, "host_not_allowed")
    for host in ("localhost", f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
        assert httpx.get(f"{server.url}/healthz", headers={"Host": host}, timeout=30).is_success
    form = httpx.post(
        f"{server.url}/api/verify",
        content=json.dumps({"payload": payload}),
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    assert_problem(form, 415, "unsupported_media_type")
