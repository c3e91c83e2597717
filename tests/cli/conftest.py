"""Fixtures of the command-line tests (helpers in tests/cli/helpers.py)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from did.keys import KeyType
from tests.cli.helpers import seeded_key, write_key


@pytest.fixture
def ed_key_file(tmp_path: Path) -> Path:
    return write_key(tmp_path / "ed25519.jwk", seeded_key(KeyType.ED25519))


@pytest.fixture
def p256_key_file(tmp_path: Path) -> Path:
    return write_key(tmp_path / "p256.jwk", seeded_key(KeyType.P256))


@pytest.fixture
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name lookup or connection attempted during the test (each also fails).

    The autouse guard of tests/conftest.py makes a connection fail, but code could swallow that
    OSError and carry on; and name lookups (getaddrinfo) never reach ``connect``.  Recording
    them lets a test assert that nothing was even tried.
    """
    attempts: list[str] = []
    guarded_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"getaddrinfo {host!r}")
        raise OSError(f"test tried to look up {host!r}")

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"create_connection {address!r}")
        raise OSError(f"test tried to connect to {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        attempts.append(f"connect {address!r}")
        guarded_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts
