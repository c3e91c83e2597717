"""The scanner page in real headless Chromium (Debian's ``chromium``), driven by Playwright.

Four ways a person uses it: paste the QR text, upload a photo, point the camera (a fake
camera device playing a video of the QR code — the page sends frames to this device's
verifier, as on a tablet without ``BarcodeDetector``), and interactive mode (the page shows
a challenge, the wallet signs it).  Each reads the big ✓ or ✗ back from the page.

Skipped, with the reason shown, when Chromium or Playwright is absent; with
``FURUSATO_REQUIRE_BROWSER=1`` (CI) their absence fails instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from tests.browser import browser_factory as browser_factory  # the fixture
from tests.issuer.conftest import AppServer
from tests.verifier.conftest import Site
from tests.wallet.helpers import short

Scanner = tuple[Site, AppServer]


def write_y4m(png: Path, out: Path, *, frames: int = 10) -> Path:
    """A Y4M video (what Chromium's fake camera plays) showing the QR image on white."""
    qr = Image.open(png).convert("L")
    side = min(440, max(qr.size) * 2)
    qr = qr.resize((side, side), Image.Resampling.NEAREST)
    canvas = Image.new("RGB", (640, 480), "white")
    canvas.paste(qr.convert("RGB"), ((640 - side) // 2, (480 - side) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (320, 240)
    frame = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with out.open("wb") as handle:
        handle.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            handle.write(b"FRAME\n" + frame)
    return out


def result_of(page: Any) -> tuple[str, str]:
    """The big mark and the headline, once the result is on the screen."""
    page.wait_for_selector("#result:not([hidden]) #mark", timeout=30_000)
    return page.inner_text("#mark"), page.inner_text("#headline")


def test_paste_a_payload_and_read_the_result(scanner: Scanner, browser_factory: Any) -> None:
    site, server = scanner
    page = browser_factory().new_page()
    page.goto(server.url + "/")
    assert page.inner_text("h1") == "QR コードを確認"
    page.fill("#payload", site.setup.wallet.payload(short(site.setup.basic.id)))
    page.click("#verify-button")
    mark, headline = result_of(page)
    assert mark == "✓"
    assert "有効です" in headline
    summary = page.inner_text("#summary")
    assert "北海道 厚真町" in summary
    assert "ベーシック" in summary
    assert "形式" in summary  # the format of what was shown
    assert "W3C VC (Data Integrity)" in summary
    # the next person: the scanner comes back, empty
    page.click("#next")
    assert page.is_visible("#scanner")
    assert page.input_value("#payload") == ""
    page.fill("#payload", "FR1:not-a-real-payload")
    page.click("#verify-button")
    mark, _ = result_of(page)
    assert mark == "✗"
    assert page.inner_text("#reasons")  # the reason, in Japanese


def test_upload_a_photo_in_english(scanner: Scanner, browser_factory: Any, tmp_path: Path) -> None:
    site, server = scanner
    png = tmp_path / "qr.png"
    site.setup.wallet.ok("present", short(site.setup.premium.id), "--png", str(png))
    page = browser_factory().new_page()
    page.goto(server.url + "/?lang=en")
    page.set_input_files("#image", str(png))
    page.click("#verify-button")
    mark, headline = result_of(page)
    assert (mark, headline) == ("✓", "✓ VALID (verified)")
    assert "premium" in page.inner_text("#summary")
    page.click("#lang-toggle")
    assert page.inner_text("h1") == "QR コードを確認"


def test_the_camera_reads_the_qr_code(
    scanner: Scanner, browser_factory: Any, tmp_path: Path
) -> None:
    site, server = scanner
    png = tmp_path / "qr.png"
    site.setup.wallet.ok("present", short(site.setup.basic.id), "--png", str(png))
    video = write_y4m(png, tmp_path / "camera.y4m")
    browser = browser_factory(
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    )
    context = browser.new_context(permissions=["camera"])
    page = context.new_page()
    page.goto(server.url + "/")
    page.click("#camera-start")
    mark, _ = result_of(page)
    assert mark == "✓"
    assert "北海道 厚真町" in page.inner_text("#summary")


def test_interactive_mode_shows_a_challenge_the_wallet_signs(
    scanner: Scanner, browser_factory: Any
) -> None:
    site, server = scanner
    page = browser_factory().new_page()
    page.goto(server.url + "/")
    page.check("#interactive-mode")
    page.wait_for_selector("#challenge-box:not([hidden])")
    challenge = page.inner_text("#challenge-text")
    assert len(challenge) >= 12
    assert page.get_attribute("#challenge-qr", "src").startswith("data:image/svg+xml")
    # A QR made without the challenge is refused …
    page.fill("#payload", site.setup.wallet.payload(short(site.setup.basic.id)))
    page.click("#verify-button")
    mark, _ = result_of(page)
    assert mark == "✗"
    assert "challenge_mismatch" in page.get_attribute("#reasons li", "data-code")
    # … one signed over the challenge now shown is accepted
    page.click("#next")
    page.wait_for_function(
        "(old) => document.getElementById('challenge-text').textContent !== old", arg=challenge
    )
    challenge = page.inner_text("#challenge-text")
    payload = site.setup.wallet.payload(short(site.setup.basic.id), "--challenge", challenge)
    page.fill("#payload", payload)
    page.click("#verify-button")
    mark, _ = result_of(page)
    assert mark == "✓"
