"""Fixtures of the verifier tests: the live issuer (tests/issuer/conftest.py) on SQLite, a
wallet holding a basic credential of 015814 and a premium one of 011002 (tests/wallet), and
the signed national registry served as a static file on loopback, as its operator would.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.issuer.conftest import AppServer, LiveServer
from tests.issuer.conftest import live as live  # the fixture used here
from tests.wallet.helpers import Setup, make_setup, verifier
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
