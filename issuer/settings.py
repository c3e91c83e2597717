"""Settings of the issuer service, from command-line options and the environment.

Environment variables (each also a CLI option):

* ``FURUSATO_ISSUER_DATA`` — the data directory (default ``~/.local/share/furusato-issuer``,
  or ``$XDG_DATA_HOME/furusato-issuer``); the SQLite file lives there;
* ``DATABASE_URL`` — a PostgreSQL URL to use instead of SQLite;
* ``FURUSATO_ISSUER_SECRET`` — the secret that seals the municipalities' private keys;
* ``FURUSATO_PUBLIC_URL`` — the public base URL (what DIDs, status-list URLs and OID4VCI
  identifiers are built from);
* identity proofing for premium registration (docs/premium.md), each optional:
  ``FURUSATO_OIDC_ISSUER``, ``FURUSATO_OIDC_CLIENT_ID``, ``FURUSATO_OIDC_CLIENT_SECRET`` — the
  OpenID provider of the マイナンバーカード login (redirect URI
  ``<public URL>/premium/oidc/callback``); ``FURUSATO_JPKI_ANCHORS`` — a PEM file of the JPKI
  署名用 CA certificates; ``FURUSATO_JPKI_CRLS`` — the CRLs (files or https URLs, separated by
  spaces);
* ``FURUSATO_STATS_K`` — the national statistics' suppression threshold k: a count below k is
  never published (default 10, a whole number from 2 to 1000; docs/statistics.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

DEFAULT_PUBLIC_URL = "http://localhost:8000"
DEFAULT_STATS_K = 10
STATS_K_RANGE = (2, 1000)


def stats_k_from(text: str | None) -> int:
    """``FURUSATO_STATS_K`` as a number (unset or empty: the default of 10)."""
    if text is None or not text.strip():
        return DEFAULT_STATS_K
    low, high = STATS_K_RANGE
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not low <= value <= high:
        raise ValueError(
            f"FURUSATO_STATS_K は {low}〜{high} の整数です / "
            f"FURUSATO_STATS_K must be a whole number from {low} to {high}: {text[:20]!r}"
        )
    return value


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "furusato-issuer"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    secret: str | None = field(default=None, repr=False)
    public_url: str = DEFAULT_PUBLIC_URL
    # bounds on untrusted input
    max_body_bytes: int = 64 * 1024
    # OID4VCI
    offer_ttl: timedelta = timedelta(minutes=30)
    token_ttl: timedelta = timedelta(minutes=10)
    nonce_ttl: timedelta = timedelta(minutes=5)
    max_tx_code_attempts: int = 5
    proof_max_age: timedelta = timedelta(minutes=5)
    # credentials
    credential_validity: timedelta = timedelta(days=365)
    # status lists: a published list credential is valid this long, re-signed when half used
    status_list_validity: timedelta = timedelta(days=2)
    status_list_ttl: timedelta = timedelta(hours=6)
    status_list_fill: float = 0.9  # roll over to a new list beyond this share allocated
    # public registration: requests per client address and minute
    register_per_minute: int = 10
    # uvicorn
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # identity proofing (premium registration)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    jpki_anchors: Path | None = None
    jpki_crls: tuple[str, ...] = ()
    # national statistics: counts below k are suppressed (docs/statistics.md)
    stats_k: int = DEFAULT_STATS_K

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'issuer.db'}"

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from the environment, then explicit overrides (None = not given)."""
        env = os.environ
        settings = cls(
            data_dir=Path(env["FURUSATO_ISSUER_DATA"])
            if env.get("FURUSATO_ISSUER_DATA")
            else default_data_dir(),
            database_url=env.get("DATABASE_URL") or None,
            secret=env.get("FURUSATO_ISSUER_SECRET") or None,
            public_url=env.get("FURUSATO_PUBLIC_URL") or DEFAULT_PUBLIC_URL,
            oidc_issuer=env.get("FURUSATO_OIDC_ISSUER") or None,
            oidc_client_id=env.get("FURUSATO_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("FURUSATO_OIDC_CLIENT_SECRET") or None,
            jpki_anchors=Path(env["FURUSATO_JPKI_ANCHORS"])
            if env.get("FURUSATO_JPKI_ANCHORS")
            else None,
            jpki_crls=tuple(env.get("FURUSATO_JPKI_CRLS", "").split()),
            stats_k=stats_k_from(env.get("FURUSATO_STATS_K")),
        )
        return settings.with_overrides(**overrides)
