"""Fixtures of the page tests: one issuer with data and one verifier, one headless Chromium.

``pages`` starts, once per module, what a newcomer would see with some use behind it:

* the issuer (tests.issuer.conftest.LiveServer, SQLite) of 015814 厚真町 and 011002 札幌市 with
  both identity providers (the local OpenID provider of tests/premium and the test JPKI CA);
  registrations of both; an activity site with check-ins; a premium application waiting for
  staff (identity proven with the card); further applications whose identity step each width
  takes in the browser; a call for help (募集) with an answer; a generated year of 札幌市
  (tests/stats/dataset.py) for the statistics page;
* the verifier scanner (verifier.web) of a device that has synced the national registry and
  the status lists (tests/verifier/conftest.py), and the wallet whose QR codes it reads.

``chromium`` is one headless Debian Chromium for the module, launched with the switches that
keep the browser itself off the network; skipped (or failed with FURUSATO_REQUIRE_BROWSER=1)
when Chromium or Playwright is missing, as tests/browser.py does.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from did.key import did_key_from_public_key
from did.keys import KeyType, generate_private_key
from issuer.auth import create_token
from issuer.identity.providers import oidc_redirect_uri, providers_from_settings
from issuer.issuance import issue_resident
from tests.browser import chromium, unavailable
from tests.issuer.conftest import AppServer, LiveServer, World, free_port, make_world, with_settings
from tests.notices.conftest import answer, call_body, publish
from tests.premium.conftest import HTTP_TIMEOUT, Registrant, prove_with_oidc
from tests.premium.conftest import pki as pki  # the session's test JPKI CA
from tests.premium.oidc_provider import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    LocalOidcProvider,
    _Client,
)
from tests.stats.conftest import signing_key_id
from tests.stats.dataset import generate, insert
from tests.verifier.conftest import Site, StaticServer, sync_site
from tests.wallet.helpers import make_setup
from vc.dates import format_datetime
from verifier.cache import VerifierCache
from verifier.policy import Policy
from verifier.web import create_app as create_verifier_app

LG = "015814"  # 北海道 厚真町: the console's municipality
OTHER = "011002"  # 北海道 札幌市: the statistics page (a generated year)
WIDTHS = (375, 1280)  # a phone, a desktop
# Who proves their identity in the browser at each width (hanako lives in 札幌市, misaki in
# 軽井沢町: neither in 厚真町); ichiro (千代田区) applied before the tests.
BROWSER_APPLICANTS = {375: "hanako", 1280: "misaki"}
REPO = Path(__file__).resolve().parents[2]
# Chromium's own traffic (updates, safe browsing, sync, metrics, prefetch) stays off: only the
# pages' requests remain, and the test routes every one of those.
CHROMIUM_OFFLINE = (
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-pings",
    "--dns-prefetch-disable",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
)


def artifacts_dir() -> Path:
    """Where test artifacts go: ``FURUSATO_ARTIFACTS``, else ``<repo>/test-artifacts``."""
    return Path(os.environ.get("FURUSATO_ARTIFACTS") or REPO / "test-artifacts")


@dataclass
class Pages:
    """The two running apps and the data the page visits need."""

    issuer: LiveServer
    verifier: AppServer
    site: Site  # the verifier's registry server, its wallet and cache
    oidc: LocalOidcProvider
    admin_token: str  # 015814's admin: the console
    stats_token: str  # 011002's staff: the statistics page
    waiting: str  # the id of the application waiting for staff
    notice: str  # the id of the call for help
    identity_to_view: dict[int, str] = field(default_factory=dict)  # width → identity link
    identity_to_prove: dict[int, str] = field(default_factory=dict)  # width → identity link
    to_suspend: dict[int, str] = field(default_factory=dict)  # width → a credential id

    @property
    def world(self) -> World:
        return self.issuer.world


def _admin(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT
    )


def _applied(base_url: str) -> dict[str, Any]:
    """A new basic registrant of LG who applies for premium: the application."""
    resident = Registrant.register(base_url, LG)
    answered = resident.apply()
    assert answered.status_code == 201, answered.text
    application: dict[str, Any] = answered.json()
    return application


def _populate(pages: Pages, admin_token: str) -> None:
    base = pages.issuer.url
    world = pages.world
    now = datetime.now(UTC)
    with _admin(base, admin_token) as admin:
        created = admin.post(
            "/admin/api/sites", json={"name": "公民館の清掃", "category": "volunteer"}
        )
        assert created.status_code == 201, created.text
        site_id = created.json()["id"]
        window = {
            "validFrom": format_datetime(now - timedelta(hours=1)),
            "validUntil": format_datetime(now + timedelta(hours=1)),
        }
        payloads = []
        for _ in range(2):
            qr = admin.post(f"/admin/api/sites/{site_id}/qr", json=window)
            assert qr.status_code == 200, qr.text
            payloads.append(qr.json()["payload"])
    # a registrant with two check-ins whose application waits for staff
    resident = Registrant.register(base, LG)
    for payload in payloads:
        done = resident.checkin(payload)
        assert done.status_code == 201, done.text
    applied = resident.apply()
    assert applied.status_code == 201, applied.text
    application = applied.json()
    proven = prove_with_oidc(application["identityUrl"], "ichiro")
    assert 'data-state="submitted"' in proven.text, proven.text
    pages.waiting = application["applicationId"]
    # a call for help with an answer
    notice = publish(pages.issuer, call_body(places=5, hours=72))
    pages.notice = notice["id"]
    answered = answer(resident, notice["id"], "週末なら参加できます。軽トラックがあります。")
    assert answered.status_code == 201, answered.text
    viewed = _applied(base)["identityUrl"]  # only looked at: both widths
    for width in WIDTHS:
        pages.identity_to_view[width] = viewed
        pages.identity_to_prove[width] = _applied(base)["identityUrl"]
        issued = issue_resident(
            world.svc.db,
            world.svc.ring,
            world.svc.settings,
            lg_code=LG,
            holder=did_key_from_public_key(
                generate_private_key(KeyType.ED25519, secrets.token_bytes).public_key
            ),
            tier="basic",
            now=now,
            source="test",
            actor="test",
        )
        pages.to_suspend[width] = str(issued.credential["id"])
    # a generated year of 札幌市 for the statistics page (small: the page, not the SQL)
    year = generate(
        OTHER,
        signing_key_id(world, OTHER),
        registrations=160,
        older=20,
        seed=11,
        now=now,
        extra_applications=False,
    )
    insert(world.svc.db, year)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, pki: Any) -> Iterator[Pages]:
    base: Path = tmp_path_factory.mktemp("pages")
    port = free_port()
    world = make_world(
        f"sqlite:///{base / 'issuer.db'}", base / "data", f"http://localhost:{port}", pool_size=20
    )
    anchors = base / "jpki-anchors.pem"
    anchors.write_bytes(pki.root.pem)
    crl = base / "jpki.crl"
    now = datetime.now(UTC)
    crl.write_bytes(
        pki.intermediate.crl(
            (), this_update=now - timedelta(hours=1), next_update=now + timedelta(hours=23)
        )
    )
    with LocalOidcProvider() as provider:
        with_settings(
            world,
            oidc_issuer=provider.issuer,
            oidc_client_id=CONFIDENTIAL_CLIENT_ID,
            oidc_client_secret=CONFIDENTIAL_CLIENT_SECRET,
            jpki_anchors=anchors,
            jpki_crls=(str(crl),),
        )
        provider.clients[CONFIDENTIAL_CLIENT_ID] = _Client(
            CONFIDENTIAL_CLIENT_ID,
            CONFIDENTIAL_CLIENT_SECRET,
            (oidc_redirect_uri(world.svc.settings),),
        )
        world.svc.identity = providers_from_settings(world.svc.settings)
        with world.svc.db.transaction() as session:
            admin_token = create_token(session, LG, "admin", name=None, now=now, actor="test")
        with LiveServer(world, port) as issuer:
            setup = make_setup(issuer, base / "setup")  # a wallet, the registry, status lists
            registry_web = base / "registry-web"
            registry_web.mkdir()
            registry_server = StaticServer(registry_web)
            try:
                site = Site(setup, registry_server, base / "verifier-cache")
                site.publish(setup.full_registry)
                sync_site(site)
                scanner = create_verifier_app(
                    VerifierCache(site.cache),
                    Policy(name="テスト窓口"),
                    clock=lambda: datetime.now(UTC),
                )
                with AppServer(scanner) as verifier:
                    pages = Pages(
                        issuer=issuer,
                        verifier=verifier,
                        site=site,
                        oidc=provider,
                        admin_token=admin_token,
                        stats_token=world.other_staff_token,
                        waiting="",
                        notice="",
                    )
                    _populate(pages, admin_token)
                    yield pages
            finally:
                registry_server.stop()
    world.svc.close()


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    """One headless Chromium for the module, kept off the network by its switches."""
    executable = chromium()
    if executable is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_OFFLINE)
        )
        try:
            yield browser
        finally:
            browser.close()
