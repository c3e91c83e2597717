"""Fixtures of the wallet tests: the issuer's live server (tests/issuer/conftest.py) on SQLite,
the JS harness (tests/interop/conftest.py), and a wallet with one credential from each of the
two municipalities of the live world (helpers.Setup).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.conftest import js as js  # the fixtures used here
from tests.issuer.conftest import LiveServer, free_port, make_world
from tests.issuer.conftest import live as live
from tests.wallet.helpers import Setup, make_setup


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the issuer's own tests cover PostgreSQL; the wallet only speaks HTTP."""
    return f"sqlite:///{tmp_path / 'issuer.db'}"


@pytest.fixture(autouse=True)
def _own_verifier_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``furusato-verifier`` never touches the user's cache (~/.cache/furusato-verifier)."""
    cache = tmp_path / "verifier-cache"
    cache.mkdir()
    monkeypatch.setenv("FURUSATO_VERIFIER_CACHE", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def setup(live: LiveServer, tmp_path: Path) -> Setup:
    """A wallet holding a basic credential of 015814 (厚真町) and a premium one of 011002
    (札幌市), received from the live server; a signed registry listing both and one listing
    011002 only; their status lists downloaded to files.  For tests that change things."""
    return make_setup(live, tmp_path / "setup")


@pytest.fixture(scope="module")
def shared_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """The same as ``setup``, once per module, for tests that only present and verify."""
    tmp = tmp_path_factory.mktemp("wallet-setup")
    port = free_port()
    world = make_world(
        f"sqlite:///{tmp / 'issuer.db'}", tmp / "data", f"http://localhost:{port}", pool_size=20
    )
    try:
        with LiveServer(world, port) as server:
            yield make_setup(server, tmp)
    finally:
        world.svc.close()
