"""The identity providers a deployment configured (settings → OIDC relying party, JPKI trust).

Both are optional: a deployment without any cannot take premium applications (the identity
page says so).  Configuration errors surface at start-up, never at a resident's login.

CRLs for JPKI are files (re-read on each verification, so a cron job that refreshes them is
picked up at once) or https URLs (fetched with a bounded response and cached for
``CRL_CACHE_SECONDS``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from issuer.identity.jpki import FetchedCRL, JpkiConfig
from issuer.identity.oidc import OidcProviderConfig, OidcRelyingParty
from issuer.settings import Settings

CALLBACK_PATH = "/premium/oidc/callback"
CRL_CACHE_SECONDS = 900
CRL_MAX_BYTES = 32 * 1024 * 1024


@dataclass
class IdentityProviders:
    oidc: OidcRelyingParty | None = None
    jpki: JpkiConfig | None = None

    @property
    def methods(self) -> list[str]:
        return [name for name, value in (("oidc", self.oidc), ("jpki", self.jpki)) if value]

    def close(self) -> None:
        if self.oidc is not None:
            self.oidc.close()


def oidc_redirect_uri(settings: Settings) -> str:
    return settings.base_url + CALLBACK_PATH


@dataclass
class _CachedFetch:
    """``fetch(url)`` for :class:`FetchedCRL`: files read each time, URLs cached a while."""

    ttl: float = CRL_CACHE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, source: str) -> bytes:
        if not source.startswith(("https://", "http://")):
            return Path(source).read_bytes()[: CRL_MAX_BYTES + 1]
        with self._lock:
            cached = self._cache.get(source)
            if cached is not None and self.clock() - cached[0] < self.ttl:
                return cached[1]
        client = httpx.Client(timeout=10.0, follow_redirects=False, trust_env=False)
        with client, client.stream("GET", source) as response:
            response.raise_for_status()
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > CRL_MAX_BYTES:
                    raise ValueError("CRL too large")
        with self._lock:
            self._cache[source] = (self.clock(), bytes(data))
        return bytes(data)


def providers_from_settings(settings: Settings) -> IdentityProviders:
    """The providers the settings configure (ValueError for an inconsistent configuration)."""
    providers = IdentityProviders()
    if settings.oidc_issuer or settings.oidc_client_id:
        if not (settings.oidc_issuer and settings.oidc_client_id):
            raise ValueError("set both FURUSATO_OIDC_ISSUER and FURUSATO_OIDC_CLIENT_ID")
        providers.oidc = OidcRelyingParty(
            OidcProviderConfig(
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=settings.oidc_client_secret,
                redirect_uri=oidc_redirect_uri(settings),
            )
        )
    if settings.jpki_anchors is not None:
        if not settings.jpki_crls:
            raise ValueError("JPKI needs its CRLs (FURUSATO_JPKI_CRLS): revocation is checked")
        fetch = _CachedFetch()
        providers.jpki = JpkiConfig(
            trust_anchors=(settings.jpki_anchors.read_bytes(),),
            crl_sources=tuple(FetchedCRL(source, fetch) for source in settings.jpki_crls),
        )
    return providers
