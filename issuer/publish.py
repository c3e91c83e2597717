"""``furusato-issuer publish --out DIR``: the static files a web server or CDN can serve.

The layout mirrors the service's URLs, so the files can be put behind the public URL as is::

    lg/<lgCode>/did.json                                   DID documents (did:web)
    .well-known/openid-credential-issuer/lg/<lgCode>       OID4VCI issuer metadata
    status/<lgCode>/<purpose>/<n>                          signed status list credentials
    status/<lgCode>/index.json                             the list of those, for verifier sync
    contexts/<file>                                        the JSON-LD contexts we use
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from issuer import status
from issuer.api.public import metadata_of
from issuer.bootstrap import Services
from issuer.tenants import active_key, did_document, list_tenants
from schemas.loader import bundled_context, default_loader


def _write(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".publish-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
    os.replace(temporary, path)
    return path


def publish_static(svc: Services, out_dir: Path, *, now: datetime) -> list[Path]:
    written: list[Path] = []
    with svc.db.transaction() as session:
        for tenant in list_tenants(session):
            if tenant.did_method == "web":
                written.append(
                    _write(
                        out_dir / "lg" / tenant.lg_code / "did.json", did_document(session, tenant)
                    )
                )
            written.append(
                _write(
                    out_dir / ".well-known" / "openid-credential-issuer" / "lg" / tenant.lg_code,
                    metadata_of(tenant),
                )
            )
            key = active_key(session, svc.ring, tenant)
            index = status.list_index(session, tenant)
            written.append(_write(out_dir / "status" / tenant.lg_code / "index.json", index))
            for item in index["lists"]:
                purpose, number = item["purpose"], item["number"]
                document = status.published_list(
                    session,
                    tenant,
                    key,
                    purpose,
                    number,
                    now=now,
                    validity=svc.settings.status_list_validity,
                    ttl=svc.settings.status_list_ttl,
                )
                written.append(
                    _write(out_dir / "status" / tenant.lg_code / purpose / str(number), document)
                )
    for url in sorted(default_loader().urls):
        name = url.removeprefix("https://").replace("/", "_") + ".jsonld"
        written.append(_write(out_dir / "contexts" / name, bundled_context(url)))
    return written
