"""``furusato-wallet renew`` against the live issuer: a basic credential is renewed (a new
credential for the same holder key, which verifies); a premium one is refused with a clear
bilingual message (the premium process re-checks the programme's rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import assert_one_line_error
from tests.issuer.conftest import free_port
from tests.wallet.helpers import (
    LG,
    Setup,
    WalletCli,
    download_status_lists,
    short,
    verify_json,
)
from vc.dates import parse_datetime
from wallet_cli.store import WalletStore


@pytest.fixture
def setup(shared_setup: Setup) -> Setup:
    """Renewals change only the wallet copies made here (and add credentials server-side)."""
    return shared_setup


@pytest.fixture
def wallet(setup: Setup, tmp_path: Path) -> WalletCli:
    return setup.wallet.copy_to(tmp_path / "wallet")


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_renewing_a_basic_credential(setup: Setup, wallet: WalletCli, tmp_path: Path) -> None:
    old = setup.basic
    out = wallet.ok("renew", short(old.id))
    stored = wallet.open().credentials
    assert len(stored) == 2
    assert old.id not in {c.id for c in stored}  # the renewed credential replaces the old one
    new = next(c for c in stored if c.id != setup.premium.id)
    assert out.startswith("更新しました")
    assert short(new.id) in out

    assert new.id != old.id
    assert new.holder_jwk == old.holder_jwk  # the same holder key
    subject, old_subject = new.credential["credentialSubject"], old.credential["credentialSubject"]
    assert subject["id"] == old_subject["id"]
    assert subject["registrationTier"] == "basic"
    assert subject["municipality"] == old_subject["municipality"]
    assert new.credential["issuer"] == old.credential["issuer"]
    assert new.issuer_url == old.issuer_url
    assert new.state == "active"
    assert parse_datetime(new.credential["validFrom"], "validFrom") >= parse_datetime(
        old.credential["validFrom"], "validFrom"
    )
    assert parse_datetime(new.credential["validUntil"], "validUntil") >= parse_datetime(
        old.credential["validUntil"], "validUntil"
    )
    assert new.credential["credentialStatus"] != old.credential["credentialStatus"]

    # it verifies: presented as a QR, with the registry and freshly synced status lists
    png = tmp_path / "renewed.png"
    wallet.ok("present", short(new.id), "--png", str(png))
    status = download_status_lists(new.credential, tmp_path / "status")
    args = [
        "--registry",
        str(setup.full_registry),
        "--registry-key",
        str(setup.registry.public_key),
    ]
    for path in status:
        args += ["--status-list", str(path)]
    code, result = verify_json(str(png), *args)
    assert code == 0, result


def test_renewing_twice(wallet: WalletCli, setup: Setup) -> None:
    wallet.ok("renew", short(setup.basic.id))
    first = next(c for c in wallet.open().credentials if c.id != setup.premium.id)
    wallet.ok("--lang", "en", "renew", short(first.id))
    second = next(c for c in wallet.open().credentials if c.id != setup.premium.id)
    assert len({setup.basic.id, first.id, second.id}) == 3
    assert second.holder_jwk == setup.basic.holder_jwk


def test_renewing_in_english(wallet: WalletCli, setup: Setup) -> None:
    out = wallet.ok("--lang", "en", "renew", short(setup.basic.id))
    assert out.startswith("Renewed: valid until ")


def test_renewing_a_premium_credential_is_refused(wallet: WalletCli, setup: Setup) -> None:
    before = _snapshot(wallet.directory)
    for lang in ("ja", "en"):
        result = wallet("--lang", lang, "renew", short(setup.premium.id))
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        line = assert_one_line_error(result.stderr, contains=["[credential_request_denied]"])
        ja, _, en = line.partition(" / Error: ")
        assert "プレミアム" in ja
        assert "更新" in ja
        assert "premium" in en
        assert "renew" in en
    assert _snapshot(wallet.directory) == before
    assert {c.id for c in wallet.open().credentials} == {setup.basic.id, setup.premium.id}


def test_renewing_when_the_issuer_is_unreachable(wallet: WalletCli, setup: Setup) -> None:
    store = WalletStore(wallet.directory)
    contents = store.load(wallet.passphrase)
    for stored in contents.credentials:
        stored.issuer_url = f"http://localhost:{free_port()}/lg/{LG}"
    import secrets

    store.save(contents, wallet.passphrase, secrets.token_bytes)
    before = _snapshot(wallet.directory)
    result = wallet("renew", short(setup.basic.id))
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, contains=["[unreachable]"])
    assert _snapshot(wallet.directory) == before
