"""The wallet's records of notices in its sealed store: older wallets load without them, and
the topic preferences, the feeds read and the hands raised round-trip."""

from __future__ import annotations

import secrets
from pathlib import Path

from wallet_cli import notices
from wallet_cli.store import Wallet, WalletStore, seal_json

PASSPHRASE = "wallet passphrase 0123"


def test_wallets_written_before_notices_still_load(tmp_path: Path) -> None:
    store = WalletStore(tmp_path)
    old = {"format": 1, "credentials": [], "prefs": {"lang": "ja"}}
    store.path.write_bytes(seal_json(old, PASSPHRASE, secrets.token_bytes))
    wallet = store.load(PASSPHRASE)
    assert wallet.notices == {}
    assert notices.topics_of(wallet) is None
    notices.set_topics(wallet, notices.parse_topics("events, 防災"))
    notices.hands(wallet)["0123456789abcdef"] = {"lgCode": "015814"}
    notices.feeds_cache(wallet)["015814"] = {"url": "u", "etag": 'W/"x"', "notices": []}
    store.save(wallet, PASSPHRASE, secrets.token_bytes)
    again = store.load(PASSPHRASE)
    assert again.prefs == {"lang": "ja", "topics": ["防災", "イベント"]}
    assert notices.topics_of(again) == ["防災", "イベント"]
    assert notices.locate(again, "0123456789abcdef", None) == "015814"
    assert PASSPHRASE.encode() not in store.path.read_bytes()
    assert "防災".encode() not in store.path.read_bytes()  # sealed, like everything else


def test_a_damaged_notices_member_is_dropped_not_fatal() -> None:
    wallet = Wallet.from_json({"format": 1, "credentials": [], "notices": ["not", "a", "dict"]})
    assert wallet.notices == {}
    wallet = Wallet.from_json(
        {"format": 1, "credentials": [], "notices": {"feeds": 3, "hands": []}}
    )
    assert notices.feeds_cache(wallet) == {}
    assert notices.hands(wallet) == {}
