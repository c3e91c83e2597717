"""The identity providers a deployment's settings configure (issuer.identity.providers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.identity.providers import _CachedFetch, oidc_redirect_uri, providers_from_settings
from issuer.identity.testpki import TestPKI
from issuer.settings import Settings


def test_nothing_configured_means_no_methods(tmp_path: Path) -> None:
    assert providers_from_settings(Settings(data_dir=tmp_path)).methods == []


def test_oidc_needs_issuer_and_client(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FURUSATO_OIDC_CLIENT_ID"):
        providers_from_settings(Settings(data_dir=tmp_path, oidc_issuer="https://id.example"))
    configured = providers_from_settings(
        Settings(
            data_dir=tmp_path,
            public_url="https://furusato.example.jp/",
            oidc_issuer="https://id.example",
            oidc_client_id="furusato",
        )
    )
    assert configured.methods == ["oidc"]
    assert configured.oidc is not None
    assert (
        configured.oidc.config.redirect_uri == "https://furusato.example.jp/premium/oidc/callback"
    )
    assert oidc_redirect_uri(Settings(public_url="http://localhost:8000")).endswith(
        ":8000/premium/oidc/callback"
    )


def test_oidc_refuses_a_plain_http_provider(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="https"):
        providers_from_settings(
            Settings(data_dir=tmp_path, oidc_issuer="http://id.example", oidc_client_id="x")
        )


def test_jpki_needs_crls_and_a_real_anchor(tmp_path: Path, pki: TestPKI) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(pki.root.pem)
    with pytest.raises(ValueError, match="FURUSATO_JPKI_CRLS"):
        providers_from_settings(Settings(data_dir=tmp_path, jpki_anchors=anchors))
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a certificate")
    with pytest.raises(ValueError, match="trust anchor"):
        providers_from_settings(
            Settings(data_dir=tmp_path, jpki_anchors=garbage, jpki_crls=("a.crl",))
        )
    configured = providers_from_settings(
        Settings(data_dir=tmp_path, jpki_anchors=anchors, jpki_crls=("a.crl", "b.crl"))
    )
    assert configured.methods == ["jpki"]
    assert configured.jpki is not None
    assert len(configured.jpki.crl_sources) == 2


def test_crl_files_are_read_each_time(tmp_path: Path) -> None:
    fetch = _CachedFetch()
    path = tmp_path / "jpki.crl"
    path.write_bytes(b"first")
    assert fetch(str(path)) == b"first"
    path.write_bytes(b"second")  # a cron job refreshed it
    assert fetch(str(path)) == b"second"
