"""Fixtures of the verifier tests: the live issuer (tests/issuer/conftest.py) on SQLite, a
wallet holding a basic credential of 015814 and a premium one of 011002 (tests/wallet), and
the signed national registry served as a static file on loopback, as its operator would.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from did.keys import PrivateKey
from issuer.tenants import active_key, get_tenant
from tests.issuer.conftest import AppServer, LiveServer
from tests.issuer.conftest import live as live  # the fixture used here
from tests.wallet.helpers import LG, Setup, make_setup, verifier
from vc import formats
from vc.dates import parse_datetime
from verifier.cache import VerifierCache
from verifier.policy import Policy
from verifier.web import create_app


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the issuer's own tests cover PostgreSQL; the verifier only speaks HTTP."""
    return f"sqlite:///{tmp_path / 'issuer.db'}"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class StaticServer:
    """A plain static file server on loopback (the registry operator's web server)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)


@dataclass
class Site:
    """Everything a verifier syncs from: the issuer, the registry's web server."""

    setup: Setup
    registry_server: StaticServer
    cache: Path

    @property
    def live(self) -> LiveServer:
        return self.setup.live

    @property
    def registry_url(self) -> str:
        return f"{self.registry_server.url}/registry.jws"

    def publish(self, jws: Path) -> None:
        """Put a signed registry where the operator's server serves it."""
        (self.registry_server.directory / "registry.jws").write_bytes(jws.read_bytes())


def municipality_key(site: Site) -> Any:
    """厚真町's current signing key on the live issuer (``.signer``, ``.verification_method``),
    to sign the JOSE formats of the wallet's basic credential in-process."""
    world = site.live.world
    with world.svc.db.read() as session:
        return active_key(session, world.svc.ring, get_tenant(session, LG))


def sd_jwt_claims_of(credential: Mapping[str, Any], holder: PrivateKey) -> dict[str, Any]:
    """The SD-JWT VC claims (docs/formats.md) of a Data Integrity furusato credential, signed
    at its validFrom."""
    signed_at = parse_datetime(credential["validFrom"], "validFrom")
    subject = credential["credentialSubject"]
    return {
        "iss": credential["issuer"]["id"],
        "vct": formats.FURUSATO_VCT,
        "jti": credential["id"],
        "iat": int(signed_at.timestamp()),
        "nbf": int(signed_at.timestamp()),
        "exp": int(parse_datetime(credential["validUntil"], "validUntil").timestamp()),
        "cnf": {"jwk": holder.public_key.to_jwk()},
        "registrationTier": subject["registrationTier"],
        "municipality": subject["municipality"],
        "registeredSince": subject["registeredSince"],
        "status": {"bitstring_status_list": credential["credentialStatus"]},
    }


@pytest.fixture
def site(live: LiveServer, tmp_path: Path) -> Iterator[Site]:
    setup = make_setup(live, tmp_path / "setup")
    public = tmp_path / "registry-web"
    public.mkdir()
    server = StaticServer(public)
    site = Site(setup, server, tmp_path / "verifier-cache")
    site.publish(setup.full_registry)
    try:
        yield site
    finally:
        server.stop()


def sync_site(site: Site) -> None:
    result = verifier(
        "sync",
        "--registry",
        site.registry_url,
        "--registry-key",
        site.setup.registry.public_key,
        "--cache-dir",
        site.cache,
    )
    assert result.exit_code == 0, (result.stdout, result.stderr)


@pytest.fixture
def scanner(site: Site) -> Iterator[tuple[Site, AppServer]]:
    """The scanner app of a device that has synced, serving on loopback."""
    sync_site(site)
    app = create_app(
        VerifierCache(site.cache), Policy(name="テスト窓口"), clock=lambda: datetime.now(UTC)
    )
    with AppServer(app) as server:
        yield site, server
