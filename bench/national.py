"""A national registry of every municipality of the MIC table, as static files.

Used by ``bench/bench_verify.py`` (timing ``sync`` and verification against it) and by
``tests/verifier/test_national.py`` (it works).  For each of the 1,741 municipalities (or the
codes given): an Ed25519 key derived from its code, a ``did:web`` DID under ``base_url``'s
host, a registry entry, and a signed revocation and suspension status list with their
``index.json`` — laid out as the issuer's ``publish`` writes them::

    registry.jws            signed by the authority key (authority.jwk: its public JWK)
    status/<lg>/index.json
    status/<lg>/revocation/1
    status/<lg>/suspension/1

Signing 3,482 status lists takes a while, so it runs on every core (a process pool).  One
municipality also issues a holder-bound credential (``Holder``) so a QR can be made.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from did.key import did_key_from_public_key, did_key_verification_method_id
from did.keys import KeyType, PrivateKey
from did.web import VerificationKeyEntry, build_did_document
from schemas.municipalities import municipality_table
from vc import envelope
from vc.dates import format_datetime
from vc.furusato import resident_credential
from vc.issue import issue_credential
from vc.presentation import create_presentation, sign_presentation
from vc.registry import Registry, entry_from_did_document, sign_registry
from vc.statuslist import BitstringStatusList, build_status_list_credential

AUTHORITY_KEY = PrivateKey.from_seed(
    KeyType.ED25519, hashlib.sha256(b"national authority").digest()
)
HOLDER_KEY = PrivateKey.from_seed(KeyType.ED25519, hashlib.sha256(b"national holder").digest())
PURPOSES = ("revocation", "suspension")


def municipality_key(lg_code: str) -> PrivateKey:
    return PrivateKey.from_seed(KeyType.ED25519, hashlib.sha256(f"lg {lg_code}".encode()).digest())


def _did(base_url: str, lg_code: str) -> str:
    host = urlsplit(base_url).netloc.replace(":", "%3A")
    return f"did:web:{host}:lg:{lg_code}"


def _status_base(base_url: str, lg_code: str) -> str:
    return f"{base_url}/status/{lg_code}"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _lists_of(args: tuple[str, str, str, str]) -> int:
    """Sign and write one municipality's two status lists and index (a worker's task)."""
    directory, base_url, lg_code, now_text = args
    now = datetime.fromisoformat(now_text)
    key = municipality_key(lg_code)
    did = _did(base_url, lg_code)
    base = _status_base(base_url, lg_code)
    lists = []
    for purpose in PURPOSES:
        url = f"{base}/{purpose}/1"
        unsigned = build_status_list_credential(
            list_url=url,
            issuer=did,
            purpose=purpose,
            status_list=BitstringStatusList(),
            valid_from=format_datetime(now),
            valid_until=format_datetime(now + timedelta(days=2)),
        )
        signed = issue_credential(unsigned, key, verification_method=f"{did}#key-1", created=now)
        _write(Path(directory) / "status" / lg_code / purpose / "1", json.dumps(signed))
        lists.append({"purpose": purpose, "number": 1, "url": url})
    index = {"lgCode": lg_code, "lists": lists}
    _write(Path(directory) / "status" / lg_code / "index.json", json.dumps(index))
    return len(lists)


@dataclass(frozen=True)
class National:
    directory: Path
    registry: Registry
    jws: str
    lg_codes: tuple[str, ...]

    @property
    def authority_jwk(self) -> Path:
        return self.directory / "authority.jwk"

    @property
    def registry_file(self) -> Path:
        return self.directory / "registry.jws"


def build_national(
    directory: Path,
    base_url: str,
    *,
    now: datetime,
    lg_codes: Sequence[str] | None = None,
    sequence: int = 1,
    workers: int | None = None,
) -> National:
    """Write the registry and every status list under ``directory`` (served at ``base_url``)."""
    now = now.replace(microsecond=0)
    table = municipality_table()
    codes = tuple(lg_codes or [m.lg_code for m in table.municipalities()])
    entries = []
    for code in codes:
        did = _did(base_url, code)
        document = build_did_document(
            did,
            [
                VerificationKeyEntry(
                    "key-1",
                    municipality_key(code).public_key,
                    valid_from=format_datetime(now - timedelta(days=30)),
                )
            ],
        )
        entries.append(
            entry_from_did_document(
                document, lg_code=code, status_base_url=_status_base(base_url, code)
            )
        )
    registry = Registry(
        sequence=sequence,
        issued_at=now,
        next_update=now + timedelta(days=7),
        entries=entries,
        authority="bench national registry",
    )
    jws = sign_registry(registry, AUTHORITY_KEY, kid="national")
    _write(directory / "registry.jws", jws)
    _write(directory / "authority.jwk", json.dumps(AUTHORITY_KEY.public_key.to_jwk()))
    tasks = [(str(directory), base_url, code, now.isoformat()) for code in codes]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        list(pool.map(_lists_of, tasks, chunksize=32))
    return National(directory, registry, jws, codes)


@dataclass(frozen=True)
class Holder:
    credential: dict[str, Any]
    lg_code: str

    def payload(self, *, at: datetime, challenge: str) -> str:
        """A fresh QR payload of the credential, as the wallet makes it."""
        vp = sign_presentation(
            create_presentation(
                [self.credential], holder=did_key_from_public_key(HOLDER_KEY.public_key)
            ),
            HOLDER_KEY,
            verification_method=did_key_verification_method_id(HOLDER_KEY.public_key),
            challenge=challenge,
            domain=envelope.QR_DOMAIN,
            created=at,
        )
        return envelope.encode_presentation(vp)


def holder_credential(
    base_url: str, lg_code: str, *, now: datetime, tier: str = "premium"
) -> Holder:
    """A resident credential of ``lg_code`` with entries in its published status lists."""
    now = now.replace(microsecond=0)
    did = _did(base_url, lg_code)
    base = _status_base(base_url, lg_code)
    credential = resident_credential(
        credential_id="urn:uuid:7d1c6a52-8b0e-4c55-9a43-5e2f1b7c9d10",
        issuer=did,
        issuer_name=municipality_table().get(lg_code).name,
        municipality=municipality_table().get(lg_code),
        holder=did_key_from_public_key(HOLDER_KEY.public_key),
        tier=tier,
        registered_since=date(2027, 1, 15),
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=364),
        status=[
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(index),
                "statusListCredential": f"{base}/{purpose}/1",
            }
            for purpose, index in (("revocation", 94567), ("suspension", 31000))
        ],
    )
    signed = issue_credential(
        credential,
        municipality_key(lg_code),
        verification_method=f"{did}#key-1",
        created=now - timedelta(days=1),
    )
    return Holder(signed, lg_code)
