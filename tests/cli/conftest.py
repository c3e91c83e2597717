"""Fixtures of the command-line tests (helpers in tests/cli/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from did.keys import KeyType
from tests.cli.helpers import seeded_key, write_key
from tests.conftest import record_network


@pytest.fixture
def ed_key_file(tmp_path: Path) -> Path:
    return write_key(tmp_path / "ed25519.jwk", seeded_key(KeyType.ED25519))


@pytest.fixture
def p256_key_file(tmp_path: Path) -> Path:
    return write_key(tmp_path / "p256.jwk", seeded_key(KeyType.P256))


@pytest.fixture
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name lookup or connection attempted during the test (each also fails)."""
    return record_network(monkeypatch)
