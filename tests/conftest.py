"""Shared fixtures: the W3C vectors bundled under tests/vectors, and no network.

Tests may talk to loopback only (real servers we start ourselves, PostgreSQL on
127.0.0.1); any other connection attempt fails the test, so nothing can quietly depend on
the internet (STYLE.md 6).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parent / "vectors"


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return isinstance(address, str | bytes)  # AF_UNIX paths are local


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(address: object) -> None:
        if not _is_loopback(address):
            raise OSError(f"test tried to reach the network: {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def record_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, record every name lookup or connection attempted (each also fails).

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


@pytest.fixture(autouse=True)
def _verifier_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the user's verifier cache (~/.cache/furusato-verifier)."""
    monkeypatch.setenv("FURUSATO_VERIFIER_CACHE", str(tmp_path_factory.mktemp("verifier-cache")))


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return VECTORS


@pytest.fixture(scope="session")
def load_vector() -> Callable[[str], Any]:
    """``load_vector("eddsa-rdfc-2022/unsigned.json")`` -> parsed JSON (text for .txt)."""

    def load(relative: str) -> Any:
        path = VECTORS / relative
        if path.suffix == ".txt":
            return path.read_text("utf-8")
        return json.loads(path.read_text("utf-8"))

    return load
