"""How the issuer's own verification endpoints find keys and status lists: locally.

The service never fetches a DID document or a status list from the network while verifying
(no SSRF, no tracking): did:key and did:jwk resolve by themselves, did:web DIDs of the
municipalities hosted here come from the database, and status lists at this deployment's
URLs come from the database too.  Anything else is unknown (``verification_method_unresolved``,
``status_unknown``).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

from sqlalchemy import select

from did.resolver import Resolver
from issuer import status
from issuer.bootstrap import Services
from issuer.db import Tenant
from issuer.errors import ServiceError
from issuer.tenants import TenantInfo, active_key, did_document, get_tenant
from vc.statuslist import StatusListDocument

_STATUS_URL = re.compile(r"(.+)/status/([0-9]{6})/(revocation|suspension)/([1-9][0-9]{0,6})")


class _TenantDocuments(MutableMapping[str, dict[str, Any]]):
    """A read-through 'cache' for the resolver: DID → document of a hosted municipality."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._seen: dict[str, dict[str, Any]] = {}

    def __getitem__(self, did: str) -> dict[str, Any]:
        if did in self._seen:
            return self._seen[did]
        with self._svc.db.read() as session:
            row = session.execute(select(Tenant).where(Tenant.did == did)).scalar_one_or_none()
            if row is None or row.did_method != "web":
                raise KeyError(did)
            document = did_document(session, TenantInfo.of(row))
        self._seen[did] = document
        return document

    def __setitem__(self, did: str, document: dict[str, Any]) -> None:
        self._seen[did] = document

    def __delitem__(self, did: str) -> None:
        self._seen.pop(did, None)

    def __iter__(self) -> Any:
        return iter(self._seen)

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, did: object) -> bool:
        try:
            self[did]  # type: ignore[index]
        except KeyError:
            return False
        return True


def tenant_resolver(svc: Services) -> Resolver:
    """A resolver for did:key/did:jwk and the did:web DIDs hosted here; no fetching."""
    return Resolver(cache=_TenantDocuments(svc))


class LocalStatusLists:
    """Status lists served by this deployment, read from the database."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc

    def get(self, url: str) -> StatusListDocument | None:
        match = _STATUS_URL.fullmatch(url)
        if match is None:
            return None
        base, lg_code, purpose = match.group(1), match.group(2), match.group(3)
        number = int(match.group(4))
        now = self._svc.clock()
        try:
            with self._svc.db.transaction() as session:
                tenant = get_tenant(session, lg_code)
                if tenant.public_url != base:
                    return None  # a list of some other deployment: not ours to answer
                key = active_key(session, self._svc.ring, tenant)
                document = status.published_list(
                    session,
                    tenant,
                    key,
                    purpose,
                    number,
                    now=now,
                    validity=self._svc.settings.status_list_validity,
                    ttl=self._svc.settings.status_list_ttl,
                )
        except ServiceError:
            return None
        return StatusListDocument(document, retrieved_at=now)
