"""Fixtures of the premium tests: the issuer on loopback with both identity providers.

``premium`` starts, per test: a real OpenID provider (:mod:`tests.premium.oidc_provider`,
authlib on uvicorn) registered with the issuer's callback URL, a test JPKI hierarchy
(:mod:`issuer.identity.testpki`) whose root is the issuer's trust anchor and whose CRL lies in a
file the issuer reads, and the issuer service (tests.issuer.conftest.LiveServer) configured
through its settings — as a deployment would be (``FURUSATO_OIDC_*``, ``FURUSATO_JPKI_*``).

The issuer has five municipalities: 015814 厚真町 and 011002 札幌市 (the World's), and
202118 中野市, 131016 千代田区, 472018 那覇市, each with an admin token.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import PrivateKey
from issuer.auth import create_token
from issuer.identity.providers import oidc_redirect_uri, providers_from_settings
from issuer.identity.testpki import Card, Person, TestPKI
from issuer.tenants import create_tenant
from tests.issuer.conftest import LiveServer, World, free_port, make_world, with_settings
from tests.issuer.conftest import database_url as database_url  # SQLite and PostgreSQL
from tests.issuer.conftest import pg_template as pg_template
from tests.issuer.conftest import pg_url as pg_url
from tests.premium.oidc_provider import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    LocalOidcProvider,
    _Client,
)
from vc.dates import format_datetime
from vc.presentation import create_presentation, sign_presentation
from wallet_cli import client as wallet_client

HTTP_TIMEOUT = 30.0
EXTRA_MUNICIPALITIES = ("202118", "131016", "472018")

# Invented card holders whose addresses resolve (the JPKI test CA's own people live in
# invented places): home 131016 千代田区 and 011002 札幌市.
CHIYODA = Person("試験　花子", "319801231", "2", "東京都千代田区霞が関一丁目２番３号")
SAPPORO_MINOR = Person("見本　翔", "520150601", "1", "北海道札幌市北区北８条西５丁目")


@pytest.fixture(scope="session")
def pki() -> TestPKI:
    return TestPKI.create()


@dataclass
class PremiumWorld:
    """The issuer (``live``) with identity providers, and what tests drive it with."""

    live: LiveServer
    oidc: LocalOidcProvider
    pki: TestPKI
    crl_path: Path
    admin_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def world(self) -> World:
        return self.live.world

    @property
    def url(self) -> str:
        return self.live.url

    def token(self, lg_code: str) -> str:
        return self.admin_tokens[lg_code]

    def admin(self, lg_code: str) -> httpx.Client:
        """An httpx client of the admin API as ``lg_code``'s admin."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token(lg_code)}"},
            timeout=HTTP_TIMEOUT,
        )

    def publish_crl(self, revoked: tuple[int, ...] = ()) -> None:
        """The intermediate CA's CRL (issued an hour ago) into the file the issuer reads."""
        now = datetime.now(UTC)
        self.crl_path.write_bytes(
            self.pki.intermediate.crl(
                revoked, this_update=now - timedelta(hours=1), next_update=now + timedelta(hours=23)
            )
        )

    def prove_jpki(
        self, lg_code: str, identity_url: str, card: Card | None = None
    ) -> httpx.Response:
        """The identity step by a card-reading client, with the intermediate CA as chain."""
        return prove_with_jpki(
            self.url, lg_code, identity_url, card or self.card(), (self.pki.intermediate.der,)
        )

    def card(self, person: Person = CHIYODA, **kw: Any) -> Card:
        now = datetime.now(UTC)
        kw.setdefault("not_before", now - timedelta(days=30))
        kw.setdefault("not_after", now + timedelta(days=365 * 5))
        return self.pki.leaf(person, key=self.pki.card_key, **kw)


@pytest.fixture
def premium(database_url: str, tmp_path: Path, pki: TestPKI) -> Iterator[PremiumWorld]:
    port = free_port()
    world = make_world(database_url, tmp_path / "data", f"http://localhost:{port}", pool_size=20)
    anchors = tmp_path / "jpki-anchors.pem"
    anchors.write_bytes(pki.root.pem)
    crl_path = tmp_path / "jpki.crl"
    with LocalOidcProvider() as provider:
        with_settings(
            world,
            oidc_issuer=provider.issuer,
            oidc_client_id=CONFIDENTIAL_CLIENT_ID,
            oidc_client_secret=CONFIDENTIAL_CLIENT_SECRET,
            jpki_anchors=anchors,
            jpki_crls=(str(crl_path),),
        )
        redirect = oidc_redirect_uri(world.svc.settings)
        provider.clients[CONFIDENTIAL_CLIENT_ID] = _Client(
            CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, (redirect,)
        )
        world.svc.identity = providers_from_settings(world.svc.settings)
        tokens = {"015814": world.admin_token}
        now = datetime.now(UTC)
        with world.svc.db.transaction() as session:
            tokens["011002"] = create_token(
                session, "011002", "admin", name=None, now=now, actor="test"
            )
            for lg_code in EXTRA_MUNICIPALITIES:
                create_tenant(
                    session,
                    world.svc.ring,
                    lg_code=lg_code,
                    public_url=world.base_url,
                    did_method="web",
                    now=now,
                    random_bytes=secrets.token_bytes,
                )
                tokens[lg_code] = create_token(
                    session, lg_code, "admin", name=None, now=now, actor="test"
                )
        with LiveServer(world, port) as live:
            pw = PremiumWorld(live, provider, pki, crl_path, tokens)
            pw.publish_crl()
            yield pw
    world.svc.close()


# --- the identity step, driven as a browser would ----------------------------------------------


def prove_with_oidc(identity_url: str, user: str) -> httpx.Response:
    """Open the identity link, follow "log in with the card" to the local provider, log in as
    ``user`` (its ``login_hint``) and follow the provider back: the callback's page."""
    with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as browser:
        page = browser.get(identity_url)
        assert page.status_code == 200, page.text
        links = re.findall(r'href="([^"]*/premium/identity/oidc\?login=[^"]*)"', page.text)
        assert len(links) == 1, page.text
        start = browser.get(httpx.URL(identity_url).join(unescape(links[0])))
        assert start.status_code == 303, start.text
        authorize = httpx.URL(start.headers["location"])
        login = browser.get(authorize.copy_add_param("login_hint", user))
        assert login.status_code in (302, 303), login.text
        return browser.get(login.headers["location"])


def refusal_code(page: httpx.Response) -> str | None:
    """The stable code of the error shown on an identity page (its data-code), if any."""
    found = re.search(r'data-code="([a-z_]+)"', page.text)
    return found.group(1) if found else None


def prove_with_jpki(
    base_url: str, lg_code: str, identity_url: str, card: Card, chain: tuple[bytes, ...] = ()
) -> httpx.Response:
    """A card-reading client: challenge, the card's signature, the proof."""
    login = httpx.URL(identity_url).params["login"]
    with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT) as client:
        challenge = client.post(
            f"/lg/{lg_code}/premium/identity/jpki/challenge", json={"login": login}
        )
        assert challenge.status_code == 200, challenge.text
        signature = card.sign(base64.b64decode(challenge.json()["challenge"]))
        return client.post(
            f"/lg/{lg_code}/premium/identity/jpki",
            json={
                "login": login,
                "signature": base64.b64encode(signature).decode(),
                "certificate": base64.b64encode(card.der).decode(),
                "chain": [base64.b64encode(c).decode() for c in chain],
            },
        )


# --- a registrant, driven with the wallet's library (the CLI has its own tests) -----------------


@dataclass
class Registrant:
    """A basic registration received over OID4VCI from ``lg_code``, with its key."""

    base_url: str
    lg_code: str
    credential: dict[str, Any]
    holder: PrivateKey

    @classmethod
    def register(cls, base_url: str, lg_code: str) -> Registrant:
        offer = httpx.post(
            f"{base_url}/lg/{lg_code}/registrations", json={"tier": "basic"}, timeout=HTTP_TIMEOUT
        )
        assert offer.status_code == 201, offer.text
        received = wallet_client.receive(
            wallet_client.HttpClient(),
            offer.json()["offerUri"],
            now=datetime.now(UTC),
            tx_code=lambda spec: pytest.fail("no transaction code expected"),
        )
        return cls(base_url, lg_code, received.credential, received.holder)

    @property
    def did(self) -> str:
        return did_key_from_public_key(self.holder.public_key)

    @property
    def issuer_url(self) -> str:
        return f"{self.base_url}/lg/{self.lg_code}"

    def presentation(self, credential: dict[str, Any] | None = None) -> dict[str, Any]:
        """A presentation of the registration over a fresh c_nonce, for this issuer."""
        nonce = httpx.post(f"{self.issuer_url}/nonce", timeout=HTTP_TIMEOUT)
        assert nonce.status_code == 200, nonce.text
        return sign_presentation(
            create_presentation([credential or self.credential], holder=self.did),
            self.holder,
            verification_method=did_key_verification_method_id(self.holder.public_key),
            challenge=nonce.json()["c_nonce"],
            domain=self.issuer_url,
            created=datetime.now(UTC),
        )

    def checkin(
        self, payload: str, location: tuple[float, float] | None = None, *, url: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"checkin": payload, "presentation": self.presentation()}
        if location is not None:
            body["location"] = {"latitude": location[0], "longitude": location[1]}
        return httpx.post(url or f"{self.issuer_url}/checkins", json=body, timeout=HTTP_TIMEOUT)

    def apply(self) -> httpx.Response:
        return httpx.post(
            f"{self.issuer_url}/premium/applications",
            json={"presentation": self.presentation()},
            timeout=HTTP_TIMEOUT,
        )

    def status(self, application: dict[str, Any]) -> httpx.Response:
        return httpx.get(
            application["statusUrl"],
            headers={"Authorization": f"Bearer {application['statusToken']}"},
            timeout=HTTP_TIMEOUT,
        )

    def receive_premium(self, offer_uri: str) -> dict[str, Any]:
        """Redeem the premium offer with this registration's key (as the wallet does)."""
        received = wallet_client.receive(
            wallet_client.HttpClient(),
            offer_uri,
            now=datetime.now(UTC),
            tx_code=lambda spec: pytest.fail("no transaction code expected"),
            holder=self.holder,
        )
        return received.credential


def new_site(
    pw: PremiumWorld, lg_code: str, *, geofence: tuple[float, float, int] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "公民館の清掃", "category": "volunteer"}
    if geofence is not None:
        body.update(latitude=geofence[0], longitude=geofence[1], radiusM=geofence[2])
    with pw.admin(lg_code) as admin:
        created = admin.post("/admin/api/sites", json=body)
    assert created.status_code == 201, created.text
    site: dict[str, Any] = created.json()
    return site


def site_qr(
    pw: PremiumWorld,
    lg_code: str,
    site_id: str,
    *,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> str:
    """The text of a site's check-in QR (default: valid from an hour ago for two hours)."""
    now = datetime.now(UTC)
    with pw.admin(lg_code) as admin:
        answer = admin.post(
            f"/admin/api/sites/{site_id}/qr",
            json={
                "validFrom": format_datetime(valid_from or now - timedelta(hours=1)),
                "validUntil": format_datetime(valid_until or now + timedelta(hours=1)),
            },
        )
    assert answer.status_code == 200, answer.text
    payload: str = answer.json()["payload"]
    return payload
