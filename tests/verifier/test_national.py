"""All 1,741 municipalities: a registry generated from the MIC table, each municipality's
status lists served on loopback, ``sync`` of everything, then offline verification.

The timing of the same sync is bench/bench_verify.py's (bench/RESULTS.md); here it must work.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.national import build_national, holder_credential
from schemas.municipalities import municipality_table
from tests.verifier.conftest import StaticServer
from tests.wallet.helpers import verifier


@pytest.mark.slow
def test_sync_all_1741_municipalities_then_verify_offline(tmp_path: Path) -> None:
    public = tmp_path / "public"
    public.mkdir()
    server = StaticServer(public)
    base_url = server.url.replace("127.0.0.1", "localhost")  # did:web needs a host name
    now = datetime.now(UTC)
    try:
        national = build_national(public, base_url, now=now)
        assert len(national.lg_codes) == len(list(municipality_table().municipalities())) == 1741
        cache = tmp_path / "cache"
        result = verifier(
            "sync",
            "--registry",
            f"{base_url}/registry.jws",
            "--registry-key",
            national.authority_jwk,
            "--cache-dir",
            cache,
            "--json",
        )
        assert result.exit_code == 0, result.stdout[-2000:] + result.stderr
        report = json.loads(result.stdout)
        assert report["municipalities"] == 1741
        assert report["lists"] == 2 * 1741
        assert report["failures"] == []
    finally:
        server.stop()

    # Offline now: a 北海道 厚真町 registrant and a 沖縄県 与那国町 one.
    for lg_code in ("015814", "473821"):
        holder = holder_credential(base_url, lg_code, now=now)
        payload = holder.payload(at=datetime.now(UTC), challenge="counter-1")
        result = verifier(
            "verify", payload, "--cache-dir", cache, "--challenge", "counter-1", "--json"
        )
        answer = json.loads(result.stdout)
        assert result.exit_code == 0, answer
        assert answer["verified"] is True
    status = json.loads(verifier("cache", "--cache-dir", cache, "--json").stdout)
    assert (status["municipalities"], status["statusLists"]) == (1741, 3482)
